package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.CLAQ;
import static io.lowbit.dsl.Lowbit.bits;
import static io.lowbit.dsl.Lowbit.calibrate;
import static io.lowbit.dsl.Lowbit.claq;
import static io.lowbit.dsl.Lowbit.keep;
import static io.lowbit.dsl.Lowbit.load;
import static io.lowbit.dsl.Lowbit.quantize;
import static io.lowbit.dsl.Lowbit.saliency;
import static io.lowbit.dsl.Lowbit.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.quant.QuantizedLinear;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import org.junit.jupiter.api.Test;

/** CLAQ through the verbs: composed with TaCQ's kept weights, which it leaves unrounded and out of its codebooks. */
class LowbitClaqTest {
    static float[] values(Tensor t) {
        try (Scope s = Scope.open()) {
            return t.to(DType.F32).contiguous().toFloatArray();
        }
    }

    @Test
    void claqWithKeptWeightsLeavesThemUnroundedAndCountsThem() {
        try (Model m = load(TestData.stories260K().toString())) {
            var cal = calibrate(m, text("text/tinystories_train_excerpt.txt"), 8, 256);
            Kept kept = keep(saliency(m, cal, bits(2)), 1.0);
            try (QuantizedModel q = quantize(m, bits(2), claq().adaptive(2.1).reserve(), cal, kept);
                    QuantizedModel plain = quantize(m, bits(2), CLAQ, cal)) {
                assertEquals(kept.mask().count(), q.kept());
                assertTrue(q.kept() > 0);
                assertEquals("CLAQ adaptive 2.1 reserve W2 per-row", q.label());
                long checked = 0;
                for (Linear l : m.linears()) {
                    QuantizedLinear ql = q.linear(l.name());
                    int cols = (int) l.inFeatures(),
                            width = (int) ql.codebooks().centroids().size(1);
                    float[] w = values(q.model().linear(l.name()).weight()),
                            cent = values(ql.codebooks().centroids()),
                            k = values(kept.mask().of(l.name())),
                            res = values(ql.codebooks().reserved());
                    for (int at = 0; at < w.length; at++) {
                        if (k[at] == 0) continue;
                        assertEquals(0f, res[at], "a kept weight is not reserved again");
                        int j = at % cols, b = ql.codebooks().columnBits()[j];
                        for (int c = 0; c < 1 << b; c++)
                            assertFalse(
                                    w[at] == cent[j * width + c], l.name() + ": kept weight " + at + " is a centroid");
                        checked++;
                    }
                }
                assertEquals(q.kept(), checked);
                // 1 % kept at 32 bits instead of 2 or 4 alone adds > 0.25; codebooks count only in storage
                assertTrue(q.paperBits() > plain.paperBits() + 0.25, q.paperBits() + " vs " + plain.paperBits());
                assertEquals(2.0, plain.paperBits(), 1e-12);
                assertTrue(plain.storageBits() > 2.0);
            }
        }
    }
}
