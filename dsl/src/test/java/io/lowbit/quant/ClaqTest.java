package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * CLAQ's layer maths against a straightforward implementation: GPTQ column by column in float64 with
 * H⁻¹ shrunk by Gaussian elimination after each column (no Cholesky, no blocks), each column's
 * codebook from the plain-Java Lloyd of KMeans1dTest, and the outlier ranking, bit widths and
 * reservation counted in Java.
 */
class ClaqTest {

    /** W rounded to float32 (as the tensor code sees it), H = 2·X·Xᵀ of correlated inputs, also float32-exact. */
    record Problem(double[][] w, double[][] h) {}

    static Problem problem(long seed, int rows, int cols) {
        Random r = new Random(seed);
        double[][] w = new double[rows][cols];
        for (double[] row : w)
            for (int j = 0; j < cols; j++) row[j] = (float) (r.nextGaussian() * (r.nextInt(30) == 0 ? 6 : 1));
        int tokens = 3 * cols;
        double[][] x = new double[cols][tokens];
        for (int t = 0; t < tokens; t++) {
            double common = r.nextGaussian();
            for (int j = 0; j < cols; j++) x[j][t] = r.nextGaussian() * (1 + j % 3) + 0.5 * common;
        }
        double[][] h = new double[cols][cols];
        for (int a = 0; a < cols; a++)
            for (int b = 0; b <= a; b++) {
                double s = 0;
                for (int t = 0; t < tokens; t++) s += x[a][t] * x[b][t];
                h[a][b] = h[b][a] = (float) (2 * s / tokens);
            }
        return new Problem(w, h);
    }

    /** What the plain loop returns, in the original column order. */
    record Reference(double[][] q, long[][] codes, boolean[][] reserved, int[] bits, double loss) {}

    /** Ranks columns by count, most first, ties by position (the documented rule). */
    static int[] rank(long[] counts) {
        return IntStream.range(0, counts.length)
                .boxed()
                .sorted(Comparator.<Integer>comparingLong(j -> -counts[j]).thenComparingInt(j -> j))
                .mapToInt(Integer::intValue)
                .toArray();
    }

    /** Per column of w (in the given column order): #{|w| ≥ t·mean|W|}. */
    static long[] outliers(double[][] w, int[] order, double t) {
        double mean = 0;
        for (double[] row : w) for (double v : row) mean += Math.abs(v);
        mean /= w.length * w[0].length;
        long[] counts = new long[order.length];
        for (double[] row : w)
            for (int p = 0; p < order.length; p++) if (Math.abs(row[order[p]]) >= t * mean) counts[p]++;
        return counts;
    }

    /** Widths and reserved counts per sweep position, from the options' rules as the class documents them. */
    static int[][] plan(double[][] w, int[] order, Claq.Options o) {
        int c = order.length, rows = w.length;
        int[] bits = new int[c], reserve = new int[c];
        Arrays.fill(bits, o.bits());
        int[] rank = rank(outliers(w, order, o.threshold()));
        if (o.beta() != 0) {
            long high = Math.round((o.beta() - o.lowBits()) / (o.highBits() - o.lowBits()) * c);
            for (int p = 0; p < c; p++) bits[rank[p]] = p < high ? o.highBits() : o.lowBits();
        }
        if (o.reservation()) {
            long top = Math.round(c * o.topShare());
            for (int p = 0; p < c; p++)
                reserve[rank[p]] = (int) Math.rint(rows * (p < top ? o.reserveTop() : o.reserveRest()));
        }
        return new int[][] {bits, reserve};
    }

