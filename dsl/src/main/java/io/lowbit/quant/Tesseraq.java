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

/**
 * TesseraQ (Li &amp; Panda, ptq-algorithms.md §B): block by block, each linear's rounding becomes a
 * soft variable h(ν) and each group's scale gets a multiplier α = 2·h(v); the block is trained
 * against the full-precision block's output while Progressive Adaptive Rounding hardens a growing
 * share of the roundings round after round. Initialised from AWQ (scales and clip), from the clip
 * search alone, or from plain min-max; one call, no file hand-off.
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
  public static final List<Double> THRESHOLDS =
      List.of(0.8, 0.65, 0.5, 0.43, 0.38, 0.34, 0.3, 0.27, 0.24, 0.21, 0.18, 0.15, 0.12, 0.10, 0.08, 0.06, 0.04, 0.02, 0.01, 0.005);

  /** The 10-round schedule of llmc's template and the W4 configs. */
  public static final List<Double> THRESHOLDS_10 = List.of(0.75, 0.5, 0.375, 0.25, 0.125, 0.09, 0.06, 0.04, 0.02, 0.005);

  /**
   * The schedule and optimiser. Defaults are the reference's (§B.7): 20 rounds × 250 iterations,
   * Adam at 1e−3 for ν and for v (weight decay 1e−4 on v), 4 windows per iteration, AWQ
   * initialisation, seed 42. {@code checkpoints} (null: none) is a folder where every finished block
   * is saved, so a stopped run resumes there; {@code hostChains} keeps both activation chains in host
   * memory when the GPU is short.
   */
  public record Options(List<Double> thresholds, int iterations, double lr, double scaleLr, double scaleWeightDecay, int batch,
      Init init, long seed, Path checkpoints, boolean hostChains, boolean fusedKernels) {
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
    }

    public static Options defaults() {
      return new Options(THRESHOLDS, 250, 1e-3, 1e-3, 1e-4, 4, Init.AWQ, 42, null, false, true);
    }

    public Options thresholds(List<Double> t) { return new Options(t, iterations, lr, scaleLr, scaleWeightDecay, batch, init, seed, checkpoints, hostChains, fusedKernels); }
    /** The 10-round schedule. */
    public Options tenRounds() { return thresholds(THRESHOLDS_10); }
    public Options iterations(int n) { return new Options(thresholds, n, lr, scaleLr, scaleWeightDecay, batch, init, seed, checkpoints, hostChains, fusedKernels); }
    /** Learning rate of the rounding variables ν. */
    public Options lr(double r) { return new Options(thresholds, iterations, r, scaleLr, scaleWeightDecay, batch, init, seed, checkpoints, hostChains, fusedKernels); }
    /** Learning rate of the scale variables v. */
    public Options scaleLr(double r) { return new Options(thresholds, iterations, lr, r, scaleWeightDecay, batch, init, seed, checkpoints, hostChains, fusedKernels); }
    public Options batch(int n) { return new Options(thresholds, iterations, lr, scaleLr, scaleWeightDecay, n, init, seed, checkpoints, hostChains, fusedKernels); }
    public Options init(Init i) { return new Options(thresholds, iterations, lr, scaleLr, scaleWeightDecay, batch, i, seed, checkpoints, hostChains, fusedKernels); }
    public Options seed(long s) { return new Options(thresholds, iterations, lr, scaleLr, scaleWeightDecay, batch, init, s, checkpoints, hostChains, fusedKernels); }
    public Options checkpoints(Path p) { return new Options(thresholds, iterations, lr, scaleLr, scaleWeightDecay, batch, init, seed, p, hostChains, fusedKernels); }
    public Options hostChains(boolean h) { return new Options(thresholds, iterations, lr, scaleLr, scaleWeightDecay, batch, init, seed, checkpoints, h, fusedKernels); }
    /** The soft weight and Adam as one pass each (our kernels; off: the same formulas as ATen ops, slower). */
    public Options fusedKernels(boolean f) { return new Options(thresholds, iterations, lr, scaleLr, scaleWeightDecay, batch, init, seed, checkpoints, hostChains, f); }

    /** What decides the result (not where checkpoints go or where chains live): names a checkpoint folder. */
    String identity() {
      return String.format(Locale.ROOT, "%s|%d|%s|%s|%s|%d|%s|%d|%s", thresholds, iterations, lr, scaleLr, scaleWeightDecay, batch, init, seed,
          fusedKernels);
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "%d rounds × %d iterations, lr %.0e/%.0e, batch %d, init %s, seed %d", thresholds.size(),
          iterations, lr, scaleLr, batch, init, seed);
    }
  }

  /**
   * One block's reconstruction: the loss Σ_hidden (Y_fp − Ŷ)², averaged over calibration windows and
   * tokens, with round-to-nearest on the initial grid and with the learned codes; the mean training
   * loss of every round; seconds; whether it came from a checkpoint.
   */
  public record BlockLoss(int block, double nearestLoss, double finalLoss, List<Double> roundLoss, double seconds, boolean resumed) {
    public BlockLoss {
      roundLoss = List.copyOf(roundLoss);
    }
  }

  static final double GAMMA = -0.1, ZETA = 1.1;
  private static final int RETRIES = 2;

  /**
   * A new TesseraQ-quantized model (the original is untouched), the work on {@code work};
   * finished blocks go to the options' checkpoint folder, if any.
   */
  public static QuantizedModel run(Model m, Grid grid, Calibration cal, Options o, Progress progress, Device work) {
    check(grid, cal, o);
    return run(m, grid, cal, o, progress, work, o.checkpoints() == null ? null : BlockCheckpoints.open(o.checkpoints(), key(m, grid, cal, o)));
  }

  /**
   * {@link #run(Model, Grid, Calibration, Options, Progress, Device)} that always keeps checkpoints:
   * in the options' folder, else in one folder per run (model, grid, calibration, schedule) under
   * $LOWBIT_CACHE/tesseraq, else ~/.cache/lowbit/tesseraq. How a notebook resumes a stopped run.
   */
  public static QuantizedModel runResumable(Model m, Grid grid, Calibration cal, Options o, Progress progress, Device work) {
    check(grid, cal, o);
    String key = key(m, grid, cal, o);
    Path folder = o.checkpoints();
    if (folder == null) {
      String env = System.getenv("LOWBIT_CACHE");
      Path root = env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "lowbit");
      folder = root.resolve("tesseraq").resolve(key);
    }
    return run(m, grid, cal, o, progress, work, BlockCheckpoints.open(folder, key));
  }

  /** Refuses what would fail later, before any work. */
  private static void check(Grid grid, Calibration cal, Options o) {
    new MinMaxGroups(1, 1, grid); // grids llmc's quantizer does not have
    if (cal == null || cal.sequences().isEmpty()) throw new IllegalArgumentException("TesseraQ needs a calibration set");
    int length = cal.sequences().get(0).length;
    for (int[] s : cal.sequences())
      if (s.length != length) throw new IllegalArgumentException("TesseraQ needs calibration windows of one length; " + cal.name()
          + " has " + length + " and " + s.length + " (use calibrate(model, text, n, length))");
    if (o.batch() > cal.sequences().size())
      throw new IllegalArgumentException("batch " + o.batch() + " exceeds the " + cal.sequences().size() + " calibration windows");
  }

  private static QuantizedModel run(Model m, Grid grid, Calibration cal, Options o, Progress progress, Device work, BlockCheckpoints ck) {
    long t0 = System.nanoTime();
    Model q = m.copy(), fp = m.copy();
    Map<String, QuantizedLinear> done = new LinkedHashMap<>();
    List<BlockLoss> losses = new ArrayList<>();
    Tensor xq = null, xf = null;
    try {
      Device chains = o.hostChains() ? Device.CPU : work;
      xq = embedded(m, cal, chains);
      xf = xq.share().escape();
      int blocks = m.blocks().size();
      Run run = new Run(q, grid, o, progress, work, blocks);
      for (int i = 0; i < blocks; i++) {
        q.moveBlock(i, work);
        fp.moveBlock(i, work);
        Tensor yf = forward(fp, i, xf, work);
        if (!finite(yf)) {
          yf.close();
          throw new IllegalStateException("TesseraQ: the full-precision block " + i + " gives non-finite outputs on the calibration "
              + "windows (the model's weights or the calibration text hold NaN or infinity)");
        }
        BlockLoss loss;
        if (ck != null && ck.has(i)) {
          loss = ck.load(i, q, grid, done);
          progress.update("TesseraQ", "block " + (i + 1) + "/" + blocks + " resumed from " + ck.folder(),
              run.totalIterations() * (i + 1) / blocks, run.totalIterations());
        } else {
          try {
            loss = run.block(i, xq, yf);
          } catch (RuntimeException | Error e) {
            yf.close();
            throw e;
          }
          for (Linear l : q.blocks().get(i).linears()) done.put(l.name(), run.records.remove(l.name()));
          if (ck != null) ck.save(i, q, done, loss);
        }
        losses.add(loss);
        Tensor nextQ = forward(q, i, xq, work);
        xq.close();
        xf.close();
        xq = nextQ;
        xf = yf;
        q.moveBlock(i, q.device());
        fp.moveBlock(i, fp.device());
      }
      return new QuantizedModel(q, Method.TESSERAQ, grid, done, (System.nanoTime() - t0) / 1e9, losses, Map.of());
    } catch (RuntimeException | Error e) { // an interrupt or a failure leaves nothing behind but finished checkpoints
      q.close();
      for (QuantizedLinear l : done.values()) l.close();
      throw e;
    } finally {
      fp.close();
      if (xq != null) xq.close();
      if (xf != null) xf.close();
    }
  }

  /** The checkpoint folder's key: the model, grid, calibration and schedule that decide the codes. */
  static String key(Model m, Grid grid, Calibration cal, Options o) {
    try {
      var md = java.security.MessageDigest.getInstance("SHA-256");
      // the format's version first: a later algorithm change must not resume from older blocks
      md.update(("lowbit-tesseraq/1|" + m.fingerprint() + "|" + grid + "|" + o.identity()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
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

  /** All calibration windows embedded, [n, T, hidden], on {@code d} (one length, so Quantize's batches keep their order). */
  private static Tensor embedded(Model m, Calibration cal, Device d) {
    List<Tensor> batches = Quantize.embedded(m, cal, d);
    try (Scope s = Scope.open()) {
      return s.keep(Torch.cat(batches, 0)).escape();
    } finally {
      for (Tensor t : batches) t.close();
    }
  }

  /** Block i of {@code m} on every window of x [n, T, hidden], batched the same way on every call (so resumed runs match bit for bit). */
  static Tensor forward(Model m, int i, Tensor x, Device work) {
    long n = x.size(0);
    int b = m.batchFor((int) x.size(1), work, 8);
    List<Tensor> out = new ArrayList<>();
    try (Scope s = Scope.open(); var g = Torch.noGrad()) {
      for (long start = 0; start < n; start += b)
        out.add(m.runBlock(i, x.narrow(0, start, Math.min(b, n - start)).to(work)).to(x.device()));
      return s.keep(Torch.cat(out, 0)).escape();
    }
  }

  private static boolean finite(Tensor t) {
    try (Scope s = Scope.open()) {
      return t.isfinite().logicalNot().sum().itemLong() == 0;
    }
  }

  /** The rectified sigmoid h(x) = clamp(σ(x)·(ζ − γ) + γ, 0, 1). */
  static Tensor rectified(Tensor x) {
    try (Scope s = Scope.open()) {
      return s.keep(x.sigmoid().mul(ZETA - GAMMA).add(GAMMA).clamp(0.0, 1.0));
    }
  }

  /** h⁻¹(y) = −log((ζ − γ)/(y − γ) − 1). */
  static Tensor rectifiedInverse(Tensor y) {
    try (Scope s = Scope.open()) {
      return s.keep(y.sub(GAMMA).reciprocal().mul(ZETA - GAMMA).sub(1.0).log().neg());
    }
  }

  /**
   * One linear's trainable parametrisation (§B.4): the weight groups wg with fixed s and z, the
   * rounding variables ν (one per weight) and the scale variables v (one per group).
   */
  static final class Soft implements AutoCloseable {
    final Linear linear;
    final MinMaxGroups groups;
    final Tensor wg;          // the initial weight as groups, fixed
    final Tensor base;        // floor(wg / s), fixed
    final Quantizer.Params p; // s, z, fixed
    final Tensor nu, v;       // trainable leaves
    final boolean fused;

    Soft(Linear l, Grid grid) {
      this(l, grid, true);
    }

    Soft(Linear l, Grid grid, boolean fused) {
      this.linear = l;
      this.fused = fused;
      this.groups = new MinMaxGroups(l.outFeatures(), l.inFeatures(), grid);
      try (Scope s = Scope.open(); var g = Torch.noGrad()) {
        wg = s.keep(groups.grouped(l.weight())).escape();
        p = groups.fit(wg);
        Tensor ratio = wg.div(p.scale());
        base = s.keep(ratio.floor()).escape();
        nu = s.keep(rectifiedInverse(ratio.sub(base))).escape().requiresGrad(true);
        v = s.keep(Torch.zeros(DType.F32, wg.device(), wg.size(0), 1)).escape().requiresGrad(true);
      }
    }

    /** Ŵ = α ⊙ s ⊙ (clamp(floor(W/s) + h(ν) + z, 0, maxq) − z), back as [out, in] in {@code dtype}. */
    Tensor weight(DType dtype) {
      try (Scope s = Scope.open()) {
        Tensor scale = rectified(v).mul(2.0).mul(p.scale()); // α·s per group: small, plain autograd
        if (fused) return s.keep(groups.ungrouped(Torch.softRoundWeight(nu, scale, base, p.zero(), groups.maxq, dtype)));
        Tensor level = base.add(rectified(nu)).add(p.zero()).clamp(0.0, (double) groups.maxq).sub(p.zero());
        return s.keep(groups.ungrouped(level.mul(scale)).to(dtype));
      }
    }

    /**
     * Hardening (§B.5): with t the τ-quantile of |h(ν) − 0.5| over the layer's weights, ν becomes
     * +∞ where h(ν) > 0.5 + t and −∞ where h(ν) < 0.5 − t. Returns the hard fraction afterwards.
     */
    double harden(double tau) {
      try (Scope s = Scope.open(); var g = Torch.noGrad()) {
        Tensor h = rectified(nu);
        Tensor score = groups.ungrouped(h.sub(0.5).abs()).flatten();
        double t = quantile(score, tau);
        Tensor up = h.gt(0.5 + t), down = h.lt(0.5 - t);
        nu.copyFrom(nu.maskedFill(up, Double.POSITIVE_INFINITY).maskedFill(down, Double.NEGATIVE_INFINITY));
        return groups.ungrouped(nu.abs().eq(Double.POSITIVE_INFINITY).to(DType.F32)).mean().item();
      }
    }

    /** Integer codes after training: floor(W/s) + [ν > 0] + z, clamped (§B.6, stored directly, no fold). */
    Tensor finalCodes() {
      try (Scope s = Scope.open(); var g = Torch.noGrad()) {
        return s.keep(base.add(nu.gt(0.0).to(DType.F32)).add(p.zero()).clamp(0.0, (double) groups.maxq));
      }
    }

    /** The effective dequantization scale α·s per group. */
    Tensor finalScales() {
      try (Scope s = Scope.open(); var g = Torch.noGrad()) {
        return s.keep(rectified(v).mul(2.0).mul(p.scale()));
      }
    }

    @Override
    public void close() {
      wg.close();
      base.close();
      p.close();
      nu.close();
      v.close();
    }
  }

  /** numpy's linear-interpolation quantile, by sorting (torch.quantile refuses tensors above 2^24 elements). */
  static double quantile(Tensor values, double q) {
    try (Scope s = Scope.open()) {
      Tensor sorted = values.flatten().sort(0, false).values();
      long n = sorted.size(0);
      double pos = q * (n - 1);
      long lo = (long) Math.floor(pos);
      double a = sorted.select(0, lo).item();
      if (lo + 1 >= n) return a;
      double b = sorted.select(0, lo + 1).item();
      return a + (pos - lo) * (b - a);
    }
  }

  /** The dense weight [out, in] from codes [out, in] and per-group scales and zeros [out, groups]. */
  static Tensor dense(MinMaxGroups g, Tensor codes, Tensor scales, Tensor zeros, DType dtype) {
    try (Scope s = Scope.open()) {
      Tensor level = g.grouped(codes).sub(zeros.reshape(-1, 1)).mul(scales.reshape(-1, 1));
      return s.keep(g.ungrouped(level).to(dtype));
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

    /** Block i (on the work device) trained against yf from the quantized-chain input xq (B.8). */
    BlockLoss block(int i, Tensor xq, Tensor yf) {
      long t0 = System.nanoTime();
      Model.Block b = q.blocks().get(i);
      List<Tensor> batches = new ArrayList<>();
      if (o.init() != Init.MINMAX) {
        int bs = q.batchFor((int) xq.size(1), work, 8);
        for (long start = 0; start < xq.size(0); start += bs)
          batches.add(xq.narrow(0, start, Math.min(bs, xq.size(0) - start)).to(work).escape());
      }
      try {
        if (o.init() == Init.AWQ) Awq.scale(q, i, batches, grid);
        if (o.init() != Init.MINMAX) Awq.clip(q, i, batches, grid);
      } finally {
        for (Tensor t : batches) t.close();
      }
      List<Soft> soft = new ArrayList<>();
      try {
        for (Linear l : b.linears()) soft.add(new Soft(l, grid, o.fusedKernels()));
        try (Scope s = Scope.open(); var g = Torch.noGrad()) { // round to nearest on the initial grid: the starting error
          for (Soft sf : soft)
            sf.linear.setWeight(sf.groups.ungrouped(sf.groups.codes(sf.wg, sf.p).sub(sf.p.zero()).mul(sf.p.scale()))
                .to(sf.linear.weight().dtype()).escape());
        }
        double nearest = loss(i, xq, yf);
        List<Double> rounds = new ArrayList<>();
        Random rnd = new Random(o.seed() * 1_000_003L + i);
        for (int k = 0; k < o.thresholds().size(); k++) {
          for (Soft sf : soft) sf.harden(o.thresholds().get(k));
          rounds.add(round(i, k, xq, yf, soft, rnd));
        }
        for (Soft sf : soft) {
          try (var g = Torch.noGrad()) {
            sf.nu.copyFrom(sf.nu.sign().mul(100.0)); // §B.6 step 1: every rounding hard
          }
        }
        for (Soft sf : soft) finish(sf);
        double last = loss(i, xq, yf);
        return new BlockLoss(i, nearest, last, rounds, (System.nanoTime() - t0) / 1e9, false);
      } finally {
        for (Soft sf : soft) sf.close();
      }
    }

    /** One PAR round: a fresh Adam, {@code iterations} steps; a non-finite loss retries the round at a tenth of the rate. */
    double round(int i, int k, Tensor xq, Tensor yf, List<Soft> soft, Random rnd) {
      List<Tensor> saved = new ArrayList<>();
      try (var g = Torch.noGrad()) {
        for (Soft sf : soft) {
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
            throw new IllegalStateException(String.format(Locale.ROOT, "TesseraQ: block %d, round %d: the loss became non-finite even at "
                + "learning rates %.0e/%.0e (%d retries); the block's inputs or weights overflow in %s", i, k + 1, lr, scaleLr, RETRIES,
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
    double train(int i, int k, Tensor xq, Tensor yf, List<Soft> soft, Random rnd, double lr, double scaleLr) {
      Adam adam = new Adam(o.fusedKernels());
      for (Soft sf : soft) {
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
            try (Scope s = Scope.open(); var g = Torch.enableGrad()) {
              Tensor idx = Torch.tensor(java.util.Arrays.copyOfRange(picked, start, start + len), len).to(xq.device());
              Tensor x = xq.indexSelect(0, idx).to(work), y = yf.indexSelect(0, idx).to(work);
              for (Soft sf : soft) sf.linear.setWeight(sf.weight(sf.linear.weight().dtype()).escape());
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
            progress.update("TesseraQ", String.format(Locale.ROOT, "block %d/%d · round %d/%d · loss %.4g", i + 1, blocks, k + 1,
                o.thresholds().size(), sum / (it + 1)), before + it + 1, totalIterations());
        }
        return sum / o.iterations();
      } finally {
        adam.close();
      }
    }

    /** Mean over windows and tokens of Σ_hidden (Y_fp − Ŷ)² on every calibration window, with the block's current weights. */
    double loss(int i, Tensor xq, Tensor yf) {
      try (Scope s = Scope.open(); var g = Torch.noGrad()) {
        long n = xq.size(0);
        int b = q.batchFor((int) xq.size(1), work, 8);
        double total = 0;
        for (long start = 0; start < n; start += b) {
          long len = Math.min(b, n - start);
          total += reconstruction(q.runBlock(i, xq.narrow(0, start, len).to(work)), yf.narrow(0, start, len).to(work)).item() * len;
        }
        return total / n;
      }
    }

    /** Stores the layer's codes, α·s and z, and gives the block its dense dequantized weight. */
    void finish(Soft sf) {
      try (Scope s = Scope.open()) {
        MinMaxGroups g = sf.groups;
        Tensor codes = g.ungrouped(sf.finalCodes());
        Tensor scales = sf.finalScales().reshape(g.rows, g.groupsPerRow);
        Tensor zeros = sf.p.zero().reshape(g.rows, g.groupsPerRow);
        Tensor w = dense(g, codes, scales, zeros, sf.linear.weight().dtype());
        double error = g.grouped(w).sub(sf.wg).square().sum().item();
        sf.linear.setWeight(w.escape());
        records.put(sf.linear.name(), Quantize.layer(sf.linear.name(), grid, codes.escape(), scales.contiguous().escape(),
            zeros.contiguous().escape(), g.groupOfColumn(), null, error, q.device()));
      }
    }
  }

  /** L = mean over batch and tokens of Σ_hidden (Y_fp − Ŷ)², in float32. */
  static Tensor reconstruction(Tensor out, Tensor target) {
    try (Scope s = Scope.open()) {
      return s.keep(out.to(DType.F32).sub(target.to(DType.F32)).square().sum(new long[] {-1}, false).mean());
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

  /** Adam with PyTorch's defaults (β 0.9, 0.999, ε 1e−8) and L2 weight decay added to the gradient, per parameter. */
  private static final class Adam implements AutoCloseable {
    private record Param(Tensor p, double lr, double decay, Tensor m, Tensor v) {}

    private final List<Param> params = new ArrayList<>();
    private final boolean fused;
    private int t;

    Adam(boolean fused) {
      this.fused = fused;
    }

    void add(Tensor p, double lr, double decay) {
      try (var g = Torch.noGrad()) {
        params.add(new Param(p, lr, decay, Torch.zeros(DType.F32, p.device(), p.shape()).escape(), Torch.zeros(DType.F32, p.device(), p.shape()).escape()));
      }
    }

    void step() {
      t++;
      double c1 = 1 - Math.pow(0.9, t), c2 = 1 - Math.pow(0.999, t);
      try (Scope s = Scope.open(); var g = Torch.noGrad()) {
        for (Param x : params) {
          Tensor grad = x.p().grad();
          if (grad == null) continue;
          if (fused) {
            Torch.adamStep(x.p(), grad.contiguous(), x.m(), x.v(), x.lr(), 0.9, 0.999, 1e-8, x.decay(), c1, c2);
            x.p().zeroGrad();
            continue;
          }
          if (x.decay() > 0) grad = grad.add(x.p().mul(x.decay()));
          x.m().mulInPlace(0.9).addInPlace(grad, 0.1);
          x.v().mulInPlace(0.999).addInPlace(grad.square(), 0.001);
          Tensor denom = x.v().sqrt().div(Math.sqrt(c2)).add(1e-8);
          x.p().addInPlace(x.m().div(denom), -x.lr() / c1);
          x.p().zeroGrad();
        }
      }
    }

    @Override
    public void close() {
      for (Param x : params) {
        x.m().close();
        x.v().close();
        x.p().zeroGrad();
      }
    }
  }
}
