// gptq_sweep.hpp — one row of GPTQ's column sweep inside a block of nb columns (Frantar et al.,
// Algorithm 1, the inner loop): quantize column i, scale its error by 1/U[i,i], push the error onto
// the later columns of the block. Shared by the CUDA kernel (a thread per row) and the CPU loop.
// Operands are laid out [nb, r] (column i of the block is contiguous over rows), so a warp's loads
// coalesce. Every product and sum is rounded on its own (no fused multiply-add), in the same order
// as the per-column ATen ops of Gptq.java, so both paths give the same bits.
#pragma once
#include "rn_math.hpp"

namespace lowbit {

// w, scale, zero, keep, q, codes, err: [nb, r]; u: [nb, nb] (row-major, upper triangular); losses: [r].
// keep may be null. maxq = 2^bits − 1.
LB_HD inline void gptq_sweep_row(int64_t row, int64_t r, int nb, float* w, const float* u, const float* scale,
                                 const float* zero, const bool* keep, float maxq, float* q, float* codes, float* err,
                                 float* losses) {
  float loss = losses[row];
  for (int i = 0; i < nb; i++) {
    const int64_t at = static_cast<int64_t>(i) * r + row;
    const float x = w[at], s = scale[at], z = zero[at];
    const bool kept = keep != nullptr && keep[at];
    float code = add_rn(rintf(div_rn(kept ? 0.0f : x, s)), z);  // round half to even, as torch.round
    code = fminf(fmaxf(code, 0.0f), maxq);
    const float value = kept ? x : mul_rn(add_rn(code, -z), s);  // kept weights keep their current value
    const float e = div_rn(add_rn(x, -value), u[i * nb + i]);
    loss = add_rn(loss, div_rn(mul_rn(e, e), 2.0f));
    q[at] = value;
    codes[at] = code;
    err[at] = e;
    for (int k = i; k < nb; k++) {  // W[:, k] −= e · U[i, k] for the rest of the block
      const int64_t ak = static_cast<int64_t>(k) * r + row;
      w[ak] = add_rn(w[ak], -mul_rn(e, u[i * nb + k]));
    }
  }
  losses[row] = loss;
}

}  // namespace lowbit
