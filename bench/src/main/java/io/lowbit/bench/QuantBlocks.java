package io.lowbit.bench;

import io.lowbit.data.Calibration;
import io.lowbit.model.Config;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.quant.Claq;
import io.lowbit.quant.Gptq;
import io.lowbit.quant.Gradients;
import io.lowbit.quant.Grid;
import io.lowbit.quant.Keep;
import io.lowbit.quant.Mask;
import io.lowbit.quant.Method;
import io.lowbit.quant.Quantize;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Saliency;
import io.lowbit.quant.Tesseraq;
import io.lowbit.torch.Cuda;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Per-block cost of GPTQ and TesseraQ on Llama-3-8B-shaped blocks ({@code ./lowbit run
 * io.lowbit.bench.QuantBlocks [--blocks N] [--windows N] [--length T] [--iterations N] [--no-gptq]
 * [--no-tesseraq] [--claq]}): a random model of llama3-8b's shapes with N decoder blocks (default 2; every
 * block costs the same, so the whole model is 32 × a block), calibration = N random windows of T
 * tokens (128 × 2048). GPTQ per-row 4-bit and 3-bit group 128: seconds per block split into
 * Hessian collection, column sweep and propagation. TesseraQ W2 g128 on the full 20 thresholds with
 * {@code iterations} per round (default 25; TesseraQ's configurations use 250): seconds for
 * initialisation (AWQ and clip) and per training iteration, and the projected full-schedule block
 * and model. Peak GPU memory for each. {@code --tacq} adds TaCQ end to end per phase; {@code --claq} adds
 * CLAQ W2 (Wang et al., arXiv 2405.17233: act-order, Lloyd's K-means per column) beside GPTQ W3 per row
 * with act-order, CLAQ's own protocol, per phase, and their ratio per block;
 * {@code --host} keeps the model in host memory and streams the work to the GPU
 * ({@code --chunk N} sequences per gradient chunk, default 16; {@code --grad-dtype bf16} for 16-bit
 * gradients; {@code --blocks 32} is the whole 8B model). Prints a markdown table.
 */
public final class QuantBlocks {
    private QuantBlocks() {}

    public static void main(String[] args) {
        int blocks = 2, windows = 128, length = 2048, iterations = 25;
        boolean gptq = true, tesseraq = true;
        String preset = "llama3-8b";
        boolean fused = true, tacq = false, host = false, claq = false;
        int chunk = 16;
        DType gradDtype = DType.F32;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--blocks" -> blocks = Integer.parseInt(args[++i]);
                case "--windows" -> windows = Integer.parseInt(args[++i]);
                case "--length" -> length = Integer.parseInt(args[++i]);
                case "--iterations" -> iterations = Integer.parseInt(args[++i]);
                case "--no-gptq" -> gptq = false;
                case "--no-tesseraq" -> tesseraq = false;
                case "--preset" -> preset = args[++i];
                case "--unfused" -> fused = false;
                case "--tacq" -> tacq = true;
                case "--claq" -> claq = true;
                case "--host" -> host = true;
                case "--chunk" -> chunk = Integer.parseInt(args[++i]);
                case "--grad-dtype" -> gradDtype = DType.valueOf(args[++i].toUpperCase(Locale.ROOT));
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Device d = Device.defaultDevice();
        Config l3 = RandomModel.preset(preset);
        Config c = new Config(
                l3.architecture(),
                l3.vocabSize(),
                l3.hiddenSize(),
                l3.intermediateSize(),
                blocks,
                l3.numHeads(),
                l3.numKvHeads(),
                l3.headDim(),
                l3.maxPositions(),
                l3.ropeTheta(),
                l3.ropeScaling(),
                l3.rmsNormEps(),
                false,
                1,
                2,
                d.isCuda() ? DType.BF16 : DType.F32);
        Random rnd = new Random(0);
        List<int[]> seqs = new ArrayList<>();
        for (int w = 0; w < windows; w++) {
            int[] s = new int[length];
            for (int t = 0; t < length; t++) s[t] = rnd.nextInt(c.vocabSize());
            seqs.add(s);
        }
        Calibration cal = Calibration.examples("random " + windows + "x" + length, seqs);
        List<String> rows = new ArrayList<>();
        int fullLayers = l3.numLayers();
        try (Model m = create(c, "random:" + preset + "-" + blocks + "-blocks", d, host)) {
            System.err.println(m + " on " + d + "; calibration " + cal);
            if (gptq) {
                for (Grid g : List.of(Grid.bits(4), Grid.bits(3).groups(128))) {
                    resetPeak(d);
                    try (QuantizedModel q = Quantize.run(m, g, Gptq.Options.defaults(), cal, null, Progress.NONE, d)) {
                        var p = q.phases();
                        double h = p.getOrDefault("hessian", 0.0) / blocks,
                                s = p.getOrDefault("sweep", 0.0) / blocks,
                                prop = p.getOrDefault("propagate", 0.0) / blocks;
                        rows.add(String.format(
                                Locale.ROOT,
                                "| GPTQ %s | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f |",
                                g,
                                h,
                                s,
                                prop,
                                q.seconds() / blocks,
                                q.seconds() / blocks * fullLayers / 60,
                                peakGiB(d)));
                        System.err.println(rows.getLast());
                    }
                }
            }
            if (tacq) tacq(m, cal, d, blocks, fullLayers, rows, gradDtype, chunk);
            if (claq) claq(m, cal, d, blocks, fullLayers, rows);
            if (tesseraq) {
                Grid g = Grid.bits(2).groups(128);
                Tesseraq.Options o = Tesseraq.Options.defaults()
                        .noCheckpoints()
                        .iterations(iterations)
                        .fusedKernels(fused);
                List<long[]> marks = Collections.synchronizedList(new ArrayList<>());
                long t0 = System.nanoTime();
                int iters = iterations;
                Progress timing = new Progress() {
                    @Override
                    public void update(String what, long done, long total) {}

                    @Override
                    public void update(String what, String detail, long done, long total) {
                        marks.add(new long[] {done, System.nanoTime()});
                        if (done % 50 == 0 || done % iters == 0)
                            System.err.printf(
                                    Locale.ROOT,
                                    "%s %s %d/%d at %.1f s%n",
                                    what,
                                    detail,
                                    done,
                                    total,
                                    (System.nanoTime() - t0) / 1e9);
                    }
                };
                resetPeak(d);
                try (QuantizedModel q = Tesseraq.run(m, g, cal, o, timing, d)) {
                    double perIteration = secondsPerIteration(marks, iterations);
                    for (Tesseraq.BlockLoss b : q.reconstruction()) {
                        double training = perIteration * o.thresholds().size() * iterations;
                        double fixed = b.seconds() - training; // initialisation, hardening, the two full evaluations
                        double full = fixed + perIteration * o.thresholds().size() * 250;
                        rows.add(String.format(
                                Locale.ROOT,
                                "| TesseraQ %s block %d (%d×%d its%s) | init+eval %.1f | %.1f ms/it | | %.1f (full 20×250: %.1f) | %.1f | %.1f |",
                                g,
                                b.block(),
                                o.thresholds().size(),
                                iterations,
                                fused ? "" : ", ATen ops",
                                fixed,
                                perIteration * 1e3,
                                b.seconds(),
                                full,
                                full * fullLayers / 60,
                                peakGiB(d)));
                        System.err.println(rows.getLast());
                    }
                }
            }
        }
        System.out.println();
        System.out.println(preset + "-shaped blocks (random weights), " + cal + ", on " + d);
        System.out.println(
                "| run | Hessian s/block | sweep s/block | propagate s/block | total s/block | whole model (min) | peak GiB |");
        System.out.println("|---|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
    }

    /**
     * The random model on {@code d}; with {@code host}, made there (quickly) and then moved to host
     * memory, where an 8B model stays while the work goes to the GPU block by block.
     */
    static Model create(Config c, String name, Device d, boolean host) {
        Model m = RandomModel.create(c, name, d, 0);
        if (!host || !d.isCuda()) return m;
        try (m) {
            return m.to(Device.cpu());
        }
    }

    /**
     * CLAQ W2 and, in the same run on the same model and calibration, GPTQ W3 per row with act-order:
     * seconds per block by phase, and CLAQ's total per block over GPTQ's.
     */
    static void claq(Model m, Calibration cal, Device d, int blocks, int fullLayers, List<String> rows) {
        double[] total = new double[2];
        Object[][] runs = {{Grid.bits(3), Gptq.Options.defaults().actOrder()}, {Grid.bits(2), Claq.Options.defaults()}};
        for (int k = 0; k < runs.length; k++) {
            Grid g = (Grid) runs[k][0];
            Method method = (Method) runs[k][1];
            resetPeak(d);
            try (QuantizedModel q = Quantize.run(m, g, method, cal, null, Progress.NONE, d)) {
                var p = q.phases();
                total[k] = q.seconds() / blocks;
                rows.add(String.format(
                        Locale.ROOT,
                        "| %s %s | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f |",
                        method.label(),
                        g,
                        p.getOrDefault("hessian", 0.0) / blocks,
                        p.getOrDefault("sweep", 0.0) / blocks,
                        p.getOrDefault("propagate", 0.0) / blocks,
                        total[k],
                        total[k] * fullLayers / 60,
                        peakGiB(d)));
                System.err.println(rows.getLast());
            }
        }
        rows.add(String.format(
                Locale.ROOT, "| CLAQ W2 / GPTQ act-order W3, per block | | | | %.2f× | | |", total[1] / total[0]));
        System.err.println(rows.getLast());
    }

    /**
     * TaCQ end to end as the DSL runs it (arXiv 2504.07389): Σ_s|∂L_s/∂W| in {@code gradDtype} (float32,
     * the default of the official code, The-Inscrutable-X/TACQ measure_importances.py) over the
     * calibration sequences, Q_ref = unmasked GPTQ at 3 bits per row with the MSE search, TaCQ scores of
     * every weight and a global top 0.35 %, then masked GPTQ. With the model in host memory (--host) the
     * work is on the GPU block by block: gradients streamed in chunks of {@code chunk} sequences, scores
     * one linear at a time, masks in host memory. Seconds and peak GPU memory per phase, scaled to the
     * whole model when these are fewer blocks.
     */
    static void tacq(
            Model m,
            Calibration cal,
            Device d,
            int blocks,
            int fullLayers,
            List<String> rows,
            DType gradDtype,
            int chunk) {
        Grid g = Grid.bits(3).mse();
        boolean streamed = !m.device().equals(d);
        System.err.println("TaCQ: model on " + m.device() + ", work on " + d
                + (streamed ? ", gradients streamed in chunks of " + chunk : ""));
        Phases p = new Phases(d);
        try (Gradients grads = streamed
                ? Gradients.streamed(m, cal, gradDtype, false, Progress.NONE, d, chunk)
                : Gradients.compute(m, cal, gradDtype, false, Progress.NONE)) {
            p.end("gradients");
            System.err.println("  gradient phases (s): " + grads.phases());
            try (QuantizedModel ref = Quantize.run(m, g, Gptq.Options.defaults(), cal, null, Progress.NONE, d)) {
                p.end("Q_ref");
                System.err.println("  Q_ref phases (s): " + ref.phases());
                Saliency sal = new Saliency(m, grads, ref, null, null);
                try (Mask mask =
                        Keep.global(sal.linears(), l -> sal.scores(Saliency.Score.TACQ, l, d), 0.0035, m.device())) {
                    p.end("scores + top-k");
                    try (QuantizedModel q = Quantize.run(m, g, Gptq.Options.defaults(), cal, mask, Progress.NONE, d)) {
                        p.end("masked GPTQ");
                    }
                }
            }
        }
        double[] s = p.seconds, peak = p.peaks;
        double total = s[0] + s[1] + s[2] + s[3];
        double scale =
                (double) fullLayers / blocks; // the embedding and lm_head parts scaled as if per layer: an overestimate
        rows.add(String.format(
                Locale.ROOT,
                "| TaCQ W3 mse, 0.35 %% kept, %d blocks, %s gradients%s | gradients %.1f s (%.1f GiB) | Q_ref %.1f s (%.1f GiB) | "
                        + "scores + top-k %.1f s (%.1f GiB) | masked GPTQ %.1f s (%.1f GiB) | total %.1f s%s | %.1f |",
                blocks,
                gradDtype,
                streamed ? ", model in host memory" : "",
                s[0],
                peak[0],
                s[1],
                peak[1],
                s[2],
                peak[2],
                s[3],
                peak[3],
                total,
                blocks == fullLayers
                        ? String.format(Locale.ROOT, " = %.1f min", total / 60)
                        : String.format(Locale.ROOT, " (×%d/%d: %.1f min)", fullLayers, blocks, total * scale / 60),
                Math.max(Math.max(peak[0], peak[1]), Math.max(peak[2], peak[3]))));
        System.err.println(rows.getLast());
    }

    /** Seconds and peak GPU memory (GiB) of consecutive phases, each measured from the end of the last. */
    static final class Phases {
        final Device d;
        final double[] seconds = new double[8], peaks = new double[8];
        int n;
        double mark;

        Phases(Device d) {
            this.d = d;
            resetPeak(d);
            mark = now(d);
        }

        void end(String what) {
            double t = now(d);
            seconds[n] = t - mark;
            peaks[n] = peakGiB(d);
            System.err.printf(Locale.ROOT, "  %s: %.1f s, peak %.1f GiB%n", what, seconds[n], peaks[n++]);
            resetPeak(d);
            mark = now(d);
        }
    }

    static double now(Device d) {
        if (d.isCuda()) Cuda.synchronize(d.index());
        return System.nanoTime() / 1e9;
    }

    /** The median time between progress marks 10 iterations apart inside a round (no hardening in between). */
    static double secondsPerIteration(List<long[]> marks, int iterations) {
        List<Double> per = new ArrayList<>();
        for (int k = 1; k < marks.size(); k++) {
            long[] a = marks.get(k - 1), b = marks.get(k);
            long its = b[0] - a[0];
            if (its <= 0 || its > 10 || a[0] % iterations == 0) continue; // skip spans that cross a round's start
            per.add((b[1] - a[1]) / 1e9 / its);
        }
        if (per.isEmpty()) return Double.NaN;
        Collections.sort(per);
        return per.get(per.size() / 2);
    }

    static void resetPeak(Device d) {
        if (d.isCuda()) {
            Cuda.synchronize(d.index());
            Cuda.resetPeakMemory(d.index());
        }
    }

    static double peakGiB(Device d) {
        return d.isCuda() ? Cuda.maxMemoryAllocated(d.index()) / (double) (1L << 30) : Double.NaN;
    }
}
