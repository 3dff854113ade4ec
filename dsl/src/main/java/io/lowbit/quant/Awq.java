package io.lowbit.quant;

import io.lowbit.data.Calibration;
import io.lowbit.model.BlockStructure;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * AWQ (Lin et al., arXiv 2306.00978, §3.2), as llmc runs it to initialise TesseraQ (ModelTC/llmc
 * llmc/compression/quantization/awq.py and auto_clip.py): per decoder block the activation-aware
 * channel-scale search, each scale folded into the operation before it so the full-precision block
 * computes the same function, then the clip search that clamps weights in place; the model driver
 * rounds every linear to nearest afterwards. Both searches work on llmc's grid of {@link MinMaxGroups}.
 */
public final class Awq {
    private Awq() {}

    /** AWQ's searches have fixed grids (the reference's): no options of its own. */
    public record Options() implements Method {
        public static Options defaults() {
            return new Options();
        }

        @Override
        public String name() {
            return "AWQ";
        }

        @Override
        public String label() {
            return Method.describe(name(), this, defaults(), Set.of());
        }
    }

    static final int RATIOS = 20; // ratio = 0, 0.05, …, 0.95
    static final int CLIP_STEPS = 10; // n_grid 20 × max_shrink 0.5
    static final int CLIP_TOKENS = 512; // n_sample_token

    /** Block i's inputs of each group of linears on hidden states xs, per batch. */
    static Map<BlockStructure.Group, List<Tensor>> inputs(Model m, int i, List<Tensor> xs) {
        Model.Block b = m.blocks().get(i);
        Map<BlockStructure.Group, List<Tensor>> seen = new LinkedHashMap<>();
        List<Linear> taps = new ArrayList<>();
        try (var g = Torch.noGrad()) {
            for (BlockStructure.Group group : BlockStructure.GROUPS) {
                List<Tensor> list = new ArrayList<>();
                seen.put(group, list);
                Linear tap = group.of(b).get(0); // the group's linears share the input
                taps.add(tap);
                tap.setInputHook(x -> list.add(x.share().escape()));
            }
            for (Tensor x : xs) m.runBlock(i, x).close();
        } finally {
            for (Linear l : taps) l.setInputHook(null);
        }
        return seen;
    }

    static void close(Map<BlockStructure.Group, List<Tensor>> inputs) {
        for (List<Tensor> l : inputs.values()) for (Tensor t : l) t.close();
    }

    /**
     * The search and fold for each group of the block in turn, each scale folded before the next is
     * searched; a group whose input cannot absorb a scale (v → o under grouped-query attention) is
     * skipped.
     */
    static void scale(Model m, int i, List<Tensor> xs, Grid grid) {
        Map<BlockStructure.Group, List<Tensor>> in = inputs(m, i, xs);
        try (var g = Torch.noGrad()) {
            for (BlockStructure.Group group : BlockStructure.GROUPS) {
                Model.Block b = m.blocks().get(i);
                if (!group.folds(b)) continue;
                List<Linear> ls = group.of(b);
                // what the scale is judged by: the module that reads the group's input
                Function<Tensor, Tensor> inspect = switch (group.source()) {
                    case ATTN_NORM -> x -> m.attention(i, x);
                    case MLP_NORM -> x -> m.mlp(i, x);
                    case ATTENTION, SWIGLU -> ls.get(0)::apply;
                };
                Tensor s = search(in.get(group), ls, inspect, grid);
                try {
                    fold(m, i, group, s);
                } finally {
                    s.close();
                }
            }
        } finally {
            close(in);
        }
    }

