// rn_math.hpp — what the kernels' element routines share between the CUDA and the CPU build:
// LB_HD marks a function for both, and mul/add/div round each result on its own (no fused
// multiply-add on the device), so a kernel and its CPU loop can give the same bits.
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define LB_HD __host__ __device__
#else
#define LB_HD
#endif

namespace lowbit {

LB_HD inline float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

LB_HD inline float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

LB_HD inline float div_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

}  // namespace lowbit
