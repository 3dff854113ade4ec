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
import java.util.List;
import java.util.Set;

/**
 * GPTQ (Frantar et al., arXiv 2210.17323, Algorithm 1), as the IST-DASLab reference does it
 * (IST-DASLab/gptq gptq.py for a layer, llama.py for the model), with TaCQ's mask of weights kept
 * in 16 bits (arXiv 2504.07389, §3): kept weights are quantized as zeros, keep their current value
 * and inject no error. The layer maths first, in float32, then the model-level driver.
 */
public final class Gptq {
    private Gptq() {}

    /**
     * Block size 128, 1 % damping retried up to 150 times, natural column order; the in-block sweep
     * as one fused call per block ({@code fusedSweep}; off: the per-column tensor ops below, which
     * mirror the paper line by line and serve as the kernel's reference). {@code actOrderOn}: columns
     * in descending order of the Hessian's diagonal (the reference's --act-order); {@code
     * staticGroupsOn}: every group's grid fitted on the original weights before the sweep (its
     * static_groups).
     */
    public record Options(
            int blockSize,
            double percDamp,
            boolean actOrderOn,
            boolean staticGroupsOn,
            int maxDampRetries,
            boolean fusedSweep)
            implements Method {
        public static Options defaults() {
            return new Options(128, 0.01, false, false, 150, true);
        }

        /** Columns in descending order of the Hessian's diagonal. */
        public Options actOrder() {
            return actOrder(true);
        }

        public Options actOrder(boolean on) {
            return new Options(blockSize, percDamp, on, staticGroupsOn, maxDampRetries, fusedSweep);
        }

        /** Every group's grid fitted on the original weights, before any error feedback or permutation. */
        public Options staticGroups() {
            return staticGroups(true);
        }

        public Options staticGroups(boolean on) {
            return new Options(blockSize, percDamp, actOrderOn, on, maxDampRetries, fusedSweep);
        }

        /** Columns per lazy-update block. */
        public Options blockSize(int b) {
            return new Options(b, percDamp, actOrderOn, staticGroupsOn, maxDampRetries, fusedSweep);
        }

        /** Damping as a fraction of the Hessian's mean diagonal, added again on every failed Cholesky. */
        public Options percDamp(double p) {
            return new Options(blockSize, p, actOrderOn, staticGroupsOn, maxDampRetries, fusedSweep);
        }

        public Options maxDampRetries(int n) {
            return new Options(blockSize, percDamp, actOrderOn, staticGroupsOn, n, fusedSweep);
        }

        public Options fusedSweep(boolean on) {
            return new Options(blockSize, percDamp, actOrderOn, staticGroupsOn, maxDampRetries, on);
        }

        @Override
        public String name() {
            return "GPTQ";
        }

        @Override
        public String label() {
            return Method.describe(name(), this, defaults(), Set.of());
        }
    }

    /** The layer's result: dequantized weights (kept weights in place), codes and grid, and the error. */
    public record Result(
            Tensor weight,
            Tensor codes,
            Tensor scales,
            Tensor zeros,
            int[] groupOfColumn,
            double loss,
            double damping) {}

