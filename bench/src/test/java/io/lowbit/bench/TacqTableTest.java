package io.lowbit.bench;

import static io.lowbit.dsl.Lowbit.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.quant.QuantizedModel;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The acceptance table's RTN, GPTQ and TaCQ rows at one bit width run GPTQ once unmasked, once masked. */
class TacqTableTest {
    @Test
    void gptqRunsOnceForItsRowAndTacqsReference() {
        clearCaches();
        try (Model m = load("stories260K")) {
            Calibration cal = calibrate(m, tinystoriesTrain(), 4, 64);
            var task = perplexity(tinystories()).first(1);
            var gptqRuns = new java.util.concurrent.atomic.AtomicInteger();
            // every GPTQ run reports its first block once
            setProgress(() -> (what, done, total) -> {
                if (what.equals("GPTQ blocks") && done == 1) gptqRuns.incrementAndGet();
            });
            List<TacqTable.Row> rows;
            try {
                rows = TacqTable.methods(m, cal, task, 3, 0.35);
            } finally {
                setProgress(() -> Progress.NONE);
            }
            assertEquals(
                    List.of("RTN", "GPTQ", "TaCQ"),
                    rows.stream().map(TacqTable.Row::method).toList());
            assertEquals(2, gptqRuns.get(), "Q_ref (the GPTQ row too) and masked GPTQ");
            // the GPTQ row is what a separate plain GPTQ gives (same options; libtorch's threads may sum in
            // another order, so 1e-6 relative rather than equality)
            try (QuantizedModel g = quantize(m, bits(3).mse(), GPTQ, cal)) {
                double ppl = ((Number) eval(g, task).rows().get(0).get(3)).doubleValue();
                assertEquals(ppl, rows.get(1).perplexity(), 1e-6 * ppl);
            }
        } finally {
            clearCaches();
        }
    }
}
