package io.lowbit.eval;

import io.lowbit.eval.LogLikelihood.Request;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.SharedPrefix;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Log-likelihoods of a few answers after each of many questions whose prompts share a prefix, as
 * {@link LogLikelihood#score} would give them, computed with far fewer tokens. MMLU's prompts of
 * one subject share the header and five dev examples (about 85 % of each prompt): that prefix runs
 * once ({@link SharedPrefix}), then one row per question holds the question's own tokens and, side
 * by side as branches, the answer tokens that need logits of their own (none when every answer is
 * one token: the four letters are read off the question's last position). Questions too long for
 * the context run through {@link LogLikelihood#score}, cut from the left as it does.
 */
final class AnswerScores {
    private AnswerScores() {}

    /** Rows per batch on a GPU: a few hundred tokens each after the prefix. */
    static final int BATCH = 16;

    /** [question][answer] log-likelihoods; {@code questions.get(i)} holds question i's requests, one per answer. */
    static double[][] score(Model m, List<List<Request>> questions) {
        int max = m.config().maxPositions();
        // a trunk of BOS alone leaves nothing to share
        List<Integer> shared = new ArrayList<>(), whole = new ArrayList<>();
        for (int i = 0; i < questions.size(); i++)
            (longest(questions.get(i)) <= max && trunk(questions.get(i)) >= 2 ? shared : whole).add(i);
        double[][] out = new double[questions.size()][];
        if (!shared.isEmpty()) scoreShared(m, questions, shared, out);
        if (!whole.isEmpty()) {
            List<Request> flat = new ArrayList<>();
            for (int i : whole) flat.addAll(questions.get(i));
            List<LogLikelihood.Score> sc = LogLikelihood.score(m, flat, Progress.NONE);
            int at = 0;
            for (int i : whole) {
                out[i] = new double[questions.get(i).size()];
                for (int j = 0; j < out[i].length; j++) out[i][j] = sc.get(at++).logLikelihood();
            }
        }
        return out;
    }

    private static void scoreShared(Model m, List<List<Request>> questions, List<Integer> which, double[][] out) {
        int prefix = sharedPrefix(questions, which);
        List<Row> rows = new ArrayList<>();
        for (int i : which) rows.add(Row.of(i, questions.get(i), prefix));
        rows.sort(Comparator.comparingInt((Row r) -> -r.tokens.length)); // longest first: little padding per batch
        int[] first = whole(questions.get(which.get(0)).get(0));
        try (SharedPrefix p = new SharedPrefix(m, Arrays.copyOf(first, prefix))) {
            for (int done = 0; done < rows.size(); ) {
                Interrupts.check();
                int n = Math.min(
                        m.batchFor(prefix + rows.get(done).tokens.length, m.device(), BATCH), rows.size() - done);
                List<Row> batch = rows.subList(done, done + n);
                int[][] tokens = new int[n][], branches = new int[n][];
                for (int k = 0; k < n; k++) {
                    tokens[k] = batch.get(k).tokens;
                    branches[k] = batch.get(k).branches;
                }
                try (Scope s = Scope.open()) {
                    Tensor logits = p.forward(tokens, branches);
                    double[] lp = targetLogProbs(logits, batch);
                    int at = 0;
                    for (Row r : batch) {
                        double[] sums = new double[r.slots.length];
                        for (int j = 0; j < sums.length; j++)
                            for (int q = 0; q < r.slots[j].length; q++) sums[j] += lp[at++];
                        out[r.question] = sums;
                    }
                }
                done += n;
            }
        }
    }

    /** log p(target) at every (slot, target) of the batch's rows, in row and answer order: one copy to the host. */
    private static double[] targetLogProbs(Tensor logits, List<Row> batch) {
        long t = logits.size(1), vocab = logits.size(2);
        List<long[]> picks = new ArrayList<>(); // {flat position, target}
        for (int k = 0; k < batch.size(); k++) {
            Row r = batch.get(k);
            for (int j = 0; j < r.slots.length; j++)
                for (int q = 0; q < r.slots[j].length; q++)
                    picks.add(new long[] {k * t + r.slots[j][q], r.targets[j][q]});
        }
        long[] at = new long[picks.size()], target = new long[picks.size()];
        for (int i = 0; i < at.length; i++) {
            at[i] = picks.get(i)[0];
            target[i] = picks.get(i)[1];
        }
        try (Scope s = Scope.open()) {
            var d = logits.device();
            Tensor rows = logits.reshape(batch.size() * t, vocab)
                    .indexSelect(0, Torch.tensor(at, at.length).to(d));
            if (rows.dtype() != DType.F64) rows = rows.to(DType.F32); // bf16 logits: the softmax in float32
            return rows.logSoftmax(-1)
                    .gather(1, Torch.tensor(target, target.length, 1).to(d))
                    .toDoubleArray();
        }
    }

    /**
     * One question's row after the shared prefix: the trunk (the tokens all its requests share, up
     * to the shortest context), then each answer's branch (its tokens after the trunk, but the last,
     * whose logits nobody needs). For answer j, slots[j][q] is the row position whose logits predict
     * targets[j][q], the continuation's q-th token.
     */
    private record Row(int question, int[] tokens, int[] branches, int[][] slots, int[][] targets) {
        static Row of(int question, List<Request> requests, int prefix) {
            int trunk = trunk(requests);
            int[] first = whole(requests.get(0));
            List<Integer> tokens = new ArrayList<>(), branches = new ArrayList<>();
            for (int t = prefix; t < trunk; t++) {
                tokens.add(first[t]);
                branches.add(0);
            }
            int[][] slots = new int[requests.size()][], targets = new int[requests.size()][];
            for (int j = 0; j < requests.size(); j++) {
                Request r = requests.get(j);
                int[] w = whole(r);
                int start = tokens.size(); // where branch j begins in the row
                for (int t = trunk; t < w.length - 1; t++) {
                    tokens.add(w[t]);
                    branches.add(j + 1);
                }
                int ctx = r.context().length, count = r.continuation().length;
                slots[j] = new int[count];
                targets[j] = new int[count];
                for (int q = 0; q < count; q++) {
                    int predictor = ctx + q - 1; // the token before the target, in the whole sequence
                    slots[j][q] = predictor < trunk ? predictor - prefix : start + predictor - trunk;
                    targets[j][q] = w[ctx + q];
                }
            }
            return new Row(question, toArray(tokens), toArray(branches), slots, targets);
        }
    }

    /** The tokens all of a question's requests share, up to its shortest context. */
    private static int trunk(List<Request> requests) {
        int[] first = whole(requests.get(0));
        int n = first.length;
        for (Request r : requests) {
            int[] w = whole(r);
            int c = 0;
            while (c < n && c < w.length && w[c] == first[c]) c++;
            n = Math.min(c, r.context().length);
        }
        return n;
    }

    /**
     * The tokens every question's trunk starts with, leaving each trunk at least one token of its own
     * (the one whose logits predict the first answer token).
     */
    private static int sharedPrefix(List<List<Request>> questions, List<Integer> which) {
        int[] first = whole(questions.get(which.get(0)).get(0));
        int n = first.length;
        for (int i : which) {
            int[] w = whole(questions.get(i).get(0));
            int limit = Math.min(n, trunk(questions.get(i)) - 1), c = 0;
            while (c < limit && w[c] == first[c]) c++;
            n = c;
        }
        return Math.max(n, 1); // BOS at least: a prefix cannot be empty
    }

    private static int longest(List<Request> requests) {
        int n = 0;
        for (Request r : requests) n = Math.max(n, r.context().length + r.continuation().length);
        return n;
    }

    private static int[] whole(Request r) {
        int[] w = Arrays.copyOf(r.context(), r.context().length + r.continuation().length);
        System.arraycopy(r.continuation(), 0, w, r.context().length, r.continuation().length);
        return w;
    }

    private static int[] toArray(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }
}
