package io.lowbit.torch;

import java.util.Locale;

/**
 * A short tour of the engine, run by {@code ./lowbit demo}: what it runs on, a matrix product
 * checked against plain Java, a gradient checked against its formula, and two timings.
 * {@code --info} prints only the facts.
 */
public final class EngineDemo {
    private EngineDemo() {}

    public static void main(String[] args) {
        Device device = Device.defaultDevice();
        System.out.printf(
                "Lowbit engine%n  libtorch     %s%n  device       %s (CUDA devices: %d, our CUDA kernels: %s)%n"
                        + "  fused SDPA   %s%n",
                Torch.version(),
                device,
                Cuda.deviceCount(),
                Torch.hasCudaKernels() ? "built" : "not built",
                Torch.hasScaledDotProductAttention() ? "yes" : "no (explicit attention fallback)");
        if (args.length > 0 && args[0].equals("--info")) return;

        try (Scope scope = Scope.open()) {
            // 1. a product checked against plain Java
            int n = 64;
            double[] a = new double[n * n], b = new double[n * n];
            java.util.Random r = new java.util.Random(1);
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextGaussian();
                b[i] = r.nextGaussian();
            }
            double[] got = Torch.tensor(a, n, n).matmul(Torch.tensor(b, n, n)).toDoubleArray();
            double worst = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
                    worst = Math.max(worst, Math.abs(s - got[i * n + j]));
                }
            System.out.printf(Locale.ROOT, "  matmul 64x64 float64: largest difference from plain Java %.1e%n", worst);

            // 2. autograd: d/dw Σ (w·x)² = 2 (w·x) x
            Tensor w = Torch.tensor(new double[] {0.5, -1, 2}, 3).requiresGrad(true);
            Tensor x = Torch.tensor(new double[] {1, 2, 3}, 3);
            w.mul(x).sum().square().backward();
            System.out.printf(
                    Locale.ROOT,
                    "  gradient of (w.x)^2 at w=(0.5,-1,2), x=(1,2,3): %s (expected [9, 18, 27])%n",
                    java.util.Arrays.toString(w.grad().toDoubleArray()));

            // 3. two timings: a large product, and a tiny op's round trip
            DType dt = device.isCuda() ? DType.BF16 : DType.F32;
            int m = device.isCuda() ? 8192 : 1024;
            Tensor p = Torch.randn(dt, device, m, m), q = Torch.randn(dt, device, m, m);
            p.matmul(q).close();
            sync(device);
            int reps = device.isCuda() ? 20 : 3;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) p.matmul(q).close();
            sync(device);
            double seconds = (System.nanoTime() - t0) / 1e9 / reps;
            System.out.printf(
                    Locale.ROOT, "  matmul %dx%d %s: %.1f GFLOP/s%n", m, m, dt, 2.0 * m * m * m / seconds / 1e9);
            Tensor tiny = Torch.ones(DType.F32, device, 4);
            for (int i = 0; i < 20_000; i++) tiny.add(1).close();
            long t1 = System.nanoTime();
            for (int i = 0; i < 100_000; i++) tiny.add(1).close();
            sync(device);
            System.out.printf(
                    Locale.ROOT,
                    "  tiny op (add on 4 elements, made and freed): %.1f us each%n",
                    (System.nanoTime() - t1) / 1e3 / 100_000);
        }
    }

    private static void sync(Device d) {
        if (d.isCuda()) Cuda.synchronize(d.index());
    }
}
