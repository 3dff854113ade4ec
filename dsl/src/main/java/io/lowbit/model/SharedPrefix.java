package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.Arrays;
import java.util.List;

/**
 * A prompt prefix run through the model once, its keys and values kept, so that many
 * continuations of it run without recomputing it: MMLU's five dev examples are the same for every
 * question of a subject, and they are most of each prompt.
 */
public final class SharedPrefix implements AutoCloseable {
    private final Model model;
    private final int length;
    private final KvCache cache; // one row, exactly the prefix's positions

    /** Runs {@code prefix} (token ids, BOS included) at positions 0 … n−1 and keeps its keys and values. */
    public SharedPrefix(Model m, int[] prefix) {
        if (prefix.length == 0) throw new IllegalArgumentException("an empty prefix: give at least BOS");
        checkIds(m, prefix);
        model = m;
        length = prefix.length;
        cache = new KvCache(m.config(), 1, length, m.dtype(), m.device());
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            Tensor tokens = Torch.tensor(toLong(prefix), 1, length).to(m.device());
            Tensor positions = Torch.arange(0, length, 1, DType.I64, m.device()).unsqueeze(0);
            m.forward(tokens, positions, null, cache); // plain causal attention; the logits are not needed
        } catch (RuntimeException e) {
            cache.close();
            throw e;
        }
    }

    /** Tokens in the prefix. */
    public int length() {
        return length;
    }

    /**
     * Logits [n, T, vocab] of n rows that continue the prefix, right-padded to the longest (T tokens);
     * logits past a row's own length belong to padding and mean nothing. A row may hold several
     * continuations side by side, so that what they share runs once: {@code branches[k][t]} is 0 for
     * the trunk (row k's first tokens, seen by every later token of the row) and b > 0 for branch b,
     * which sees the prefix, the trunk and its own earlier tokens only, at positions that continue the
     * trunk. Logits are then those of prefix + trunk + that branch alone. {@code branches} null: every
     * row is one plain continuation.
     */
    public Tensor forward(int[][] rows, int[][] branches) {
        int n = rows.length, t = 0;
        for (int k = 0; k < n; k++) {
            if (rows[k].length == 0) throw new IllegalArgumentException("an empty continuation");
            if (branches != null && branches[k].length != rows[k].length)
                throw new IllegalArgumentException(
                        "row " + k + " has " + rows[k].length + " tokens but " + branches[k].length + " branch ids");
            checkIds(model, rows[k]);
            t = Math.max(t, rows[k].length);
        }
        long[] ids = new long[n * t], positions = new long[n * t], branch = new long[n * t];
        Arrays.fill(branch, -1); // padding: a branch of its own, seen by no real token
        int longest = 0;
        for (int k = 0; k < n; k++) {
            int trunk = 0;
            int[] seen = new int[1];
            for (int j = 0; j < rows[k].length; j++) {
                int b = branches == null ? 0 : branches[k][j];
                if (b < 0 || b == 0 && j > trunk)
                    throw new IllegalArgumentException(
                            "row " + k + ": the trunk (branch 0) comes first, then branches 1, 2, …");
                if (b >= seen.length) seen = Arrays.copyOf(seen, b + 1);
                ids[k * t + j] = rows[k][j];
                branch[k * t + j] = b;
                // the trunk counts 0, 1, 2, … after the prefix; each branch counts on from the trunk's end
                positions[k * t + j] = length + (b == 0 ? trunk++ : trunk + seen[b]++);
                longest = (int) Math.max(longest, positions[k * t + j] + 1);
            }
        }
        if (longest > model.config().maxPositions())
            throw new IllegalArgumentException("prefix (" + length + " tokens) + continuation (" + (longest - length)
                    + ") exceeds the model's context of " + model.config().maxPositions());
        try (Scope s = Scope.open();
                var g = Torch.noGrad();
                KvCache batch = new KvCache(cache, n, length + t)) {
            var d = model.device();
            Tensor b = Torch.tensor(branch, n, t).to(d);
            Tensor keys = b.unsqueeze(1), queries = b.unsqueeze(2); // [n, 1, T], [n, T, 1]
            Tensor causal = Torch.ones(DType.BOOL, d, t, t).tril(0);
            Tensor rowKeep = keys.eq(0).logicalOr(keys.eq(queries)).logicalAnd(causal); // [n, T, T]
            // the prefix is visible to every query, padding's included, so no row of the mask is empty
            Tensor keep = Torch.cat(List.of(Torch.ones(DType.BOOL, d, n, t, length), rowKeep), 2)
                    .unsqueeze(1);
            Tensor tokens = Torch.tensor(ids, n, t).to(d);
            return s.keep(model.forward(tokens, Torch.tensor(positions, n, t).to(d), keep, batch));
        }
    }

    private static void checkIds(Model m, int[] ids) {
        for (int id : ids)
            if (id < 0 || id >= m.config().vocabSize())
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of "
                        + m.config().vocabSize());
    }

    private static long[] toLong(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return l;
    }

    @Override
    public void close() {
        cache.close();
    }
}
