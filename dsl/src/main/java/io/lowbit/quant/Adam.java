package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.List;

/**
 * Adam (Kingma &amp; Ba, arXiv 1412.6980, Algorithm 1) with PyTorch's defaults (β 0.9, 0.999, ε 1e−8)
 * and L2 weight decay added to the gradient (torch.optim.Adam's form, not AdamW), a learning rate
 * and decay per parameter. Owns its moments; zeroes the parameters' gradients after each step.
 */
final class Adam implements AutoCloseable {
    private record Param(Tensor p, double lr, double decay, Tensor m, Tensor v) {}

    private final List<Param> params = new ArrayList<>();
    private final boolean fused;
    private int t;

    /** {@code fused}: each parameter's update as one kernel pass (off: the same formulas as ATen ops). */
    Adam(boolean fused) {
        this.fused = fused;
    }

    void add(Tensor p, double lr, double decay) {
        try (var g = Torch.noGrad()) {
            params.add(new Param(
                    p,
                    lr,
                    decay,
                    Torch.zeros(DType.F32, p.device(), p.shape()).escape(),
                    Torch.zeros(DType.F32, p.device(), p.shape()).escape()));
        }
    }

    void step() {
        t++;
        double c1 = 1 - Math.pow(0.9, t), c2 = 1 - Math.pow(0.999, t);
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
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
