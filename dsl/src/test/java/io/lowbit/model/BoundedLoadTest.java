package io.lowbit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Torch;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loads are bounded: a model that cannot fit is refused before any allocation, and a stop ends a load cleanly. */
class BoundedLoadTest {
    /** random:tiny's shapes with the hidden size, heads and layers of a model far larger than any machine. */
    private static Config enormous(DType d) {
        return new Config(
                Config.Architecture.LLAMA,
                512,
                65536,
                262144,
                4096,
                512,
                64,
                128,
                256,
                10000,
                null,
                1e-5,
                false,
                1,
                2,
                d);
    }

    @Test
    void aModelLargerThanFreeMemoryIsRefusedBeforeAnyAllocation() {
        Config c = enormous(DType.F32);
        long need = c.parameterCount() * 4;
        assertTrue(need > MemoryBudget.hostAvailable(), "the test needs a model larger than this machine's memory");
        io.lowbit.torch.TestHooks.settleCleaner();
        long before = Torch.liveTensors();
        long t0 = System.nanoTime();
        CheckpointException e = assertThrows(
                CheckpointException.class, () -> RandomModel.create(c, "random:enormous", Device.cpu(), 1));
        assertTrue((System.nanoTime() - t0) / 1e9 < 2, "refused at once, not after allocating");
        assertEquals(before, Torch.liveTensors(), "nothing was allocated");
        String m = e.getMessage();
        assertTrue(
                m.contains("random:enormous")
                        && m.contains(DType.F32.toString())
                        && m.contains("host memory")
                        && m.contains("free"),
                m);
        assertTrue(m.contains(MemoryBudget.gb(need)), "the size it needs, " + MemoryBudget.gb(need) + ": " + m);
    }

    @Test
    void theRefusalSaysWhichSmallerDtypeWouldFit() {
        long free = MemoryBudget.hostAvailable();
        assertTrue(free > 0, "Linux reports MemAvailable");
        // a config whose float32 weights need about 1.6× the free memory: bf16 (about 0.8×) fits
        Config one = new Config(
                Config.Architecture.LLAMA,
                512,
                2048,
                8192,
                1,
                16,
                4,
                128,
                256,
                10000,
                null,
                1e-5,
                true,
                1,
                2,
                DType.F32);
        long perLayer = one.parameterCount();
        int layers = (int) Math.max(1, (long) (free * 1.6 / 4) / perLayer);
        Config c = new Config(
                Config.Architecture.LLAMA,
                512,
                2048,
                8192,
                layers,
                16,
                4,
                128,
                256,
                10000,
                null,
                1e-5,
                true,
                1,
                2,
                DType.F32);
        long f32 = MemoryBudget.bytes(c, DType.F32), bf16 = MemoryBudget.bytes(c, DType.BF16);
        org.junit.jupiter.api.Assumptions.assumeTrue(
                f32 > free && bf16 < free * 0.9, "free memory moved too much meanwhile");
        var e = assertThrows(
                CheckpointException.class, () -> MemoryBudget.ensureFits("random:x", c, DType.F32, Device.cpu()));
        assertTrue(
                e.getMessage().contains("It would fit as " + DType.BF16)
                        && e.getMessage().contains(".as(DType.BF16)"),
                e.getMessage());
    }

    @Test
    void aStopDuringARandomModelsTensorsLeavesNothingAllocated() {
        io.lowbit.torch.TestHooks.settleCleaner();
        long before = Torch.liveTensors();
        Thread.currentThread().interrupt(); // the stop button: seen by the check before each tensor
        assertThrows(
                Interrupts.Cancelled.class,
                () -> RandomModel.create(RandomModel.preset("tiny"), "random:tiny", Device.cpu(), 1));
        assertTrue(!Thread.currentThread().isInterrupted(), "the interrupt was taken, not left for the next cell");
        io.lowbit.torch.TestHooks.settleCleaner();
        assertEquals(before, Torch.liveTensors(), "no half-made model stays allocated");
        try (Model m = Models.load("random:tiny")) {
            assertEquals(2, m.blocks().size(), "the next load works");
        }
    }

    @Test
    void aStopPendingWhenAFolderOrLlama2cLoadStartsIsAStopNotAnIoError(@TempDir Path dir) {
        try (Model m = RandomModel.create("tiny", Device.defaultDevice(), DType.F32, 1)) {
            Models.save(m, dir);
        }
        for (String spec : new String[] {dir.toString(), TestData.stories260K().toString()}) {
            io.lowbit.torch.TestHooks.settleCleaner();
            long before = Torch.liveTensors();
            Thread.currentThread().interrupt();
            assertThrows(Interrupts.Cancelled.class, () -> Models.load(spec), spec);
            io.lowbit.torch.TestHooks.settleCleaner();
            assertEquals(before, Torch.liveTensors(), spec + ": no half-loaded model stays allocated");
        }
    }
}
