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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per-weight gradient statistics over a calibration set, for saliency (TaCQ, arXiv 2504.07389, §3): one forward
 * and backward per sequence on the unquantized model, loss = mean next-token cross-entropy over all
 * positions, and per linear weight
 *
 * <pre>  G = Σ_s |∂L_s/∂W|    (abs per sequence, never a signed sum)</pre>
 *
 * plus, when asked, Σ_s (∂L_s/∂W)² (Fisher) and Σ_s ∂L_s/∂W (signed) for the ablation baselines.
 * All accumulators are float32 on the model's device. The object owns its tensors.
 *
 * <p>Two ways to the same sums. {@link #compute} runs libtorch autograd over the whole model on its
 * device: simple, and right for models that fit there several times over. {@link #streamed} is for
 * an 8B model and one GPU: the model and the accumulators stay in host memory, and the GPU holds one
 * block at a time (activation checkpointing at block boundaries, the forward recomputed block by block
 * in the backward), so its memory no longer grows with the model.
 */
public final class Gradients implements AutoCloseable {
    private final Map<String, Tensor> abs;
    private final Map<String, Tensor> square;
    private final Map<String, Tensor> signed;
    private final int sequences;
    private final double seconds;
    private final Map<String, Double> phases;

    private Gradients(
            Map<String, Tensor> abs,
            Map<String, Tensor> square,
            Map<String, Tensor> signed,
            int sequences,
            double seconds,
            Map<String, Double> phases) {
        this.abs = abs;
        this.square = square;
        this.signed = signed;
        this.sequences = sequences;
        this.seconds = seconds;
        this.phases = Map.copyOf(phases);
    }

    /**
     * Accumulates over {@code cal}'s sequences, batch 1, each at its own length (no padding). The
     * gradient is taken in {@code dtype} (float32 by default; a bf16 model is copied to float32
     * first). {@code baselines} also accumulates Σg² and Σg.
     */
    public static Gradients compute(Model m, Calibration cal, DType dtype, boolean baselines, Progress progress) {
        long t0 = System.nanoTime();
        Map<String, Tensor> abs = new LinkedHashMap<>(), square = new LinkedHashMap<>(), signed = new LinkedHashMap<>();
        Model g = m.dtype() == dtype ? m : m.to(dtype);
        try {
            for (Linear l : g.linears()) {
                abs.put(
                        l.name(),
                        Torch.zeros(DType.F32, g.device(), l.outFeatures(), l.inFeatures())
                                .escape());
                if (baselines) {
                    square.put(
                            l.name(),
                            Torch.zeros(DType.F32, g.device(), l.outFeatures(), l.inFeatures())
                                    .escape());
                    signed.put(
                            l.name(),
                            Torch.zeros(DType.F32, g.device(), l.outFeatures(), l.inFeatures())
                                    .escape());
                }
            }
            int n = cal.sequences().size();
            for (int s = 0; s < n; s++) {
                Interrupts.check();
                try (Scope sc = Scope.open()) {
                    Map<String, Tensor> grads =
                            g.linearGradients(g.tokens(cal.sequences().get(s)), null);
                    for (var e : grads.entrySet()) {
                        Tensor gr = e.getValue().to(DType.F32);
                        abs.get(e.getKey()).absAccumulateInPlace(gr);
                        if (baselines) {
                            square.get(e.getKey()).addInPlace(gr.square());
                            signed.get(e.getKey()).addInPlace(gr);
                        }
                    }
                }
                progress.update("gradients", s + 1, n);
            }
            return new Gradients(abs, square, signed, n, (System.nanoTime() - t0) / 1e9, Map.of());
        } catch (RuntimeException | Error e) {
            closeAll(abs, square, signed);
            throw e;
        } finally {
            if (g != m) g.close();
        }
    }

    /**
     * The sums with the work on {@code work}: {@link #compute} when that is the model's device,
     * {@link #streamed} (in chunks of 16 sequences) when it is not.
     */
    public static Gradients compute(
            Model m, Calibration cal, DType dtype, boolean baselines, Progress progress, Device work) {
        return work.equals(m.device())
                ? compute(m, cal, dtype, baselines, progress)
                : streamed(m, cal, dtype, baselines, progress, work, 16);
    }

    /**
     * The same sums computed block by block on {@code work}, the model and the accumulators staying on
     * the model's device (pinned host memory when that is the CPU and the work a GPU). For each chunk
     * of {@code chunk} sequences: a forward pass without gradients keeps every block's input (float32
     * checkpoints on {@code work}: chunk × (layers + 1) × T × hidden × 4 bytes); the head gives
     * ∂L_s/∂h of the last block's output; then from the last block down, each block is copied to
     * {@code work} in {@code dtype}, re-run on its checkpoint with autograd, and back-propagated with the
     * incoming ∂L_s/∂h, one sequence at a time: the |∂L_s/∂W| of its seven linears go into that block's
     * accumulators (brought to {@code work} for the chunk), and ∂L_s/∂(block input) flows down.
     * Weights cross to the GPU twice per chunk, the accumulators once each way.
     */
    public static Gradients streamed(
            Model m, Calibration cal, DType dtype, boolean baselines, Progress progress, Device work, int chunk) {
        if (chunk < 1) throw new IllegalArgumentException("chunk must be at least 1 sequence, not " + chunk);
        long t0 = System.nanoTime();
        Device home = m.device();
        boolean pin = !home.isCuda() && work.isCuda();
        Map<String, Tensor> abs = new LinkedHashMap<>(), square = new LinkedHashMap<>(), signed = new LinkedHashMap<>();
        int layers = m.blocks().size();
        int n = cal.sequences().size();
        Map<String, Double> phases = new LinkedHashMap<>();
        PhaseClock clock = new PhaseClock(work, phases);
        try (Model.Head head = m.headCopy(work, dtype)) {
            for (Linear l : m.linears()) {
                abs.put(l.name(), accumulator(l, home, pin));
                if (baselines) {
                    square.put(l.name(), accumulator(l, home, pin));
                    signed.put(l.name(), accumulator(l, home, pin));
                }
            }
            long steps = (long) n * (2L * layers + 1), step = 0;
            for (int from = 0; from < n; from += chunk) {
                List<int[]> seqs = cal.sequences().subList(from, Math.min(n, from + chunk));
                int c = seqs.size();
                Tensor[][] inputs =
                        new Tensor[c][layers + 1]; // inputs[s][b]: block b's input; [layers]: the last block's output
                Tensor[] upstream = new Tensor[c]; // ∂L_s/∂(the current block's output)
                try {
                    try (var ng = Torch.noGrad()) {
                        for (int s = 0; s < c; s++) {
                            try (Scope sc = Scope.open()) {
                                inputs[s][0] = sc.keep(
                                                m.embed(m.tokens(seqs.get(s))).to(work, dtype))
                                        .escape();
                            }
                        }
                        for (int b = 0; b < layers; b++) {
                            Interrupts.check();
                            try (Model.Block w = m.blockCopy(b, work, dtype)) {
                                clock.stop("copies");
                                for (int s = 0; s < c; s++)
                                    inputs[s][b + 1] =
                                            m.runBlock(w, inputs[s][b]).escape();
                                clock.stop("forward");
                            }
                            progress.update("gradients", step += c, steps);
                        }
                    }
                    for (int s = 0; s < c; s++) {
                        try (Scope sc = Scope.open();
                                var g = Torch.enableGrad()) {
                            Tensor h = inputs[s][layers].requiresGrad(true);
                            m.headLoss(head, h, m.tokens(seqs.get(s))).backward();
                            upstream[s] = h.grad().escape();
                        }
                        inputs[s][layers].close();
                        inputs[s][layers] = null;
                    }
                    clock.stop("head");
                    progress.update("gradients", step += c, steps);
                    for (int b = layers - 1; b >= 0; b--) {
                        Interrupts.check();
                        Model.Block w = m.blockCopy(b, work, dtype);
                        List<Linear> ls = w.linears();
                        Map<String, Tensor[]> acc =
                                new LinkedHashMap<>(); // on work for this chunk: abs, square, signed
                        try (var g = Torch.enableGrad()) {
                            for (Linear l : ls) {
                                l.weight().requiresGrad(true);
                                acc.put(l.name(), new Tensor[] {
                                    onWork(abs, l, work),
                                    baselines ? onWork(square, l, work) : null,
                                    baselines ? onWork(signed, l, work) : null
                                });
                            }
                            clock.stop("copies");
                            for (int s = 0; s < c; s++) {
                                try (Scope sc = Scope.open()) {
                                    Tensor x = inputs[s][b];
                                    if (b > 0) x.requiresGrad(true); // block 0's input needs no gradient
                                    m.runBlock(w, x).backward(upstream[s], false);
                                    for (Linear l : ls) {
                                        Tensor gr = l.weight().grad().to(DType.F32);
                                        Tensor[] a = acc.get(l.name());
                                        a[0].absAccumulateInPlace(gr);
                                        if (baselines) {
                                            a[1].addInPlace(gr.square());
                                            a[2].addInPlace(gr);
                                        }
                                        l.weight().zeroGrad();
                                    }
                                    upstream[s].close();
                                    upstream[s] = b > 0 ? x.grad().escape() : null;
                                }
                                inputs[s][b].close();
                                inputs[s][b] = null;
                            }
                            clock.stop("backward");
                            for (Linear l : ls) {
                                Tensor[] a = acc.get(l.name());
                                back(abs, l, a[0]);
                                if (baselines) {
                                    back(square, l, a[1]);
                                    back(signed, l, a[2]);
                                }
                            }
                            clock.stop("copies");
                        } finally {
                            for (Tensor[] a : acc.values())
                                for (Tensor t : a) if (t != null && !work.equals(home)) t.close();
                            for (Linear l :
                                    ls) { // a copy in the model's own dtype on its device shares its weights: leave
                                // them as found
                                l.weight().zeroGrad();
                                l.weight().requiresGrad(false);
                            }
                            w.close();
                        }
                        progress.update("gradients", step += c, steps);
                    }
                } finally {
                    for (Tensor[] row : inputs) for (Tensor t : row) if (t != null) t.close();
                    for (Tensor t : upstream) if (t != null) t.close();
                }
            }
            return new Gradients(abs, square, signed, n, (System.nanoTime() - t0) / 1e9, phases);
        } catch (RuntimeException | Error e) {
            closeAll(abs, square, signed);
            throw e;
        }
    }

    /** A float32 zero accumulator of the linear's shape on {@code home}, page-locked when the GPU copies it back and forth. */
    private static Tensor accumulator(Linear l, Device home, boolean pin) {
        try (Scope s = Scope.open()) {
            Tensor z = Torch.zeros(DType.F32, home, l.outFeatures(), l.inFeatures());
            return s.keep(pin ? Torch.call1("aten::pin_memory", "", z, null) : z)
                    .escape();
        }
    }

    private static Tensor onWork(Map<String, Tensor> home, Linear l, Device work) {
        Tensor t = home.get(l.name());
        return t.device().equals(work) ? t : t.to(work).escape();
    }

    private static void back(Map<String, Tensor> home, Linear l, Tensor onWork) {
        Tensor t = home.get(l.name());
        if (t != onWork) t.copyFrom(onWork);
    }

    /** Σ_s |∂L_s/∂W| of one linear (owned here). */
    public Tensor abs(String linear) {
        return need(abs, linear, "Σ|g|");
    }

    /** Σ_s (∂L_s/∂W)², when computed with baselines. */
    public Tensor square(String linear) {
        return need(square, linear, "Σg² (compute with baselines)");
    }

    /** Σ_s ∂L_s/∂W, when computed with baselines. */
    public Tensor signed(String linear) {
        return need(signed, linear, "Σg (compute with baselines)");
    }

    public boolean hasBaselines() {
        return !square.isEmpty();
    }

    public int sequences() {
        return sequences;
    }

    /** Seconds per phase of a {@link #streamed} pass (copies, forward, head, backward); empty for {@link #compute}. */
    public Map<String, Double> phases() {
        return phases;
    }

    public double seconds() {
        return seconds;
    }

    private static Tensor need(Map<String, Tensor> m, String linear, String what) {
        Tensor t = m.get(linear);
        if (t == null) throw new IllegalArgumentException("no " + what + " for " + linear);
        return t;
    }

    @Override
    public void close() {
        closeAll(abs, square, signed);
    }

    @SafeVarargs
    private static void closeAll(Map<String, Tensor>... sums) {
        for (Map<String, Tensor> m : sums) m.values().forEach(Tensor::close);
    }

    @Override
    public String toString() {
        return String.format(
                java.util.Locale.ROOT,
                "Gradients[%d linears, %d sequences, %.1f s%s]",
                abs.size(),
                sequences,
                seconds,
                hasBaselines() ? ", with Σg² and Σg" : "");
    }
}
