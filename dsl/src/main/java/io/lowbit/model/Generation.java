package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.List;

/**
 * Batched text generation: prompts are left-padded into one batch, the KV cache is filled by one
 * prefill pass, then one token per step for every row (greedy, or temperature + top-p sampling with
 * a seed) until EOS, a stop string, or the token limit.
 */
public final class Generation {
    private Generation() {}

    /** Options; {@link #greedy(int)} is the default, the with* methods return changed copies. */
    public record Options(
            int maxNewTokens, double temperature, double topP, long seed, List<String> stop, boolean useCache) {
        public Options {
            if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0");
            if (temperature < 0) throw new IllegalArgumentException("temperature must be >= 0");
            if (topP <= 0 || topP > 1) throw new IllegalArgumentException("topP must be in (0, 1]");
            stop = List.copyOf(stop);
        }

        public static Options greedy(int maxNewTokens) {
            return new Options(maxNewTokens, 0, 1, 0, List.of(), true);
        }

        public Options withSampling(double temperature, double topP, long seed) {
            return new Options(maxNewTokens, temperature, topP, seed, stop, useCache);
        }

        public Options withStop(String... strings) {
            return new Options(maxNewTokens, temperature, topP, seed, List.of(strings), useCache);
        }

        /** Recompute the whole sequence every step (slow; a reference for the cache). */
        public Options withoutCache() {
            return new Options(maxNewTokens, temperature, topP, seed, stop, false);
        }
    }

    /** One prompt's completion: its text (cut before a stop string), its tokens, and why it ended. */
    public record Completion(String prompt, String text, int[] tokens, String stopReason) {
        @Override
        public String toString() {
            return "Completion[" + stopReason + ", " + tokens.length + " tokens: " + text + "]";
        }
    }

    public static Completion generate(Model m, String prompt, Options o) {
        return generate(m, List.of(prompt), o).get(0);
    }

    public static List<Completion> generate(Model m, List<String> prompts, Options o) {
        Tokenizer tok = m.tokenizer();
        if (tok == null) throw new IllegalStateException("the model has no tokenizer: " + m.source());
        int[][] encoded = new int[prompts.size()][];
        for (int i = 0; i < encoded.length; i++) encoded[i] = tok.encode(prompts.get(i), true, false);
        Tokens t = generateTokens(m, encoded, o);
        List<Completion> result = new ArrayList<>();
        for (int i = 0; i < encoded.length; i++) {
            String text = continuation(tok, encoded[i], t.tokens()[i]);
            int cut = stopIndex(text, o.stop());
            if (cut >= 0) text = text.substring(0, cut);
            result.add(new Completion(prompts.get(i), text, t.tokens()[i], t.stopReasons()[i]));
        }
        return result;
    }

    /**
     * The text the new tokens add to the prompt. Decoded together with the prompt, because a
     * tokenizer drops a leading space when a text starts with it ("a little" + " girl", not "girl").
     */
    static String continuation(Tokenizer tok, int[] prompt, int[] generated) {
        int[] all = java.util.Arrays.copyOf(prompt, prompt.length + generated.length);
        System.arraycopy(generated, 0, all, prompt.length, generated.length);
        String full = tok.decode(all);
        String head = tok.decode(prompt);
        return full.startsWith(head) ? full.substring(head.length()) : tok.decode(generated);
    }

    /** Generated token ids per prompt and why each ended ("eos", "stop", "length"). */
    public record Tokens(int[][] tokens, String[] stopReasons) {}

