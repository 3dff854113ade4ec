package io.lowbit.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Cholesky, its inverse, triangular solves and attention against plain-Java computations. */
class LinalgAndAttentionTest {
    private final Random random = new Random(11);
    private Scope scope;

    @BeforeEach
    void open() {
        scope = Scope.open();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    @Test
    void choleskyMatchesTheTextbookFactorisation() {
        int n = 9;
        double[] a = Plain.spd(random, n);
        Torch.Cholesky lower = Torch.choleskyEx(Torch.tensor(a, n, n), false);
        assertTrue(lower.ok());
        assertArrayEquals(Plain.cholesky(a, n), lower.factor().toDoubleArray(), 1e-12);
        Torch.Cholesky upper = Torch.choleskyEx(Torch.tensor(a, n, n), true);
        assertArrayEquals(
                lower.factor().t().contiguous().toDoubleArray(), upper.factor().toDoubleArray(), 1e-12);
    }

    @Test
    void choleskyReportsIndefiniteMatricesWithoutThrowing() {
        Torch.Cholesky c = Torch.choleskyEx(Torch.tensor(new double[] {1, 2, 2, 1}, 2, 2), false);
        assertFalse(c.ok());
        assertEquals(2, c.info().itemLong(), "the leading minor of order 2 is not positive");
    }

    @Test
    void choleskyInverseTimesTheMatrixIsIdentity() {
        int n = 8;
        double[] a = Plain.spd(random, n);
        Tensor m = Torch.tensor(a, n, n);
        Tensor inv = Torch.choleskyInverse(Torch.choleskyEx(m, false).factor(), false);
        double[] prod = Plain.matmul(inv.toDoubleArray(), a, n, n, n);
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) assertEquals(i == j ? 1 : 0, prod[i * n + j], 1e-10);
        // the upper factor gives the same inverse
        Tensor invU = Torch.choleskyInverse(Torch.choleskyEx(m, true).factor(), true);
        assertArrayEquals(inv.toDoubleArray(), invU.toDoubleArray(), 1e-10);
    }

    @Test
    void triangularSolveInvertsTheProduct() {
        int n = 6, k = 3;
        double[] l = Plain.cholesky(Plain.spd(random, n), n);
        double[] x = Plain.random(random, n * k);
        double[] b = Plain.matmul(l, x, n, n, k);
        assertArrayEquals(
                x,
                Torch.solveTriangular(Torch.tensor(l, n, n), Torch.tensor(b, n, k), false)
                        .toDoubleArray(),
                1e-10);
    }

    /** Causal attention computed with loops: out_t = Σ_{s≤t} softmax_s(q_t·k_s/√d) v_s. */
    private static double[] causalAttention(double[] q, double[] k, double[] v, int t, int d) {
        double[] out = new double[t * d];
        for (int i = 0; i < t; i++) {
            double[] w = new double[i + 1];
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int s = 0; s <= i; s++) {
                double dot = 0;
                for (int c = 0; c < d; c++) dot += q[i * d + c] * k[s * d + c];
                w[s] = dot / Math.sqrt(d);
                max = Math.max(max, w[s]);
            }
            for (int s = 0; s <= i; s++) z += w[s] = Math.exp(w[s] - max);
            for (int s = 0; s <= i; s++) for (int c = 0; c < d; c++) out[i * d + c] += w[s] / z * v[s * d + c];
        }
        return out;
    }

    @Test
    void causalAttentionMatchesLoops() {
        int t = 7, d = 4;
        double[] q = Plain.random(random, t * d), k = Plain.random(random, t * d), v = Plain.random(random, t * d);
        double[] want = causalAttention(q, k, v, t, d);
        Tensor tq = Torch.tensor(q, 1, t, d), tk = Torch.tensor(k, 1, t, d), tv = Torch.tensor(v, 1, t, d);
        assertArrayEquals(want, Torch.attentionExplicit(tq, tk, tv, null, true).toDoubleArray(), 1e-12);
        assertArrayEquals(
                want, Torch.scaledDotProductAttention(tq, tk, tv, null, true).toDoubleArray(), 1e-12);
        // a boolean keep-mask equal to the causal pattern gives the same result
        Tensor keep = Torch.ones(DType.BOOL, Device.defaultDevice(), t, t).tril(0);
        assertArrayEquals(
                want, Torch.scaledDotProductAttention(tq, tk, tv, keep, false).toDoubleArray(), 1e-12);
    }

    @Test
    void theFusedKernelIsUsedWhenThisLibtorchHasIt() {
        boolean has = Torch.hasOp("aten::scaled_dot_product_attention", "");
        assertEquals(has, Torch.hasScaledDotProductAttention());
        assertEquals(!Torch.version().startsWith("1."), has, "scaled_dot_product_attention exists from torch 2.0");
    }
}
