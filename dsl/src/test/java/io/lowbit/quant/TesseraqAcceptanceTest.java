package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.data.Calibration;
import io.lowbit.eval.Perplexity;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * The acceptance on stories260K at 2 bits, groups of 32: calibration = the first 128
 * windows of 512 tokens of the training excerpt, TesseraQ on the reduced schedule of 10 thresholds
 * × 50 iterations (the full table, both groupings and 3 bits: bench TesseraqTable). TesseraQ must
 * beat both GPTQ and AWQ. About eight minutes on two CPU cores.
 */
class TesseraqAcceptanceTest {
    @Test
    void atTwoBitsTesseraqBeatsGptqAndAwq() throws IOException {
        try (Model fp = Models.load(TestData.stories260K().toString())) {
            String train = Files.readString(TestData.shipped("text/tinystories_train_excerpt.txt"));
            String val = Files.readString(TestData.shipped("text/tinystories_val.txt"));
            Calibration cal = Calibration.firstWindows("tinystories-train", fp.tokenizer(), train, 128, 512);
            Perplexity.Options po = new Perplexity.Options(512, 2, 128); // the first 128 validation windows
            Grid grid = Grid.bits(2).groups(32);
            double awq, gptq, tq;
            try (QuantizedModel q =
                    Quantize.run(fp, grid, Awq.Options.defaults(), cal, null, Progress.NONE, fp.device())) {
                awq = Perplexity.of(q.model(), "val", val, po, Progress.NONE).perplexity();
            }
            try (QuantizedModel q =
                    Quantize.run(fp, grid, Gptq.Options.defaults(), cal, null, Progress.NONE, fp.device())) {
                gptq = Perplexity.of(q.model(), "val", val, po, Progress.NONE).perplexity();
            }
            Tesseraq.Options o =
                    Tesseraq.Options.defaults().noCheckpoints().tenRounds().iterations(50);
            try (QuantizedModel q = Tesseraq.run(fp, grid, cal, o, Progress.NONE, fp.device())) {
                tq = Perplexity.of(q.model(), "val", val, po, Progress.NONE).perplexity();
            }
            System.out.printf(
                    Locale.ROOT,
                    "stories260K W2 g32 (128 val windows): AWQ %.3f, GPTQ %.3f, TesseraQ %.3f%n",
                    awq,
                    gptq,
                    tq);
            assertTrue(tq < gptq, "TesseraQ " + tq + " should beat GPTQ " + gptq);
            assertTrue(tq < awq, "TesseraQ " + tq + " should beat AWQ " + awq);
        }
    }
}