    /**
     * Generation on token ids (prompts already encoded, BOS included). Stops at the model config's
     * EOS; stop strings apply only when the model has a tokenizer.
     */
    public static Tokens generateTokens(Model m, int[][] encoded, Options o) {
        Tokenizer tok = m.tokenizer();
        int eos = m.config().eosId();
        int b = encoded.length;
        int p = 0;
        for (int[] e : encoded) {
            if (e.length == 0) throw new IllegalArgumentException("an empty prompt: give at least BOS");
            p = Math.max(p, e.length);
        }
        if (p + o.maxNewTokens() > m.config().maxPositions())
            throw new IllegalArgumentException("prompt (" + p + " tokens) + maxNewTokens (" + o.maxNewTokens()
                    + ") exceeds the model's context of " + m.config().maxPositions());
        long[] ids = new long[b * p], valid = new long[b * p];
        for (int i = 0; i < b; i++) {
            int pad = p - encoded[i].length;
            for (int j = 0; j < encoded[i].length; j++) {
                ids[i * p + pad + j] = encoded[i][j];
                valid[i * p + pad + j] = 1;
            }
        }
        List<List<Integer>> out = new ArrayList<>();
        for (int i = 0; i < b; i++) out.add(new ArrayList<>());
        String[] reason = new String[b];
        if (o.temperature() > 0) Torch.manualSeed(o.seed());

        try (Scope scope = Scope.open();
                var g = Torch.noGrad()) {
            Tensor tokens = Torch.tensor(ids, b, p).to(m.device());
            Tensor mask = Torch.tensor(valid, b, p).to(m.device());
            KvCache cache =
                    o.useCache() ? new KvCache(m.config(), b, p + o.maxNewTokens(), m.dtype(), m.device()) : null;
            try {
                Tensor keyValid = Torch.ones(DType.BOOL, m.device(), b, p + o.maxNewTokens());
                keyValid.narrow(1, 0, p).copyFrom(mask.to(DType.BOOL));
                Tensor positions = Model.positionsOf(mask.to(DType.BOOL));
                Tensor logits = cache != null
                        ? m.forward(tokens, positions, Model.keepMask(keyValid.narrow(1, 0, p), p), cache)
                        : m.forward(tokens, mask);
                Tensor last = logits.select(1, p - 1);
                Tensor position = positions.select(1, p - 1).unsqueeze(1); // [B, 1]
                for (int step = 0; step < o.maxNewTokens(); step++) {
                    Interrupts.check();
                    long[] next = choose(last, o);
                    boolean any = false;
                    for (int i = 0; i < b; i++) {
                        if (reason[i] != null) continue;
                        if (next[i] == eos) {
                            reason[i] = "eos";
                            continue;
                        }
                        out.get(i).add((int) next[i]);
                        if (tok != null
                                && !o.stop().isEmpty()
                                && stopIndex(tok.decode(toArray(out.get(i))), o.stop()) >= 0) reason[i] = "stop";
                        else any = true;
                    }
                    if (!any || step == o.maxNewTokens() - 1) break;
                    try (Scope s = Scope.open()) {
                        Tensor input = Torch.tensor(next, b, 1).to(m.device());
                        position = s.keep(position.add(1));
                        if (cache != null) {
                            long len = cache.length() + 1;
                            Tensor keep = keyValid.narrow(1, 0, len).view(b, 1, 1, len);
                            last = s.keep(
                                    m.forward(input, position, keep, cache).select(1, 0));
                        } else {
                            tokens = s.keep(Torch.cat(List.of(tokens, input), 1));
                            mask = s.keep(Torch.cat(List.of(mask, Torch.ones(DType.I64, m.device(), b, 1)), 1));
                            Tensor all = m.forward(tokens, mask);
                            last = s.keep(all.select(1, all.size(1) - 1));
                        }
                    }
                }
            } finally {
                if (cache != null) cache.close();
            }
        }
        int[][] tokens = new int[b][];
        for (int i = 0; i < b; i++) {
            tokens[i] = toArray(out.get(i));
            if (reason[i] == null) reason[i] = "length";
        }
        return new Tokens(tokens, reason);
    }

    /** The next token of each row: argmax, or a sample from the top-p nucleus at the temperature. */
    private static long[] choose(Tensor logits, Options o) {
        try (Scope s = Scope.open()) {
            if (o.temperature() == 0) return logits.argmax(-1, false).toLongArray();
            Tensor probs = logits.to(DType.F32).div(o.temperature()).softmax(-1);
            var sorted = probs.sort(-1, true);
            Tensor cumulative = sorted.values().cumsum(-1);
            // drop a token when the tokens before it already reach top-p (the first always stays)
            Tensor drop = cumulative.sub(sorted.values()).ge(o.topP());
            Tensor kept = sorted.values().maskedFill(drop, 0);
            Tensor pick = Torch.call1("aten::multinomial", "", kept, 1L);
            return sorted.indices().gather(-1, pick).reshape(-1).toLongArray();
        }
    }

    private static int stopIndex(String text, List<String> stops) {
        int best = -1;
        for (String st : stops) {
            int at = text.indexOf(st);
            if (at >= 0 && (best < 0 || at < best)) best = at;
        }
        return best;
    }

    private static int[] toArray(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }
}
