package io.lowbit.quant;

import io.lowbit.torch.Tensor;

/**
 * One quantized linear: integer codes [out, in] (u8), scales and zeros [out, groups] (float32), the
 * group of each input column, the mask of weights kept in 16 bits (or null), and its GPTQ error.
 * Dequantized: scale·(code − zero), kept weights in place (the model's dense weight holds that).
 */
public record QuantizedLinear(String name, int bits, int groupSize, Tensor codes, Tensor scales, Tensor zeros,
    int[] groupOfColumn, Tensor keep, long kept, double loss) implements AutoCloseable {

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
