// mse_grid.hpp — GPTQ's clipping search (quant.py with mse=True) for one row: candidates shrink
// the row's range [xmin, xmax] by p = 1 − i/grid for i < steps; each is scored by
// Σ_j |x̂_j − x_j|^norm, x̂ the row quantized and dequantized on the candidate's grid; the first
// strictly best one wins. Shared by the CUDA kernel (a thread block per row) and the CPU loop, with
// every float operation rounded as ATen's elementwise ops round them (no fused multiply-add).
#pragma once
#include "rn_math.hpp"

namespace lowbit {

struct GridCandidate {
  float scale, zero;
};

/** Candidate i's scale and zero, as Quantizer.params computes them in float32. */
LB_HD inline GridCandidate grid_candidate(float xmin, float xmax, int i, int grid, float maxq, bool sym) {
  const float p = static_cast<float>(1.0 - static_cast<double>(i) / grid);
  const float lo = mul_rn(xmin, p), hi = mul_rn(xmax, p);
#ifdef __CUDA_ARCH__
  const float scale = mul_rn(add_rn(hi, -lo), div_rn(1.0f, maxq));  // ATen on CUDA divides by a scalar this way
#else
  const float scale = div_rn(add_rn(hi, -lo), maxq);
#endif
  const float zero = sym ? div_rn(add_rn(maxq, 1.0f), 2.0f) : rintf(div_rn(-lo, scale));
  return {scale, zero};
}

/** |x̂ − x|^norm of one entry under a candidate (round half to even, as torch.round). */
LB_HD inline float grid_error(float x, GridCandidate c, float maxq, float norm) {
  float q = add_rn(rintf(div_rn(x, c.scale)), c.zero);
  q = fminf(fmaxf(q, 0.0f), maxq);
  const float e = fabsf(add_rn(mul_rn(add_rn(q, -c.zero), c.scale), -x));
  return norm == 2.0f ? mul_rn(e, e) : powf(e, norm);
}

}  // namespace lowbit
