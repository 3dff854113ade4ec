// soft_round.cu — TesseraQ's soft-rounded weight and its gradient in one pass each, and Adam in
// one pass: the ATen formulation reads and writes every one of a block's 218 M rounding variables
// about a dozen times per direction (Llama-3-8B), which costs more than the block's own matmuls.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>

#include "soft_round.hpp"

namespace lowbit::cuda {
namespace {

template <class T>
__global__ void soft_weight_forward_kernel(const float* base, const float* nu, const float* scale, const float* zero, float maxq,
                                    int64_t group, int64_t n, T* out) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t k = i / group;
    out[i] = static_cast<T>(scale[k] * lowbit::soft_level(base[i], nu[i], zero[k], maxq).level);
  }
}

// A warp per group: ∂L/∂ν for each element, ∂L/∂a as the warp's sum of ∂L/∂Ŵ · level.
template <class T>
__global__ void soft_weight_backward_kernel(const T* grad, const float* base, const float* nu, const float* scale, const float* zero,
                                     float maxq, int64_t group, int64_t groups, float* grad_nu, float* grad_scale) {
  const int lane = threadIdx.x % 32;
  const int64_t k = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (k >= groups) return;
  const float a = scale[k], z = zero[k];
  float sum = 0.0f;
  for (int64_t j = lane; j < group; j += 32) {
    const int64_t i = k * group + j;
    const float g = static_cast<float>(grad[i]);
    const lowbit::SoftLevel s = lowbit::soft_level(base[i], nu[i], z, maxq);
    grad_nu[i] = g * a * s.dlevel;
    sum += g * s.level;
  }
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  if (lane == 0) grad_scale[k] = sum;
}

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                            float eps, float decay, float c1, float c2) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    lowbit::adam_element(p, g, m, v, i, lr, beta1, beta2, eps, decay, c1, c2);
}

int64_t grid_for(int64_t n, int threads) {
  return std::max<int64_t>(1, std::min<int64_t>((n + threads - 1) / threads, 65535LL * 8));
}

}  // namespace

void soft_weight_forward(const at::Tensor& base, const at::Tensor& nu, const at::Tensor& scale, const at::Tensor& zero,
                         float maxq, int64_t group, at::Tensor& out) {
  c10::cuda::CUDAGuard guard(nu.device());
  const int64_t n = nu.numel();
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "soft_weight_forward", [&] {
    soft_weight_forward_kernel<scalar_t><<<grid_for(n, 256), 256, 0, stream>>>(base.data_ptr<float>(), nu.data_ptr<float>(),
        scale.data_ptr<float>(), zero.data_ptr<float>(), maxq, group, n, out.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void soft_weight_backward(const at::Tensor& grad, const at::Tensor& base, const at::Tensor& nu, const at::Tensor& scale,
                          const at::Tensor& zero, float maxq, int64_t group, at::Tensor& grad_nu, at::Tensor& grad_scale) {
  c10::cuda::CUDAGuard guard(nu.device());
  const int64_t groups = scale.numel();
  const int threads = 256;
  const int64_t blocks = (groups * 32 + threads - 1) / threads;
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "soft_weight_backward", [&] {
    soft_weight_backward_kernel<scalar_t><<<blocks, threads, 0, stream>>>(grad.data_ptr<scalar_t>(), base.data_ptr<float>(),
        nu.data_ptr<float>(), scale.data_ptr<float>(), zero.data_ptr<float>(), maxq, group, groups,
        grad_nu.data_ptr<float>(), grad_scale.data_ptr<float>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void adam_step(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, float lr, float beta1, float beta2, float eps,
               float decay, float c1, float c2) {
  c10::cuda::CUDAGuard guard(p.device());
  const int64_t n = p.numel();
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  adam_kernel<<<grid_for(n, 256), 256, 0, stream>>>(p.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(),
      v.data_ptr<float>(), n, lr, beta1, beta2, eps, decay, c1, c2);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace lowbit::cuda
