package io.lowbit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.lowbit.TestData;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The fingerprint keys cached results: it must be the same on every run and change when any single
 * weight of any tensor changes, however little, or when two weights trade places.
 */
class FingerprintTest {
    /** Sets one element of a 1- or 2-D weight in place, returning what was there. */
    private static float set(Tensor w, long index, float value) {
        Tensor flat = w.reshape(-1).narrow(0, index, 1);
        float old = flat.toFloatArray()[0];
        flat.copyFrom(Torch.tensor(new float[] {value}, 1).to(w.device(), w.dtype()));
        return old;
    }

    @Test
    void stableAcrossRunsAndCopies() {
        try (Model a = Models.load(TestData.stories260K().toString());
                Model b = Models.load(TestData.stories260K().toString())) {
            String f = a.fingerprint();
            assertEquals(f, a.fingerprint(), "the same weights, the same fingerprint");
            assertEquals(f, b.fingerprint(), "a second load of the file");
            try (Model host = a.to(Device.cpu())) {
                assertEquals(f, host.fingerprint(), "integer sums do not depend on device or reduction order");
            }
            try (Model bf16 = a.to(DType.BF16)) {
                assertNotEquals(f, bf16.fingerprint(), "other bits");
            }
        }
    }

    @Test
    void anySingleWeightChangeChangesIt() {
        try (Model m = Models.load(TestData.stories260K().toString());
                var g = Torch.noGrad()) {
            String original = m.fingerprint();
            Map<String, Tensor> weights = m.weights();
            for (var e : weights.entrySet()) {
                Tensor w = e.getValue();
                for (long i : new long[] {0, w.numel() / 2, w.numel() - 1}) {
                    float v = w.reshape(-1).narrow(0, i, 1).toFloatArray()[0];
                    set(w, i, Math.nextUp(v)); // the smallest change a float32 can make
                    assertNotEquals(original, m.fingerprint(), e.getKey() + "[" + i + "] one ulp up");
                    set(w, i, v);
                }
                assertEquals(original, m.fingerprint(), "restored");
            }
            // the sign of a zero, and two weights of one row trading places: sums of values cannot see these
            Tensor q = m.linears().get(0).weight();
            float a = set(q, 0, 0.0f);
            String plusZero = m.fingerprint();
            set(q, 0, -0.0f);
            assertNotEquals(plusZero, m.fingerprint(), "−0 for +0");
            set(q, 0, a);
            float x = q.reshape(-1).narrow(0, 1, 1).toFloatArray()[0],
                    y = q.reshape(-1).narrow(0, 2, 1).toFloatArray()[0];
            assertNotEquals(x, y);
            set(q, 1, y);
            set(q, 2, x);
            assertNotEquals(original, m.fingerprint(), "two weights swapped");
        }
    }
}
