package io.lowbit.quant;

import io.lowbit.data.Calibration;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * TesseraQ (Li &amp; Panda, arXiv 2410.19103), as its reference runs on llmc (ModelTC/llmc
 * llmc/compression/quantization/tesseraq.py): block by block, each linear's rounding becomes a soft
 * variable and each group's scale gets a multiplier ({@link SoftRounding}); the block is trained
 * with {@link Adam} against the full-precision block's output while Progressive Adaptive Rounding
 * hardens a growing share of the roundings round after round. Initialised from AWQ (scales and
 * clip, {@link Awq}), from the clip search alone, or from plain min-max; one call, no file hand-off.
 * Every finished block is saved, so a stopped run resumes where it was.
 *
 * <pre>{@code
 * Tesseraq.run(model, Grid.bits(2).groups(128), cal, Tesseraq.Options.defaults(), progress, Device.cuda())
 * }</pre>
 */
public final class Tesseraq {
    private Tesseraq() {}

    /** How the grid and weights are prepared before training. */
    public enum Init {
        /** AWQ's channel scales folded into the block, then its clip search (the reference's choice). */
        AWQ,
        /** The output-MSE clip search of AWQ alone, no channel scales (llmc's upstream template). */
        CLIP,
        /** Each group's own min and max. */
        MINMAX
    }

    /** The reference's 20 quantile thresholds τ (LLaMA-2, Llama-3.x W2/W3): round k trains the τ_k least certain roundings. */
    public static final List<Double> THRESHOLDS = List.of(
            0.8, 0.65, 0.5, 0.43, 0.38, 0.34, 0.3, 0.27, 0.24, 0.21, 0.18, 0.15, 0.12, 0.10, 0.08, 0.06, 0.04, 0.02,
            0.01, 0.005);

    /** The 10-round schedule of llmc's template and the W4 configs. */
    public static final List<Double> THRESHOLDS_10 =
            List.of(0.75, 0.5, 0.375, 0.25, 0.125, 0.09, 0.06, 0.04, 0.02, 0.005);

