package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;

/**
 * H = (2/S) Σ_s X_s X_sᵀ over calibration sequences s (a token sum inside each sequence, a mean over
 * sequences), accumulated in float32 as the reference does: H ← H·n/(n+m), x ← √(2/(n+m))·x, H += x xᵀ.
 */
final class Hessian implements AutoCloseable {
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
      Tensor x = input.reshape(-1, c).to(DType.F32);                  // [m·T, c]
      h.mulInPlace((double) sequences / (sequences + m));
      sequences += m;
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