    static Reference reference(Problem pr, Claq.Options o, boolean[][] keep) {
        int rows = pr.w().length, cols = pr.w()[0].length;
        Integer[] boxed = IntStream.range(0, cols).boxed().toArray(Integer[]::new);
        if (o.actOrder()) Arrays.sort(boxed, Comparator.comparingDouble(j -> -pr.h()[j][j]));
        int[] perm = Arrays.stream(boxed).mapToInt(Integer::intValue).toArray();
        double[][] w = new double[rows][cols], h = new double[cols][cols];
        for (int i = 0; i < rows; i++) for (int p = 0; p < cols; p++) w[i][p] = pr.w()[i][perm[p]];
        for (int a = 0; a < cols; a++) for (int b = 0; b < cols; b++) h[a][b] = pr.h()[perm[a]][perm[b]];
        int[][] plan = plan(pr.w(), perm, o);
        double mean = 0;
        for (int j = 0; j < cols; j++) mean += h[j][j];
        mean /= cols;
        for (int j = 0; j < cols; j++) h[j][j] += o.percDamp() * mean;
        double[][] hinv = GptqAgainstPlainJavaTest.invert(h);
        Reference out =
                new Reference(new double[rows][cols], new long[rows][cols], new boolean[rows][cols], new int[cols], 0);
        double loss = 0;
        for (int p = 0; p < cols; p++) {
            int j = perm[p], k = 1 << plan[0][p];
            out.bits()[j] = plan[0][p];
            float[] x = new float[rows];
            for (int i = 0; i < rows; i++) x[i] = (float) w[i][p];
            boolean[] exact = new boolean[rows];
            for (int i = 0; i < rows; i++) exact[i] = keep != null && keep[i][j];
            // the n largest |x| among the weights not kept, equal magnitudes by lower row
            Integer[] byMagnitude = IntStream.range(0, rows)
                    .boxed()
                    .filter(i -> !exact[i])
                    .sorted(Comparator.comparingDouble(i -> -Math.abs(x[i])))
                    .toArray(Integer[]::new);
            for (int n = 0; n < Math.min(plan[1][p], byMagnitude.length); n++) {
                exact[byMagnitude[n]] = true;
                out.reserved()[byMagnitude[n]][j] = true;
            }
            double[] fitWeight = new double[rows];
            for (int i = 0; i < rows; i++) fitWeight[i] = exact[i] ? 0 : 1;
            KMeans1dTest.Clustering cl =
                    KMeans1dTest.lloyd(x, fitWeight, k, KMeans1d.uniforms(o.seed(), j, k), o.maxIter());
            for (int i = 0; i < rows; i++) {
                double qi = exact[i] ? w[i][p] : cl.centroids()[cl.labels()[i]];
                out.q()[i][j] = qi;
                out.codes()[i][j] = cl.labels()[i];
                double e = (w[i][p] - qi) / hinv[p][p];
                loss += (w[i][p] - qi) * e / 2;
                for (int m = p + 1; m < cols; m++) w[i][m] -= e * hinv[p][m];
            }
            for (int a = p + 1; a < cols; a++)
                for (int b = p + 1; b < cols; b++) hinv[a][b] -= hinv[a][p] * hinv[p][b] / hinv[p][p];
        }
        return new Reference(out.q(), out.codes(), out.reserved(), out.bits(), loss);
    }

    static Tensor tensor(double[][] a) {
        return GptqAgainstPlainJavaTest.tensor(a);
    }

    static Tensor mask(boolean[][] m) {
        boolean[] flat = new boolean[m.length * m[0].length];
        for (int i = 0; i < m.length; i++) System.arraycopy(m[i], 0, flat, i * m[0].length, m[0].length);
        return Torch.tensor(flat, m.length, m[0].length);
    }

    static boolean[][] randomMask(long seed, int rows, int cols, int oneIn) {
        Random r = new Random(seed);
        boolean[][] m = new boolean[rows][cols];
        for (boolean[] row : m) for (int j = 0; j < cols; j++) row[j] = r.nextInt(oneIn) == 0;
        return m;
    }

    static double[][] diagonal(int cols, Random r) {
        double[][] h = new double[cols][cols];
        for (int j = 0; j < cols; j++) h[j][j] = (float) (1 + r.nextDouble());
        return h;
    }

    // ---------------------------------------------------------------- the whole layer

