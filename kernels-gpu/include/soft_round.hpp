// soft_round.hpp — TesseraQ's soft rounding, element by element (ptq-algorithms.md §B.4), shared by
// the CUDA kernels and the CPU loops. For a weight in a group with effective scale a = α·s and zero z:
//   h(ν)   = clamp(σ(ν)·(ζ − γ) + γ, 0, 1)
//   level  = clamp(base + h(ν) + z, 0, maxq) − z          (base = floor(W/s), fixed)
//   Ŵ      = a · level
// and the gradients autograd would give (clamp passes the gradient on its closed interval):
//   ∂Ŵ/∂ν  = a · [0 ≤ base + h + z ≤ maxq] · [0 ≤ σ(ζ−γ)+γ ≤ 1] · σ(1 − σ)(ζ − γ),   ∂Ŵ/∂a = level.
#pragma once
#include "rn_math.hpp"

namespace lowbit {

constexpr float kGamma = -0.1f, kZeta = 1.1f;

struct SoftLevel {
  float level;  // clamp(base + h + z, 0, maxq) − z
  float dlevel; // ∂level/∂ν
};

LB_HD inline SoftLevel soft_level(float base, float nu, float zero, float maxq) {
  const float sig = 1.0f / (1.0f + expf(-nu));
  const float stretched = sig * (kZeta - kGamma) + kGamma;
  const float h = fminf(fmaxf(stretched, 0.0f), 1.0f);
  const float x = base + h + zero;
  const float clamped = fminf(fmaxf(x, 0.0f), maxq);
  const bool pass = stretched >= 0.0f && stretched <= 1.0f && x >= 0.0f && x <= maxq;
  return {clamped - zero, pass ? sig * (1.0f - sig) * (kZeta - kGamma) : 0.0f};
}

// One Adam step (PyTorch's, L2 weight decay added to the gradient when decay > 0) on element i.
LB_HD inline void adam_element(float* p, const float* g, float* m, float* v, int64_t i, float lr, float beta1, float beta2,
                               float eps, float decay, float correction1, float correction2) {
  float grad = g[i];
  if (decay > 0.0f) grad += decay * p[i];
  m[i] = beta1 * m[i] + (1.0f - beta1) * grad;
  v[i] = beta2 * v[i] + (1.0f - beta2) * grad * grad;
  const float denom = sqrtf(v[i]) / sqrtf(correction2) + eps;
  p[i] -= (lr / correction1) * (m[i] / denom);
}

}  // namespace lowbit
