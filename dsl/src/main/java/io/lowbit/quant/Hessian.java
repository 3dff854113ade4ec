package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;

/**
 * H = (2/S) Σ_s X_s X_sᵀ over calibration sequences s (a token sum inside each sequence, a mean over
 * sequences), accumulated in float32 as the reference does: H ← H·n/(n+m), x ← √(2/(n+m))·x, H += x xᵀ.
 *
 * <p>On a GPU, bf16 or fp16 inputs skip the float32 copy: XᵀX is one tensor-core product with
 * float32 output (aten::mm.dtype), H ← H·n/(n+m) + 2/(n+m)·XᵀX. A product of two bf16 (or fp16)
 * numbers is exact in float32 and the sums are float32 either way, so only the order of rounding
 * differs; the float32 product without tensor cores was most of GPTQ's time per block on an H200
 * (2.7 of 3.8 s on Llama-3-8B shapes).
 */
final class Hessian implements AutoCloseable {
    /** aten::mm.dtype exists from PyTorch 2.8 on; LOWBIT_HESSIAN_MIXED=0 takes the float32 product anyway. */
    private static final boolean MIXED_PRODUCT =
            !"0".equals(System.getenv("LOWBIT_HESSIAN_MIXED")) && Torch.hasOp("aten::mm", "dtype");

    private final Tensor h; // [c, c] float32
    private long sequences;

    Hessian(long columns, Device device) {
        h = Torch.zeros(DType.F32, device, columns, columns).escape();
    }

    /** Adds a batch of m sequences' inputs [m, T, c] (or one sequence [T, c]). */
    void add(Tensor input) {
        try (Scope s = Scope.open()) {
            long m = input.dim() == 3 ? input.size(0) : 1;
            long c = input.size(-1);
            h.mulInPlace((double) sequences / (sequences + m));
            sequences += m;
            if (MIXED_PRODUCT
                    && input.device().isCuda()
                    && (input.dtype() == DType.BF16 || input.dtype() == DType.F16)) {
                Tensor x = input.reshape(-1, c);
                h.addInPlace(Torch.call1("aten::mm", "dtype", x.t(), x, DType.F32), 2.0 / sequences);
                return;
            }
            Tensor x = input.reshape(-1, c).to(DType.F32); // [m·T, c]
            x = x.mul(Math.sqrt(2.0 / sequences));
            h.addInPlace(x.t().mm(x));
        }
    }

    Tensor matrix() {
        return h;
    }

    long sequences() {
        return sequences;
    }

    @Override
    public void close() {
        h.close();
    }
}
