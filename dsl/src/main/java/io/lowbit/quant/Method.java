package io.lowbit.quant;

/** How the weights off the grid are chosen. */
public enum Method {
  /** Round to nearest on the grid. */
  RTN,
  /** GPTQ's error-compensating column sweep on calibration Hessians. */
  GPTQ
}
