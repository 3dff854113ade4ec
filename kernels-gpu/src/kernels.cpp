// kernels.cpp — entries for our own kernels. Each uses its CUDA kernel when the bridge was built
// with CUDA and the tensors suit it, and the same computation in ATen otherwise.
#include <c10/core/GradMode.h>

#include "guard.hpp"

#ifdef LOWBIT_WITH_CUDA
namespace lowbit::cuda {
void abs_accumulate(at::Tensor& acc, const at::Tensor& g);  // abs_accumulate.cu
}
#endif

using namespace lowbit;

extern "C" {

int lb_abs_accumulate(lb_tensor acc_handle, lb_tensor g_handle) {
  return guarded([&] {
    at::Tensor& acc = deref(acc_handle);
    const at::Tensor& g = deref(g_handle);
    TORCH_CHECK(acc.scalar_type() == at::kFloat, "abs_accumulate: the accumulator must be float32, got ",
                acc.scalar_type());
    TORCH_CHECK(acc.sizes() == g.sizes(), "abs_accumulate: shapes differ, ", acc.sizes(), " vs ", g.sizes());
    TORCH_CHECK(acc.device() == g.device(), "abs_accumulate: devices differ, ", acc.device(), " vs ", g.device());
    c10::NoGradGuard no_grad;
#ifdef LOWBIT_WITH_CUDA
    if (acc.is_cuda() && acc.is_contiguous() && g.is_contiguous()) {
      lowbit::cuda::abs_accumulate(acc, g);
      return;
    }
#endif
    acc.add_(g.abs().to(at::kFloat));
  });
}

}  // extern "C"
