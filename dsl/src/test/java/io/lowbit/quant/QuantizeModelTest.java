package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.data.Calibration;
import io.lowbit.eval.Perplexity;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RTN and GPTQ on the real stories260K (a small calibration set and evaluation, to keep CI quick). */
class QuantizeModelTest {
    static Model fp;
    static Calibration cal;
    static String val;

    @BeforeAll
    static void setUp() throws IOException {
        fp = Models.load(TestData.stories260K().toString());
        String train = Files.readString(TestData.shipped("text/tinystories_train_excerpt.txt"));
        cal = Calibration.firstWindows("tinystories-train", fp.tokenizer(), train, 32, 512);
        val = Files.readString(TestData.shipped("text/tinystories_val.txt"));
    }

    @AfterAll
    static void tearDown() {
        fp.close();
    }

    static double ppl(Model m) {
        return Perplexity.of(m, "val", val, new Perplexity.Options(512, 2, 16), Progress.NONE)
                .perplexity();
    }

    @Test
    void gptqBeatsRtnAtThreeAndTwoBitsAndLeavesTheOriginalAlone() {
        double before = ppl(fp);
        for (int bits : new int[] {3, 2}) {
            try (QuantizedModel rtn =
                            Quantize.run(fp, Grid.bits(bits), Rtn.Options.defaults(), null, null, Progress.NONE);
                    QuantizedModel gptq =
                            Quantize.run(fp, Grid.bits(bits), Gptq.Options.defaults(), cal, null, Progress.NONE)) {
                double r = ppl(rtn.model()), g = ppl(gptq.model());
                System.out.printf(
                        java.util.Locale.ROOT,
                        "stories260K W%d per-row (16 val windows): fp %.3f, RTN %.3f, GPTQ %.3f%n",
                        bits,
                        before,
                        r,
                        g);
                assertTrue(g < r, bits + " bits: GPTQ " + g + " should beat RTN " + r);
                assertTrue(g > before, "quantization costs something");
            }
        }
        assertEquals(before, ppl(fp), 0, "the original model is untouched");
    }