    /**
     * Codes, widths and reserved positions equal; weights to 5e-5, the loss to 1e-5 relative. The tensor
     * sweep runs in float32: each of the c = 96 columns' updates adds a rounding of ε = 6e-8 relative to
     * values up to about 6, and the blocked Cholesky route orders the sums differently from the
     * elimination, so the columns entering the K-means differ by at most about c·ε·6 ≈ 3.5e-5; the
     * centroids, means of those, by as much (4e-6 seen).
     */
    @Test
    void quantizeEqualsThePlainColumnLoop() {
        int rows = 24, cols = 96;
        Problem p = problem(1, rows, cols);
        boolean[][] keep = randomMask(2, rows, cols, 30);
        Claq.Options[] cases = {
            Claq.Options.defaults().bits(3).actOrder(false),
            Claq.Options.defaults()
                    .bits(2)
                    .adaptive(2.25)
                    .reserve(0.125, 0.0625)
                    .blockSize(32),
        };
        for (Claq.Options o : cases)
            for (boolean withKeep : new boolean[] {false, true}) {
                try (Scope s = Scope.open()) {
                    Reference want = reference(p, o, withKeep ? keep : null);
                    Claq.Result got = Claq.quantize(tensor(p.w()), tensor(p.h()), o, withKeep ? mask(keep) : null);
                    String what = o + (withKeep ? " with kept weights" : "");
                    assertArrayEquals(want.bits(), got.bits(), what);
                    double[] q = got.weight().toDoubleArray();
                    long[] codes = got.codes().toLongArray();
                    boolean[] reserved = got.reserved().toBooleanArray();
                    float[] books = got.codebooks().toFloatArray();
                    int slots = (int) got.codebooks().size(1);
                    for (int i = 0; i < rows; i++)
                        for (int j = 0; j < cols; j++) {
                            int at = i * cols + j;
                            assertEquals(want.q()[i][j], q[at], 5e-5, what + " weight [" + i + "," + j + "]");
                            assertEquals(want.codes()[i][j], codes[at], what + " code [" + i + "," + j + "]");
                            assertEquals(want.reserved()[i][j], reserved[at], what + " reserved [" + i + "," + j + "]");
                            // every other weight is its column's centroid, in the original column order
                            if (!reserved[at] && !(withKeep && keep[i][j]))
                                assertEquals(books[j * slots + (int) codes[at]], q[at], 0);
                        }
                    assertEquals(want.loss(), got.loss(), 1e-5 * want.loss(), what);
                }
            }
    }

    @Test
    void everyIntermediateTensorIsFreed() {
        Problem p = problem(12, 16, 40);
        try (Scope s = Scope.open()) {
            Tensor w = tensor(p.w()), h = tensor(p.h()), keep = mask(randomMask(13, 16, 40, 20));
            for (Claq.Options o : new Claq.Options[] {
                Claq.Options.defaults().adaptive(2.5).reserve(0.1, 0.05).blockSize(16),
                Claq.Options.defaults().bits(3).exact()
            }) {
                long before = Torch.liveTensors();
                Claq.quantize(w, h, o, keep).close();
                assertEquals(before, Torch.liveTensors(), o.toString());
            }
        }
    }

    @Test
    void claqBeatsGptqOnTheLayerObjectiveAtTheSameWidth() {
        Problem p = problem(3, 16, 96);
        try (Scope s = Scope.open()) {
            Tensor w = tensor(p.w()), h = tensor(p.h());
            Tensor claq =
                    Claq.quantize(w, h, Claq.Options.defaults().bits(3), null).weight();
            Tensor exact = Claq.quantize(w, h, Claq.Options.defaults().bits(3).exact(), null)
                    .weight();
            Tensor gptq = Gptq.quantize(
                            w, h, Grid.bits(3), null, Gptq.Options.defaults().actOrder())
                    .weight();
            // tr((W−Q) H (W−Q)ᵀ) = ‖(W−Q)X‖²
            double eC = claq.sub(w).mm(h).mul(claq.sub(w)).sum().item(),
                    eE = exact.sub(w).mm(h).mul(exact.sub(w)).sum().item();
            double eG = gptq.sub(w).mm(h).mul(gptq.sub(w)).sum().item();
            assertTrue(eC < eG && eE < eG, "CLAQ " + eC + ", exact K-means " + eE + " vs GPTQ " + eG);
        }
    }

