package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import org.junit.jupiter.api.Test;

/**
 * GPTQ's input Hessian H = 2/S Σ_s X_sᵀX_s equals the same sum in float64 over the same numbers,
 * for float32 inputs and for bf16 ones (which take the tensor-core path on a GPU), batch by batch.
 */
class HessianTest {

    @Test
    void equalsTheFloat64SumForFloat32AndBf16InputsInBatches() {
        Device d = Device.defaultDevice();
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            try (Scope s = Scope.open();
                    Hessian h = new Hessian(48, d)) {
                Torch.manualSeed(5);
                Tensor a = Torch.randn(DType.F32, d, 3, 40, 48).to(dtype),
                        b = Torch.randn(DType.F32, d, 40, 48).mul(2).to(dtype);
                h.add(a); // three sequences at once
                h.add(b); // then one
                double[] x = Torch.cat(java.util.List.of(a.reshape(-1, 48), b.reshape(-1, 48)), 0)
                        .to(DType.F64)
                        .to(Device.cpu())
                        .toDoubleArray();
                int rows = x.length / 48;
                double[] got = h.matrix().to(DType.F64).to(Device.cpu()).toDoubleArray();
                double max = 0;
                double[] want = new double[48 * 48];
                for (int i = 0; i < 48; i++)
                    for (int j = 0; j < 48; j++) {
                        double sum = 0;
                        for (int r = 0; r < rows; r++) sum += x[r * 48 + i] * x[r * 48 + j];
                        want[i * 48 + j] = 2.0 / 4 * sum; // 4 sequences in all
                        max = Math.max(max, Math.abs(want[i * 48 + j]));
                    }
                for (int i = 0; i < want.length; i++)
                    assertEquals(want[i], got[i], 2e-6 * max, dtype + " on " + d + " [" + i + "]");
                assertEquals(4, h.sequences());
            }
        }
    }
}
