package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.torch.Cuda;
import io.lowbit.torch.Device;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The verbs' caches are bounded by entries and bytes, free what they evict, and key TaCQ's tensors by device. */
class CachesTest {
    @AfterEach
    void restore() {
        Caches.limit(Caches.Limits.defaults());
        clearCaches();
    }

    @Test
    void leastRecentlyUsedGoesFirstByEntriesAndByBytesAndIsFreed() {
        List<String> freed = new ArrayList<>();
        int[] entries = {3};
        long[] bytes = {100};
        var c = new BoundedCache<String>(() -> entries[0], () -> bytes[0], v -> v.length() * 10L, freed::add);
        c.put("a", "aa");
        c.put("b", "bb");
        c.put("c", "cc");
        assertEquals("aa", c.get("a")); // a is now the most recent: b is the eldest
        c.put("d", "dd");
        assertEquals(List.of("bb"), freed, "over 3 entries: the least recently used is evicted and freed");
        assertEquals(3, c.size());
        assertEquals(60, c.bytes());
        c.put("e", "eeeeee"); // 60 bytes: 120 in all, over 100
        assertEquals(List.of("bb", "cc"), freed, "over the bytes: eldest first until within 100");
        assertEquals(3, c.size());
        assertEquals(100, c.bytes());
        bytes[0] = 10;
        c.put("f", "ffffffffffff"); // 120 bytes alone
        assertEquals(List.of("bb", "cc", "aa", "dd", "eeeeee"), freed);
        assertEquals(1, c.size(), "the newest stays even alone over the limit");
        assertEquals("ffffffffffff", c.computeIfAbsent("f", k -> "computed"));
        c.clear();
        assertEquals(List.of("bb", "cc", "aa", "dd", "eeeeee", "ffffffffffff"), freed, "clear frees the rest");
        assertEquals(0, c.bytes());
    }

    @Test
    void tacqGradientsAndQrefAreBoundedAndWhatIsEvictedIsFreed() {
        setProgress(() -> Progress.NONE);
        try (Model m = load("stories260K")) {
            Caches.limit(new Caches.Limits(1, Long.MAX_VALUE, 1, Long.MAX_VALUE, 1, Long.MAX_VALUE, 1024));
            Calibration a = calibrate(m, tinystoriesTrain(), 2, 32), b = calibrate(m, tinystoriesTrain(), 3, 32);
            Scores first = saliency(m, a, TACQ, bits(3).mse());
            String linear = first.saliency().linears().get(0);
            first.saliency().scores(TACQ, linear).close(); // usable while cached
            saliency(m, b, TACQ, bits(3).mse());
            assertEquals(1, Tacq.cached()[0], "one gradient set kept");
            assertEquals(1, Tacq.cached()[1], "one Q_ref kept");
            var e = assertThrows(
                    IllegalStateException.class,
                    () -> first.saliency().scores(TACQ, linear),
                    "the evicted gradients and Q_ref were freed");
            assertTrue(e.getMessage().contains("after close"), e.getMessage());
            // by bytes: a limit below one set keeps only the newest
            clearCaches();
            Caches.limit(new Caches.Limits(10, 1, 10, 1, 10, 1, 1024));
            saliency(m, a, GRADIENT, bits(3).mse());
            saliency(m, b, GRADIENT, bits(3).mse());
            assertEquals(1, Tacq.cached()[0], "over the byte limit only the newest stays");
        }
    }

    @Test
    void evalResultsAreBounded() {
        setProgress(() -> Progress.NONE);
        try (Model m = load("stories260K")) {
            Caches.limit(new Caches.Limits(2, Long.MAX_VALUE, 6, Long.MAX_VALUE, 2, Long.MAX_VALUE, 2));
            for (int window : new int[] {16, 32, 64})
                eval(m, perplexity(tinystories()).window(window).first(1));
            assertEquals(2, Evaluate.cached(), "the two most recent results");
        }
    }

    @Test
    void theTacqKeyNamesWhereTheModelAndTheWorkLive() {
        Calibration cal = new Calibration("c", List.of(new int[] {1, 2, 3}));
        String fp = "m@0";
        assertNotEquals(
                Tacq.key(fp, cal, Device.cuda(0), Device.cuda(0)), Tacq.key(fp, cal, Device.cpu(), Device.cuda(0)));
        assertNotEquals(Tacq.key(fp, cal, Device.cpu(), Device.cuda(0)), Tacq.key(fp, cal, Device.cpu(), Device.cpu()));
        assertEquals(Tacq.key(fp, cal, Device.cpu(), Device.cpu()), Tacq.key(fp, cal, Device.cpu(), Device.cpu()));
    }

    @Test
    void aHostCopyOfAGpuModelGetsItsOwnQrefInHostMemory() {
        assumeTrue(Cuda.isAvailable(), "needs a GPU: a host copy and a GPU model only differ there");
        setProgress(() -> Progress.NONE);
        try (Model m = Models.load("stories260K", Models.Options.defaults().on(Device.cuda()))) {
            Calibration cal = calibrate(m, tinystoriesTrain(), 2, 32);
            Scores onGpu = saliency(m, cal, TACQ, bits(3).mse());
            try (Model host = m.to(Device.cpu())) {
                assertEquals(m.fingerprint(), host.fingerprint(), "the same weights");
                Scores inHost = saliency(host, cal, TACQ, bits(3).mse()); // no clearCaches() in between
                assertEquals(
                        Device.cpu(),
                        inHost.saliency()
                                .reference()
                                .model()
                                .linears()
                                .get(0)
                                .weight()
                                .device());
                assertTrue(onGpu.saliency()
                        .reference()
                        .model()
                        .linears()
                        .get(0)
                        .weight()
                        .device()
                        .isCuda());
            }
        }
    }
}
