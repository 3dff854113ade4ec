package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.data.Calibration;
import io.lowbit.model.BlockStructure;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CLAQ over a whole model: the driver equals the layer maths driven by hand in true-sequential order,
 * and every layer's record has the properties CLAQ promises (codes on the column's codebook, the
 * reserved count per column, kept weights out of the codebooks, the bit counts), through save and load.
 */
class ClaqModelTest {
    static Model m;
    static Calibration cal;
    static Mask mask;
    /** Reservation large enough that the tiny model's 32–172 rows reserve some weights in every column. */
    static final Claq.Options OPTIONS = Claq.Options.defaults().adaptive(2.1).reserve(0.10, 0.05);

    @BeforeAll
    static void setUp() {
        m = RandomModel.create(
                RandomModel.preset("tiny"),
                "random:tiny",
                Device.defaultDevice(),
                11); // masks and planted weights are made there too
        Random r = new Random(5);
        List<int[]> seqs = new ArrayList<>();
        for (int s = 0; s < 8; s++) {
            int[] t = new int[32];
            for (int i = 0; i < t.length; i++) t[i] = r.nextInt(m.config().vocabSize());
            seqs.add(t);
        }
        cal = Calibration.examples("random", seqs);
        Map<String, Tensor> kept = new HashMap<>();
        for (Linear l : m.linears()) { // 2 % of each matrix, at random
            float[] u = new float[(int) (l.outFeatures() * l.inFeatures())];
            for (int i = 0; i < u.length; i++) u[i] = r.nextDouble() < 0.02 ? 1 : 0;
            try (Scope s = Scope.open()) {
                kept.put(
                        l.name(),
                        s.keep(Torch.tensor(u, l.outFeatures(), l.inFeatures()).gt(0.5))
                                .escape());
            }
        }
        mask = new Mask(kept);
    }

    @AfterAll
    static void tearDown() {
        mask.close();
        m.close();
    }

    static float[] values(Tensor t) {
        try (Scope s = Scope.open()) {
            return t.to(DType.F32).contiguous().toFloatArray();
        }
    }

    static boolean[] flags(Tensor t) {
        float[] v = values(t);
        boolean[] b = new boolean[v.length];
        for (int i = 0; i < v.length; i++) b[i] = v[i] != 0;
        return b;
    }

    /**
     * The oracle: no BlockLoop, no batching of its own; each block's groups in BlockStructure's order,
     * each group's Hessian from the inputs of its first linear in the partly quantized block, Claq.quantize
     * on each linear, then the block's outputs feed the next block.
     */
    static Map<String, float[]> byHand(Claq.Options o, Mask keep) {
        Map<String, float[]> dense = new HashMap<>();
        try (Model ref = m.copy()) {
            List<Tensor> xs = BlockLoop.embedded(ref, cal, ref.device());
            for (int i = 0; i < ref.blocks().size(); i++) {
                for (BlockStructure.Group g : BlockStructure.GROUPS) {
                    List<Linear> ls = g.of(ref.blocks().get(i));
                    try (Hessian h = new Hessian(ls.get(0).inFeatures(), ref.device())) {
                        ls.get(0).setInputHook(h::add);
                        try {
                            for (Tensor x : xs) ref.runBlock(i, x).close();
                        } finally {
                            ls.get(0).setInputHook(null);
                        }
                        for (Linear l : ls) {
                            try (Claq.Result r =
                                    Claq.quantize(l.weight(), h.matrix(), o, keep == null ? null : keep.of(l.name()))) {
                                dense.put(l.name(), values(r.weight()));
                                l.setWeight(r.weight().to(l.weight().dtype()).escape());
                            }
                        }
                    }
                }
                List<Tensor> next = new ArrayList<>();
                try (var ng = Torch.noGrad()) {
                    for (Tensor x : xs) {
                        next.add(ref.runBlock(i, x).escape());
                        x.close();
                    }
                }
                xs = next;
            }
            for (Tensor x : xs) x.close();
        }
        return dense;
    }

