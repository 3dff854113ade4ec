package io.lowbit.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Products, reductions, elementwise maths and indexing agree with plain-Java float64 computations. */
class OpsAgainstPlainJavaTest {
    private final Random random = new Random(42);
    private Scope scope;

    @BeforeEach
    void open() {
        scope = Scope.open();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private static Tensor t(double[] data, long... shape) {
        return Torch.tensor(data, shape);
    }

    @Test
    void matmulMatchesTripleLoop() {
        int m = 7, k = 13, n = 5;
        double[] a = Plain.random(random, m * k), b = Plain.random(random, k * n);
        assertArrayEquals(
                Plain.matmul(a, b, m, k, n), t(a, m, k).matmul(t(b, k, n)).toDoubleArray(), 1e-12);
        assertArrayEquals(Plain.matmul(a, b, m, k, n), t(a, m, k).mm(t(b, k, n)).toDoubleArray(), 1e-12);
    }

    @Test
    void batchedMatmulMatchesPerBatchProducts() {
        int batch = 3, m = 4, k = 6, n = 2;
        double[] a = Plain.random(random, batch * m * k), b = Plain.random(random, batch * k * n);
        double[] got = t(a, batch, m, k).bmm(t(b, batch, k, n)).toDoubleArray();
        for (int i = 0; i < batch; i++) {
            double[] ai = java.util.Arrays.copyOfRange(a, i * m * k, (i + 1) * m * k);
            double[] bi = java.util.Arrays.copyOfRange(b, i * k * n, (i + 1) * k * n);
            assertArrayEquals(
                    Plain.matmul(ai, bi, m, k, n),
                    java.util.Arrays.copyOfRange(got, i * m * n, (i + 1) * m * n),
                    1e-12);
        }
    }

    @Test
    void linearIsInputTimesWeightTransposedPlusBias() {
        double[] x = Plain.random(random, 2 * 3), w = Plain.random(random, 4 * 3), bias = Plain.random(random, 4);
        double[] got = Torch.linear(t(x, 2, 3), t(w, 4, 3), t(bias, 4)).toDoubleArray();
        for (int i = 0; i < 2; i++)
            for (int o = 0; o < 4; o++) {
                double s = bias[o];
                for (int j = 0; j < 3; j++) s += x[i * 3 + j] * w[o * 3 + j];
                assertEquals(s, got[i * 4 + o], 1e-12);
            }
    }

    @Test
    void reductionsOverDimsMatchLoops() {
        int rows = 4, cols = 6;
        double[] x = Plain.random(random, rows * cols);
        Tensor a = t(x, rows, cols);
        double total = 0;
        for (double v : x) total += v;
        assertEquals(total, a.sum().item(), 1e-12);
        assertEquals(total / x.length, a.mean().item(), 1e-12);
        double[] rowSums = a.sum(1).toDoubleArray(), colMeans = a.mean(0).toDoubleArray();
        double[] rowMax = a.amax(new long[] {1}, false).toDoubleArray(),
                colMin = a.amin(new long[] {0}, true).toDoubleArray();
        long[] argmax = a.argmax(1, false).toLongArray();
        for (int i = 0; i < rows; i++) {
            double s = 0, max = Double.NEGATIVE_INFINITY;
            int best = -1;
            for (int j = 0; j < cols; j++) {
                s += x[i * cols + j];
                if (x[i * cols + j] > max) {
                    max = x[i * cols + j];
                    best = j;
                }
            }
            assertEquals(s, rowSums[i], 1e-12);
            assertEquals(max, rowMax[i], 0);
            assertEquals(best, argmax[i]);
        }
        for (int j = 0; j < cols; j++) {
            double s = 0, min = Double.POSITIVE_INFINITY;
            for (int i = 0; i < rows; i++) {
                s += x[i * cols + j];
                min = Math.min(min, x[i * cols + j]);
            }
            assertEquals(s / rows, colMeans[j], 1e-12);
            assertEquals(min, colMin[j], 0);
        }
        assertArrayEquals(new long[] {1, cols}, a.amin(new long[] {0}, true).shape());
        assertArrayEquals(new long[] {rows, 1}, a.sum(new long[] {1}, true).shape());
        try (ValuesIndices mx = a.max(1, false)) {
            assertArrayEquals(rowMax, mx.values().toDoubleArray(), 0);
            assertArrayEquals(argmax, mx.indices().toLongArray());
        }
    }

    @Test
    void elementwiseMathsMatchJavaMath() {
        double[] x = {-2.5, -1.5, -0.5, 0.25, 0.5, 1.5, 2.5, 3.7};
        double[] pos = {0.1, 0.5, 1, 2, 4, 9, 16, 100};
        Tensor a = t(x, 8), p = t(pos, 8);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Math.abs(x[i]), a.abs().toDoubleArray()[i], 0);
            assertEquals(Math.signum(x[i]), a.sign().toDoubleArray()[i], 0);
            assertEquals(Math.exp(x[i]), a.exp().toDoubleArray()[i], 1e-12);
            assertEquals(Math.sqrt(pos[i]), p.sqrt().toDoubleArray()[i], 1e-12);
            assertEquals(1 / Math.sqrt(pos[i]), p.rsqrt().toDoubleArray()[i], 1e-12);
            assertEquals(Math.log(pos[i]), p.log().toDoubleArray()[i], 1e-12);
            assertEquals(Math.pow(pos[i], 2.4), p.pow(2.4).toDoubleArray()[i], 1e-9);
            assertEquals(x[i] / (1 + Math.exp(-x[i])), a.silu().toDoubleArray()[i], 1e-12);
            assertEquals(Math.min(Math.max(x[i], -1), 2), a.clamp(-1.0, 2.0).toDoubleArray()[i], 0);
            assertEquals(x[i] * 3 + 1, a.mul(3).add(1).toDoubleArray()[i], 1e-12);
            assertEquals(x[i] / pos[i] - pos[i], a.div(p).sub(p).toDoubleArray()[i], 1e-12);
        }
    }

    @Test
    void roundIsHalfToEvenLikeMathRint() {
        double[] x = {-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999, 2.51, -3.5};
        double[] want = new double[x.length];
        for (int i = 0; i < x.length; i++) want[i] = Math.rint(x[i]);
        assertArrayEquals(want, t(x, x.length).round().toDoubleArray(), 0);
        float[] xf = {0.5f, 1.5f, 2.5f, -0.5f};
        float[] got = Torch.tensor(xf, 4).round().toFloatArray();
        for (int i = 0; i < xf.length; i++) assertEquals((float) Math.rint(xf[i]), got[i], 0);
    }

    @Test
    void softmaxAndCrossEntropyMatchDefinitions() {
        int n = 5, c = 7;
        double[] logits = Plain.random(random, n * c);
        long[] targets = {0, 6, 3, 3, 1};
        double[] soft = Plain.softmaxRows(logits, n, c);
        Tensor l = t(logits, n, c);
        assertArrayEquals(soft, l.softmax(-1).toDoubleArray(), 1e-12);
        double[] logSoft = l.logSoftmax(1).toDoubleArray();
        double nll = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < c; j++) assertEquals(Math.log(soft[i * c + j]), logSoft[i * c + j], 1e-12);
            nll -= Math.log(soft[i * c + (int) targets[i]]);
        }
        assertEquals(nll / n, Torch.crossEntropy(l, Torch.tensor(targets, n)).item(), 1e-12);
        // an ignored target drops out of the mean
        long[] withIgnored = {0, 6, -100, 3, 1};
        double partial = 0;
        for (int i : new int[] {0, 1, 3, 4}) partial -= Math.log(soft[i * c + (int) withIgnored[i]]);
        assertEquals(
                partial / 4, Torch.crossEntropy(l, Torch.tensor(withIgnored, n)).item(), 1e-12);
    }

    @Test
    void indexingOpsPickTheRightElements() {
        double[] x = {10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33};
        Tensor a = t(x, 3, 4);
        assertArrayEquals(
                new double[] {30, 31, 32, 33, 10, 11, 12, 13},
                a.indexSelect(0, Torch.tensor(new long[] {2, 0}, 2)).toDoubleArray());
        assertArrayEquals(
                new double[] {13, 10, 21, 21, 32, 30},
                a.gather(1, Torch.tensor(new long[] {3, 0, 1, 1, 2, 0}, 3, 2)).toDoubleArray());
        assertArrayEquals(
                new double[] {11, 12, 21, 22, 31, 32},
                a.narrow(1, 1, 2).contiguous().toDoubleArray());
        assertArrayEquals(new double[] {20, 21, 22, 23}, a.select(0, 1).toDoubleArray());
        Tensor mask = Torch.tensor(
                new boolean[] {true, false, false, true, false, false, false, false, false, false, false, true}, 3, 4);
        assertArrayEquals(
                new double[] {-1, 11, 12, -1, 20, 21, 22, 23, 30, 31, 32, -1},
                a.maskedFill(mask, -1).toDoubleArray());
        assertArrayEquals(
                new double[] {10, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 33},
                Torch.where(mask, a, Torch.zeros(DType.F64, 3, 4)).toDoubleArray());
        Tensor z = Torch.zeros(DType.F64, 2, 3);
        Tensor idx = Torch.tensor(new long[] {2, 0}, 2, 1);
        assertArrayEquals(
                new double[] {0, 0, 5, 7, 0, 0},
                z.scatter(1, idx, t(new double[] {5, 7}, 2, 1)).toDoubleArray());
        assertArrayEquals(
                new double[] {0, 0, 9, 9, 0, 0}, z.scatter(1, idx, 9.0).toDoubleArray());
        assertArrayEquals(
                new double[] {0, 0, 5, 7, 0, 0},
                z.scatterAdd(1, idx, t(new double[] {5, 7}, 2, 1)).toDoubleArray());
        assertArrayEquals(
                new double[] {1, 2, 0, 4, 5, 0},
                Torch.tensor(new double[] {1, 2, 3, 4, 5, 6}, 2, 3)
                        .maskedFill(Torch.tensor(new boolean[] {false, false, true, false, false, true}, 2, 3), 0)
                        .toDoubleArray());
    }

    @Test
    void topkAndSortAgreeWithJavaSorting() {
        double[] x = Plain.random(random, 50);
        double[] sorted = x.clone();
        java.util.Arrays.sort(sorted);
        Tensor a = t(x, 50);
        try (ValuesIndices top = a.topk(5, 0, true);
                ValuesIndices s = a.sort(0, false)) {
            double[] vals = top.values().toDoubleArray();
            long[] idx = top.indices().toLongArray();
            for (int i = 0; i < 5; i++) {
                assertEquals(sorted[49 - i], vals[i], 0);
                assertEquals(x[(int) idx[i]], vals[i], 0);
            }
            assertArrayEquals(sorted, s.values().toDoubleArray(), 0);
        }
    }

    @Test
    void shapeOpsMoveElementsAsRowMajorSays() {
        double[] x = new double[24];
        for (int i = 0; i < x.length; i++) x[i] = i;
        Tensor a = t(x, 2, 3, 4);
        Tensor p = a.permute(2, 0, 1).contiguous();
        assertArrayEquals(new long[] {4, 2, 3}, p.shape());
        double[] got = p.toDoubleArray();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++) assertEquals(x[i * 12 + j * 4 + k], got[k * 6 + i * 3 + j]);
        assertArrayEquals(new long[] {1, 4, 12}, a.transpose(0, 2).strides());
        assertArrayEquals(new long[] {6, 4}, a.view(6, 4).shape());
        assertArrayEquals(new long[] {2, 1, 3, 4}, a.unsqueeze(1).shape());
        assertArrayEquals(new long[] {2, 12}, a.reshape(2, -1).shape());
        assertArrayEquals(x, a.flatten().toDoubleArray());
        Tensor c = Torch.cat(List.of(t(new double[] {1, 2}, 1, 2), t(new double[] {3, 4, 5, 6}, 2, 2)), 0);
        assertArrayEquals(new double[] {1, 2, 3, 4, 5, 6}, c.toDoubleArray());
        Tensor s = Torch.stack(List.of(t(new double[] {1, 2}, 2), t(new double[] {3, 4}, 2)), 1);
        assertArrayEquals(new double[] {1, 3, 2, 4}, s.toDoubleArray());
        assertArrayEquals(
                new double[] {1, 2, 1, 2, 1, 2},
                t(new double[] {1, 2}, 1, 2).expand(3, 2).contiguous().toDoubleArray());
        assertArrayEquals(new double[] {0, 1, 2, 3, 4}, Torch.arange(5).toDoubleArray());
    }

    @Test
    void embeddingPicksRows() {
        double[] w = {0, 0.1, 1, 1.1, 2, 2.1};
        long[] ids = {2, 0, 2};
        assertArrayEquals(
                new double[] {2, 2.1, 0, 0.1, 2, 2.1},
                Torch.embedding(t(w, 3, 2), Torch.tensor(ids, 3)).toDoubleArray());
    }

    @Test
    void factoriesFillAndSeedRepeats() {
        assertArrayEquals(
                new double[] {0, 0, 0, 0}, Torch.zeros(DType.F64, 2, 2).toDoubleArray());
        assertArrayEquals(new double[] {1, 1, 1}, Torch.ones(3).toDoubleArray());
        assertArrayEquals(new double[] {2.5, 2.5}, Torch.full(2.5, 2).toDoubleArray());
        Torch.manualSeed(7);
        double[] first = Torch.randn(DType.F64, 100).toDoubleArray();
        Torch.manualSeed(7);
        assertArrayEquals(first, Torch.randn(DType.F64, 100).toDoubleArray(), 0);
        double mean = java.util.Arrays.stream(Torch.randn(DType.F64, 20000).toDoubleArray())
                .average()
                .orElseThrow();
        assertTrue(Math.abs(mean) < 0.05, "mean of 20000 standard normals was " + mean);
        double[] u = Torch.rand(DType.F64, Device.defaultDevice(), 1000).toDoubleArray();
        assertTrue(java.util.Arrays.stream(u).allMatch(v -> v >= 0 && v < 1));
    }

    @Test
    void genericCallReachesAnyOperatorWithSchemaDefaults() {
        double[] x = {1, 4, 2, 3};
        // aten::topk(Tensor self, SymInt k, int dim=-1, bool largest=True, bool sorted=True): three defaults filled in
        Tensor[] top = Torch.call("aten::topk", "", t(x, 4), 2L);
        assertArrayEquals(new double[] {4, 3}, top[0].toDoubleArray());
        assertArrayEquals(new long[] {1, 3}, top[1].toLongArray());
        // every argument given: unbiased variance of 1..4 is 5/3
        assertEquals(
                5.0 / 3.0,
                Torch.call1("aten::var", "correction", t(x, 4), null, 1L, false).item(),
                1e-12);
        assertTrue(Torch.schema("aten::add", "Tensor").contains("Scalar alpha=1"));
        assertEquals(3, Torch.call("aten::unbind", "int", t(new double[] {1, 2, 3}, 3)).length);
    }
}
