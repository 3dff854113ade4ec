package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One-dimensional K-means of every row of x [B, n] at once, as ATen ops on x's device: CLAQ's
 * per-column codebooks (Wang et al., arXiv 2405.17233; fayuge/CLAQ quant.py fits scikit-learn's
 * KMeans with k-means++ seeding and Lloyd iterations). Each row is one weight column; an optional
 * weight [B, n] (0 or 1 in CLAQ) leaves values out of the fit (reserved outliers, TaCQ's kept weights).
 *
 * <p>Two variants: {@link #lloyd} (seeding, then Lloyd to a fixed point) and {@link #exact} (the
 * optimal clustering of sorted values by dynamic programming, as Ckmeans.1d.dp; Wang &amp; Song, R
 * Journal 2011), whose sum of squared errors is never above Lloyd's. Ties: a value goes to the nearest
 * centroid, the lowest index on equal distance (argmin's first minimum).
 */
public final class KMeans1d {
    private KMeans1d() {}

    public enum Variant {
        LLOYD,
        EXACT
    }

    /** Centroids [B, k] float32 and each value's nearest centroid [B, n] int64. */
    public record Fit(Tensor centroids, Tensor labels) implements AutoCloseable {
        @Override
        public void close() {
            centroids.close();
            labels.close();
        }
    }

    /**
     * Candidates tried for each centroid after the first: 2 + ⌊ln k⌋, scikit-learn's greedy k-means++
     * (sklearn/cluster/_kmeans.py, _kmeans_plusplus), so the seeding is the reference's algorithm.
     */
    public static int localTrials(int k) {
        return 2 + (int) Math.log(k);
    }

    /** Uniform draws one row's seeding consumes: one for the first centroid, localTrials(k) per later one. */
    public static int draws(int k) {
        return 1 + (k - 1) * localTrials(k);
    }

    /**
     * The draws in [0, 1) of stream {@code stream} (CLAQ: the weight column's index in the layer) under
     * {@code seed}: {@code new SplittableRandom(seed·0x9E3779B97F4A7C15 + stream).nextDouble()}, in order.
     * Drawn on the host once, so the seeding needs no random generator of the device and equals a
     * plain-Java seeding that reads the same numbers. scikit-learn's own RNG stream is not reproduced.
     */
    public static double[] uniforms(long seed, long stream, int k) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + stream);
        double[] u = new double[draws(k)];
        for (int i = 0; i < u.length; i++) u[i] = r.nextDouble();
        return u;
    }

    /** {@link #uniforms} of several streams as one [streams, draws(k)] float64 tensor on {@code device}. */
    public static Tensor uniforms(long seed, long[] streams, int k, Device device) {
        int d = draws(k);
        double[] all = new double[streams.length * d];
        for (int b = 0; b < streams.length; b++) System.arraycopy(uniforms(seed, streams[b], k), 0, all, b * d, d);
        try (Scope s = Scope.open()) {
            return s.keep(Torch.tensor(all, streams.length, d).to(device));
        }
    }

    /**
     * k-means++ seeding of each row (scikit-learn's greedy variant), float64 distances. With u the row's
     * draws: the first centroid is x[i] for the first i whose running weight sum reaches u₀·Σweight; each
     * later one takes localTrials(k) candidates, candidate t being the first i with Σ_{i'≤i} w·D² ≥ u_t·Σ w·D²
     * (D² the squared distance to the nearest centroid so far; clamped to n − 1), and keeps the candidate
     * whose addition leaves the smallest Σ w·D², the first of those within a relative {@link #TIE} of it.
     * Returns [B, k] float32.
     */
    public static Tensor seed(Tensor x, Tensor weight, int k, Tensor uniforms) {
        try (Scope s = Scope.open()) {
            long b = x.size(0), n = x.size(1);
            int trials = localTrials(k);
            Tensor x64 = x.to(DType.F32).to(DType.F64), w = weights(x, weight);
            Tensor u = uniforms.to(DType.F64);
            Tensor c0 = x64.gather(1, pick(w.cumsum(1), u.narrow(1, 0, 1), w, n)); // [B, 1]
            List<Tensor> centroids = new ArrayList<>(List.of(c0));
            Tensor d2 = x64.sub(c0).square(); // [B, n]
            for (int t = 1; t < k; t++) {
                Tensor cand = x64.gather(
                        1, pick(d2.mul(w).cumsum(1), u.narrow(1, 1 + (long) (t - 1) * trials, trials), w, n));
                Tensor dc = x64.unsqueeze(1).sub(cand.unsqueeze(2)).square().minimum(d2.unsqueeze(1)); // [B, trials, n]
                Tensor potential = dc.mul(w.unsqueeze(1)).sum(new long[] {2}, false); // [B, trials]
                // the first candidate within TIE of the least potential: two isolated values give exactly equal
                // potentials, which float64 sums in another order would split at random
                Tensor least = potential.amin(new long[] {1}, true).mul(1 + TIE);
                Tensor best = potential.gt(least).logicalNot().to(DType.F32).argmax(1, true); // [B, 1]
                centroids.add(cand.gather(1, best));
                d2 = dc.gather(1, best.unsqueeze(2).expand(b, 1, n)).squeeze(1);
            }
            return s.keep(Torch.cat(centroids, 1).to(DType.F32));
        }
    }

    /**
     * Seeding, then Lloyd iterations: assign each value to its nearest centroid, move each centroid to
     * the weighted mean of its values (summed in float64, stored in float32); a centroid left without
     * values keeps its place. Stops when no centroid moves or after maxIter updates. A converged update
     * reproduces its input bit for bit, so how often convergence is checked changes the time, not the
     * result: on a CPU every update (reading a flag is a load, not a device sync), on a GPU every
     * {@link #CUDA_CHECK_EVERY} updates.
     *
     * <p>scikit-learn also stops once the centroids move less than tol = 1e-4 × the data's variance; this
     * runs to the exact fixed point instead (the centroids then match any earlier stop to about that tol).
     */
    public static Fit lloyd(Tensor x, Tensor weight, int k, Tensor uniforms, int maxIter) {
        return lloyd(x, weight, k, uniforms, maxIter, x.device().isCuda() ? CUDA_CHECK_EVERY : 1);
    }

    /** {@link #lloyd} checking convergence every {@code every} updates (0: never, maxIter updates). */
    static Fit lloyd(Tensor x, Tensor weight, int k, Tensor uniforms, int maxIter, int every) {
        try (Scope s = Scope.open()) {
            Tensor xf = x.to(DType.F32), w = weights(x, weight);
            Tensor column = xf.unsqueeze(2), ids = Torch.arange(0, k, 1, DType.I64, x.device());
            Tensor both = Torch.stack(List.of(xf.to(DType.F64).mul(w), w), 1); // [B, 2, n]
            Tensor c = seed(xf, w, k, uniforms);
            for (int it = 0; it < maxIter; it++) {
                Tensor next;
                boolean converged;
                try (Scope step = Scope.open()) {
                    Tensor labels = Torch.call1(
                            "aten::argmin", "", column.sub(c.unsqueeze(1)).abs(), 2L, false); // nearest
                    // sums and counts per cluster as one product with the membership matrix, not scatter_add, whose
                    // atomic adds on a GPU sum in a varying order and would keep a converged centroid moving by an ulp
                    Tensor sc = both.bmm(labels.unsqueeze(2).eq(ids).to(DType.F64)); // [B, 2, k]
                    Tensor sums = sc.select(1, 0), counts = sc.select(1, 1);
                    next = step.keep(
                            Torch.where(counts.gt(0.0), sums.div(counts).to(DType.F32), c));
                    converged = every > 0
                            && (it + 1) % every == 0
                            && Torch.call1("aten::all", "", next.eq(c)).toBooleanArray()[0];
                }
                c.close();
                c = next;
                if (converged) break;
            }
            return new Fit(s.keep(c), s.keep(nearest(xf, c)));
        }
    }

    /** Potentials closer than this (relative) are a tie in the seeding: far above float64 sums' rounding. */
    static final double TIE = 1e-12;

    /** Lloyd updates between convergence checks on a GPU, where a check waits for the device. */
    static final int CUDA_CHECK_EVERY = 16;

    /**
     * The k-clustering of each row with the least weighted sum of squared errors, by dynamic programming
     * over the sorted values (Ckmeans.1d.dp's recurrence): D_t(m) = min_{i≤m} D_{t−1}(i) + SSE(sorted[i, m)),
     * each segment's SSE from float64 prefix sums of w, w·x, w·x² (on values centred by their mean).
     * Segments may be empty, so fewer distinct values than k cost nothing; an empty cluster's centroid
     * is the sorted value where its segment would start. Centroids ascend. Cost per row: O(k·n²) time and
     * O(n²) float64 memory (all rows at once: B·(n+1)² doubles), fine for columns up to a few thousand rows.
     */
    public static Fit exact(Tensor x, Tensor weight, int k) {
        try (Scope s = Scope.open()) {
            long b = x.size(0), n = x.size(1);
            Tensor xf = x.to(DType.F32);
            var sorted = xf.sort(1, false);
            Tensor v = sorted.values().to(DType.F64), w = weights(x, weight).gather(1, sorted.indices());
            Tensor mean = v.mul(w)
                    .sum(new long[] {1}, true)
                    .div(w.sum(new long[] {1}, true).clamp(1e-300, null));
            Tensor vc = v.sub(mean);
            Tensor zero = Torch.zeros(DType.F64, x.device(), b, 1);
            Tensor p0 = Torch.cat(List.of(zero, w.cumsum(1)), 1),
                    p1 = Torch.cat(List.of(zero, w.mul(vc).cumsum(1)), 1);
            Tensor p2 = Torch.cat(List.of(zero, w.mul(vc).mul(vc).cumsum(1)), 1); // [B, n+1]
            // cost[b, i, m]: the SSE of sorted[i, m), +∞ for i > m
            Tensor n0 = p0.unsqueeze(1).sub(p0.unsqueeze(2)),
                    s1 = p1.unsqueeze(1).sub(p1.unsqueeze(2));
            Tensor s2 = p2.unsqueeze(1).sub(p2.unsqueeze(2));
            Tensor sse = s2.sub(s1.square().div(n0.clamp(1e-300, null)));
            Tensor cost = Torch.where(n0.gt(0.0), sse, zero.unsqueeze(2)).clamp(0.0, null);
            Tensor below = Torch.ones(DType.BOOL, x.device(), n + 1, n + 1).tril(-1); // i > m
            cost = cost.maskedFill(below.unsqueeze(0), Double.POSITIVE_INFINITY);
            Tensor d = cost.select(1, 0); // one cluster: [0, m)
            List<Tensor> argmins = new ArrayList<>();
            for (int t = 2; t <= k; t++) {
                var step = d.unsqueeze(2).add(cost).min(1, false);
                d = step.values();
                argmins.add(step.indices());
            }
            // walk back from m = n: cluster t covers sorted[start_t, end_t)
            Tensor[] starts = new Tensor[k], ends = new Tensor[k];
            Tensor end = Torch.full(n, DType.I64, x.device(), b, 1);
            for (int t = k - 1; t >= 1; t--) {
                ends[t] = end;
                starts[t] = argmins.get(t - 1).gather(1, end);
                end = starts[t];
            }
            ends[0] = end;
            starts[0] = Torch.zeros(DType.I64, x.device(), b, 1);
            Tensor st = Torch.cat(List.of(starts), 1), en = Torch.cat(List.of(ends), 1); // [B, k]
            Tensor count = p0.gather(1, en).sub(p0.gather(1, st));
            Tensor centroid = p1.gather(1, en)
                    .sub(p1.gather(1, st))
                    .div(count.clamp(1e-300, null))
                    .add(mean);
            Tensor at = Torch.call1("aten::clamp_max", "", st, n - 1);
            Tensor c = Torch.where(count.gt(0.0), centroid, v.gather(1, at)).to(DType.F32);
            return new Fit(s.keep(c), s.keep(nearest(xf, c)));
        }
    }

    /** Index of each value's nearest centroid, the lowest index on equal distance: [B, n] int64. */
    public static Tensor nearest(Tensor x, Tensor centroids) {
        try (Scope s = Scope.open()) {
            Tensor dist =
                    x.to(DType.F32).unsqueeze(2).sub(centroids.unsqueeze(1)).abs(); // [B, n, k]
            return s.keep(Torch.call1("aten::argmin", "", dist, 2L, false));
        }
    }

    /** Weighted sum of squared errors of each row against its centroids and labels: [B] float64. */
    public static Tensor sse(Tensor x, Tensor weight, Fit fit) {
        try (Scope s = Scope.open()) {
            Tensor q = fit.centroids().to(DType.F64).gather(1, fit.labels());
            return s.keep(
                    x.to(DType.F64).sub(q).square().mul(weights(x, weight)).sum(1));
        }
    }

    /**
     * For each row and draw u, the first index whose running sum reaches u × the row's total and whose
     * weight is not 0: [B, m]. A value left out of the fit (CLAQ's kept and reserved weights) so never
     * becomes a centroid, even when the total is 0 (every weighted value a centroid already: the first
     * weighted value again); a row with no weight at all takes its last index.
     */
    private static Tensor pick(Tensor cumulative, Tensor u, Tensor w, long n) {
        Tensor threshold = u.mul(cumulative.narrow(1, n - 1, 1)); // [B, m]
        Tensor ok = cumulative
                .unsqueeze(1)
                .lt(threshold.unsqueeze(2))
                .logicalNot()
                .logicalAnd(w.gt(0.0).unsqueeze(1)); // [B, m, n]
        Tensor first = ok.to(DType.F32).argmax(2, false);
        Tensor any = ok.to(DType.F32).amax(new long[] {2}, false).gt(0.5);
        return Torch.where(any, first, Torch.full(n - 1, DType.I64, first.device(), first.shape()));
    }

    private static Tensor weights(Tensor x, Tensor weight) {
        return weight == null ? Torch.ones(DType.F64, x.device(), x.shape()) : weight.to(DType.F64);
    }
}