    // ---------------------------------------------------------------- the column rules

    /**
     * With a diagonal H no error moves between columns, so W stays as it is and the reserved weights
     * must be the round(rows·ρ) largest |w| of each original column, none where that rounds to 0
     * (8 and 32 rows at the reference's 1.4 % and 0.4 %), kept exactly and left out of the codebook.
     */
    @Test
    void reservationKeepsExactlyRoundRowsTimesP() {
        Random r = new Random(4);
        for (int rows : new int[] {8, 32, 288})
            for (Claq.Options o : new Claq.Options[] {
                Claq.Options.defaults().bits(2).actOrder(false).reserve(),
                Claq.Options.defaults().bits(2).actOrder(false).reserve(0.1, 0.05)
            }) {
                int cols = 20;
                double[][] w = problem(5 + rows, rows, cols).w();
                try (Scope s = Scope.open()) {
                    Claq.Result got = Claq.quantize(tensor(w), tensor(diagonal(cols, r)), o, null);
                    int[] order = IntStream.range(0, cols).toArray();
                    int[] want = plan(w, order, o)[1];
                    assertArrayEquals(want, got.reservedPerColumn(), rows + " rows, " + o);
                    if (rows < 125 && o.reserveTop() == 0.014)
                        assertEquals(0, Arrays.stream(got.reservedPerColumn()).sum());
                    if (rows == 32
                            && o.reserveTop() == 0.1) // round(3.2) = 3 in the top columns, round(1.6) = 2 elsewhere
                    assertTrue(Arrays.stream(want).anyMatch(n -> n == 3)
                            && Arrays.stream(want).anyMatch(n -> n == 2));
                    if (rows == 8 && o.reserveTop() == 0.1) // round(0.8) = 1, round(0.4) = 0
                    assertTrue(Arrays.stream(want).anyMatch(n -> n == 1)
                            && Arrays.stream(want).anyMatch(n -> n == 0));
                    double[] q = got.weight().toDoubleArray();
                    boolean[] reserved = got.reserved().toBooleanArray();
                    float[] books = got.codebooks().toFloatArray();
                    for (int j = 0; j < cols; j++) {
                        final int col = j;
                        Integer[] byMagnitude = IntStream.range(0, rows)
                                .boxed()
                                .sorted(Comparator.comparingDouble(i -> -Math.abs(w[i][col])))
                                .toArray(Integer[]::new);
                        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
                        for (int n = 0; n < rows; n++) {
                            int i = byMagnitude[n];
                            boolean shouldBe = n < want[j];
                            assertEquals(shouldBe, reserved[i * cols + j], rows + " rows, column " + j + ", row " + i);
                            if (shouldBe)
                                assertEquals(w[i][j], q[i * cols + j], 0, "a reserved weight keeps its value");
                            else {
                                lo = Math.min(lo, w[i][j]);
                                hi = Math.max(hi, w[i][j]);
                            }
                        }
                        // centroids are means of the weights not reserved, so inside their range
                        for (int k = 0; k < 4; k++) {
                            float c = books[j * 4 + k];
                            assertTrue(
                                    c >= lo - 1e-6 && c <= hi + 1e-6,
                                    "centroid " + c + " outside [" + lo + ", " + hi + "]");
                        }
                    }
                }
            }
    }

