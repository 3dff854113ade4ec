// gptq_sweep.cu — GPTQ's in-block column sweep as one kernel launch per block of columns: a thread
// per output row runs the nb sequential column steps (gptq_sweep.hpp). The ATen formulation takes
// ~15 launches per column; for a 4096-column layer that is ~60,000 launches against 32 here.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "gptq_sweep.hpp"

namespace lowbit::cuda {
namespace {

__global__ void gptq_sweep_kernel(float* w, const float* u, const float* scale, const float* zero, const bool* keep,
                                  float maxq, float* q, float* codes, float* err, float* losses, int64_t r, int nb) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row < r) lowbit::gptq_sweep_row(row, r, nb, w, u, scale, zero, keep, maxq, q, codes, err, losses);
}

}  // namespace

void gptq_sweep(at::Tensor& w, const at::Tensor& u, const at::Tensor& scale, const at::Tensor& zero,
                const at::Tensor* keep, float maxq, at::Tensor& q, at::Tensor& codes, at::Tensor& err, at::Tensor& losses) {
  const int64_t r = w.size(1);
  const int nb = static_cast<int>(w.size(0));
  if (r == 0 || nb == 0) return;
  c10::cuda::CUDAGuard guard(w.device());
  const int threads = 128;
  const int64_t blocks = (r + threads - 1) / threads;
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  gptq_sweep_kernel<<<blocks, threads, 0, stream>>>(w.data_ptr<float>(), u.data_ptr<float>(), scale.data_ptr<float>(),
      zero.data_ptr<float>(), keep ? keep->data_ptr<bool>() : nullptr, maxq, q.data_ptr<float>(), codes.data_ptr<float>(),
      err.data_ptr<float>(), losses.data_ptr<float>(), r, nb);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace lowbit::cuda
