// kernels.cpp — entries for our own kernels. Each uses its CUDA kernel when the bridge was built
// with CUDA and the tensors suit it, and the same computation in ATen otherwise.
#include <c10/core/GradMode.h>

#include <ATen/Parallel.h>

#include "gptq_sweep.hpp"
#include "guard.hpp"

#ifdef LOWBIT_WITH_CUDA
namespace lowbit::cuda {
void abs_accumulate(at::Tensor& acc, const at::Tensor& g);  // abs_accumulate.cu
void gptq_sweep(at::Tensor& w, const at::Tensor& u, const at::Tensor& scale, const at::Tensor& zero,
                const at::Tensor* keep, float maxq, at::Tensor& q, at::Tensor& codes, at::Tensor& err,
                at::Tensor& losses);  // gptq_sweep.cu
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

int lb_gptq_sweep(lb_tensor w_h, lb_tensor u_h, lb_tensor scale_h, lb_tensor zero_h, lb_tensor keep_h, int32_t maxq,
                  lb_tensor q_h, lb_tensor codes_h, lb_tensor err_h, lb_tensor losses_h) {
  return guarded([&] {
    at::Tensor& w = deref(w_h);
    const at::Tensor& u = deref(u_h);
    const at::Tensor& scale = deref(scale_h);
    const at::Tensor& zero = deref(zero_h);
    const at::Tensor* keep = keep_h == nullptr ? nullptr : &deref(keep_h);
    at::Tensor& q = deref(q_h);
    at::Tensor& codes = deref(codes_h);
    at::Tensor& err = deref(err_h);
    at::Tensor& losses = deref(losses_h);
    TORCH_CHECK(w.dim() == 2, "gptq_sweep: w must be [nb, rows], got ", w.sizes());
    const int64_t nb = w.size(0), r = w.size(1);
    for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&w, &scale, &zero, &q, &codes, &err})
      TORCH_CHECK(t->scalar_type() == at::kFloat && t->is_contiguous() && t->sizes() == w.sizes() && t->device() == w.device(),
                  "gptq_sweep: every [nb, rows] operand must be contiguous float32 of shape ", w.sizes(), " on ", w.device());
    TORCH_CHECK(u.scalar_type() == at::kFloat && u.is_contiguous() && u.dim() == 2 && u.size(0) == nb && u.size(1) == nb &&
                    u.device() == w.device(), "gptq_sweep: u must be contiguous float32 [", nb, ", ", nb, "]");
    TORCH_CHECK(losses.scalar_type() == at::kFloat && losses.is_contiguous() && losses.numel() == r && losses.device() == w.device(),
                "gptq_sweep: losses must be contiguous float32 [", r, "]");
    if (keep) TORCH_CHECK(keep->scalar_type() == at::kBool && keep->is_contiguous() && keep->sizes() == w.sizes() &&
                              keep->device() == w.device(), "gptq_sweep: keep must be contiguous bool of shape ", w.sizes());
    c10::NoGradGuard no_grad;
    const float mq = static_cast<float>(maxq);
#ifdef LOWBIT_WITH_CUDA
    if (w.is_cuda()) {
      lowbit::cuda::gptq_sweep(w, u, scale, zero, keep, mq, q, codes, err, losses);
      return;
    }
#endif
    TORCH_CHECK(w.is_cpu(), "gptq_sweep: this bridge has no CUDA kernels for ", w.device());
    float* wp = w.data_ptr<float>();
    const float* up = u.data_ptr<float>();
    const float* sp = scale.data_ptr<float>();
    const float* zp = zero.data_ptr<float>();
    const bool* kp = keep ? keep->data_ptr<bool>() : nullptr;
    float* qp = q.data_ptr<float>();
    float* cp = codes.data_ptr<float>();
    float* ep = err.data_ptr<float>();
    float* lp = losses.data_ptr<float>();
    at::parallel_for(0, r, 64, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; row++)
        lowbit::gptq_sweep_row(row, r, static_cast<int>(nb), wp, up, sp, zp, kp, mq, qp, cp, ep, lp);
    });
  });
}

}  // extern "C"
