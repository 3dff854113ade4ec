package io.lowbit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.eval.Perplexity;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real pretrained stories260K: it writes what llama2.c shows, and its perplexity matches an independent forward. */
class Stories260kTest {
    static Model model;

    @BeforeAll
    static void load() {
        model = Models.load(TestData.stories260K().getParent().toString());
    }

    @AfterAll
    static void free() {
        model.close();
    }

    @Test
    void greedyGenerationFromBosWritesTheStoryLlama2cShows() {
        var c = Generation.generate(model, "", Generation.Options.greedy(100));
        System.out.println("stories260K, greedy from BOS: " + c.text());
        assertTrue(
                c.text()
                        .startsWith(
                                "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
                                        + " One day, she saw a big, red ball."),
                c.text());
    }

    @Test
    void perplexityEqualsAPlainJavaFloat64Forward() throws IOException {
        String text = Files.readString(TestData.shipped("text/tinystories_val.txt"));
        int[] ids = model.tokenizer().encode(text, true, false);
        PlainLlama reference = new PlainLlama(TestData.stories260K());
        int window = 512, windows = 2;
        double nll = 0;
        for (int w = 0; w < windows; w++)
            nll += reference.meanNll(Arrays.copyOfRange(ids, w * window, (w + 1) * window));
        double expected = Math.exp(nll / windows);
        Perplexity.Result first = Perplexity.of(
                model, "tinystories-val", text, new Perplexity.Options(window, 2, windows), Progress.NONE);
        assertEquals(expected, first.perplexity(), expected * 1e-5, "first two windows");

        Perplexity.Result all =
                Perplexity.of(model, "tinystories-val", text, Perplexity.Options.defaults(model), Progress.NONE);
        System.out.printf(
                Locale.ROOT,
                "stories260K perplexity on tinystories_val.txt: %.4f (%d windows of %d, %.2f s; "
                        + "plain-Java float64 on the first %d windows: %.4f)%n",
                all.perplexity(),
                all.windows(),
                window,
                all.seconds(),
                windows,
                expected);
        assertEquals(ids.length / window, all.windows(), "every whole window, the partial last one dropped");
        assertTrue(
                all.perplexity() > 1 && all.perplexity() < 50,
                "a trained model, not a random one: " + all.perplexity());
    }

    @Test
    void aStopStringEndsTheCompletionBeforeIt() {
        var c = Generation.generate(model, "", Generation.Options.greedy(100).withStop(" park"));
        assertEquals("stop", c.stopReason());
        assertEquals(
                "Once upon a time, there was a little girl named Lily. She loved to play outside in the", c.text());
        var batch = Generation.generate(
                model,
                java.util.List.of("", "Tom had a dog"),
                Generation.Options.greedy(30).withStop("."));
        for (var b : batch) assertTrue(!b.text().contains(".") && b.stopReason().equals("stop"), b.toString());
    }

    @Test
    void anInterruptStopsLongWorkAndLeavesTheModelUsable() {
        String text = model.tokenizer().decode(new int[0]) + "Once upon a time ".repeat(2000);
        Thread.currentThread().interrupt();
        assertThrows(
                Interrupts.Cancelled.class,
                () -> Perplexity.of(model, "t", text, Perplexity.Options.defaults(model), Progress.NONE));
        assertTrue(!Thread.currentThread().isInterrupted(), "the flag is consumed");
        Thread.currentThread().interrupt();
        assertThrows(Interrupts.Cancelled.class, () -> Generation.generate(model, "", Generation.Options.greedy(50)));
        assertTrue(Generation.generate(model, "", Generation.Options.greedy(5)).tokens().length == 5, "still works");
    }

    @Test
    void theHeaderDescribesTheModel() {
        Config c = model.config();
        assertEquals(
                java.util.List.of(64, 172, 5, 8, 4, 512, 512, true),
                java.util.List.of(
                        c.hiddenSize(),
                        c.intermediateSize(),
                        c.numLayers(),
                        c.numHeads(),
                        c.numKvHeads(),
                        c.vocabSize(),
                        c.maxPositions(),
                        c.tieWordEmbeddings()));
    }

    @Test
    void badCheckpointsNameTheFileAndTheField(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(TestData.stories260K());
        long before = Torch.liveTensors();

        Path truncated = dir.resolve("truncated.bin");
        Files.write(truncated, Arrays.copyOf(good, good.length - 1000));
        var e1 = assertThrows(
                CheckpointException.class,
                () -> Llama2cCheckpoint.load(truncated, null, model.device(), model.dtype()));
        assertTrue(e1.getMessage().contains("truncated.bin") && e1.getMessage().contains("truncated"), e1.getMessage());

        Path lying = dir.resolve("lying.bin");
        byte[] bad = good.clone();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(4 * 4, 3); // n_kv_heads 3 does not divide 8 heads
        Files.write(lying, bad);
        var e2 = assertThrows(
                CheckpointException.class, () -> Llama2cCheckpoint.load(lying, null, model.device(), model.dtype()));
        assertTrue(e2.getMessage().contains("lying.bin") && e2.getMessage().contains("n_kv_heads"), e2.getMessage());

        Path tiny = dir.resolve("tiny.bin");
        Files.write(tiny, new byte[10]);
        var e3 = assertThrows(CheckpointException.class, () -> Models.load(tiny.toString()));
        assertTrue(e3.getMessage().contains("tiny.bin") && e3.getMessage().contains("header"), e3.getMessage());

        var e4 = assertThrows(
                CheckpointException.class,
                () -> Models.load(dir.resolve("absent").toString()));
        assertTrue(e4.getMessage().contains("absent") && e4.getMessage().contains("no such file"), e4.getMessage());

        MemoryTestSupport.settle();
        assertEquals(before, Torch.liveTensors(), "nothing half-loaded stays allocated");
    }
}
