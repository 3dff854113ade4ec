package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.quant.Grid;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Tesseraq;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code reconstruction(q)}: a row per block of the run's own losses, a line per block, resumed runs marked. */
class ReconstructionTest {
    @Test
    void theTableIsTheRunsBlockLossesAndTheChartALinePerBlock(@TempDir Path dir) {
        try (Model m = load("stories260K")) {
            Calibration cal = calibrate(m, tinystoriesTrain(), 6, 128);
            Grid grid = bits(2).groups(32);
            var options = tesseraq()
                    .thresholds(List.of(0.5, 0.2))
                    .iterations(3)
                    .batch(2)
                    .checkpoints(dir);
            try (QuantizedModel q = quantize(m, grid, options, cal)) {
                List<Tesseraq.BlockLoss> losses = q.reconstruction();
                Comparison rec = reconstruction(q);
                Table t = rec.table();
                assertEquals(
                        List.of("block", "loss (nearest)", "loss (TesseraQ)", "reduction %", "seconds", "resumed"),
                        t.columns());
                assertEquals(m.config().numLayers(), t.rows().size());
                for (int i = 0; i < losses.size(); i++) {
                    Tesseraq.BlockLoss b = losses.get(i);
                    assertEquals(b.block(), t.get(i, "block"));
                    assertEquals(b.nearestLoss(), (Double) t.get(i, "loss (nearest)"), 0);
                    assertEquals(b.finalLoss(), (Double) t.get(i, "loss (TesseraQ)"), 0);
                    // the same quantity in another order: both within a few roundings of size ≤ 100·2⁻⁵³ ≈ 1e-14
                    double reduction = (b.nearestLoss() - b.finalLoss()) / b.nearestLoss() * 100;
                    assertEquals(reduction, (Double) t.get(i, "reduction %"), 1e-12);
                    assertEquals("no", t.get(i, "resumed"));
                }
                assertEquals(losses.size() * 2, rec.chart().points(), "a line per block, a point per PAR round");
            }
            try (QuantizedModel again = quantize(m, grid, options, cal)) { // every block from its checkpoint
                Table t = reconstruction(again).table();
                for (int i = 0; i < t.rows().size(); i++) assertEquals("yes", t.get(i, "resumed"));
            }
            try (QuantizedModel rtn = quantize(m, grid, RTN)) {
                var e = assertThrows(IllegalArgumentException.class, () -> reconstruction(rtn));
                assertTrue(e.getMessage().contains("quantize with TESSERAQ"), e.getMessage());
            }
        }
    }
}
