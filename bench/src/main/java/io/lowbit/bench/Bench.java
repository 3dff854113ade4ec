package io.lowbit.bench;

import io.lowbit.model.Generation;
import io.lowbit.model.Model;
import io.lowbit.model.RandomModel;
import io.lowbit.torch.Cuda;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The benchmark table ({@code ./lowbit bench}): one row per measurement, medians of repeated
 * timings after warm-up, device work synchronised before the clock is read. Options:
 * {@code --device cpu|cuda}, {@code --quick} (smaller sizes), {@code --matmul N}.
 */
public final class Bench {
    private Bench() {}

    record Row(String what, String size, double value, String unit) {}

    public static void main(String[] args) {
        Device device = Device.defaultDevice();
        boolean quick = false;
        Integer matmulSize = null;
        String preset = null;
        boolean engineOnly = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> device = Device.parse(args[++i]);
                case "--quick" -> quick = true;
                case "--matmul" -> matmulSize = Integer.parseInt(args[++i]);
                case "--model" -> preset = args[++i];
                case "--engine-only" -> engineOnly = true;
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + " (use --device, --quick, --matmul N, --model PRESET, --engine-only)");
            }
        }
        Device.setDefault(device);
        List<Row> rows = new ArrayList<>();
        engine(device, quick, matmulSize, rows);
        if (!engineOnly) model(device, preset != null ? preset : device.isCuda() ? "llama3-8b" : "tiny", rows);
        print(device, rows);
    }

    static void engine(Device device, boolean quick, Integer matmulSize, List<Row> rows) {
        try (Scope scope = Scope.open()) {
            DType dt = device.isCuda() ? DType.BF16 : DType.F32;
            int n = matmulSize != null ? matmulSize : device.isCuda() ? (quick ? 4096 : 8192) : (quick ? 512 : 1024);
            Tensor a = Torch.randn(dt, device, n, n), b = Torch.randn(dt, device, n, n);
            double s = median(device, device.isCuda() ? 20 : 5, () -> {
                a.matmul(b).close();
                return 1;
            });
            rows.add(new Row("matmul " + dt, n + "^3", 2.0 * n * n * n / s / 1e12, "TFLOP/s"));

            Tensor tiny = Torch.ones(DType.F32, device, 4);
            int ops = 20_000;
            double t = median(device, 5, () -> {
                for (int i = 0; i < ops; i++) tiny.add(1).close();
                return ops;
            });
            rows.add(new Row("tiny op: add, made and freed", "4 elements", t / ops * 1e6, "us/op"));

            if (device.isCuda()) {
                Tensor host = Torch.randn(DType.F32, Device.CPU, 64L << 20);
                double up = median(device, 5, () -> {
                    host.to(device).close();
                    return 1;
                });
                rows.add(new Row("copy host -> " + device, "256 MiB", 256.0 / 1024 / up, "GiB/s"));
            }
        }
    }

    /**
     * A random model at real shapes: forward + backward (every weight requires grad, as a PyTorch
     * module's parameters do) at 1 and 4 sequences of 2048 tokens, and greedy generation at batch 1 and 32.
     */
    static void model(Device device, String preset, List<Row> rows) {
        DType dt = device.isCuda() ? DType.BF16 : DType.F32;
        int t = device.isCuda() ? 2048 : 128;
        try (Model m = RandomModel.create(preset, device, dt, 0)) {
            for (Tensor w : m.weights().values()) w.requiresGrad(true);
            for (int b : new int[] {1, 4}) {
                try (Scope s = Scope.open()) {
                    Tensor tokens = Torch.rand(DType.F32, device, b, t)
                            .mul(m.config().vocabSize() - 1)
                            .to(DType.I64);
                    if (device.isCuda()) Cuda.resetPeakMemory(device.index());
                    double sec = median(device, 3, () -> {
                        try (Scope inner = Scope.open()) {
                            m.loss(tokens, null).backward();
                        }
                        for (Tensor w : m.weights().values()) w.zeroGrad();
                        return 1;
                    });
                    rows.add(new Row("fwd+bwd random:" + preset + " " + dt, b + "x" + t, b * t / sec, "tokens/s"));
                    if (device.isCuda())
                        rows.add(new Row(
                                "  peak GPU memory", b + "x" + t, Cuda.maxMemoryAllocated(device.index()) / 1e9, "GB"));
                }
            }
            for (Tensor w : m.weights().values()) w.requiresGrad(false);
            int fresh = device.isCuda() ? 128 : 32;
            for (int b : new int[] {1, 32}) {
                int[][] prompts = new int[b][16];
                for (int[] p : prompts) for (int i = 0; i < 16; i++) p[i] = 100 + i;
                // EOS never comes from random weights in 128 steps often enough to matter; count what was made
                long[] made = new long[1];
                double sec = median(device, 3, () -> {
                    var out = Generation.generateTokens(m, prompts, Generation.Options.greedy(fresh));
                    made[0] = java.util.Arrays.stream(out.tokens())
                            .mapToLong(x -> x.length)
                            .sum();
                    return 1;
                });
                rows.add(new Row("generate greedy, KV cache", "batch " + b, made[0] / sec, "tokens/s"));
            }
        }
    }

    /** Median seconds of {@code reps} timed runs after two warm-ups. */
    static double median(Device device, int reps, LongSupplier body) {
        for (int i = 0; i < 2; i++) body.getAsLong();
        sync(device);
        double[] times = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            body.getAsLong();
            sync(device);
            times[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(times);
        return times[reps / 2];
    }

    static void sync(Device d) {
        if (d.isCuda()) Cuda.synchronize(d.index());
    }

    static void print(Device device, List<Row> rows) {
        System.out.printf(Locale.ROOT, "%nLowbit bench — libtorch %s on %s%n", Torch.version(), device);
        System.out.printf(Locale.ROOT, "| %-34s | %-12s | %12s | %-8s |%n", "measurement", "size", "value", "unit");
        System.out.printf(
                Locale.ROOT, "|%s|%s|%s|%s|%n", "-".repeat(36), "-".repeat(14), "-".repeat(14), "-".repeat(10));
        for (Row r : rows)
            System.out.printf(
                    Locale.ROOT, "| %-34s | %-12s | %12.3f | %-8s |%n", r.what(), r.size(), r.value(), r.unit());
    }
}