    /**
     * The best s = a^ratio / √(max·min) over the ratios, a the mean |x| per input channel: each
     * candidate quantizes W·diag(s) and undoes s, and the inspected module's output is compared.
     */
    static Tensor search(List<Tensor> xs, List<Linear> ls, Function<Tensor, Tensor> inspect, Grid grid) {
        List<Tensor> original = new ArrayList<>(), reference = new ArrayList<>();
        try (Scope scope = Scope.open()) {
            long c = ls.get(0).inFeatures();
            Tensor sumAbs = Torch.zeros(DType.F32, xs.get(0).device(), c);
            long tokens = 0;
            for (Tensor x : xs) {
                Tensor flat = x.reshape(-1, c);
                sumAbs = sumAbs.add(flat.to(DType.F32).abs().sum(0));
                tokens += flat.size(0);
            }
            Tensor a = sumAbs.div((double) tokens);
            for (Tensor x : xs) reference.add(inspect.apply(x).escape());
            for (Linear l : ls) original.add(l.weight().share().escape());
            double best = Double.POSITIVE_INFINITY;
            Tensor bestS = null;
            for (int r = 0; r < RATIOS; r++) {
                Interrupts.check();
                try (Scope step = Scope.open()) {
                    Tensor s = a.pow((double) r / RATIOS).clamp(1e-4, null);
                    s = s.div(Math.sqrt(s.max().item() * s.min().item()));
                    for (int j = 0; j < ls.size(); j++) {
                        Tensor w = original.get(j);
                        MinMaxGroups q = new MinMaxGroups(w.size(0), w.size(1), grid);
                        ls.get(j)
                                .setWeight(q.fakeWeight(w.to(DType.F32).mul(s))
                                        .div(s)
                                        .to(w.dtype())
                                        .escape());
                    }
                    double err = 0;
                    long n = 0;
                    for (int k = 0; k < xs.size(); k++) {
                        Tensor d = inspect.apply(xs.get(k))
                                .to(DType.F32)
                                .sub(reference.get(k).to(DType.F32));
                        err += d.square().sum().item();
                        n += d.numel();
                    }
                    err /= n;
                    if (err < best) {
                        best = err;
                        bestS = step.keep(s);
                    }
                }
            }
            if (bestS == null)
                throw new IllegalStateException("AWQ scale search: the output error is not finite for any ratio");
            return scope.keep(bestS).escape();
        } finally {
            for (int j = 0; j < original.size(); j++) ls.get(j).setWeight(original.get(j));
            for (Tensor t : reference) t.close();
        }
    }

    /**
     * The group's input ÷ s where it is made (a norm's weight, or the output rows and bias of the
     * linear before), the group's columns × s: the full-precision block computes the same function.
     */
    private static void fold(Model m, int i, BlockStructure.Group group, Tensor s) {
        Model.Block b = m.blocks().get(i);
        try (Scope scope = Scope.open()) {
            switch (group.source()) {
                case ATTN_NORM -> m.setNorms(i, divided(b.attnNorm(), s), b.mlpNorm());
                case MLP_NORM -> m.setNorms(i, b.attnNorm(), divided(b.mlpNorm(), s));
                case ATTENTION, SWIGLU -> {
                    Linear prev = group.foldRows(b);
                    Tensor w = prev.weight();
                    prev.setWeight(
                            w.to(DType.F32).div(s.unsqueeze(1)).to(w.dtype()).escape());
                    if (prev.bias() != null)
                        prev.setBias(prev.bias()
                                .to(DType.F32)
                                .div(s)
                                .to(prev.bias().dtype())
                                .escape());
                }
            }
        }
        scaleColumns(group.of(b), s);
    }

    private static Tensor divided(Tensor norm, Tensor s) {
        return norm.to(DType.F32).div(s).to(norm.dtype()).escape();
    }

    private static void scaleColumns(List<Linear> ls, Tensor s) {
        try (Scope scope = Scope.open()) {
            for (Linear l : ls)
                l.setWeight(
                        l.weight().to(DType.F32).mul(s).to(l.weight().dtype()).escape());
        }
    }

    /**
     * The clip search (v1) for every linear but q and k ({@link BlockStructure#QUERY_KEY}): per group,
     * shrink the range by 0, 5, …, 45 % and keep the one whose quantized partial dot products with
     * 512 sampled input tokens err least; then clamp the weights in place to it.
     */
    static void clip(Model m, int i, List<Tensor> xs, Grid grid) {
        Map<BlockStructure.Group, List<Tensor>> in = inputs(m, i, xs);
        try (var g = Torch.noGrad()) {
            for (BlockStructure.Group group : BlockStructure.GROUPS)
                for (String n : group.linears())
                    if (!BlockStructure.QUERY_KEY.contains(n))
                        clip(m.blocks().get(i).linear(n), in.get(group), grid);
        } finally {
            close(in);
        }
    }

