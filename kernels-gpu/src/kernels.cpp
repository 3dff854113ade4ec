// kernels.cpp — entries for our own kernels. Each uses its CUDA kernel when the bridge was built
// with CUDA and the tensors suit it, and the same computation in ATen otherwise.
#include <c10/core/GradMode.h>

#include <ATen/Parallel.h>

#include "gptq_sweep.hpp"
#include "mse_grid.hpp"
#include "guard.hpp"

#ifdef LOWBIT_WITH_CUDA
namespace lowbit::cuda {
void abs_accumulate(at::Tensor& acc, const at::Tensor& g);  // abs_accumulate.cu
void gptq_sweep(at::Tensor& w, const at::Tensor& u, const at::Tensor& scale, const at::Tensor& zero,
                const at::Tensor* keep, float maxq, at::Tensor& q, at::Tensor& codes, at::Tensor& err,
                at::Tensor& losses);  // gptq_sweep.cu
void mse_grid(const at::Tensor& w, const at::Tensor& xmin, const at::Tensor& xmax, float maxq, float norm, int grid,
              int steps, bool sym, at::Tensor& scale, at::Tensor& zero);  // mse_grid.cu
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

int lb_mse_grid(lb_tensor w_h, lb_tensor xmin_h, lb_tensor xmax_h, int32_t maxq, double norm, int32_t grid, int32_t steps,
                int32_t sym, lb_tensor scale_h, lb_tensor zero_h) {
  return guarded([&] {
    const at::Tensor& w = deref(w_h);
    const at::Tensor& xmin = deref(xmin_h);
    const at::Tensor& xmax = deref(xmax_h);
    at::Tensor& scale = deref(scale_h);
    at::Tensor& zero = deref(zero_h);
    TORCH_CHECK(w.dim() == 2 && w.scalar_type() == at::kFloat && w.is_contiguous(), "mse_grid: w must be contiguous float32 [rows, n], got ",
                w.sizes(), " ", w.scalar_type());
    const int64_t rows = w.size(0), n = w.size(1);
    for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&xmin, &xmax, &scale, &zero})
      TORCH_CHECK(t->scalar_type() == at::kFloat && t->is_contiguous() && t->numel() == rows && t->device() == w.device(),
                  "mse_grid: xmin, xmax, scale and zero must be contiguous float32 with one entry per row (", rows, ") on ", w.device());
    TORCH_CHECK(grid > 0 && steps > 0 && steps <= grid, "mse_grid: need 0 < steps <= grid, got ", steps, " of ", grid);
    c10::NoGradGuard no_grad;
    const float mq = static_cast<float>(maxq), p = static_cast<float>(norm);
#ifdef LOWBIT_WITH_CUDA
    if (w.is_cuda()) {
      lowbit::cuda::mse_grid(w, xmin, xmax, mq, p, grid, steps, sym != 0, scale, zero);
      return;
    }
#endif
    TORCH_CHECK(w.is_cpu(), "mse_grid: this bridge has no CUDA kernels for ", w.device());
    const float* wp = w.data_ptr<float>();
    const float* lo = xmin.data_ptr<float>();
    const float* hi = xmax.data_ptr<float>();
    float* sp = scale.data_ptr<float>();
    float* zp = zero.data_ptr<float>();
    at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r++) {
        float best = INFINITY;
        GridCandidate chosen = grid_candidate(lo[r], hi[r], 0, grid, mq, sym != 0);
        for (int i = 0; i < steps; i++) {
          const GridCandidate c = grid_candidate(lo[r], hi[r], i, grid, mq, sym != 0);
          float sum = 0.0f;
          for (int64_t j = 0; j < n; j++) sum += grid_error(wp[r * n + j], c, mq, p);
          if (sum < best) {
            best = sum;
            chosen = c;
          }
        }
        sp[r] = chosen.scale;
        zp[r] = chosen.zero;
      }
    });
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