    @Test
    void theDriverEqualsTheLayerMathsDrivenByHandInTrueSequentialOrder() {
        Map<String, float[]> expected = byHand(OPTIONS.bits(2), mask);
        try (QuantizedModel q = Quantize.run(m, Grid.bits(2), OPTIONS, cal, mask, Progress.NONE)) {
            assertSame(OPTIONS, q.method());
            for (Linear l : m.linears())
                assertArrayEquals(
                        expected.get(l.name()),
                        values(q.model().linear(l.name()).weight()),
                        l.name());
        }
    }

    @Test
    void everyLayerKeepsCodebooksReservationKeptWeightsAndBitsAsPromised(@TempDir Path dir) {
        try (QuantizedModel q = Quantize.run(m, Grid.bits(2), OPTIONS, cal, mask, Progress.NONE)) {
            double paper = 0, storage = 0;
            long weights = 0, kept = 0;
            for (Linear l : m.linears()) {
                QuantizedLinear ql = q.linear(l.name());
                QuantizedLinear.Codebooks books = ql.codebooks();
                int rows = (int) l.outFeatures(), cols = (int) l.inFeatures();
                float[] w = values(q.model().linear(l.name()).weight()),
                        cent = values(books.centroids()),
                        codes = values(ql.codes());
                boolean[] res = flags(books.reserved()), kp = flags(mask.of(l.name()));
                int width = (int) books.centroids().size(1);
                int high = 0;
                int[] reservedPerColumn = new int[cols], keptPerColumn = new int[cols];
                for (int j = 0; j < cols; j++) {
                    int b = books.columnBits()[j];
                    assertTrue(b == 2 || b == 4, "adaptive 2.1 gives 2 or 4 bits");
                    if (b == 4) high++;
                    for (int i = 0; i < rows; i++) {
                        int at = i * cols + j;
                        assertFalse(res[at] && kp[at], "a kept weight is never reserved too");
                        if (res[at]) reservedPerColumn[j]++;
                        if (kp[at]) keptPerColumn[j]++;
                        if (!res[at] && !kp[at]) { // on the column's codebook, at its code
                            assertTrue(codes[at] < (1 << b), l.name() + " code within 2^b");
                            assertEquals(
                                    cent[j * width + (int) codes[at]], w[at], 0f, l.name() + " weight is its centroid");
                        }
                    }
                }
                assertEquals(Math.round(cols * 0.05), high, l.name() + ": (2.1 − 2)/(4 − 2) of the columns at 4 bits");
                // round(rows·ρ): ρ = 0.10 in the top 10 % of the columns, 0.05 elsewhere
                long top = Math.round(cols * 0.10), atTop = 0;
                for (int j = 0; j < cols; j++) {
                    int n = reservedPerColumn[j];
                    assertTrue(
                            n == Math.rint(rows * 0.10) || n == Math.rint(rows * 0.05),
                            l.name() + " column " + j + ": " + n);
                    if (n == Math.rint(rows * 0.10)) atTop++;
                }
                assertEquals(top, atTop, l.name());
                assertArrayEquals(reservedPerColumn, books.reservedPerColumn());
                assertArrayEquals(keptPerColumn, books.keptPerColumn());
                for (int j = 0; j < cols; j++) {
                    int b = books.columnBits()[j], r = reservedPerColumn[j], k = keptPerColumn[j];
                    paper += (double) (rows - r - k) * b + 16.0 * r + 32.0 * k;
                    storage += (double) rows * b + 16.0 * (1 << b) + 32.0 * (r + k);
                    kept += k;
                }
                weights += (long) rows * cols;
            }
            assertEquals(kept, q.kept());
            assertEquals(paper / weights, q.paperBits(), 1e-12);
            assertEquals(storage / weights, q.storageBits(), 1e-12);

            q.save(dir);
            try (QuantizedModel back = QuantizedModel.load(dir)) {
                assertEquals(OPTIONS, back.method());
                assertEquals(q.label(), back.label());
                assertEquals(q.paperBits(), back.paperBits(), 0);
                assertEquals(q.storageBits(), back.storageBits(), 0);
                assertEquals(q.reserved(), back.reserved());
                for (Linear l : m.linears()) {
                    QuantizedLinear a = q.linear(l.name()), b = back.linear(l.name());
                    assertArrayEquals(a.codebooks().columnBits(), b.codebooks().columnBits());
                    assertArrayEquals(values(a.codes()), values(b.codes()), l.name());
                    assertArrayEquals(
                            values(a.codebooks().centroids()),
                            values(b.codebooks().centroids()),
                            l.name());
                    assertArrayEquals(
                            values(a.codebooks().reserved()),
                            values(b.codebooks().reserved()),
                            l.name());
                    assertArrayEquals(
                            values(q.model().linear(l.name()).weight()),
                            values(back.model().linear(l.name()).weight()),
                            l.name());
                    assertNull(b.scales());
                }
            }
        }
    }

