package io.lowbit.quant;

/** How the weights off the grid are chosen. */
public enum Method {
  /** Round to nearest on the grid. */
  RTN,
  /** GPTQ's error-compensating column sweep on calibration Hessians. */
  GPTQ,
  /** AWQ: activation-aware channel scales folded into the block, a clip search, then round to nearest on llmc's grid. */
  AWQ,
  /** TesseraQ: block reconstruction with progressive adaptive rounding and dequantization scale tuning, initialised from AWQ. */
  TESSERAQ
}