    /**
     * The schedule and optimiser. Defaults are the reference's (its LLaMA W2/W3 configs): 20 rounds ×
     * 250 iterations, Adam at 1e−3 for ν and for v (weight decay 1e−4 on v), 4 windows per iteration,
     * AWQ initialisation, seed 42. Checkpoints ({@code resumable}): every finished block is saved to
     * {@code checkpoints}, or when that is null to one folder per run (model, grid, calibration,
     * schedule) under $LOWBIT_CACHE/tesseraq, else ~/.cache/lowbit/tesseraq, so a stopped run
     * resumes there; {@link #noCheckpoints()} saves nothing. {@code hostChains} keeps both activation
     * chains in host memory when the GPU is short.
     */
    public record Options(
            List<Double> thresholds,
            int iterations,
            double lr,
            double scaleLr,
            double scaleWeightDecay,
            int batch,
            Init init,
            long seed,
            Path checkpoints,
            boolean resumable,
            boolean hostChains,
            boolean fusedKernels)
            implements Method {
        public Options {
            thresholds = List.copyOf(thresholds);
            if (thresholds.isEmpty()) throw new IllegalArgumentException("TesseraQ needs at least one threshold");
            double previous = 1;
            for (double t : thresholds) {
                if (!(t > 0 && t < 1)) throw new IllegalArgumentException("thresholds must lie in (0, 1), not " + t);
                if (t > previous) throw new IllegalArgumentException("thresholds must not increase: " + thresholds);
                previous = t;
            }
            if (iterations < 1) throw new IllegalArgumentException("iterations must be >= 1, not " + iterations);
            if (!(lr > 0) || !(scaleLr > 0) || scaleWeightDecay < 0)
                throw new IllegalArgumentException("learning rates must be > 0 and weight decay >= 0");
            if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, not " + batch);
            if (init == null) throw new IllegalArgumentException("init must be AWQ, CLIP or MINMAX");
            if (!resumable && checkpoints != null)
                throw new IllegalArgumentException("a checkpoint folder needs resumable");
        }

        public static Options defaults() {
            return new Options(THRESHOLDS, 250, 1e-3, 1e-3, 1e-4, 4, Init.AWQ, 42, null, true, false, true);
        }

        public Options thresholds(List<Double> t) {
            return new Options(
                    t,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    checkpoints,
                    resumable,
                    hostChains,
                    fusedKernels);
        }

        /** The 10-round schedule. */
        public Options tenRounds() {
            return thresholds(THRESHOLDS_10);
        }

        public Options iterations(int n) {
            return new Options(
                    thresholds,
                    n,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    checkpoints,
                    resumable,
                    hostChains,
                    fusedKernels);
        }

        /** Learning rate of the rounding variables ν. */
        public Options lr(double r) {
            return new Options(
                    thresholds,
                    iterations,
                    r,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    checkpoints,
                    resumable,
                    hostChains,
                    fusedKernels);
        }

        /** Learning rate of the scale variables v. */
        public Options scaleLr(double r) {
            return new Options(
                    thresholds,
                    iterations,
                    lr,
                    r,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    checkpoints,
                    resumable,
                    hostChains,
                    fusedKernels);
        }

        public Options batch(int n) {
            return new Options(
                    thresholds,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    n,
                    init,
                    seed,
                    checkpoints,
                    resumable,
                    hostChains,
                    fusedKernels);
        }

        public Options init(Init i) {
            return new Options(
                    thresholds,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    i,
                    seed,
                    checkpoints,
                    resumable,
                    hostChains,
                    fusedKernels);
        }

        public Options seed(long s) {
            return new Options(
                    thresholds,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    s,
                    checkpoints,
                    resumable,
                    hostChains,
                    fusedKernels);
        }

        /** Finished blocks go to {@code folder} (null: the per-run folder under the cache). */
        public Options checkpoints(Path folder) {
            return new Options(
                    thresholds,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    folder,
                    true,
                    hostChains,
                    fusedKernels);
        }

        /** Nothing is saved: a stopped run starts again from its first block. */
        public Options noCheckpoints() {
            return new Options(
                    thresholds,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    null,
                    false,
                    hostChains,
                    fusedKernels);
        }

        public Options hostChains(boolean h) {
            return new Options(
                    thresholds,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    checkpoints,
                    resumable,
                    h,
                    fusedKernels);
        }

        /** The soft weight and Adam as one pass each (our kernels; off: the same formulas as ATen ops, slower). */
        public Options fusedKernels(boolean f) {
            return new Options(
                    thresholds,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    checkpoints,
                    resumable,
                    hostChains,
                    f);
        }

        @Override
        public String name() {
            return "TESSERAQ";
        }

        /**
         * The non-default options that decide the result (not where checkpoints go or where chains
         * live): "TESSERAQ ten-rounds iterations 50".
         */
        @Override
        public String label() {
            String rest = Method.describe(
                    "", this, defaults(), Set.of("thresholds", "checkpoints", "resumable", "hostChains"));
            String schedule = thresholds.equals(THRESHOLDS)
                    ? ""
                    : thresholds.equals(THRESHOLDS_10) ? " ten-rounds" : " thresholds " + thresholds;
            return name() + schedule + rest;
        }

        /** The folder for the run {@code key}: the options' own, else one under the cache; null without checkpoints. */
        Path checkpointFolder(String key) {
            if (!resumable) return null;
            if (checkpoints != null) return checkpoints;
            String env = System.getenv("LOWBIT_CACHE");
            Path root = env != null && !env.isBlank()
                    ? Path.of(env)
                    : Path.of(System.getProperty("user.home"), ".cache", "lowbit");
            return root.resolve("tesseraq").resolve(key);
        }

        /** What decides the result (not where checkpoints go or where chains live): names a checkpoint folder. */
        String identity() {
            return String.format(
                    Locale.ROOT,
                    "%s|%d|%s|%s|%s|%d|%s|%d|%s",
                    thresholds,
                    iterations,
                    lr,
                    scaleLr,
                    scaleWeightDecay,
                    batch,
                    init,
                    seed,
                    fusedKernels);
        }

        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "%d rounds × %d iterations, lr %.0e/%.0e, batch %d, init %s, seed %d",
                    thresholds.size(),
                    iterations,
                    lr,
                    scaleLr,
                    batch,
                    init,
                    seed);
        }
    }

    /**
     * One block's reconstruction: the loss Σ_hidden (Y_fp − Ŷ)², averaged over calibration windows and
     * tokens, with round-to-nearest on the initial grid and with the learned codes; the mean training
     * loss of every round; seconds; whether it came from a checkpoint.
     */
    public record BlockLoss(
            int block, double nearestLoss, double finalLoss, List<Double> roundLoss, double seconds, boolean resumed) {
        public BlockLoss {
            roundLoss = List.copyOf(roundLoss);
        }
    }

    private static final int RETRIES = 2;

    /** Refuses what would fail later, before any work. */
    private static void check(Grid grid, Calibration cal, Options o) {
        new MinMaxGroups(1, 1, grid); // grids llmc's quantizer does not have
        if (cal == null || cal.sequences().isEmpty())
            throw new IllegalArgumentException("TesseraQ needs a calibration set");
        int length = cal.sequences().get(0).length;
        for (int[] s : cal.sequences())
            if (s.length != length)
                throw new IllegalArgumentException("TesseraQ needs calibration windows of one length; " + cal.name()
                        + " has " + length + " and " + s.length + " (use calibrate(model, text, n, length))");
        if (o.batch() > cal.sequences().size())
            throw new IllegalArgumentException(
                    "batch " + o.batch() + " exceeds the " + cal.sequences().size() + " calibration windows");
    }

    /** The checkpoint folder's key: the model, grid, calibration and schedule that decide the codes. */
    static String key(Model m, Grid grid, Calibration cal, Options o) {
        try {
            var md = java.security.MessageDigest.getInstance("SHA-256");
            // the format's version first: a later algorithm change must not resume from older blocks
            md.update(("lowbit-tesseraq/1|" + m.fingerprint() + "|" + grid + "|" + o.identity())
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            for (int[] s : cal.sequences()) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * s.length);
                b.asIntBuffer().put(s);
                md.update(b.array());
            }
            return java.util.HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean finite(Tensor t) {
        try (Scope s = Scope.open()) {
            return t.isfinite().logicalNot().sum().itemLong() == 0;
        }
    }

    /** One quantization run's state: the model being quantized and how. */
    private static final class Run {
        final Model q;
        final Grid grid;
        final Options o;
        final Progress progress;
        final Device work;
        final int blocks;
        final Map<String, QuantizedLinear> records = new LinkedHashMap<>();

        Run(Model q, Grid grid, Options o, Progress progress, Device work, int blocks) {
            this.q = q;
            this.grid = grid;
            this.o = o;
            this.progress = progress;
            this.work = work;
            this.blocks = blocks;
        }

        long totalIterations() {
            return (long) blocks * o.thresholds().size() * o.iterations();
        }

        /** Block i (on the work device) trained against yf from the quantized-chain input xq. */
        BlockLoss block(int i, Tensor xq, Tensor yf) {
            long t0 = System.nanoTime();
            Model.Block b = q.blocks().get(i);
            List<Tensor> batches = new ArrayList<>();
            if (o.init() != Init.MINMAX) {
                int bs = q.batchFor((int) xq.size(1), work, 8);
                for (long start = 0; start < xq.size(0); start += bs)
                    batches.add(xq.narrow(0, start, Math.min(bs, xq.size(0) - start))
                            .to(work)
                            .escape());
            }
            try {
                if (o.init() == Init.AWQ) Awq.scale(q, i, batches, grid);
                if (o.init() != Init.MINMAX) Awq.clip(q, i, batches, grid);
            } finally {
                for (Tensor t : batches) t.close();
            }
            List<SoftRounding> soft = new ArrayList<>();
            try {
                for (Linear l : b.linears()) soft.add(new SoftRounding(l, grid, o.fusedKernels()));
                try (Scope s = Scope.open();
                        var g = Torch.noGrad()) { // round to nearest on the initial grid: the starting error
                    for (SoftRounding sf : soft)
                        sf.linear.setWeight(sf.groups
                                .ungrouped(sf.groups
                                        .codes(sf.wg, sf.p)
                                        .sub(sf.p.zero())
                                        .mul(sf.p.scale()))
                                .to(sf.linear.weight().dtype())
                                .escape());
                }
                double nearest = loss(i, xq, yf);
                List<Double> rounds = new ArrayList<>();
                Random rnd = new Random(o.seed() * 1_000_003L + i);
                for (int k = 0; k < o.thresholds().size(); k++) {
                    for (SoftRounding sf : soft) sf.harden(o.thresholds().get(k));
                    rounds.add(round(i, k, xq, yf, soft, rnd));
                }
                for (SoftRounding sf : soft) sf.hardenAll();
                for (SoftRounding sf : soft) finish(sf);
                double last = loss(i, xq, yf);
                return new BlockLoss(i, nearest, last, rounds, (System.nanoTime() - t0) / 1e9, false);
            } finally {
                for (SoftRounding sf : soft) sf.close();
            }
        }

        /** One PAR round: a fresh Adam, {@code iterations} steps; a non-finite loss retries the round at a tenth of the rate. */
        double round(int i, int k, Tensor xq, Tensor yf, List<SoftRounding> soft, Random rnd) {
            List<Tensor> saved = new ArrayList<>();
            try (var g = Torch.noGrad()) {
                for (SoftRounding sf : soft) {
                    saved.add(sf.nu.clone().escape());
                    saved.add(sf.v.clone().escape());
                }
            }
            try {
                double lr = o.lr(), scaleLr = o.scaleLr();
                for (int attempt = 0; ; attempt++) {
                    Random attemptRnd = attempt == 0 ? rnd : new Random(rnd.nextLong());
                    double mean = train(i, k, xq, yf, soft, attemptRnd, lr, scaleLr);
                    if (Double.isFinite(mean)) return mean;
                    if (attempt == RETRIES)
                        throw new IllegalStateException(String.format(
                                Locale.ROOT,
                                "TesseraQ: block %d, round %d: the loss became non-finite even at "
                                        + "learning rates %.0e/%.0e (%d retries); the block's inputs or weights overflow in %s",
                                i,
                                k + 1,
                                lr,
                                scaleLr,
                                RETRIES,
                                q.dtype()));
                    try (var g = Torch.noGrad()) {
                        for (int j = 0; j < soft.size(); j++) {
                            soft.get(j).nu.copyFrom(saved.get(2 * j));
                            soft.get(j).v.copyFrom(saved.get(2 * j + 1));
                        }
                    }
                    lr /= 10;
                    scaleLr /= 10;
                }
            } finally {
                for (Tensor t : saved) t.close();
            }
        }

        /** The iterations of one round; the mean loss, or NaN as soon as a loss is not finite. */
        double train(
                int i, int k, Tensor xq, Tensor yf, List<SoftRounding> soft, Random rnd, double lr, double scaleLr) {
            Adam adam = new Adam(o.fusedKernels());
            for (SoftRounding sf : soft) {
                adam.add(sf.nu, lr, 0);
                adam.add(sf.v, scaleLr, o.scaleWeightDecay());
            }
            try {
                double sum = 0;
                long n = xq.size(0);
                long before = ((long) i * o.thresholds().size() + k) * o.iterations();
                for (int it = 0; it < o.iterations(); it++) {
                    Interrupts.check();
                    long[] picked = sample(rnd, (int) n, o.batch());
                    // on a CPU, windows go through one micro-batch at a time (gradients add up): large attention
                    // buffers cost more in page faults than batching saves (see Model.batchFor)
                    int micro = q.batchFor((int) xq.size(1), work, o.batch());
                    double value = 0;
                    for (int start = 0; start < picked.length; start += micro) {
                        int len = Math.min(micro, picked.length - start);
                        try (Scope s = Scope.open();
                                var g = Torch.enableGrad()) {
                            Tensor idx = Torch.tensor(java.util.Arrays.copyOfRange(picked, start, start + len), len)
                                    .to(xq.device());
                            Tensor x = xq.indexSelect(0, idx).to(work),
                                    y = yf.indexSelect(0, idx).to(work);
                            for (SoftRounding sf : soft)
                                sf.linear.setWeight(
                                        sf.weight(sf.linear.weight().dtype()).escape());
                            Tensor loss = reconstruction(q.runBlock(i, x), y).mul((double) len / picked.length);
                            double part = loss.item();
                            if (!Double.isFinite(part)) return Double.NaN;
                            loss.backward();
                            value += part;
                        }
                    }
                    adam.step();
                    sum += value;
                    if (it % 10 == 9 || it == o.iterations() - 1)
                        progress.update(
                                "TesseraQ",
                                String.format(
                                        Locale.ROOT,
                                        "block %d/%d · round %d/%d · loss %.4g",
                                        i + 1,
                                        blocks,
                                        k + 1,
                                        o.thresholds().size(),
                                        sum / (it + 1)),
                                before + it + 1,
                                totalIterations());
                }
                return sum / o.iterations();
            } finally {
                adam.close();
            }
        }

        /** Mean over windows and tokens of Σ_hidden (Y_fp − Ŷ)² on every calibration window, with the block's current weights. */
        double loss(int i, Tensor xq, Tensor yf) {
            try (Scope s = Scope.open();
                    var g = Torch.noGrad()) {
                long n = xq.size(0);
                int b = q.batchFor((int) xq.size(1), work, 8);
                double total = 0;
                for (long start = 0; start < n; start += b) {
                    long len = Math.min(b, n - start);
                    total += reconstruction(
                                            q.runBlock(
                                                    i, xq.narrow(0, start, len).to(work)),
                                            yf.narrow(0, start, len).to(work))
                                    .item()
                            * len;
                }
                return total / n;
            }
        }

        /** Stores the layer's codes, α·s and z, and gives the block its dense dequantized weight. */
        void finish(SoftRounding sf) {
            try (Scope s = Scope.open()) {
                MinMaxGroups g = sf.groups;
                Tensor codes = g.ungrouped(sf.finalCodes());
                Tensor scales = sf.finalScales().reshape(g.rows, g.groupsPerRow);
                Tensor zeros = sf.p.zero().reshape(g.rows, g.groupsPerRow);
                Tensor w = g.dense(codes, scales, zeros, sf.linear.weight().dtype());
                double error = g.grouped(w).sub(sf.wg).square().sum().item();
                sf.linear.setWeight(w.escape());
                records.put(
                        sf.linear.name(),
                        QuantizedLinear.stored(
                                sf.linear.name(),
                                grid,
                                codes.escape(),
                                scales.contiguous().escape(),
                                zeros.contiguous().escape(),
                                g.groupOfColumn(),
                                null,
                                error,
                                q.device()));
            }
        }
    }

    /** L = mean over batch and tokens of Σ_hidden (Y_fp − Ŷ)², in float32. */
    static Tensor reconstruction(Tensor out, Tensor target) {
        try (Scope s = Scope.open()) {
            return s.keep(out.to(DType.F32)
                    .sub(target.to(DType.F32))
                    .square()
                    .sum(new long[] {-1}, false)
                    .mean());
        }
    }

    /** randperm(n)[:k] from a seeded generator. */
    static long[] sample(Random rnd, int n, int k) {
        int[] p = new int[n];
        for (int j = 0; j < n; j++) p[j] = j;
        long[] out = new long[k];
        for (int j = 0; j < k; j++) {
            int r = j + rnd.nextInt(n - j);
            int t = p[j];
            p[j] = p[r];
            p[r] = t;
            out[j] = p[j];
        }
        return out;
    }

    /**
     * A new TesseraQ-quantized model (the original is untouched), the work on {@code work} one block
     * at a time: the full-precision chain moves past the block first (its outputs are the targets),
     * the block is initialised and trained (or read from its checkpoint), then the quantized chain
     * moves past it.
     */
    public static QuantizedModel run(Model m, Grid grid, Calibration cal, Options o, Progress progress, Device work) {
        check(grid, cal, o);
        BlockCheckpoints ck = null;
        if (o.resumable()) {
            String key = key(m, grid, cal, o);
            ck = BlockCheckpoints.open(o.checkpointFolder(key), key);
        }
        BlockCheckpoints checkpoints = ck;
        return BlockLoop.onCopy(m, o, grid, out -> {
            Model q = out.q;
            try (Model fp = m.copy();
                    BlockLoop.Chain xq = BlockLoop.windows(q, cal, o.hostChains() ? Device.CPU : work, 8);
                    BlockLoop.Chain xf = xq.following(fp)) {
                int blocks = q.blocks().size();
                Run run = new Run(q, grid, o, progress, work, blocks);
                BlockLoop.run(
                        work,
                        progress,
                        null,
                        (i, inputs) -> {
                            Tensor yf = xf.all();
                            if (!finite(yf))
                                throw new IllegalStateException(
                                        "TesseraQ: the full-precision block " + i + " gives non-finite outputs on "
                                                + "the calibration windows (the model's weights or the calibration text hold NaN or infinity)");
                            BlockLoss loss;
                            if (checkpoints != null && checkpoints.has(i)) {
                                loss = checkpoints.load(i, q, grid, out.layers);
                                progress.update(
                                        "TesseraQ",
                                        "block " + (i + 1) + "/" + blocks + " resumed from " + checkpoints.folder(),
                                        run.totalIterations() * (i + 1) / blocks,
                                        run.totalIterations());
                            } else {
                                loss = run.block(i, xq.all(), yf);
                                for (Linear l : q.blocks().get(i).linears())
                                    out.layers.put(l.name(), run.records.remove(l.name()));
                                if (checkpoints != null) checkpoints.save(i, q, out.layers, loss);
                            }
                            out.losses.add(loss);
                        },
                        List.of(xf),
                        List.of(xq));
            }
        });
    }
}
