package io.lowbit.quant;

import io.lowbit.model.Linear;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;

/**
 * One linear's trainable parametrisation in TesseraQ (Li &amp; Panda, arXiv 2410.19103; ModelTC/llmc
 * llmc/compression/quantization/tesseraq.py): the weight groups wg with a fixed scale s and zero z,
 * a rounding variable ν per weight through AdaRound's rectified sigmoid h (Nagel et al., arXiv
 * 2004.10568), and a dequantization-scale variable v per group with multiplier α = 2·h(v).
 * Progressive Adaptive Rounding hardens a growing share of the roundings; at the end every rounding
 * is hard and the codes are read off.
 */
final class SoftRounding implements AutoCloseable {
    static final double GAMMA = -0.1, ZETA = 1.1;

    final Linear linear;
    final MinMaxGroups groups;
    final Tensor wg; // the initial weight as groups, fixed
    final Tensor base; // floor(wg / s), fixed
    final Quantizer.Params p; // s, z, fixed
    final Tensor nu, v; // trainable leaves
    final boolean fused;

    SoftRounding(Linear l, Grid grid) {
        this(l, grid, true);
    }

    /** {@code fused}: the soft weight as one kernel pass (off: the same formula as ATen ops). */
    SoftRounding(Linear l, Grid grid, boolean fused) {
        this.linear = l;
        this.fused = fused;
        this.groups = new MinMaxGroups(l.outFeatures(), l.inFeatures(), grid);
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            wg = s.keep(groups.grouped(l.weight())).escape();
            p = groups.fit(wg);
            Tensor ratio = wg.div(p.scale());
            base = s.keep(ratio.floor()).escape();
            // ν = h⁻¹(frac(W/s)): at initialisation the soft weight is the weight, up to the clamp
            nu = s.keep(rectifiedInverse(ratio.sub(base))).escape().requiresGrad(true);
            v = s.keep(Torch.zeros(DType.F32, wg.device(), wg.size(0), 1))
                    .escape()
                    .requiresGrad(true);
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
            return s.keep(
                    y.sub(GAMMA).reciprocal().mul(ZETA - GAMMA).sub(1.0).log().neg());
        }
    }

    /** Ŵ = α ⊙ s ⊙ (clamp(floor(W/s) + h(ν) + z, 0, maxq) − z), back as [out, in] in {@code dtype}. */
    Tensor weight(DType dtype) {
        try (Scope s = Scope.open()) {
            Tensor scale = rectified(v).mul(2.0).mul(p.scale()); // α·s per group: small, plain autograd
            if (fused)
                return s.keep(groups.ungrouped(Torch.softRoundWeight(nu, scale, base, p.zero(), groups.maxq, dtype)));
            Tensor level = base.add(rectified(nu))
                    .add(p.zero())
                    .clamp(0.0, (double) groups.maxq)
                    .sub(p.zero());
            return s.keep(groups.ungrouped(level.mul(scale)).to(dtype));
        }
    }

    /**
     * Hardening before a round: with t the τ-quantile of |h(ν) − 0.5| over the layer's weights, ν
     * becomes +∞ where h(ν) > 0.5 + t and −∞ where h(ν) < 0.5 − t. Returns the hard fraction afterwards.
     */
    double harden(double tau) {
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            Tensor h = rectified(nu);
            Tensor score = groups.ungrouped(h.sub(0.5).abs()).flatten();
            double t = quantile(score, tau);
            Tensor up = h.gt(0.5 + t), down = h.lt(0.5 - t);
            nu.copyFrom(nu.maskedFill(up, Double.POSITIVE_INFINITY).maskedFill(down, Double.NEGATIVE_INFINITY));
            return groups.ungrouped(nu.abs().eq(Double.POSITIVE_INFINITY).to(DType.F32))
                    .mean()
                    .item();
        }
    }

    /** Every rounding hard: ν = 100·sign(ν), so h(ν) is exactly 0 or 1. */
    void hardenAll() {
        try (var g = Torch.noGrad()) {
            nu.copyFrom(nu.sign().mul(100.0));
        }
    }

    /**
     * Integer codes after training: floor(W/s) + [ν > 0] + z, clamped, stored directly rather than
     * folded back into the weight (which half-to-even rounding could undo).
     */
    Tensor finalCodes() {
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            return s.keep(base.add(nu.gt(0.0).to(DType.F32)).add(p.zero()).clamp(0.0, (double) groups.maxq));
        }
    }

    /** The effective dequantization scale α·s per group. */
    Tensor finalScales() {
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            return s.keep(rectified(v).mul(2.0).mul(p.scale()));
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

    @Override
    public void close() {
        wg.close();
        base.close();
        p.close();
        nu.close();
        v.close();
    }
}
