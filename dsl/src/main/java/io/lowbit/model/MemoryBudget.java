package io.lowbit.model;

import io.lowbit.torch.Cuda;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A load is compared with the memory it would land in before any tensor is made, so a model that
 * cannot fit fails at once with what would fit, instead of swapping or dying half-loaded.
 */
public final class MemoryBudget {
    private MemoryBudget() {}

    /** Set to false (e.g. -Dlowbit.memoryCheck=false) to skip the check, for machines that overcommit on purpose. */
    static boolean enabled() {
        return !"false".equals(System.getProperty("lowbit.memoryCheck", System.getenv("LOWBIT_MEMORY_CHECK")));
    }

    /** Bytes of the weights of {@code c} stored as {@code dtype}. */
    public static long bytes(Config c, DType dtype) {
        return Math.multiplyExact(c.parameterCount(), (long) dtype.bytes);
    }

    /**
     * Throws {@link CheckpointException} when the weights of {@code c} as {@code dtype} do not fit in
     * what {@code device} has free; the message names the size, the free memory and what would fit.
     */
    public static void ensureFits(String what, Config c, DType dtype, Device device) {
        if (!enabled()) return;
        long need;
        try {
            need = bytes(c, dtype);
        } catch (ArithmeticException e) {
            throw new CheckpointException(
                    what + ": " + c.parameterCount() + " parameters do not fit in 64-bit byte counts");
        }
        long free = free(device);
        if (free < 0 || need <= free) return;
        List<String> fits = new ArrayList<>();
        for (DType d : List.of(DType.BF16, DType.F16))
            if (d != dtype && bytes(c, d) <= free)
                fits.add(
                        "as " + d + " (" + gb(bytes(c, d)) + ": Models.Options.defaults().as(DType." + d.name() + "))");
        if (!device.isCuda() && Cuda.isAvailable()) {
            long gpu = free(Device.cuda(0));
            if (gpu >= need) fits.add("on the GPU (" + gb(gpu) + " free: Models.Options.defaults().on(Device.cuda()))");
        }
        if (device.isCuda())
            fits.add("in host memory, where quantize and TaCQ stream one block at a time to the GPU "
                    + "(Models.Options.defaults().on(Device.cpu()))");
        throw new CheckpointException(String.format(
                Locale.ROOT,
                "%s: %s weights as %s need %s but %s has %s free%s",
                what,
                count(c.parameterCount()),
                dtype,
                gb(need),
                device.isCuda() ? device.toString() : "host memory",
                gb(free),
                fits.isEmpty() ? "; nothing smaller fits either" : ". It would fit " + String.join(", or ", fits)));
    }

    /** Free bytes on the device, or -1 when unknown (then nothing is refused). */
    static long free(Device device) {
        if (device.isCuda()) {
            try {
                return Cuda.freeMemory(device.index());
            } catch (RuntimeException e) {
                return -1;
            }
        }
        return hostAvailable();
    }

    /** Linux's MemAvailable: what can be allocated without swapping. */
    static long hostAvailable() {
        // a FileInputStream, not a channel: an interrupt pending for the load must reach its own check
        try (var in = new java.io.FileInputStream("/proc/meminfo")) {
            for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).split("\n"))
                if (line.startsWith("MemAvailable:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | RuntimeException e) {
            // not Linux, or unreadable: no check
        }
        return -1;
    }

    static String gb(long bytes) {
        return String.format(Locale.ROOT, "%.1f GB", bytes / 1e9);
    }

    private static String count(long n) {
        return n >= 1e9 ? String.format(Locale.ROOT, "%.2f B", n / 1e9) : String.format(Locale.ROOT, "%.1f M", n / 1e6);
    }
}