    /**
     * Quantizes W [r, c] given its Hessian H [c, c]; {@code keep} [r, c] (boolean, may be null) marks
     * weights left in 16 bits. Returns float32 tensors the caller owns.
     */
    public static Result quantize(Tensor weight, Tensor hessian, Grid grid, Tensor keep, Options o) {
        try (Scope s = Scope.open()) {
            long r = weight.size(0), c = weight.size(1);
            int g = grid.groupSize() > 0 ? grid.groupSize() : (int) c;
            Tensor w = weight.to(DType.F32).clone();
            Tensor h = hessian.to(DType.F32).clone();
            Tensor kp = keep;
            // per-row parameters from the whole original row, fitted before anything changes it (gptq.py)
            Quantizer.Params rowParams = grid.groupSize() > 0 ? null : Quantizer.fit(w, kp, grid);
            // dead inputs (a zero on the Hessian's diagonal): a unit diagonal and a zero column (gptq.py)
            Tensor dead = h.diagonal().eq(0.0);
            Tensor eye = Torch.call1("aten::eye", "", c, DType.F32, null, w.device());
            h = Torch.where(eye.gt(0.0).logicalAnd(dead.unsqueeze(0)), eye, h);
            w = w.maskedFill(dead.unsqueeze(0), 0);
            // static groups, fitted on the original order (gptq.py, static_groups)
            List<Quantizer.Params> staticGroups = new ArrayList<>();
            if (o.staticGroupsOn() && grid.groupSize() > 0)
                for (long t = 0; t < c; t += g)
                    staticGroups.add(
                            Quantizer.fit(w.narrow(1, t, Math.min(g, c - t)), slice(kp, t, Math.min(g, c - t)), grid));
            // act-order: columns by descending Hessian diagonal (gptq.py, actorder)
            Tensor perm = null, invperm = null;
            if (o.actOrderOn()) {
                perm = h.diagonal().sort(0, true).indices();
                invperm = perm.sort(0, false).indices();
                w = w.indexSelect(1, perm);
                h = h.indexSelect(0, perm).indexSelect(1, perm);
                if (kp != null) kp = kp.indexSelect(1, perm);
            }
            long[] permuted = perm == null ? null : perm.toLongArray();
            // damping (retried while Cholesky fails), then U = chol(H⁻¹, upper): the paper's §4, Step 3
            double lambda = o.percDamp() * h.diagonal().mean().item();
            Tensor u = null;
            double damping = 0;
            for (int attempt = 0; attempt <= o.maxDampRetries() && u == null; attempt++) {
                damping += lambda;
                Tensor damped = h.add(eye.mul(damping));
                Torch.Cholesky l = Torch.choleskyEx(damped, false);
                if (!l.ok()) continue;
                Torch.Cholesky upper = Torch.choleskyEx(Torch.choleskyInverse(l.factor(), false), true);
                if (upper.ok()) u = upper.factor();
            }
            if (u == null)
                throw new IllegalStateException(
                        "GPTQ: the Hessian stayed indefinite after " + o.maxDampRetries() + " rounds of damping (λ = "
                                + lambda + " each); the calibration set may be too small for this layer");

            // Algorithm 1: the column sweep in blocks of B with lazy batch updates (§4, Step 2)
            Tensor q = Torch.zeros(DType.F32, w.device(), r, c), codes = Torch.zeros(DType.F32, w.device(), r, c);
            Tensor losses = Torch.zeros(DType.F32, w.device(), r);
            List<Tensor> scales = new ArrayList<>(), zeros = new ArrayList<>();
            int[] groupOfColumn = new int[(int) c];
            Quantizer.Params params = rowParams;
            if (rowParams != null) {
                scales.add(rowParams.scale());
                zeros.add(rowParams.zero());
            }
            for (long i1 = 0; i1 < c; i1 += o.blockSize()) {
                Interrupts.check();
                long nb = Math.min(o.blockSize(), c - i1);
                try (Scope block = Scope.open()) {
                    Tensor u1 = u.narrow(0, i1, nb).narrow(1, i1, nb);
                    // each column's grid; a group is fitted on the global W as it stands before this block,
                    // as gptq.py does, so all of the block's grids are known up front
                    List<Quantizer.Params> grids = new ArrayList<>();
                    for (long i = 0; i < nb; i++) {
                        long j = i1 + i;
                        if (grid.groupSize() > 0) {
                            if (o.staticGroupsOn()) {
                                params = staticGroups.get((int) ((permuted == null ? j : permuted[(int) j]) / g));
                            } else if (j % g == 0) {
                                params = Quantizer.fit(
                                        w.narrow(1, j, Math.min(g, c - j)), slice(kp, j, Math.min(g, c - j)), grid);
                                scales.add(params.scale().escape());
                                zeros.add(params.zero().escape());
                            }
                        }
                        groupOfColumn[(int) j] = o.staticGroupsOn()
                                ? (int) ((permuted == null ? j : permuted[(int) j]) / g)
                                : grid.groupSize() > 0 ? (int) (j / g) : 0;
                        grids.add(params);
                    }
                    Tensor e1 = o.fusedSweep()
                            ? fusedSweep(
                                    w.narrow(1, i1, nb),
                                    u1,
                                    grids,
                                    slice(kp, i1, nb),
                                    grid,
                                    q.narrow(1, i1, nb),
                                    codes.narrow(1, i1, nb),
                                    losses)
                            : sweep(
                                    w.narrow(1, i1, nb).clone(),
                                    u1,
                                    grids,
                                    slice(kp, i1, nb),
                                    grid,
                                    q.narrow(1, i1, nb),
                                    codes.narrow(1, i1, nb),
                                    losses);
                    if (i1 + nb < c) // the lazy update of every later column: one product per block
                    w.narrow(1, i1 + nb, c - i1 - nb)
                                .addInPlace(e1.mm(u.narrow(0, i1, nb).narrow(1, i1 + nb, c - i1 - nb)), -1);
                }
            }
            if (invperm != null) {
                q = q.indexSelect(1, invperm);
                codes = codes.indexSelect(1, invperm);
                int[] natural = new int[(int) c];
                for (int j = 0; j < c; j++) natural[(int) permuted[j]] = groupOfColumn[j];
                groupOfColumn = natural;
            }
            if (o.staticGroupsOn() && grid.groupSize() > 0)
                for (Quantizer.Params p : staticGroups) {
                    scales.add(p.scale());
                    zeros.add(p.zero());
                }
            Tensor sc = Torch.cat(scales, 1), zr = Torch.cat(zeros, 1);
            for (Tensor t : scales) t.close();
            for (Tensor t : zeros) t.close();
            double loss = losses.sum().item();
            return new Result(
                    s.keep(q).escape(),
                    s.keep(codes).escape(),
                    s.keep(sc).escape(),
                    s.keep(zr).escape(),
                    groupOfColumn,
                    loss,
                    damping);
        }
    }

