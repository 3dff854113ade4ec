package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The tensor K-means against plain Java: the same k-means++ draws and Lloyd iterations one value at a
 * time (float32 distances, float64 sums, as the tensor code promises), and the exact variant against
 * every contiguous partition of the sorted values.
 */
class KMeans1dTest {

    // ---------------------------------------------------------------- the plain-Java oracle

    /** k-means++ with greedy local trials, as KMeans1d documents it; w null means all ones. */
    static double[] seed(float[] x, double[] w, int k, double[] u) {
        int n = x.length, trials = 2 + (int) Math.log(k);
        double[] weight = w == null ? ones(n) : w, cum = new double[n];
        double run = 0;
        for (int i = 0; i < n; i++) cum[i] = run += weight[i];
        double[] c = new double[k], d2 = new double[n];
        c[0] = x[reaching(cum, u[0] * cum[n - 1], weight)];
        for (int i = 0; i < n; i++) d2[i] = ((double) x[i] - c[0]) * ((double) x[i] - c[0]);
        for (int t = 1; t < k; t++) {
            run = 0;
            for (int i = 0; i < n; i++) cum[i] = run += weight[i] * d2[i];
            double[] cand = new double[trials], potential = new double[trials];
            double[][] d = new double[trials][n];
            for (int l = 0; l < trials; l++) {
                cand[l] = x[reaching(cum, u[1 + (t - 1) * trials + l] * cum[n - 1], weight)];
                for (int i = 0; i < n; i++) {
                    d[l][i] = Math.min(d2[i], ((double) x[i] - cand[l]) * ((double) x[i] - cand[l]));
                    potential[l] += weight[i] * d[l][i];
                }
            }
            double least = Arrays.stream(potential).min().getAsDouble();
            int best = 0;
            while (potential[best] > least * (1 + 1e-12)) best++; // the first within a relative 1e-12 of the least
            c[t] = cand[best];
            d2 = d[best];
        }
        return c;
    }

    /** The first index whose running sum reaches the threshold, at most n − 1. */
    static int reaching(double[] cum, double threshold, double[] weight) {
        int i = 0;
        while (i < cum.length - 1 && (cum[i] < threshold || weight[i] == 0)) i++;
        return i;
    }