    static void clip(Linear l, List<Tensor> xs, Grid grid) {
        Interrupts.check();
        try (Scope scope = Scope.open()) {
            long c = l.inFeatures(), r = l.outFeatures();
            MinMaxGroups q = new MinMaxGroups(r, c, grid);
            List<Tensor> flat = new ArrayList<>();
            for (Tensor x : xs) flat.add(x.reshape(-1, c));
            Tensor all = Torch.cat(flat, 0);
            long n = all.size(0), step = Math.max(1, n / CLIP_TOKENS);
            Tensor picked = all.indexSelect(
                    0,
                    Torch.arange(0, n, step, DType.I64, all.device())
                            .narrow(0, 0, Math.min(CLIP_TOKENS, (n + step - 1) / step)));
            long ng = q.groupsPerRow, gs = q.groupSize, t = picked.size(0);
            Tensor x = q.paddedInput(picked.to(DType.F32)).reshape(t, ng, gs).permute(1, 0, 2); // [ng, t, g]
            Tensor w = q.grouped(l.weight()).reshape(r, ng, gs);
            List<Tensor> clamped = new ArrayList<>();
            long chunk = r % 256 == 0 ? 256 : 64;
            for (long start = 0; start < r; start += chunk) {
                try (Scope part = Scope.open()) {
                    long rc = Math.min(chunk, r - start);
                    Tensor wc = w.narrow(0, start, rc); // [rc, ng, g]
                    Tensor exact = x.bmm(wc.permute(1, 2, 0)); // [ng, t, rc] partial dot products
                    Tensor max0 = wc.amax(new long[] {2}, true), min0 = wc.amin(new long[] {2}, true);
                    Tensor bestErr = null, bestMax = null, bestMin = null;
                    for (int k = 0; k < CLIP_STEPS; k++) {
                        double f = 1 - k / 20.0;
                        Tensor hi = max0.mul(f), lo = min0.mul(f);
                        Tensor cw = wc.clamp(lo, hi);
                        Tensor quant = q.fake(cw.reshape(rc * ng, gs)).reshape(rc, ng, gs);
                        Tensor err = x.bmm(quant.permute(1, 2, 0))
                                .sub(exact)
                                .square()
                                .mean(new long[] {1}, false)
                                .t()
                                .unsqueeze(2); // [rc, ng, 1]
                        if (bestErr == null) {
                            bestErr = err;
                            bestMax = hi;
                            bestMin = lo;
                        } else {
                            Tensor better = err.lt(bestErr);
                            bestErr = Torch.where(better, err, bestErr);
                            bestMax = Torch.where(better, hi, bestMax);
                            bestMin = Torch.where(better, lo, bestMin);
                        }
                    }
                    clamped.add(part.keep(wc.clamp(bestMin, bestMax)));
                }
            }
            Tensor result = q.ungrouped(Torch.cat(clamped, 0).reshape(r * ng, gs));
            l.setWeight(result.to(l.weight().dtype()).escape());
        }
    }

    /**
     * A new AWQ-quantized model (the original is untouched), block by block: scales and clip searched
     * on the block's inputs and folded in, the next block's inputs taken from the transformed
     * full-precision block (as AWQ does), then every linear rounded to nearest on llmc's grid.
     */
    public static QuantizedModel run(Model m, Grid grid, Calibration cal, Options o, Progress progress, Device work) {
        if (cal == null) throw new IllegalArgumentException("AWQ needs a calibration set");
        new MinMaxGroups(1, 1, grid); // refuses grids llmc's quantizer does not have, before any work
        return BlockLoop.onCopy(m, o, grid, out -> {
            Model q = out.q;
            BlockLoop.run(q, cal, work, progress, "AWQ blocks", new BlockLoop.Step() {
                @Override
                public void block(int i, List<Tensor> inputs) {
                    scale(q, i, inputs, grid);
                    clip(q, i, inputs, grid);
                }

                @Override
                public void propagated(int i) {
                    for (Linear l : q.blocks().get(i).linears()) out.layers.put(l.name(), nearest(l, grid, q.device()));
                }
            });
        });
    }

    /** Rounds the linear to nearest on llmc's grid in place; its record, beside the model on {@code home}. */
    private static QuantizedLinear nearest(Linear l, Grid grid, Device home) {
        try (Scope s = Scope.open()) {
            MinMaxGroups mg = new MinMaxGroups(l.outFeatures(), l.inFeatures(), grid);
            Tensor wg = mg.grouped(l.weight());
            Quantizer.Params p = mg.fit(wg);
            Tensor codes = mg.ungrouped(mg.codes(wg, p));
            Tensor scales = p.scale().reshape(mg.rows, mg.groupsPerRow).contiguous();
            Tensor zeros = p.zero().reshape(mg.rows, mg.groupsPerRow).contiguous();
            p.close();
            Tensor w = mg.dense(codes, scales, zeros, l.weight().dtype());
            double loss = mg.grouped(w).sub(wg).square().sum().item();
            l.setWeight(w.escape());
            return QuantizedLinear.stored(
                    l.name(),
                    grid,
                    codes.escape(),
                    scales.escape(),
                    zeros.escape(),
                    mg.groupOfColumn(),
                    null,
                    loss,
                    home);
        }
    }
}