    /**
     * Algorithm 1's inner loop over the block's columns, one column at a time: quantize column i,
     * E[:, i] = (w − q)/U[i, i], W[:, i:] −= E[:, i]·U[i, i:]. Writes q and codes, adds the loss,
     * returns E [r, nb].
     */
    static Tensor sweep(
            Tensor w1,
            Tensor u1,
            List<Quantizer.Params> grids,
            Tensor keep,
            Grid grid,
            Tensor q,
            Tensor codes,
            Tensor losses) {
        try (Scope s = Scope.open()) {
            long r = w1.size(0), nb = w1.size(1);
            Tensor e1 = Torch.zeros(DType.F32, w1.device(), r, nb);
            double[] diag = u1.diagonal().toDoubleArray(); // one read per block, not a device sync per column
            for (int i = 0; i < nb; i++) {
                Quantizer.Params params = grids.get(i);
                Tensor x = w1.select(1, i).unsqueeze(1); // [r, 1]
                Tensor kj = keep == null ? null : keep.select(1, i).unsqueeze(1);
                Tensor code = Quantizer.codes(kj == null ? x : x.maskedFill(kj, 0), params, grid);
                Tensor qj = Quantizer.dequantize(code, params);
                if (kj != null) qj = Torch.where(kj, x, qj); // kept weights keep their current value
                q.narrow(1, i, 1).copyFrom(qj);
                codes.narrow(1, i, 1).copyFrom(code);
                Tensor err = x.sub(qj).div(diag[i]); // [r, 1]; 0 on kept weights
                losses.addInPlace(err.square().reshape(r).div(2));
                w1.narrow(1, i, nb - i)
                        .addInPlace(err.mul(u1.select(0, i).narrow(0, i, nb - i).unsqueeze(0)), -1);
                e1.narrow(1, i, 1).copyFrom(err);
            }
            return s.keep(e1);
        }
    }

    /** The same sweep as one bridge call per block (a CUDA kernel on a GPU, a parallel loop on a CPU). */
    static Tensor fusedSweep(
            Tensor w1,
            Tensor u1,
            List<Quantizer.Params> grids,
            Tensor keep,
            Grid grid,
            Tensor q,
            Tensor codes,
            Tensor losses) {
        try (Scope s = Scope.open()) {
            long r = w1.size(0), nb = w1.size(1);
            List<Tensor> sc = new ArrayList<>(), zr = new ArrayList<>();
            for (Quantizer.Params p : grids) {
                sc.add(p.scale().expand(r, 1));
                zr.add(p.zero().expand(r, 1));
            }
            Tensor wt = w1.t().contiguous(); // [nb, r]: a column's rows contiguous, so a warp's loads coalesce
            Tensor qt = Torch.zeros(DType.F32, w1.device(), nb, r),
                    ct = Torch.zeros(DType.F32, w1.device(), nb, r),
                    et = Torch.zeros(DType.F32, w1.device(), nb, r);
            Torch.gptqSweep(
                    wt,
                    u1.contiguous(),
                    Torch.cat(sc, 1).t().contiguous(),
                    Torch.cat(zr, 1).t().contiguous(),
                    keep == null ? null : keep.t().contiguous(),
                    grid.maxq(),
                    qt,
                    ct,
                    et,
                    losses);
            q.copyFrom(qt.t());
            codes.copyFrom(ct.t());
            return s.keep(et.t());
        }
    }

