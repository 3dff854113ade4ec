package io.lowbit.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Scopes free what was made in them; memory returns to its baseline. */
class MemoryTest {
    private static long residentBytes() throws IOException {
        String[] statm = Files.readString(Path.of("/proc/self/statm")).trim().split(" ");
        return Long.parseLong(statm[1]) * 4096;
    }

    private static long deviceBytes() {
        Device d = Device.defaultDevice();
        return d.isCuda() ? Cuda.memoryAllocated(d.index()) : 0;
    }

    /** Runs the garbage collector until the Cleaner has nothing left to free. */
    static void settleCleaner() {
        long last = -1;
        for (int stable = 0, i = 0; stable < 3 && i < 100; i++) {
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            long now = Torch.liveTensors();
            stable = now == last ? stable + 1 : 0;
            last = now;
        }
    }

    private static void churn(int rounds) {
        for (int i = 0; i < rounds; i++) {
            try (Scope s = Scope.open()) {
                Tensor a = Torch.randn(64, 64);
                Tensor b = a.matmul(a).add(1).relu().sum(0); // 10,000 rounds × 5 tensors
                b.mean();
            }
        }
    }

    @Test
    void tenThousandTensorsInScopesLeaveNothingBehind() throws IOException {
        churn(500); // warm up allocator caches and JIT
        settleCleaner(); // earlier tests' forgotten tensors must not be freed during the measurement
        long handles = Torch.liveTensors(), rss = residentBytes(), device = deviceBytes();
        churn(10_000);
        assertEquals(handles, Torch.liveTensors(), "tensor handles alive");
        assertEquals(device, deviceBytes(), "device bytes allocated");
        long grown = residentBytes() - rss;
        // 50,000 tensors of 16 KiB would be 800 MiB if leaked; allow allocator noise
        assertTrue(grown < 64L << 20, "resident memory grew by " + (grown >> 20) + " MiB");
    }

    @Test
    void keepMovesATensorToTheEnclosingScope() {
        settleCleaner();
        long before = Torch.liveTensors();
        try (Scope outer = Scope.open()) {
            Tensor kept;
            try (Scope inner = Scope.open()) {
                Tensor tmp = Torch.ones(3);
                kept = inner.keep(tmp.mul(2));
                assertSame(tmp, tmp);
            }
            assertEquals(6.0, kept.sum().item());
            assertEquals(before + 2, Torch.liveTensors(), "kept and its sum live in the outer scope");
            assertEquals(2, outer.size());
        }
        assertEquals(before, Torch.liveTensors());
    }

    @Test
    void closingEarlyLeavesTheScopeConsistent() {
        settleCleaner();
        long before = Torch.liveTensors();
        try (Scope s = Scope.open()) {
            Tensor a = Torch.ones(2);
            a.close();
            assertEquals(0, s.size());
            Torch.ones(2);
        }
        assertEquals(before, Torch.liveTensors());
    }

    @Test
    void theCleanerFreesForgottenTensors() throws InterruptedException {
        settleCleaner();
        long before = Torch.liveTensors();
        for (int i = 0; i < 1000; i++) Torch.ones(4); // no scope, never closed
        for (int i = 0; i < 50 && Torch.liveTensors() > before; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertEquals(before, Torch.liveTensors());
    }
}