    /** Columns with designed outlier counts, ties included: the share, the ranking, and the average. */
    @Test
    void adaptivePrecisionGivesTheHighWidthToTheColumnsWithMostOutliers() {
        int rows = 64, cols = 40;
        Random r = new Random(6);
        double[][] w = new double[rows][cols];
        for (int j = 0; j < cols; j++) {
            int outliers = (j * 7) % 5; // counts 0..4, many ties across the cut
            for (int i = 0; i < rows; i++)
                w[i][j] = (float) (i < outliers ? 50 * (r.nextBoolean() ? 1 : -1) : 0.5 * r.nextGaussian());
        }
        double[][] h = diagonal(cols, r);
        for (boolean actOrder : new boolean[] {false, true})
            for (double beta : new double[] {2.25, 3.1, 2.0, 4.0}) {
                Claq.Options o = Claq.Options.defaults().adaptive(beta).actOrder(actOrder);
                Integer[] boxed = IntStream.range(0, cols).boxed().toArray(Integer[]::new);
                if (actOrder) Arrays.sort(boxed, Comparator.comparingDouble(j -> -h[j][j]));
                int[] order = Arrays.stream(boxed).mapToInt(Integer::intValue).toArray();
                long[] counts = outliers(w, order, 13);
                assertEquals(4, Arrays.stream(counts).max().getAsLong(), "the designed outliers pass t·mean|W|");
                int[] bySweep = plan(w, order, o)[0], want = new int[cols];
                for (int p = 0; p < cols; p++) want[order[p]] = bySweep[p];
                try (Scope s = Scope.open()) {
                    Claq.Result got = Claq.quantize(tensor(w), tensor(h), o, null);
                    assertArrayEquals(want, got.bits(), "β " + beta + (actOrder ? " act-order" : ""));
                    assertEquals(beta, got.averageBits(), 1e-12);
                    int high =
                            (int) Arrays.stream(got.bits()).filter(b -> b == 4).count();
                    assertEquals(Math.round(cols * (beta < 3 ? (beta - 2) / 2 : beta - 3)), high);
                    // no 4-bit column has fewer outliers than a low one
                    long[] natural = outliers(w, IntStream.range(0, cols).toArray(), 13);
                    for (int a = 0; a < cols; a++)
                        for (int b = 0; b < cols; b++)
                            if (got.bits()[a] == 4 && got.bits()[b] < 4) assertTrue(natural[a] >= natural[b]);
                }
            }
    }

    /**
     * 32 rows × 4 columns, 2 bits, ρ = 10 % in the top quarter (one column: round(3.2) = 3 reserved),
     * 5 % elsewhere (round(1.6) = 2 each), so 9 reserved; two kept weights.
     * Papers: (128 − 9 − 2)·2 + 9·16 + 2·32 = 234 + 144 + 64 = 442 bits, 3.453125 per weight.
     * Storage: codes 128·2 = 256, codebooks 4 columns · 4 · 16 = 256, reserved and kept (9 + 2)·32 = 352:
     * 864 bits, 6.75 per weight. With β = 2.5 instead (one 4-bit column), no reservation, nothing kept:
     * papers 2.5; storage 32·(4 + 2·3) = 320 + 16·(16 + 3·4) = 448, 768 bits, 6.0 per weight.
     */
    @Test
    void bitAccountingMatchesAHandCount() {
        Random r = new Random(7);
        double[][] w = problem(8, 32, 4).w();
        boolean[][] keep = new boolean[32][4];
        keep[3][1] = keep[17][2] = true;
        try (Scope s = Scope.open()) {
            Claq.Options reserving =
                    Claq.Options.defaults().bits(2).reserve(0.1, 0.05).topShare(0.25);
            Claq.Result a = Claq.quantize(tensor(w), tensor(diagonal(4, r)), reserving, mask(keep));
            assertEquals(9, Arrays.stream(a.reservedPerColumn()).sum());
            assertEquals(2, Arrays.stream(a.keptPerColumn()).sum());
            assertEquals(442.0 / 128, a.paperBits(), 1e-12);
            assertEquals(864.0 / 128, a.storageBits(), 1e-12);
            Claq.Result b = Claq.quantize(
                    tensor(w), tensor(diagonal(4, r)), Claq.Options.defaults().adaptive(2.5), null);
            assertEquals(2.5, b.paperBits(), 1e-12);
            assertEquals(768.0 / 128, b.storageBits(), 1e-12);
            float[] books = b.codebooks().toFloatArray();
            for (int j = 0; j < 4; j++) {
                int k = 1 << b.bits()[j];
                for (int i = 0; i < 16; i++)
                    assertEquals(i >= k, Float.isNaN(books[j * 16 + i]), "codebook padding of column " + j);
            }
        }
    }

