package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.GPTQ;
import static io.lowbit.dsl.Lowbit.RTN;
import static io.lowbit.dsl.Lowbit.bits;
import static io.lowbit.dsl.Lowbit.calibrate;
import static io.lowbit.dsl.Lowbit.eval;
import static io.lowbit.dsl.Lowbit.load;
import static io.lowbit.dsl.Lowbit.perplexity;
import static io.lowbit.dsl.Lowbit.quantize;
import static io.lowbit.dsl.Lowbit.summary;
import static io.lowbit.dsl.Lowbit.text;
import static io.lowbit.dsl.Lowbit.tinystories;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.eval.Perplexity;
import io.lowbit.model.CheckpointException;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The verbs a notebook user types: load, eval, perplexity, and tables that print themselves. */
class LowbitVerbsTest {
    @Test
    void loadAndEvalPerplexityGiveATable() {
        try (Model m = load(TestData.stories260K().getParent().toString())) {
            Table t = eval(m, perplexity(tinystories()).first(4));
            double fromTable = (Double) t.get(0, "value");
            double direct = Perplexity.of(
                            m,
                            "tinystories-val",
                            tinystories().contents(),
                            new Perplexity.Options(512, 2, 4),
                            Progress.NONE)
                    .perplexity();
            // The verb picks its own batch (Perplexity.Options.defaultBatch), the direct call batch 2, and
            // libtorch splits reductions over its threads: float32 logits are then summed in another
            // order. Each logit is a dot product of K ≤ 512 terms whose rounding error grows as about
            // √K·u (u = 2⁻²⁴ ≈ 6e-8), ≈ 1.4e-6 relative; the mean log-likelihood and its exp carry that
            // relative error, so 1e-5 relative holds on any thread count and any batch.
            assertEquals(direct, fromTable, 1e-5 * direct, "the verb measures what Perplexity measures");
            String text = t.toString();
            assertTrue(
                    text.contains("tinystories-val") && text.contains("perplexity") && text.contains("4 × 512"), text);
            assertTrue(t.toHtml().startsWith("<table") && t.toHtml().contains("<th>value</th>"));
        }
    }

    @Test
    void quantizeReadsLikeThePaperAndReportsItsCost() {
        try (Model m = load(TestData.stories260K().toString())) {
            var cal = calibrate(m, text("text/tinystories_train_excerpt.txt"), 8, 512);
            assertEquals(8, cal.sequences().size());
            try (var g = quantize(m, bits(3).groups(32), GPTQ, cal);
                    var r = quantize(m, bits(3).groups(32), RTN)) {
                Table s = summary(g, r);
                assertEquals("GPTQ", s.get(0, "method"));
                assertEquals("W3 g32", s.get(1, "grid"));
                assertEquals(3.0, (Double) s.get(0, "bits (papers)"), 0);
                assertTrue(
                        (Double) s.get(0, "bits (storage)") > 3.5,
                        "scales and zeros of every 32 weights cost about 0.6 bits");
                Table e = eval(g, perplexity(tinystories()).first(2));
                assertTrue(((String) e.get(0, "model")).contains("GPTQ W3 g32"), e.toString());
            }
        }
    }

    @Test
    void refinedOptionsAreKeptAndLabelTheirRowsAndCacheEntries() {
        try (Model m = load(TestData.stories260K().toString())) {
            var cal = calibrate(m, text("text/tinystories_train_excerpt.txt"), 4, 128);
            try (var plain = quantize(m, bits(3).groups(32), GPTQ, cal);
                    var ordered = quantize(
                            m, bits(3).groups(32), Lowbit.gptq().actOrder().staticGroups(), cal)) {
                assertEquals(Lowbit.gptq().actOrder().staticGroups(), ordered.method());
                assertEquals(GPTQ, plain.method());
                Table a = eval(plain, perplexity(tinystories()).first(1)),
                        b = eval(ordered, perplexity(tinystories()).first(1));
                assertEquals("stories260K GPTQ W3 g32", a.get(0, "model"));
                assertEquals("stories260K GPTQ act-order static-groups W3 g32", b.get(0, "model"));
                // the cache is keyed by the fingerprint column: the two results are two entries
                assertTrue(!a.get(0, "fingerprint").equals(b.get(0, "fingerprint")), a + "\n" + b);
                assertEquals("GPTQ", summary(ordered).get(0, "method"), "tables keep the method's name");
            }
        }
    }

