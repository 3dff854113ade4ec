package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.data.Calibration;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The pieces that let TaCQ run on an 8B model within one GPU's memory give the same results as the
 * whole-model ones: gradients computed block by block with recomputation equal libtorch autograd
 * over the whole model; the streamed global top-k equals a plain sort of every score.
 */
class StreamedTacqTest {

    static Calibration calibration(Model m, int... lengths) {
        Random r = new Random(7);
        List<int[]> seqs = new ArrayList<>();
        for (int len : lengths) {
            int[] s = new int[len];
            for (int t = 0; t < len; t++) s[t] = r.nextInt(m.config().vocabSize());
            seqs.add(s);
        }
        return Calibration.examples("random", seqs);
    }

    static void assertClose(Tensor expected, Tensor actual, String what) {
        double[] e = expected.to(Device.cpu()).toDoubleArray(),
                a = actual.to(Device.cpu()).toDoubleArray();
        double scale = 0;
        for (double x : e) scale = Math.max(scale, Math.abs(x));
        assertTrue(scale > 0, what + ": the reference is all zeros, nothing would be compared");
        for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], 1e-5 * scale, what + " [" + i + "]");
    }

    @Test
    void blockByBlockGradientsEqualWholeModelAutogradIncludingTheBaselines() {
        try (Model m = RandomModel.create(RandomModel.preset("tiny"), "random:tiny", Device.cpu(), 3)) {
            Calibration cal = calibration(m, 12, 9, 12, 5, 12); // mixed lengths, and chunks of 2 leave one over
            try (Gradients whole = Gradients.compute(m, cal, DType.F32, true, Progress.NONE);
                    Gradients streamed = Gradients.streamed(m, cal, DType.F32, true, Progress.NONE, Device.cpu(), 2)) {
                assertEquals(5, streamed.sequences());
                for (Linear l : m.linears()) {
                    assertClose(whole.abs(l.name()), streamed.abs(l.name()), "Σ|g| " + l.name());
                    assertClose(whole.square(l.name()), streamed.square(l.name()), "Σg² " + l.name());
                    assertClose(whole.signed(l.name()), streamed.signed(l.name()), "Σg " + l.name());
                    assertFalse(l.weight().requiresGrad(), l.name() + " was left requiring gradients");
                }
            }
        }
    }

    @Test
    void aBf16ModelInHostMemoryGetsFloat32GradientsOnTheWorkDevice() {
        Device work =
                Device.defaultDevice(); // the GPU when the suite runs on one: pinned accumulators, copies both ways
        try (Model f = RandomModel.create(RandomModel.preset("tiny"), "random:tiny", Device.cpu(), 4);
                Model m = f.to(DType.BF16)) {
            Calibration cal = calibration(m, 10, 10, 7);
            try (Gradients whole = Gradients.compute(m, cal, DType.F32, false, Progress.NONE);
                    Gradients streamed = work.isCuda()
                            ? Gradients.compute(
                                    m,
                                    cal,
                                    DType.F32,
                                    false,
                                    Progress.NONE,
                                    work) // another device: streamed, 16 a chunk
                            : Gradients.streamed(m, cal, DType.F32, false, Progress.NONE, Device.cpu(), 1)) {
                for (Linear l : m.linears()) {
                    Tensor s = streamed.abs(l.name());
                    assertEquals(DType.F32, s.dtype());
                    assertEquals(Device.cpu(), s.device(), "the accumulators stay with the model");
                    assertClose(whole.abs(l.name()), s, "Σ|g| " + l.name());
                }
            }
        }
    }

    @Test
    void refusesAChunkOfNoSequences() {
        try (Model m = RandomModel.create(RandomModel.preset("tiny"), "random:tiny", Device.cpu(), 3)) {
            var e = assertThrows(
                    IllegalArgumentException.class,
                    () -> Gradients.streamed(m, calibration(m, 4), DType.F32, false, Progress.NONE, Device.cpu(), 0));
            assertTrue(e.getMessage().contains("chunk"), e.getMessage());
        }
    }

    /** Plain Java: sort every (value, linear, index) by value descending, then position; the first k. */
    static Map<String, boolean[]> referenceTopK(Map<String, float[]> scores, double fraction) {
        record Entry(float v, int linear, int index) {}
        List<Entry> all = new ArrayList<>();
        List<String> names = new ArrayList<>(scores.keySet());
        for (int li = 0; li < names.size(); li++) {
            float[] v = scores.get(names.get(li));
            for (int i = 0; i < v.length; i++) all.add(new Entry(v[i] == 0f ? 0f : v[i], li, i)); // −0 equals +0
        }
        all.sort(Comparator.comparingDouble((Entry e) -> -e.v)
                .thenComparingInt(Entry::linear)
                .thenComparingInt(Entry::index));
        long k = (long) Math.floor(fraction * all.size());
        Map<String, boolean[]> out = new LinkedHashMap<>();
        for (String n : names) out.put(n, new boolean[scores.get(n).length]);
        for (int j = 0; j < k; j++) out.get(names.get(all.get(j).linear))[all.get(j).index] = true;
        return out;
    }

    @Test
    void theStreamedGlobalTopKEqualsAPlainSortWithTiesBrokenByPosition() {
        Random r = new Random(11);
        Map<String, float[]> plain = new LinkedHashMap<>();
        int[][] shapes = {{7, 13}, {20, 5}, {3, 3}, {16, 33}};
        for (int j = 0; j < shapes.length; j++) {
            float[] v = new float[shapes[j][0] * shapes[j][1]];
            for (int i = 0; i < v.length; i++) {
                v[i] = switch (r.nextInt(5)) {
                    case 0 -> (float) r.nextInt(4); // heavy ties, zeros among them
                    case 1 -> -0.0f;
                    case 2 -> (float) -r.nextDouble(); // negatives
                    case 3 -> (float) (r.nextDouble() * 1e-40); // subnormals
                    default -> (float) (r.nextGaussian() * 1e3);
                };
            }
            plain.put("linear" + j, v);
        }
        Map<String, Tensor> scores = new LinkedHashMap<>();
        try (Scope s = Scope.open()) {
            for (int j = 0; j < shapes.length; j++) {
                float[] v = plain.get("linear" + j);
                double[] d = new double[v.length];
                for (int i = 0; i < v.length; i++) d[i] = v[i];
                scores.put(
                        "linear" + j,
                        Torch.tensor(d, shapes[j][0], shapes[j][1]).to(DType.F32));
            }
            for (double f : new double[] {0, 0.001, 0.01, 0.1, 0.35, 0.5, 0.77, 1}) {
                Map<String, boolean[]> expected = referenceTopK(plain, f);
                try (Mask mask = Keep.global(scores, f)) {
                    long kept = 0;
                    for (String n : plain.keySet()) {
                        Tensor t = mask.of(n);
                        assertArrayEquals(
                                new long[] {
                                    shapes[Integer.parseInt(n.substring(6))][0],
                                    shapes[Integer.parseInt(n.substring(6))][1]
                                },
                                t.shape());
                        double[] got = t.to(DType.F32).toDoubleArray();
                        boolean[] want = expected.get(n);
                        for (int i = 0; i < want.length; i++)
                            assertEquals(want[i], got[i] != 0, "fraction " + f + ", " + n + " [" + i + "]");
                        kept += t.sum().itemLong();
                    }
                    int total = plain.values().stream().mapToInt(a -> a.length).sum();
                    assertEquals((long) Math.floor(f * total), kept, "k = ⌊fraction·P⌋ at " + f);
                }
            }
        }
    }

    @Test
    void scoreKeysOrderLikeTheFloatsAndMapBack() {
        float[] v = {
            Float.NEGATIVE_INFINITY,
            -3.3e38f,
            -2f,
            -1f,
            -1e-40f,
            0f,
            1e-45f,
            1e-40f,
            1f,
            1.0000001f,
            2f,
            3.4e38f,
            Float.POSITIVE_INFINITY
        };
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        try (Scope s = Scope.open()) {
            long[] keys = Keep.keys(Torch.tensor(d, v.length).to(DType.F32)).toLongArray();
            for (int i = 0; i < v.length; i++) {
                assertEquals(v[i], (float) Keep.valueOf(keys[i]), "round trip of " + v[i]);
                if (i > 0) assertTrue(keys[i] > keys[i - 1], v[i - 1] + " < " + v[i] + " must give smaller keys");
            }
            long negZero = Keep.keys(Torch.tensor(new double[] {-0.0}, 1).to(DType.F32))
                    .toLongArray()[0];
            assertEquals(keys[5], negZero, "−0 and +0 compare equal, so they share a key");
        }
    }

    @Test
    void nanScoresAreRefusedNamingTheLinear() {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> scores = new LinkedHashMap<>();
            scores.put(
                    "layers.0.attn.q",
                    Torch.tensor(new double[] {1, 2, 3, 4}, 2, 2).to(DType.F32));
            scores.put(
                    "layers.0.attn.k",
                    Torch.tensor(new double[] {1, Double.NaN, 3, 4}, 2, 2).to(DType.F32));
            var e = assertThrows(IllegalArgumentException.class, () -> Keep.global(scores, 0.5));
            assertTrue(
                    e.getMessage().contains("layers.0.attn.k") && e.getMessage().contains("NaN"), e.getMessage());
        }
    }
}
