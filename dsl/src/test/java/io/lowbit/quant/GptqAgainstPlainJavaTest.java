package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The blocked, lazy GPTQ of one layer equals a straightforward implementation: column by column,
 * unblocked, in float64, with H⁻¹ shrunk by Gaussian elimination after each column (the OBS update,
 * no Cholesky): the same codes, and weights equal to 1e-5.
 */
class GptqAgainstPlainJavaTest {
    static final int ROWS = 12, COLS = 300, TOKENS = 700;

    /** W with a few large entries, and H = 2·X·Xᵀ of correlated inputs. */
    record Problem(double[][] w, double[][] h) {}

    static Problem problem(long seed) {
        Random r = new Random(seed);
        double[][] w = new double[ROWS][COLS];
        for (double[] row : w) for (int j = 0; j < COLS; j++) row[j] = r.nextGaussian() * (r.nextInt(50) == 0 ? 4 : 1);
        double[][] x = new double[COLS][TOKENS];
        for (int t = 0; t < TOKENS; t++) {
            double common = r.nextGaussian();
            for (int j = 0; j < COLS; j++) x[j][t] = r.nextGaussian() + 0.5 * common;
        }
        double[][] h = new double[COLS][COLS];
        for (int a = 0; a < COLS; a++)
            for (int b = 0; b <= a; b++) {
                double s = 0;
                for (int t = 0; t < TOKENS; t++) s += x[a][t] * x[b][t];
                h[a][b] = h[b][a] = 2 * s;
            }
        return new Problem(w, h);
    }

