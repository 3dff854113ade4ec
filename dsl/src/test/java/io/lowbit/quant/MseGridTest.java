package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import org.junit.jupiter.api.Test;

/**
 * The clipping search in one pass per row (a CUDA kernel on a GPU, its C++ loop on a CPU) picks the
 * same candidate as the ATen formulation (the same zero, the scale within an ulp or two: ATen on a
 * GPU divides by a scalar as a product with its reciprocal); where the two sums, run in a different
 * order, pick different candidates, their errors are a near-tie.
 */
class MseGridTest {

    /** Σ_j |x̂_j − x_j|^norm of one row under (scale, zero), in float64 from the float32 grid values. */
    static double error(double[] row, double scale, double zero, Grid g) {
        double sum = 0;
        for (double x : row) {
            double q = Math.min(Math.max(Math.rint((float) (x / scale)) + zero, 0), g.maxq());
            sum += Math.pow(Math.abs((q - zero) * scale - x), g.norm());
        }
        return sum;
    }

    @Test
    void theFusedSearchPicksTheSameGridAsTheAtenOneUpToNearTies() {
        Device d = Device.defaultDevice();
        for (Grid g : new Grid[] {
            Grid.bits(3).mse(),
            Grid.bits(2).mse(),
            Grid.bits(4).symmetric().mse(),
            Grid.bits(3).mse(50, 0.5, 2.0)
        }) {
            try (Scope s = Scope.open()) {
                Torch.manualSeed(9);
                int rows = 96, n = 700;
                Tensor w = Torch.randn(DType.F32, d, rows, n);
                w = w.add(Torch.randn(DType.F32, d, rows, n)
                        .gt(2.5)
                        .to(DType.F32)
                        .mul(6.0)); // outliers the search should clip
                Quantizer.Params aten = Quantizer.fit(w, null, g, false), fused = Quantizer.fit(w, null, g, true);
                double[] as = aten.scale().to(Device.cpu()).toDoubleArray(),
                        az = aten.zero().to(Device.cpu()).toDoubleArray();
                double[] fs = fused.scale().to(Device.cpu()).toDoubleArray(),
                        fz = fused.zero().to(Device.cpu()).toDoubleArray();
                double[] all = w.to(Device.cpu()).toDoubleArray();
                int same = 0, shrunk = 0;
                for (int r = 0; r < rows; r++) {
                    if (Math.abs(as[r] - fs[r]) <= 1e-6 * as[r] && az[r] == fz[r]) same++;
                    else {
                        double[] row = java.util.Arrays.copyOfRange(all, r * n, (r + 1) * n);
                        double ea = error(row, as[r], az[r], g), ef = error(row, fs[r], fz[r], g);
                        assertEquals(ea, ef, 1e-5 * ea, g + " row " + r + ": the two picks must be a near-tie");
                    }
                    double[] row = java.util.Arrays.copyOfRange(all, r * n, (r + 1) * n);
                    double lo = 0, hi = 0; // the unclipped range, holding 0
                    for (double x : row) {
                        lo = Math.min(lo, x);
                        hi = Math.max(hi, x);
                    }
                    double range = g.sym() ? 2 * Math.max(-lo, hi) : hi - lo;
                    if (fs[r] * g.maxq() < 0.999 * range) shrunk++;
                }
                assertTrue(same >= rows * 95 / 100, g + " on " + d + ": only " + same + " of " + rows + " rows agree");
                assertTrue(
                        shrunk > rows / 2, g + ": the search should clip most rows with outliers, clipped " + shrunk);
            }
        }
    }
}
