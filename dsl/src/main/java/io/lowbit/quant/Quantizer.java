package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;

/**
 * The uniform quantizer of GPTQ's quant.py, on tensors (float32): fit a scale and zero per row of
 * x [r, n]; q = clamp(round(x/scale) + zero, 0, maxq) with round half to even; x̂ = scale·(q − zero).
 */
final class Quantizer {
    private Quantizer() {}

    /** Scale and zero per row, each [r, 1] float32. */
    record Params(Tensor scale, Tensor zero) implements AutoCloseable {
        Params escape() {
            scale.escape();
            zero.escape();
            return this;
        }

        @Override
        public void close() {
            scale.close();
            zero.close();
        }
    }

    /**
     * Fits the grid to each row of x [r, n]. Entries where {@code keep} is true are left out of the
     * fit (replaced by the mean of the row's other entries, so kept outliers do not stretch the range).
     */
    static Params fit(Tensor x, Tensor keep, Grid g) {
        return fit(x, keep, g, x.device().isCuda());
    }

    /**
     * {@code fused}: the clipping search in one pass per row (Torch.mseGrid; the default on a GPU),
     * instead of ten weight-sized ATen passes per candidate. The sums run in another order, so a
     * near-tie between candidates can go the other way; everything else is the same float32 arithmetic.
     */
    static Params fit(Tensor x, Tensor keep, Grid g, boolean fused) {
        try (Scope s = Scope.open()) {
            Tensor w = x.to(DType.F32);
            if (keep != null) {
                Tensor others = keep.logicalNot().to(DType.F32);
                Tensor mean = w.mul(others)
                        .sum(new long[] {1}, true)
                        .div(others.sum(new long[] {1}, true).clamp(1.0, null));
                w = Torch.where(keep, mean.expand(w.shape()), w);
            }
            Tensor zero0 = Torch.zeros(DType.F32, w.device(), w.size(0), 1);
            Tensor xmin = w.amin(new long[] {1}, true).minimum(zero0); // the range always holds 0
            Tensor xmax = w.amax(new long[] {1}, true).maximum(zero0);
            if (g.sym()) {
                xmax = xmin.abs().maximum(xmax);
                xmin = Torch.where(xmin.lt(0.0), xmax.neg(), xmin);
            }
            Tensor empty = xmin.eq(0.0).logicalAnd(xmax.eq(0.0)); // an all-zero row: use [−1, 1]
            xmin = xmin.maskedFill(empty, -1);
            xmax = xmax.maskedFill(empty, 1);
            if (g.mseSearch() && fused) {
                Tensor scale = Torch.zeros(DType.F32, w.device(), w.size(0), 1),
                        zero = Torch.zeros(DType.F32, w.device(), w.size(0), 1);
                Torch.mseGrid(
                        w.contiguous(),
                        xmin.contiguous(),
                        xmax.contiguous(),
                        g.maxq(),
                        g.norm(),
                        g.mseGrid(),
                        (int) (g.maxShrink() * g.mseGrid()),
                        g.sym(),
                        scale,
                        zero);
                return new Params(s.keep(scale), s.keep(zero)).escape();
            }
            Params best = params(xmin, xmax, g);
            if (g.mseSearch()) {
                Tensor bestErr = Torch.full(Double.POSITIVE_INFINITY, DType.F32, w.device(), w.size(0), 1);
                int steps = (int) (g.maxShrink() * g.mseGrid());
                for (int i = 0; i < steps; i++) {
                    try (Scope step =
                            Scope.open()) { // each candidate's weight-sized temporaries go at once, not after all 80
                        double p = 1 - (double) i / g.mseGrid();
                        Params cand = params(xmin.mul(p), xmax.mul(p), g);
                        Tensor err = fake(w, cand, g).sub(w).abs().pow(g.norm()).sum(new long[] {1}, true);
                        Tensor better = err.lt(bestErr); // strict improvement only
                        bestErr = step.keep(Torch.where(better, err, bestErr));
                        best = new Params(
                                step.keep(Torch.where(better, cand.scale(), best.scale())),
                                step.keep(Torch.where(better, cand.zero(), best.zero())));
                    }
                }
            }
            return new Params(s.keep(best.scale()), s.keep(best.zero())).escape();
        }
    }

    private static Params params(Tensor xmin, Tensor xmax, Grid g) {
        Tensor scale = xmax.sub(xmin).div(g.maxq());
        Tensor zero = g.sym()
                ? Torch.full((g.maxq() + 1) / 2.0, DType.F32, xmin.device(), xmin.shape())
                : xmin.neg().div(scale).round();
        return new Params(scale, zero);
    }

    /** Integer codes of x under the row parameters, as float32 values in [0, maxq]. */
    static Tensor codes(Tensor x, Params p, Grid g) {
        try (Scope s = Scope.open()) {
            return s.keep(x.to(DType.F32).div(p.scale()).round().add(p.zero()).clamp(0.0, (double) g.maxq()));
        }
    }

    static Tensor dequantize(Tensor codes, Params p) {
        try (Scope s = Scope.open()) {
            return s.keep(codes.sub(p.zero()).mul(p.scale()));
        }
    }

    /** x̂: quantize then dequantize. */
    static Tensor fake(Tensor x, Params p, Grid g) {
        try (Scope s = Scope.open()) {
            return s.keep(dequantize(codes(x, p, g), p));
        }
    }
}