    /**
     * A new GPTQ-quantized model (the original is untouched), block by block on the quantized chain
     * (llama.py): inside a block the linears go in true-sequential groups ({@link BlockStructure#GROUPS}:
     * k, v, q → o → up, gate → down), each group's Hessian collected from the partly quantized block;
     * the block's outputs then feed the next block. {@code mask} (may be null) marks weights kept in
     * 16 bits. The work runs on {@code work}, one block at a time; the time of each phase (Hessians,
     * sweeps, propagation) is in {@link QuantizedModel#phases()}.
     */
    public static QuantizedModel run(
            Model m, Grid grid, Calibration cal, Mask mask, Options o, Progress progress, Device work) {
        if (cal == null) throw new IllegalArgumentException("GPTQ needs a calibration set");
        return trueSequential(m, grid, cal, mask, o, progress, work, "GPTQ blocks", (l, hessian, keep, home) -> {
            Result r = quantize(l.weight(), hessian, grid, keep, o);
            l.setWeight(r.weight().to(l.weight().dtype()).escape());
            r.weight().close();
            return QuantizedLinear.stored(
                    l.name(), grid, r.codes(), r.scales(), r.zeros(), r.groupOfColumn(), keep, r.loss(), home);
        });
    }

    /** One linear in the walk below: quantize it against its group's Hessian, set its weight, return its record. */
    interface LayerStep {
        QuantizedLinear apply(Linear l, Tensor hessian, Tensor keep, Device home);
    }

    /**
     * The model walk GPTQ and CLAQ share (llama.py): block by block on the quantized chain, the linears in
     * true-sequential groups ({@link BlockStructure#GROUPS}), one Hessian per group from the partly quantized
     * block, {@code step} on each linear of the group; Hessians, sweeps and propagation timed per phase.
     */
    static QuantizedModel trueSequential(
            Model m,
            Grid grid,
            Calibration cal,
            Mask mask,
            Method method,
            Progress progress,
            Device work,
            String what,
            LayerStep step) {
        return BlockLoop.onCopy(m, method, grid, out -> {
            Model q = out.q;
            PhaseClock clock = new PhaseClock(work, out.phases);
            BlockLoop.run(q, cal, work, progress, what, new BlockLoop.Step() {
                @Override
                public void block(int i, List<Tensor> inputs) {
                    for (BlockStructure.Group group : BlockStructure.GROUPS) {
                        Interrupts.check();
                        List<Linear> ls = group.of(q.blocks().get(i));
                        // every linear of a group sees the same input: one Hessian serves them all
                        try (Hessian h = new Hessian(ls.get(0).inFeatures(), work)) {
                            clock.start();
                            collect(q, i, ls.get(0), h, inputs);
                            clock.stop("hessian");
                            for (Linear l : ls) {
                                Tensor keep = mask == null ? null : mask.on(l.name(), work);
                                out.layers.put(l.name(), step.apply(l, h.matrix(), keep, q.device()));
                            }
                            clock.stop("sweep");
                        }
                    }
                }

                @Override
                public void propagated(int i) {
                    clock.stop("propagate");
                }
            });
        });
    }

    /** Adds the input of {@code tap} in block i on every batch to {@code h}, each pass stopped there. */
    static void collect(Model q, int i, Linear tap, Hessian h, List<Tensor> inputs) {
        tap.setInputHook(x -> {
            h.add(x);
            throw ENOUGH;
        });
        try {
            for (Tensor x : inputs) {
                try {
                    q.runBlock(i, x).close();
                } catch (Enough e) {
                    // the Hessian has this batch
                }
            }
        } finally {
            tap.setInputHook(null);
        }
    }

    /** Thrown by a Hessian hook once it has its input: the rest of the block's pass is not needed. */
    private static final class Enough extends RuntimeException {
        Enough() {
            super("input collected", null, false, false);
        }
    }

    private static final Enough ENOUGH = new Enough();

    private static Tensor slice(Tensor keep, long start, long length) {
        return keep == null ? null : keep.narrow(1, start, length);
    }
}