    @Test
    void denseWeightsAreTheDequantizedCodesAndBitsAddUp() {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> kept = new HashMap<>();
            for (var l : fp.linears()) {
                // keep the largest-magnitude 1 % of each weight
                Tensor w = l.weight().abs();
                double threshold = w.flatten()
                        .topk(Math.max(1, w.numel() / 100), 0, true)
                        .values()
                        .min()
                        .item();
                kept.put(l.name(), w.ge(threshold).escape());
            }
            try (Mask mask = new Mask(kept);
                    QuantizedModel q = Quantize.run(
                            fp, Grid.bits(3).groups(32), Gptq.Options.defaults(), cal, mask, Progress.NONE)) {
                for (var l : q.model().linears()) {
                    QuantizedLinear ql = q.linear(l.name());
                    Tensor codes = ql.codes().to(DType.F32);
                    Tensor groupIdx = Torch.tensor(ql.groupOfColumn(), ql.groupOfColumn().length)
                            .to(DType.I64);
                    Tensor scale = ql.scales().indexSelect(1, groupIdx),
                            zero = ql.zeros().indexSelect(1, groupIdx);
                    Tensor deq =
                            Torch.where(ql.keep(), l.weight(), codes.sub(zero).mul(scale));
                    assertEquals(0, deq.sub(l.weight()).abs().max().item(), 1e-6, l.name());
                    assertTrue(codes.max().item() <= 7 && codes.min().item() >= 0, "3-bit codes");
                    // kept weights are not quantized: they took GPTQ's compensation, they are not the originals
                    assertTrue(ql.keep().sum().itemLong() > 0);
                }
                long total = q.weights(), k = q.kept();
                double r = (double) k / total;
                assertEquals(3 * (1 - r) + 32 * r, q.paperBits(), 1e-12);
                // storage: 3 bits a weight, 16 + 3 per row and group of 32, 32 per kept weight
                assertEquals(3 + (16.0 + 3) / 32 + 32.0 * k / total, q.storageBits(), 0.05);
                assertTrue(q.storageBits() > q.paperBits());
            }
        }
    }

    @Test
    void savedResultsReloadToTheSamePerplexity(@TempDir Path dir) {
        try (QuantizedModel q = Quantize.run(fp, Grid.bits(4), Gptq.Options.defaults(), cal, null, Progress.NONE)) {
            q.save(dir);
            try (QuantizedModel back = QuantizedModel.load(dir)) {
                assertEquals(ppl(q.model()), ppl(back.model()), 0);
                assertEquals(q.paperBits(), back.paperBits(), 0);
                assertEquals(q.storageBits(), back.storageBits(), 1e-12);
                assertArrayEquals(
                        q.linear("layers.2.mlp.down").codes().toIntArray(),
                        back.linear("layers.2.mlp.down").codes().toIntArray());
            }
            // the dense model alone is an ordinary Hugging Face folder
            try (Model dense = Models.load(dir.toString())) {
                assertEquals(ppl(q.model()), ppl(dense), 0);
            }
        }
    }

    @Test
    void anInterruptStopsTheRunAndLeavesNothingBehind() throws InterruptedException {
        io.lowbit.torch.TestHooks.settleCleaner();
        long handles = Torch.liveTensors();
        double before = ppl(fp);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread worker = new Thread(() -> {
            try {
                Quantize.run(
                        fp,
                        Grid.bits(3),
                        Gptq.Options.defaults(),
                        cal,
                        null,
                        (what, done, total) -> Thread.currentThread().interrupt()); // the stop button, after block 1
            } catch (Throwable t) {
                thrown.set(t);
            }
        });
        worker.start();
        worker.join();
        assertTrue(thrown.get() instanceof Interrupts.Cancelled, String.valueOf(thrown.get()));
        assertEquals(before, ppl(fp), 0, "the model is as it was");
        io.lowbit.torch.TestHooks.settleCleaner();
        assertEquals(handles, Torch.liveTensors(), "nothing of the stopped run stays allocated");
    }

    @Test
    void aModelInHostMemoryIsQuantizedOnTheGpuOneBlockAtATime() {
        org.junit.jupiter.api.Assumptions.assumeTrue(io.lowbit.torch.Cuda.isAvailable(), "needs a GPU");
        var gpu = io.lowbit.torch.Device.cuda(0);
        try (Model host = Models.load(
                        TestData.stories260K().toString(),
                        Models.Options.defaults().on(io.lowbit.torch.Device.CPU));
                Model onGpu = Models.load(
                        TestData.stories260K().toString(),
                        Models.Options.defaults().on(gpu));
                QuantizedModel a =
                        Quantize.run(host, Grid.bits(3), Gptq.Options.defaults(), cal, null, Progress.NONE, gpu);
                QuantizedModel b =
                        Quantize.run(onGpu, Grid.bits(3), Gptq.Options.defaults(), cal, null, Progress.NONE)) {
            assertEquals(
                    io.lowbit.torch.Device.CPU,
                    a.model().linear("layers.4.mlp.down").weight().device(),
                    "the result stays in host memory");
            assertEquals(
                    io.lowbit.torch.Device.CPU,
                    a.linear("layers.4.mlp.down").codes().device());
            for (var l : host.linears()) {
                int[] ca = a.linear(l.name()).codes().toIntArray(),
                        cb = b.linear(l.name()).codes().toIntArray();
                int differ = 0;
                for (int i = 0; i < ca.length; i++) if (ca[i] != cb[i]) differ++;
                assertTrue(
                        differ <= ca.length / 1000,
                        l.name() + ": " + differ + " codes differ"); // float order may flip a rare tie
            }
        }
    }

    @Test
    void gptqWithoutCalibrationIsRefused() {
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> Quantize.run(fp, Grid.bits(3), Gptq.Options.defaults(), null, null, Progress.NONE));
        assertTrue(e.getMessage().contains("calibration"));
    }
}