    /**
     * Without error feedback (diagonal H) the loss is Σ_j SSE_j/(2·U_jj²), so the optimal 1-D clustering
     * can only lower it; with a full H the columns interact and either may win.
     */
    @Test
    void theExactKMeansNeverRaisesTheLossWithoutFeedback() {
        Random r = new Random(9);
        double[][] w = problem(10, 96, 48).w(), h = diagonal(48, r);
        for (int bits : new int[] {2, 3, 4}) {
            try (Scope s = Scope.open()) {
                Claq.Options o = Claq.Options.defaults().bits(bits);
                double lloyd = Claq.quantize(tensor(w), tensor(h), o, null).loss();
                double exact =
                        Claq.quantize(tensor(w), tensor(h), o.exact(), null).loss();
                assertTrue(exact <= lloyd * (1 + 1e-6), bits + " bits: exact " + exact + ", Lloyd " + lloyd);
            }
        }
    }

    /** 8 rows and 16 centroids: every value is its own centroid, so the layer comes back exactly. */
    @Test
    void columnsWithNoMoreRowsThanCentroidsAreReproduced() {
        Problem p = problem(14, 8, 24);
        for (Claq.Options o : new Claq.Options[] {
            Claq.Options.defaults(), Claq.Options.defaults().exact()
        }) {
            try (Scope s = Scope.open()) {
                Claq.Result r = Claq.quantize(tensor(p.w()), tensor(p.h()), o, null);
                double[] q = r.weight().toDoubleArray();
                for (int i = 0; i < 8; i++)
                    for (int j = 0; j < 24; j++) assertEquals(p.w()[i][j], q[i * 24 + j], 0, o.kmeans() + "");
                assertEquals(0, r.loss(), 0);
            }
        }
    }

    @Test
    void deadInputsOptionsAndIndefiniteHessians() {
        Problem p = problem(11, 12, 40);
        double[][] h = p.h();
        for (int k = 0; k < 40; k++) {
            h[5][k] = 0;
            h[k][5] = 0;
        }
        try (Scope s = Scope.open()) {
            double[] q = Claq.quantize(
                            tensor(p.w()), tensor(h), Claq.Options.defaults().bits(2), null)
                    .weight()
                    .toDoubleArray();
            for (int i = 0; i < 12; i++) assertEquals(0, q[i * 40 + 5], 0, "a dead input's weights become 0");
            double[] neg = new double[40 * 40];
            for (int j = 0; j < 40; j++) neg[j * 40 + j] = -1;
            IllegalStateException e = assertThrows(
                    IllegalStateException.class,
                    () -> Claq.quantize(
                            tensor(p.w()), Torch.tensor(neg, 40, 40).to(DType.F32), Claq.Options.defaults(), null));
            assertTrue(e.getMessage().contains("indefinite"), e.getMessage());
        }
        Claq.Options d = Claq.Options.defaults();
        assertEquals(13, d.threshold());
        assertEquals(0.014, d.reserveTop());
        assertEquals(0.004, d.reserveRest());
        assertEquals(0.10, d.topShare());
        assertEquals(KMeans1d.Variant.LLOYD, d.kmeans());
        assertEquals(2, d.adaptive(2.1).lowBits());
        assertEquals(3, d.adaptive(3.05).lowBits());
        assertThrows(IllegalArgumentException.class, () -> d.adaptive(4.5));
        assertThrows(IllegalArgumentException.class, () -> d.reserve(1.5, 0.1));
    }
}