    static int[] nearest(float[] x, float[] c) {
        int[] labels = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            float best = Math.abs(x[i] - c[0]);
            for (int j = 1; j < c.length; j++) {
                float d = Math.abs(x[i] - c[j]);
                if (d < best) {
                    best = d;
                    labels[i] = j;
                }
            }
        }
        return labels;
    }

    record Clustering(float[] centroids, int[] labels) {}

    static Clustering lloyd(float[] x, double[] w, int k, double[] u, int maxIter) {
        double[] weight = w == null ? ones(x.length) : w, s = seed(x, w, k, u);
        float[] c = new float[k];
        for (int j = 0; j < k; j++) c[j] = (float) s[j];
        for (int it = 0; it < maxIter; it++) {
            int[] labels = nearest(x, c);
            double[] sums = new double[k], counts = new double[k];
            for (int i = 0; i < x.length; i++) {
                sums[labels[i]] += weight[i] * x[i];
                counts[labels[i]] += weight[i];
            }
            float[] next = new float[k];
            for (int j = 0; j < k; j++) next[j] = counts[j] > 0 ? (float) (sums[j] / counts[j]) : c[j];
            boolean same = Arrays.equals(next, c);
            c = next;
            if (same) break;
        }
        return new Clustering(c, nearest(x, c));
    }

    /** The least SSE over all splits of the sorted included values into at most k contiguous groups. */
    static double bruteForce(float[] x, double[] w, int k) {
        double[] v = java.util.stream.IntStream.range(0, x.length)
                .filter(i -> w == null || w[i] > 0)
                .mapToDouble(i -> x[i])
                .sorted()
                .toArray();
        if (v.length <= k) return 0;
        return best(v, 0, k);
    }

    private static double best(double[] v, int from, int groups) {
        if (groups == 1) return sse(v, from, v.length);
        double min = Double.POSITIVE_INFINITY;
        for (int cut = from + 1; cut <= v.length - groups + 1; cut++)
            min = Math.min(min, sse(v, from, cut) + best(v, cut, groups - 1));
        return min;
    }

    private static double sse(double[] v, int from, int to) {
        double mean = 0;
        for (int i = from; i < to; i++) mean += v[i];
        mean /= to - from;
        double s = 0;
        for (int i = from; i < to; i++) s += (v[i] - mean) * (v[i] - mean);
        return s;
    }

    static double[] ones(int n) {
        double[] a = new double[n];
        Arrays.fill(a, 1);
        return a;
    }

    // ---------------------------------------------------------------- data

    /** Weight-like columns: Gaussian with a few values five times larger. */
    static float[][] columns(long seed, int b, int n) {
        Random r = new Random(seed);
        float[][] x = new float[b][n];
        for (float[] col : x)
            for (int i = 0; i < n; i++) col[i] = (float) (r.nextGaussian() * (r.nextInt(40) == 0 ? 5 : 1));
        return x;
    }

    static Tensor tensor(float[][] x) {
        float[] flat = new float[x.length * x[0].length];
        for (int b = 0; b < x.length; b++) System.arraycopy(x[b], 0, flat, b * x[0].length, x[0].length);
        return Torch.tensor(flat, x.length, x[0].length);
    }

    static Tensor tensor(double[][] x) {
        double[] flat = new double[x.length * x[0].length];
        for (int b = 0; b < x.length; b++) System.arraycopy(x[b], 0, flat, b * x[0].length, x[0].length);
        return Torch.tensor(flat, x.length, x[0].length);
    }

    static long[] streams(int b) {
        long[] s = new long[b];
        for (int i = 0; i < b; i++) s[i] = 100 + i;
        return s;
    }

    // ---------------------------------------------------------------- tests

    @Test
    void seedingPicksTheSameValuesAsPlainJava() {
        float[][] x = columns(1, 12, 150);
        for (int k : new int[] {2, 4, 8, 16}) {
            try (Scope s = Scope.open()) {
                Tensor c =
                        KMeans1d.seed(tensor(x), null, k, KMeans1d.uniforms(7, streams(12), k, Device.defaultDevice()));
                float[] got = c.toFloatArray();
                for (int b = 0; b < 12; b++) {
                    double[] want = seed(x[b], null, k, KMeans1d.uniforms(7, 100 + b, k));
                    // seeds are data values, so equal exactly
                    for (int j = 0; j < k; j++)
                        assertEquals((float) want[j], got[b * k + j], 0, "k " + k + " column " + b + " centroid " + j);
                }
            }
        }
    }

    @Test
    void aValueLeftOutOfTheFitNeverBecomesACentroid() {
        // 3 weighted values and 8 centroids: once all three are centroids the seeding's total is 0
        // (CLAQ: a column whose weights TaCQ mostly keeps); the unweighted ±100 and 50 must stay out
        float[][] x = {{100f, 1f, 2f, 3f, -100f, 50f}};
        double[][] w = {{0, 1, 1, 1, 0, 0}};
        for (long stream = 0; stream < 20; stream++) {
            try (Scope s = Scope.open()) {
                Tensor u = KMeans1d.uniforms(10, new long[] {stream}, 8, Device.defaultDevice());
                for (float c : KMeans1d.lloyd(tensor(x), tensor(w), 8, u, 300)
                        .centroids()
                        .toFloatArray())
                    assertTrue(c == 1f || c == 2f || c == 3f, "centroid " + c + " (stream " + stream + ")");
                for (double c : seed(x[0], w[0], 8, KMeans1d.uniforms(10, stream, 8)))
                    assertTrue(c == 1 || c == 2 || c == 3, "the oracle's centroid " + c);
            }
        }
    }

    @Test
    void lloydEqualsPlainJavaLloydWithTheSameSeeding() {
        int b = 16, n = 288;
        float[][] x = columns(2, b, n);
        double[][] w = new double[b][n];
        Random r = new Random(3);
        for (double[] row : w) for (int i = 0; i < n; i++) row[i] = r.nextInt(25) == 0 ? 0 : 1;
        for (boolean weighted : new boolean[] {false, true})
            for (int k : new int[] {4, 8, 16}) {
                try (Scope s = Scope.open()) {
                    Tensor u = KMeans1d.uniforms(10, streams(b), k, Device.defaultDevice());
                    KMeans1d.Fit fit = KMeans1d.lloyd(tensor(x), weighted ? tensor(w) : null, k, u, 300);
                    float[] c = fit.centroids().toFloatArray();
                    long[] labels = fit.labels().toLongArray();
                    for (int col = 0; col < b; col++) {
                        Clustering want =
                                lloyd(x[col], weighted ? w[col] : null, k, KMeans1d.uniforms(10, 100 + col, k), 300);
                        // the sums are float64 in both, in another order inside ATen: the float32 mean can differ
                        // by at most one ulp; the labels then still agree (no value sits that close to a midpoint)
                        for (int j = 0; j < k; j++)
                            assertEquals(
                                    want.centroids()[j],
                                    c[col * k + j],
                                    Math.ulp(want.centroids()[j]),
                                    "k " + k + " column " + col);
                        for (int i = 0; i < n; i++)
                            assertEquals(
                                    want.labels()[i], labels[col * n + i], "k " + k + " column " + col + " value " + i);
                    }
                }
            }
    }

    @Test
    void lloydStopsAtMaxIterLikeThePlainLoop() {
        float[][] x = columns(4, 6, 400);
        try (Scope s = Scope.open()) {
            for (int iters : new int[] {0, 1, 3}) {
                Tensor u = KMeans1d.uniforms(1, streams(6), 16, Device.defaultDevice());
                float[] c = KMeans1d.lloyd(tensor(x), null, 16, u, iters)
                        .centroids()
                        .toFloatArray();
                for (int col = 0; col < 6; col++) {
                    float[] want = lloyd(x[col], null, 16, KMeans1d.uniforms(1, 100 + col, 16), iters)
                            .centroids();
                    for (int j = 0; j < 16; j++)
                        assertEquals(want[j], c[col * 16 + j], Math.ulp(want[j]), iters + " iterations");
                }
            }
        }
    }

    /** A converged update is the identity: checking convergence less often (as on a GPU) or never changes nothing. */
    @Test
    void howOftenConvergenceIsCheckedDoesNotChangeTheResult() {
        float[][] x = columns(11, 8, 288);
        try (Scope s = Scope.open()) {
            Tensor xt = tensor(x), u = KMeans1d.uniforms(10, streams(8), 16, Device.defaultDevice());
            float[] every = KMeans1d.lloyd(xt, null, 16, u, 300, 1).centroids().toFloatArray();
            assertArrayEquals(
                    every, KMeans1d.lloyd(xt, null, 16, u, 300, 16).centroids().toFloatArray());
            assertArrayEquals(
                    every, KMeans1d.lloyd(xt, null, 16, u, 300, 0).centroids().toFloatArray());
        }
    }

    @Test
    void exactEqualsBruteForceOnSmallColumns() {
        Random r = new Random(5);
        for (int trial = 0; trial < 40; trial++) {
            int n = 1 + r.nextInt(11), k = 1 + r.nextInt(5), b = 3;
            float[][] x = columns(100 + trial, b, n);
            double[][] w = new double[b][n];
            for (double[] row : w) for (int i = 0; i < n; i++) row[i] = trial % 2 == 0 || r.nextInt(4) > 0 ? 1 : 0;
            try (Scope s = Scope.open()) {
                Tensor xt = tensor(x), wt = tensor(w);
                KMeans1d.Fit fit = KMeans1d.exact(xt, wt, k);
                double[] got = KMeans1d.sse(xt, wt, fit).toDoubleArray();
                float[] c = fit.centroids().toFloatArray();
                for (int col = 0; col < b; col++) {
                    double want = bruteForce(x[col], w[col], k);
                    // float32 centroids move the SSE by count·δ², δ ≈ 6e-8·|c|: far below 1e-9
                    assertEquals(want, got[col], 1e-9 * (1 + want), "n " + n + " k " + k + " column " + col);
                    for (int j = 0; j < k; j++) assertTrue(Float.isFinite(c[col * k + j]));
                    for (int j = 1; j < k; j++) assertTrue(c[col * k + j - 1] <= c[col * k + j], "centroids ascend");
                }
            }
        }
    }

    @Test
    void exactIsNeverWorseThanLloyd() {
        int b = 24, n = 288;
        float[][] x = columns(6, b, n);
        int strictlyBetter = 0;
        for (int k : new int[] {4, 8, 16}) {
            try (Scope s = Scope.open()) {
                Tensor xt = tensor(x);
                double[] e = KMeans1d.sse(xt, null, KMeans1d.exact(xt, null, k)).toDoubleArray();
                Tensor u = KMeans1d.uniforms(10, streams(b), k, Device.defaultDevice());
                double[] l = KMeans1d.sse(xt, null, KMeans1d.lloyd(xt, null, k, u, 300))
                        .toDoubleArray();
                for (int col = 0; col < b; col++) {
                    assertTrue(
                            e[col] <= l[col] * (1 + 1e-9),
                            "k " + k + " column " + col + ": exact " + e[col] + " Lloyd " + l[col]);
                    if (e[col] < l[col] * (1 - 1e-6)) strictlyBetter++;
                }
            }
        }
        assertTrue(strictlyBetter > 0, "Lloyd from k-means++ stops in a local optimum on some column");
    }

    @Test
    void fewerDistinctValuesThanCentroidsCostNothing() {
        float[][] x = {{0, 0, 0, 0, 0, 0, 0, 0}, {1, 1, 2, 2, 3, 3, 3, 1}, {-1, 4, 2, 0.5f, 7, 3, -2, 9}};
        double[][] w = {{1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 0, 0, 0, 0}};
        try (Scope s = Scope.open()) {
            Tensor xt = tensor(x), wt = tensor(w);
            for (KMeans1d.Fit fit : new KMeans1d.Fit[] {
                KMeans1d.exact(xt, wt, 16),
                KMeans1d.lloyd(xt, wt, 16, KMeans1d.uniforms(0, streams(3), 16, Device.defaultDevice()), 300)
            }) {
                assertArrayEquals(
                        new double[] {0, 0, 0}, KMeans1d.sse(xt, wt, fit).toDoubleArray(), 1e-12);
                for (float v : fit.centroids().toFloatArray()) assertTrue(Float.isFinite(v));
                // every value of the first two columns is one of its centroids
                float[] c = fit.centroids().toFloatArray();
                long[] labels = fit.labels().toLongArray();
                for (int col = 0; col < 2; col++)
                    for (int i = 0; i < 8; i++) assertEquals(x[col][i], c[col * 16 + (int) labels[col * 8 + i]], 0);
            }
        }
    }

    @Test
    void aValueHalfwayGoesToTheLowerIndex() {
        try (Scope s = Scope.open()) {
            Tensor c = Torch.tensor(new float[] {1, 0, 0.5f, 0.5f}, 1, 4);
            Tensor x = Torch.tensor(new float[] {0.5f, 0.25f, 0.75f, -3}, 1, 4);
            assertArrayEquals(new long[] {2, 1, 0, 1}, KMeans1d.nearest(x, c).toLongArray());
            assertEquals(DType.I64, KMeans1d.nearest(x, c).dtype());
        }
    }
}