    /** min/max (0 inside), asymmetric; kept entries replaced by the mean of the others for the fit. */
    static double[] fit(double[] x, boolean[] keep, int maxq) {
        double sum = 0;
        int n = 0;
        for (int i = 0; i < x.length; i++)
            if (keep == null || !keep[i]) {
                sum += x[i];
                n++;
            }
        double mean = n == 0 ? 0 : sum / n, lo = 0, hi = 0;
        for (int i = 0; i < x.length; i++) {
            double v = keep != null && keep[i] ? mean : x[i];
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        if (lo == 0 && hi == 0) {
            lo = -1;
            hi = 1;
        }
        double scale = (hi - lo) / maxq;
        return new double[] {scale, Math.rint(-lo / scale)};
    }

    static double code(double v, double[] p, int maxq) {
        return Math.min(Math.max(Math.rint(v / p[0]) + p[1], 0), maxq);
    }

    /** Returns {dequantized W, codes}. group ≤ 0: per row. */
    static double[][][] reference(Problem pr, int bits, int group, boolean[][] keep) {
        int maxq = (1 << bits) - 1;
        double[][] w = new double[ROWS][];
        for (int i = 0; i < ROWS; i++) w[i] = pr.w()[i].clone();
        double[][] hinv = invert(damped(pr.h()));
        double[][] q = new double[ROWS][COLS], codes = new double[ROWS][COLS];
        double[][] params = new double[ROWS][];
        for (int i = 0; i < ROWS; i++) if (group <= 0) params[i] = fit(w[i], keep == null ? null : keep[i], maxq);
        for (int j = 0; j < COLS; j++) {
            for (int i = 0; i < ROWS; i++) {
                if (group > 0 && j % group == 0) {
                    int len = Math.min(group, COLS - j);
                    boolean[] k = keep == null ? null : java.util.Arrays.copyOfRange(keep[i], j, j + len);
                    params[i] = fit(java.util.Arrays.copyOfRange(w[i], j, j + len), k, maxq);
                }
                boolean kept = keep != null && keep[i][j];
                codes[i][j] = code(kept ? 0 : w[i][j], params[i], maxq);
                q[i][j] = kept ? w[i][j] : params[i][0] * (codes[i][j] - params[i][1]);
                double e = (w[i][j] - q[i][j]) / hinv[j][j];
                for (int k = j + 1; k < COLS; k++) w[i][k] -= e * hinv[j][k];
            }
            // remove column j from the inverse: the inverse of H restricted to the columns still to come
            for (int a = j + 1; a < COLS; a++)
                for (int b = j + 1; b < COLS; b++) hinv[a][b] -= hinv[a][j] * hinv[j][b] / hinv[j][j];
        }
        return new double[][][] {q, codes};
    }

    static double[][] damped(double[][] h) {
        double mean = 0;
        for (int j = 0; j < COLS; j++) mean += h[j][j];
        mean /= COLS;
        double[][] d = new double[COLS][];
        for (int j = 0; j < COLS; j++) {
            d[j] = h[j].clone();
            d[j][j] += 0.01 * mean;
        }
        return d;
    }

    /** Gauss-Jordan inverse. */
    static double[][] invert(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][2 * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, m[i], 0, n);
            m[i][n + i] = 1;
        }
        for (int c = 0; c < n; c++) {
            int p = c;
            for (int i = c + 1; i < n; i++) if (Math.abs(m[i][c]) > Math.abs(m[p][c])) p = i;
            double[] t = m[c];
            m[c] = m[p];
            m[p] = t;
            double d = m[c][c];
            for (int j = 0; j < 2 * n; j++) m[c][j] /= d;
            for (int i = 0; i < n; i++) {
                if (i == c || m[i][c] == 0) continue;
                double f = m[i][c];
                for (int j = 0; j < 2 * n; j++) m[i][j] -= f * m[c][j];
            }
        }
        double[][] inv = new double[n][n];
        for (int i = 0; i < n; i++) System.arraycopy(m[i], n, inv[i], 0, n);
        return inv;
    }

    static Tensor tensor(double[][] a) {
        double[] flat = new double[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) System.arraycopy(a[i], 0, flat, i * a[0].length, a[0].length);
        return Torch.tensor(flat, a.length, a[0].length).to(DType.F32);
    }

    private static void assertSame(double[][][] want, Gptq.Result got) {
        double[] codes = got.codes().toDoubleArray(), weights = got.weight().toDoubleArray();
        for (int i = 0; i < ROWS; i++)
            for (int j = 0; j < COLS; j++) {
                assertEquals(want[1][i][j], codes[i * COLS + j], 0, "code [" + i + "," + j + "]");
                assertEquals(want[0][i][j], weights[i * COLS + j], 1e-5, "weight [" + i + "," + j + "]");
            }
    }

    @Test
    void perRowGridMatchesTheStraightforwardSweep() {
        Problem p = problem(1);
        for (int bits : new int[] {2, 3, 4}) {
            try (Scope s = Scope.open()) {
                Gptq.Result got =
                        Gptq.quantize(tensor(p.w()), tensor(p.h()), Grid.bits(bits), null, Gptq.Options.defaults());
                assertSame(reference(p, bits, -1, null), got);
                assertEquals(1, got.scales().size(1), "one range per row");
            }
        }
    }

    @Test
    void keptWeightsAreLeftOutAddNoErrorAndKeepTheirUpdatedValue() {
        Problem p = problem(2);
        boolean[][] keep = new boolean[ROWS][COLS];
        Random r = new Random(9);
        boolean[] flat = new boolean[ROWS * COLS];
        for (int i = 0; i < ROWS; i++)
            for (int j = 0; j < COLS; j++) flat[i * COLS + j] = keep[i][j] = r.nextInt(40) == 0;
        try (Scope s = Scope.open()) {
            Tensor mask = Torch.tensor(flat, ROWS, COLS);
            Gptq.Result got = Gptq.quantize(tensor(p.w()), tensor(p.h()), Grid.bits(3), mask, Gptq.Options.defaults());
            double[][][] want = reference(p, 3, -1, keep);
            assertSame(want, got);
            // a kept weight is not its original value: it absorbed the compensation of earlier columns
            int moved = 0;
            for (int i = 0; i < ROWS; i++)
                for (int j = 1; j < COLS; j++) if (keep[i][j] && Math.abs(want[0][i][j] - p.w()[i][j]) > 1e-6) moved++;
            assertTrue(moved > 0);
        }
    }

    @Test
    void groupsOf32MatchWhenBlocksAreGroups() {
        Problem p = problem(3);
        try (Scope s = Scope.open()) {
            Gptq.Result got = Gptq.quantize(
                    tensor(p.w()),
                    tensor(p.h()),
                    Grid.bits(3).groups(32),
                    null,
                    Gptq.Options.defaults().blockSize(32));
            assertSame(reference(p, 3, 32, null), got);
            assertEquals((COLS + 31) / 32, got.scales().size(1), "one range per group of 32 columns");
            assertEquals(9, got.groupOfColumn()[299]);
        }
    }

    @Test
    void gptqBeatsRoundingOnTheLayerObjective() {
        Problem p = problem(4);
        try (Scope s = Scope.open()) {
            Tensor w = tensor(p.w()), h = tensor(p.h());
            Tensor gptq = Gptq.quantize(w, h, Grid.bits(3), null, Gptq.Options.defaults())
                    .weight();
            Tensor rtn = Quantizer.fake(w, Quantizer.fit(w, null, Grid.bits(3)), Grid.bits(3));
            // tr((W−Q) H (W−Q)ᵀ) = ‖(W−Q)X‖²
            double eG = gptq.sub(w).mm(h).mul(gptq.sub(w)).sum().item(),
                    eR = rtn.sub(w).mm(h).mul(rtn.sub(w)).sum().item();
            assertTrue(eG < 0.7 * eR, "GPTQ " + eG + " vs RTN " + eR);
        }
    }

    @Test
    void actOrderAndStaticGroupsStillQuantizeToTheGrid() {
        Problem p = problem(5);
        try (Scope s = Scope.open()) {
            Tensor w = tensor(p.w()), h = tensor(p.h());
            Gptq.Result r = Gptq.quantize(
                    w,
                    h,
                    Grid.bits(4).groups(64),
                    null,
                    Gptq.Options.defaults().actOrder().staticGroups());
            // with static groups every column's value is scale·(code − zero) of its original group
            double[] q = r.weight().toDoubleArray(),
                    codes = r.codes().toDoubleArray(),
                    sc = r.scales().toDoubleArray(),
                    zr = r.zeros().toDoubleArray();
            int groups = (int) r.scales().size(1);
            for (int i = 0; i < ROWS; i++)
                for (int j = 0; j < COLS; j++) {
                    int g = r.groupOfColumn()[j];
                    assertEquals(j / 64, g);
                    assertEquals(
                            sc[i * groups + g] * (codes[i * COLS + j] - zr[i * groups + g]), q[i * COLS + j], 1e-5);
                }
        }
    }

    @Test
    void deadInputsAndHopelessHessiansAreHandled() {
        Problem p = problem(6);
        double[][] h = p.h();
        for (int k = 0; k < COLS; k++) {
            h[7][k] = 0;
            h[k][7] = 0;
        } // input 7 never fires
        try (Scope s = Scope.open()) {
            Gptq.Result r = Gptq.quantize(tensor(p.w()), tensor(h), Grid.bits(3), null, Gptq.Options.defaults());
            double[] q = r.weight().toDoubleArray();
            for (int i = 0; i < ROWS; i++) assertEquals(0, q[i * COLS + 7], 0, "a dead input's weights become 0");
            double[] neg = new double[COLS * COLS];
            for (int j = 0; j < COLS; j++) neg[j * COLS + j] = -1;
            IllegalStateException e = assertThrows(
                    IllegalStateException.class,
                    () -> Gptq.quantize(
                            tensor(p.w()),
                            Torch.tensor(neg, COLS, COLS).to(DType.F32),
                            Grid.bits(3),
                            null,
                            new Gptq.Options(128, 0.01, false, false, 3, true)));
            assertTrue(e.getMessage().contains("indefinite"), e.getMessage());
        }
    }

    @Test
    void theMseSearchNeverDoesWorseThanMinMax() {
        Random r = new Random(8);
        double[] x = new double[8 * 200];
        for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian() * (r.nextInt(100) == 0 ? 8 : 1);
        try (Scope s = Scope.open()) {
            Tensor w = Torch.tensor(x, 8, 200).to(DType.F32);
            for (int bits : new int[] {2, 3}) {
                Grid plain = Grid.bits(bits), mse = Grid.bits(bits).mse();
                Tensor a = Quantizer.fake(w, Quantizer.fit(w, null, plain), plain)
                        .sub(w)
                        .abs()
                        .pow(2.4)
                        .sum(1);
                Tensor b = Quantizer.fake(w, Quantizer.fit(w, null, mse), mse)
                        .sub(w)
                        .abs()
                        .pow(2.4)
                        .sum(1);
                double[] ea = a.toDoubleArray(), eb = b.toDoubleArray();
                for (int i = 0; i < 8; i++) assertTrue(eb[i] <= ea[i] + 1e-6, "row " + i);
                assertTrue(
                        b.sum().item() < 0.9 * a.sum().item(), "clipping pays off with outliers at " + bits + " bits");
            }
        }
    }

    @Test
    void roundingIsHalfToEvenAndZeroIsOnTheGrid() {
        try (Scope s = Scope.open()) {
            // row [−1, 0, 0.5, …, 2]: 2 bits → scale 1, zero 1; 0.5 rounds to 0 (even), 1.5 to 2
            Tensor w = Torch.tensor(new double[] {-1, 0, 0.5, 1.5, 2}, 1, 5).to(DType.F32);
            Grid g = Grid.bits(2);
            Quantizer.Params p = Quantizer.fit(w, null, g);
            assertEquals(1.0, p.scale().item(), 1e-7);
            assertEquals(1.0, p.zero().item(), 0);
            assertArrayEquals(
                    new double[] {0, 1, 1, 3, 3}, Quantizer.codes(w, p, g).toDoubleArray());
            assertArrayEquals(
                    new double[] {-1, 0, 0, 2, 2}, Quantizer.fake(w, p, g).toDoubleArray(), 1e-7);
            // symmetric: zero at (maxq+1)/2
            assertEquals(2.0, Quantizer.fit(w, null, g.symmetric()).zero().item(), 0);
            assertThrows(IllegalArgumentException.class, () -> Grid.bits(1));
        }
    }
}