    @Test
    void everyTaskRunsThroughEvalAndRepeatsFromTheCache() throws java.io.IOException {
        TestData.shared("choice");
        TestData.shared("mmlu");
        TestData.shared("gsm8k");
        try (Model m = load(TestData.stories260K().toString())) {
            Task[] tasks = {
                Lowbit.arcEasy().limit(8),
                Lowbit.lambada().limit(8),
                Lowbit.winogrande().limit(8),
                Lowbit.gsm8k().limit(2),
                Lowbit.mmlu().limit(1)
            };
            long t0 = System.nanoTime();
            Table first = eval(m, tasks);
            double firstSeconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(Evaluate.COLUMNS, first.columns());
            assertEquals(
                    List.of("acc", "acc_norm", "acc", "perplexity", "acc", "accuracy", "accuracy"),
                    first.rows().stream().limit(7).map(r -> r.get(2)).toList());
            for (List<Object> r : first.rows()) assertTrue(r.get(3) instanceof Double d && !d.isNaN(), r.toString());
            long t1 = System.nanoTime();
            Table again = eval(m, tasks);
            assertEquals(first.rows(), again.rows(), "the same rows, from the cache");
            assertTrue((System.nanoTime() - t1) / 1e9 < firstSeconds / 5, "a cached run is quick");
            try (var q = quantize(m, bits(4), RTN)) {
                var cmp = Lowbit.compare(List.of(m, q), Lowbit.arcEasy().limit(8));
                Table c = cmp.table();
                assertEquals(List.of("model", "bits", "arc_easy acc", "arc_easy acc_norm"), c.columns());
                assertEquals(32.0, (Double) c.get(0, "bits"), 0, "float32 weights");
                assertEquals(4.0, (Double) c.get(1, "bits"), 0);
                // the chart is a real PNG with something drawn on it
                var img = javax.imageio.ImageIO.read(
                        new java.io.ByteArrayInputStream(cmp.chart().png()));
                assertEquals(720, img.getWidth());
                java.util.Set<Integer> colours = new java.util.HashSet<>();
                for (int x = 0; x < img.getWidth(); x += 7)
                    for (int y = 0; y < img.getHeight(); y += 7) colours.add(img.getRGB(x, y));
                assertTrue(colours.size() > 3, "not a blank image");
            }
        }
    }

    @Test
    void resultsSaveAndLoadWithTheirFingerprintAndSettings(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        TestData.shared("choice");
        try (Model m = load(TestData.stories260K().toString())) {
            Table t = eval(m, Lowbit.piqa().limit(4), perplexity(tinystories()).first(1));
            assertTrue(((String) t.get(0, "fingerprint")).startsWith("stories260K@"));
            assertEquals("piqa limit=4 seed=1234", t.get(0, "settings"));
            for (String name : List.of("r.csv", "r.json")) {
                Table back = Table.load(t.save(dir.resolve(name)));
                assertEquals(t.columns(), back.columns());
                assertEquals(t.rows(), back.rows(), name);
            }
        }
    }

    @Test
    void loadExplainsWhatItCannotUse() {
        var e = assertThrows(CheckpointException.class, () -> load("no/such/model"));
        assertTrue(e.getMessage().contains("no such file"));
        var r = assertThrows(IllegalArgumentException.class, () -> load("random:gpt5"));
        assertTrue(r.getMessage().contains("random:llama3-8b"), r.getMessage());
    }

    @Test
    void tablesAlignNumbersAndEscapeHtml() {
        Table t = Table.of("t", List.of("name", "x"), List.of(List.of("<a>", 1.5), List.of("b", 12345.25)));
        assertEquals("t\nname           x\n----  ----------\n<a>       1.5000\nb     12345.2500\n", t.toString());
        assertTrue(t.toHtml().contains("&lt;a&gt;"));
        assertThrows(IllegalArgumentException.class, () -> Table.of("t", List.of("a"), List.of(List.of(1, 2))));
    }
}