    @Test
    void aKeptOutlierStaysExactAndOutOfItsColumnsCodebook() {
        // plant 1000 in a kept position: fitted into the codebook it would pull a centroid to ~1000
        try (Model planted = m.copy()) {
            Linear l = planted.linear("layers.0.attn.q");
            int cols = (int) l.inFeatures(), at = 5 * cols + 7;
            float[] w = values(l.weight());
            w[at] = 1000f;
            float[] k = new float[w.length];
            k[at] = 1;
            try (Scope s = Scope.open()) {
                l.setWeight(s.keep(Torch.tensor(w, l.outFeatures(), cols)).escape());
            }
            Tensor keep;
            try (Scope s = Scope.open()) {
                keep = s.keep(Torch.tensor(k, l.outFeatures(), cols).gt(0.5)).escape();
            }
            try (Mask one = new Mask(Map.of(l.name(), keep));
                    QuantizedModel q =
                            Quantize.run(planted, Grid.bits(2), Claq.Options.defaults(), cal, one, Progress.NONE)) {
                float[] got = values(q.model().linear(l.name()).weight());
                // only the earlier columns' error feedback moves it, by far less than its size
                assertEquals(1000f, got[at], 50f);
                QuantizedLinear ql = q.linear(l.name());
                float[] cent = values(ql.codebooks().centroids());
                int width = (int) ql.codebooks().centroids().size(1);
                for (int c = 0; c < 4; c++)
                    assertTrue(Math.abs(cent[7 * width + c]) < 50, "centroid " + cent[7 * width + c]);
                assertEquals(1, q.kept());
            }
        }
    }

    @Test
    void theGridGivesTheWidthAndNothingElse() {
        Claq.Options d = Claq.Options.defaults();
        for (Grid g : List.of(
                Grid.bits(2).groups(16), Grid.bits(2).symmetric(), Grid.bits(2).mse())) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> Quantize.run(m, g, d, cal, null, Progress.NONE));
            assertTrue(e.getMessage().contains("only the width"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Quantize.run(m, Grid.bits(3), d.adaptive(2.1), cal, null, Progress.NONE));
        assertTrue(e.getMessage().contains("bits(2)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Quantize.run(m, Grid.bits(2), d, null, null, Progress.NONE));
        assertEquals("CLAQ", d.bits(2).label(), "the width is the grid's, shown beside the label");
        assertEquals("CLAQ adaptive 2.1 reserve", d.adaptive(2.1).reserve().label());
        assertEquals("CLAQ adaptive 3.1 kmeans EXACT", d.adaptive(3.1).exact().label());
        assertEquals(
                "CLAQ reserve reserve-top 0.1 no-act-order",
                d.reserve(0.1, 0.004).actOrder(false).label());
    }
}
