package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Tensor;

/**
 * One quantized linear: integer codes [out, in] (u8), scales and zeros [out, groups] (float32), the
 * group of each input column, the mask of weights kept in 16 bits (or null), and its GPTQ error.
 * Dequantized: scale·(code − zero), kept weights in place (the model's dense weight holds that).
 */
public record QuantizedLinear(String name, int bits, int groupSize, Tensor codes, Tensor scales, Tensor zeros,
    int[] groupOfColumn, Tensor keep, long kept, double loss) implements AutoCloseable {

  /**
   * A layer's record with its tensors beside the model ({@code home}: host memory when the work is on
   * a GPU), codes as u8; takes ownership of codes, scales and zeros, copies {@code keep}.
   */
  static QuantizedLinear stored(String name, Grid grid, Tensor codes, Tensor scales, Tensor zeros, int[] groupOf,
      Tensor keep, double loss, Device home) {
    // handles share storage, so closing the inputs below frees nothing these still use
    Tensor k = keep == null ? null : keep.to(home).escape();
    Tensor bytes = codes.to(home, DType.U8).escape();
    Tensor sc = scales.to(home).escape(), zr = zeros.to(home).escape();
    codes.close();
    scales.close();
    zeros.close();
    return new QuantizedLinear(name, grid.bits(), grid.groupSize(), bytes, sc, zr, groupOf, k,
        k == null ? 0 : k.sum().itemLong(), loss);
  }

  public long numel() {
    return codes.numel();
  }

  /**
   * Bits this layer really takes: a code per weight (kept ones included, as a dense code array has
   * them), per row and group a 16-bit scale and a bits-wide zero, 32 per kept weight (16-bit value
   * plus 16-bit index).
   */
  public double storageBits() {
    long ranges = scales.numel();
    return (double) numel() * bits + ranges * (16.0 + bits) + 32.0 * kept;
  }

  @Override
  public void close() {
    codes.close();
    scales.close();
    zeros.close();
    if (keep != null) keep.close();
  }
}
