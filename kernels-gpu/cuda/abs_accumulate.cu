// abs_accumulate.cu — acc += |g| in one pass (TaCQ sums |∂L_s/∂W| over calibration sequences).
// ATen would read g, write |g|, convert it, then read both again: three passes instead of one.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace lowbit::cuda {
namespace {

template <class T>
__global__ void abs_accumulate_kernel(float* __restrict__ acc, const T* __restrict__ g, int64_t n) {
  int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    acc[i] += fabsf(static_cast<float>(g[i]));
}

}  // namespace

void abs_accumulate(at::Tensor& acc, const at::Tensor& g) {
  const int64_t n = acc.numel();
  if (n == 0) return;
  c10::cuda::CUDAGuard guard(acc.device());
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 65535LL * 8);
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, g.scalar_type(), "abs_accumulate", [&] {
    abs_accumulate_kernel<scalar_t><<<blocks, threads, 0, stream>>>(acc.data_ptr<float>(), g.data_ptr<scalar_t>(), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace lowbit::cuda
