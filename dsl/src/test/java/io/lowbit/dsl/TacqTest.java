package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.data.Calibration;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TaCQ on stories260K with a small calibration set: the score and the global top-k equal a plain
 * Java computation of the paper's formula; the sweep equals separate runs.
 */
class TacqTest {
    static Model m;
    static Calibration cal;

    @BeforeAll
    static void setUp() {
        m = load("stories260K");
        cal = calibrate(m, tinystoriesTrain(), 4, 64);
    }

    @AfterAll
    static void tearDown() {
        clearCaches();
        m.close();
    }

    @Test
    void scoresAreWeightTimesSummedAbsoluteGradientsTimesQrefErrorAndKeepTakesTheGlobalTopK() {
        Scores s = saliency(m, cal, TACQ, bits(3).mse());
        // independently: per-sequence gradients summed as |g| in plain Java, then |W|·G·|Q_ref − W|
        Map<String, double[]> g = new HashMap<>();
        for (int[] seq : cal.sequences()) {
            try (Scope sc = Scope.open()) {
                for (var e : m.linearGradients(m.tokens(seq), null).entrySet()) {
                    double[] d = e.getValue().toDoubleArray();
                    double[] acc = g.computeIfAbsent(e.getKey(), k -> new double[d.length]);
                    for (int i = 0; i < d.length; i++) acc[i] += Math.abs(d[i]);
                }
            }
        }
        record Entry(double score, int linear, int index) {}
        List<Entry> all = new ArrayList<>();
        List<Linear> ls = m.linears();
        for (int li = 0; li < ls.size(); li++) {
            String name = ls.get(li).name();
            double[] w = ls.get(li).weight().toDoubleArray();
            double[] q =
                    s.saliency().reference().model().linears().get(li).weight().toDoubleArray();
            double[] expected = new double[w.length];
            for (int i = 0; i < w.length; i++) expected[i] = Math.abs(w[i]) * g.get(name)[i] * Math.abs(q[i] - w[i]);
            try (Tensor got = s.saliency().scores(TACQ, name)) {
                double[] actual = got.toDoubleArray();
                for (int i = 0; i < w.length; i++)
                    assertEquals(expected[i], actual[i], 1e-5 * Math.abs(expected[i]) + 1e-12, name + "[" + i + "]");
            }
            for (int i = 0; i < w.length; i++) all.add(new Entry(expected[i], li, i));
        }
        // the global top-k: ⌊p·P⌋ largest, ties by position
        double percent = 0.35;
        long k = (long) Math.floor(percent / 100 * all.size());
        all.sort(Comparator.comparingDouble(Entry::score)
                .reversed()
                .thenComparingInt(Entry::linear)
                .thenComparingInt(Entry::index));
        Kept kept = keep(s, percent);
        assertEquals(k, kept.mask().count());
        int agree = 0;
        for (Entry e : all.subList(0, (int) k)) {
            long[] mask =
                    kept.mask().of(ls.get(e.linear()).name()).to(DType.I64).toLongArray();
            if (mask[e.index()] == 1) agree++;
        }
        // the float32 scores of the engine may order near-equal neighbours differently at the boundary only
        assertTrue(agree >= k - 2, agree + " of " + k + " kept weights agree with the plain computation");
        assertEquals(k, (long) kept.table()
                .rows()
                .get(kept.table().rows().size() - 1)
                .get(kept.table().columns().size() - 1));
    }

    @Test
    void signedGradientsCancelWhereAbsoluteOnesDoNot() {
        Scores abs = saliency(m, cal, GRADIENT, bits(3).mse());
        Scores signed = saliency(m, cal, SIGNED_GRADIENT, bits(3).mse());
        String first = abs.saliency().linears().get(0);
        try (Tensor a = abs.saliency().scores(GRADIENT, first);
                Tensor b = signed.saliency().scores(SIGNED_GRADIENT, first)) {
            assertTrue(b.sub(a).max().item() <= 1e-6, "|Σg| ≤ Σ|g| everywhere");
            assertTrue(a.sub(b).max().item() > 1e-6, "and somewhere strictly less: signs cancel across sequences");
        }
    }

    @Test
    void theSweepGivesTheSameNumbersAsSeparateRuns() {
        var task = perplexity(tinystories()).first(4).window(128);
        Sweep sw = sweep(m, cal, task, List.of(0.0, 1.0), List.of(3), TACQ, MSG);
        assertEquals(4, sw.table().rows().size());
        for (List<Object> row : sw.table().rows()) {
            double p = (double) row.get(1);
            var rule = io.lowbit.quant.Saliency.Score.valueOf((String) row.get(0));
            double separate;
            if (p == 0) {
                try (QuantizedModel q = quantize(m, bits(3).mse(), GPTQ, cal)) {
                    separate = (double) eval(q, task).rows().get(0).get(3);
                }
            } else {
                try (QuantizedModel q =
                        quantize(m, bits(3).mse(), GPTQ, cal, keep(saliency(m, cal, rule, bits(3).mse()), p))) {
                    separate = (double) eval(q, task).rows().get(0).get(3);
                    assertEquals(q.paperBits(), (double) row.get(3), 1e-12);
                }
            }
            assertEquals(separate, (double) row.get(5), 1e-9, "the sweep's " + row);
        }
    }

    @Test
    void keptWeightsAreExemptFromRounding() {
        Kept kept = keep(saliency(m, cal, TACQ, bits(2).mse()), 1.0);
        try (QuantizedModel q = quantize(m, bits(2).mse(), GPTQ, cal, kept)) {
            assertEquals(2 - 2 * 0.01 + 32 * 0.01, q.paperBits(), 0.01 * 2 / 100 + 1e-3);
            assertTrue(q.kept() == kept.mask().count());
        }
    }

    @Test
    void aModelInHostMemoryGetsTheSameMaskWithTheWorkOnTheDefaultDevice() {
        // on a GPU this is the 8B path: gradients block by block into host memory, Q_ref block by block,
        // scores one linear at a time on the GPU, the mask in host memory
        Kept onDevice = keep(saliency(m, cal, TACQ, bits(3).mse()), 1.0);
        clearCaches(); // the host copy has the same fingerprint: make it compute its own
        try (Model host = m.to(io.lowbit.torch.Device.cpu())) {
            Kept inHost = keep(saliency(host, cal, TACQ, bits(3).mse()), 1.0);
            clearCaches();
            assertEquals(onDevice.mask().count(), inHost.mask().count());
            long same = 0;
            for (Linear l : host.linears()) {
                Tensor a = onDevice.mask().of(l.name()), b = inHost.mask().of(l.name());
                assertEquals(io.lowbit.torch.Device.cpu(), b.device(), "the mask stays beside the model");
                same += a.to(io.lowbit.torch.Device.cpu()).logicalAnd(b).sum().itemLong();
            }
            // float32 sums in another order may swap near-equal neighbours at the boundary only
            assertTrue(
                    same >= onDevice.mask().count() * 995 / 1000,
                    same + " of " + onDevice.mask().count() + " kept weights agree");
        }
    }

    @Test
    void aBudgetOutsideZeroToHundredPercentIsRefusedInPercent() {
        var s = saliency(m, cal, TACQ, bits(2).mse());
        for (double bad : new double[] {-0.1, 100.5, Double.NaN}) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> keep(s, bad));
            assertTrue(
                    e.getMessage().contains("percent") && e.getMessage().contains(String.valueOf(bad)), e.getMessage());
        }
    }
}
