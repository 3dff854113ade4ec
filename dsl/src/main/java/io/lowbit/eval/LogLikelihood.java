package io.lowbit.eval;

import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.Tokenizer;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * log p(continuation | context) for many requests: the core of multiple choice, LAMBADA and MMLU.
 * Requests run in batches sorted by length (longest first), right-padded; a continuation is
 * "greedy" when every one of its tokens is the model's argmax, as lm-evaluation-harness defines it.
 */
public final class LogLikelihood {
    private LogLikelihood() {}

    /** Token ids of a context (BOS included) and of its continuation. */
    public record Request(int[] context, int[] continuation) {
        public Request {
            if (context.length == 0 || continuation.length == 0)
                throw new IllegalArgumentException("empty context or continuation");
        }
    }

    public record Score(double logLikelihood, boolean greedy) {}

    /**
     * Tokenizes as lm-evaluation-harness does: the continuation's tokens are those of
     * encode(context + continuation) after the longest prefix it shares with encode(context), so
     * merges across the boundary are counted once.
     */
    public static Request encode(Tokenizer tok, String context, String continuation) {
        return encode(tok, context, tok.encode(context, true, false), continuation);
    }

    /** As {@link #encode(Tokenizer, String, String)}, with encode(context) given: several continuations of one context. */
    public static Request encode(Tokenizer tok, String context, int[] ctx, String continuation) {
        int[] whole = tok.encode(context + continuation, true, false);
        int common = 0;
        while (common < ctx.length && common < whole.length - 1 && ctx[common] == whole[common]) common++;
        return new Request(
                Arrays.copyOf(whole, Math.max(common, 1)),
                Arrays.copyOfRange(whole, Math.max(common, 1), whole.length));
    }

    public static List<Score> score(Model m, List<Request> requests, Progress progress) {
        int max = m.config().maxPositions();
        Integer[] order = new Integer[requests.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -length(requests.get(i), max)));
        Score[] out = new Score[requests.size()];
        try (var g = Torch.noGrad()) {
            int done = 0;
            while (done < order.length) {
                Interrupts.check();
                int len = length(requests.get(order[done]), max);
                int n = Math.min(m.batchFor(len, m.device(), 16), order.length - done);
                List<int[]> rows = new ArrayList<>();
                List<Integer> contStart = new ArrayList<>();
                for (int k = 0; k < n; k++) {
                    Request r = requests.get(order[done + k]);
                    int[] all = concat(r.context(), r.continuation());
                    // lm-evaluation-harness's window (EleutherAI/lm-evaluation-harness, lm_eval/models/huggingface.py,
                    // HFLM._loglikelihood_tokens): keep the last max + 1 tokens, drop the final one, whose logits
                    // predict nothing; the input is then up to max tokens. A continuation longer than that keeps
                    // one token before it, and only its tokens that fit are scored.
                    int cut = Math.max(0, all.length - 1 - max);
                    rows.add(Arrays.copyOfRange(all, cut, all.length - 1));
                    contStart.add(Math.max(1, r.context().length - cut));
                }
                long[] ids = new long[n * len], mask = new long[n * len];
                for (int k = 0; k < n; k++)
                    for (int t = 0; t < rows.get(k).length; t++) {
                        ids[k * len + t] = rows.get(k)[t];
                        mask[k * len + t] = 1;
                    }
                try (Scope s = Scope.open()) {
                    Tensor logits = m.forward(
                            Torch.tensor(ids, n, len).to(m.device()),
                            Torch.tensor(mask, n, len).to(m.device()));
                    for (int k = 0; k < n; k++) {
                        Request r = requests.get(order[done + k]);
                        int[] all = concat(r.context(), r.continuation());
                        // row index j holds all[cut + j]; the continuation's tokens all[cut + start …] are
                        // predicted by row positions start−1 … (the row's last position predicts the final token)
                        int start = contStart.get(k), count = rows.get(k).length + 1 - start;
                        int cut = all.length - 1 - rows.get(k).length;
                        Tensor lp = logits.select(0, k)
                                .narrow(0, start - 1, count)
                                .to(DType.F32)
                                .logSoftmax(-1);
                        long[] target = new long[count];
                        for (int t = 0; t < count; t++) target[t] = all[cut + start + t];
                        Tensor tgt = Torch.tensor(target, count, 1).to(m.device());
                        double ll = lp.gather(1, tgt).sum().item();
                        boolean greedy = Arrays.equals(lp.argmax(1, false).toLongArray(), target);
                        out[order[done + k]] = new Score(ll, greedy);
                    }
                }
                done += n;
                progress.update("log-likelihoods", done, order.length);
            }
        }
        return Arrays.asList(out);
    }

    private static int length(Request r, int max) {
        return Math.min(max, r.context().length + r.continuation().length - 1); // the final token is not input
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
