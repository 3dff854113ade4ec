package io.lowbit.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Gradients from libtorch autograd agree with central finite differences in float64. */
class AutogradTest {
    private final Random random = new Random(3);

    /** loss(x) = cross_entropy(silu(x·W)·V, targets): a small network with every kind of op we rely on. */
    private static Tensor loss(Tensor x, Tensor w, Tensor v, Tensor targets) {
        try (Scope s = Scope.open()) {
            Tensor h = x.matmul(w).silu();
            Tensor logits = h.matmul(v);
            Tensor norm = logits.mul(
                    logits.square().mean(new long[] {-1}, true).add(1e-6).rsqrt());
            return s.keep(Torch.crossEntropy(norm, targets));
        }
    }

    @Test
    void gradientOfWeightsMatchesFiniteDifferences() {
        int n = 4, d = 5, h = 6, c = 3;
        double[] xs = Plain.random(random, n * d), ws = Plain.random(random, d * h), vs = Plain.random(random, h * c);
        try (Scope scope = Scope.open()) {
            Tensor x = Torch.tensor(xs, n, d),
                    v = Torch.tensor(vs, h, c),
                    targets = Torch.tensor(new long[] {0, 2, 1, 2}, n);
            Tensor w = Torch.tensor(ws, d, h).requiresGrad(true);
            assertNull(w.grad(), "no gradient before backward");
            loss(x, w, v, targets).backward();
            double[] analytic = w.grad().toDoubleArray();

            Function<double[], Double> f = p -> {
                try (Scope inner = Scope.open();
                        var g = Torch.noGrad()) {
                    return loss(x, Torch.tensor(p, d, h), v, targets).item();
                }
            };
            double eps = 1e-6;
            for (int i = 0; i < ws.length; i++) {
                double[] plus = ws.clone(), minus = ws.clone();
                plus[i] += eps;
                minus[i] -= eps;
                double numeric = (f.apply(plus) - f.apply(minus)) / (2 * eps);
                assertEquals(numeric, analytic[i], 1e-7, "dL/dW[" + i + "]");
            }
        }
    }

    @Test
    void gradientsAccumulateUntilDropped() {
        try (Scope scope = Scope.open()) {
            Tensor w = Torch.tensor(new double[] {1, 2, 3}, 3).requiresGrad(true);
            assertTrue(w.requiresGrad());
            w.square().sum().backward(); // d/dw Σw² = 2w
            w.square().sum().backward(); // accumulates: 4w
            assertEquals(
                    java.util.List.of(4.0, 8.0, 12.0),
                    java.util.Arrays.stream(w.grad().toDoubleArray()).boxed().toList());
            w.zeroGrad();
            assertNull(w.grad());
            Tensor out = w.mul(2);
            out.backward(Torch.tensor(new double[] {1, 10, 100}, 3), false); // vector-Jacobian product
            assertEquals(
                    java.util.List.of(2.0, 20.0, 200.0),
                    java.util.Arrays.stream(w.grad().toDoubleArray()).boxed().toList());
        }
    }

    @Test
    void noGradBuildsNoGraphAndRestoresTheMode() {
        try (Scope scope = Scope.open()) {
            Tensor w = Torch.tensor(new double[] {1, 2}, 2).requiresGrad(true);
            assertTrue(Torch.isGradEnabled());
            try (var g = Torch.noGrad()) {
                assertFalse(Torch.isGradEnabled());
                assertFalse(w.mul(3).requiresGrad());
            }
            assertTrue(Torch.isGradEnabled());
            Tensor y = w.mul(3);
            assertTrue(y.requiresGrad());
            y.sum().backward();
            assertNotNull(w.grad());
        }
    }
}
