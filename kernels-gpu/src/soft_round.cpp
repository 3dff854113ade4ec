// soft_round.cpp — TesseraQ's soft-rounded weight as one autograd node (forward and backward each
// one pass over the rounding variables: a CUDA kernel on a GPU, a parallel loop on a CPU), and
// Adam as one pass. The formulas are in soft_round.hpp.
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include "guard.hpp"
#include "soft_round.hpp"

#ifdef LOWBIT_WITH_CUDA
namespace lowbit::cuda {
void soft_weight_forward(const at::Tensor& base, const at::Tensor& nu, const at::Tensor& scale, const at::Tensor& zero,
                         float maxq, int64_t group, at::Tensor& out);
void soft_weight_backward(const at::Tensor& grad, const at::Tensor& base, const at::Tensor& nu, const at::Tensor& scale,
                          const at::Tensor& zero, float maxq, int64_t group, at::Tensor& grad_nu, at::Tensor& grad_scale);
void adam_step(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, float lr, float beta1, float beta2, float eps,
               float decay, float c1, float c2);
}  // namespace lowbit::cuda
#endif

namespace lowbit {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// nu, base: [groups, group] float32; scale (α·s), zero: [groups, 1] float32. Returns Ŵ [groups, group] in out_type.
struct SoftWeight : public torch::autograd::Function<SoftWeight> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& nu, const at::Tensor& scale, const at::Tensor& base,
                            const at::Tensor& zero, double maxq, int64_t out_type) {
    ctx->save_for_backward({nu, scale, base, zero});
    ctx->saved_data["maxq"] = maxq;
    const int64_t group = nu.size(1);
    at::Tensor out = at::empty(nu.sizes(), nu.options().dtype(static_cast<at::ScalarType>(out_type)));
#ifdef LOWBIT_WITH_CUDA
    if (nu.is_cuda()) {
      lowbit::cuda::soft_weight_forward(base, nu, scale, zero, static_cast<float>(maxq), group, out);
      return out;
    }
#endif
    at::Tensor tmp = at::empty(nu.sizes(), nu.options());
    const float* b = base.data_ptr<float>();
    const float* v = nu.data_ptr<float>();
    const float* s = scale.data_ptr<float>();
    const float* z = zero.data_ptr<float>();
    float* o = tmp.data_ptr<float>();
    const float mq = static_cast<float>(maxq);
    at::parallel_for(0, nu.numel(), 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) o[i] = s[i / group] * soft_level(b[i], v[i], z[i / group], mq).level;
    });
    out.copy_(tmp);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &nu = saved[0], &scale = saved[1], &base = saved[2], &zero = saved[3];
    const float maxq = static_cast<float>(ctx->saved_data["maxq"].toDouble());
    const int64_t group = nu.size(1), groups = nu.size(0);
    at::Tensor grad = grads[0].contiguous();
    at::Tensor grad_nu = at::empty(nu.sizes(), nu.options());
    at::Tensor grad_scale = at::empty(scale.sizes(), scale.options());
#ifdef LOWBIT_WITH_CUDA
    if (nu.is_cuda()) {
      lowbit::cuda::soft_weight_backward(grad, base, nu, scale, zero, maxq, group, grad_nu, grad_scale);
      return {grad_nu, grad_scale, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
#endif
    at::Tensor gf = grad.to(at::kFloat);
    const float* g = gf.data_ptr<float>();
    const float* b = base.data_ptr<float>();
    const float* v = nu.data_ptr<float>();
    const float* s = scale.data_ptr<float>();
    const float* z = zero.data_ptr<float>();
    float* gn = grad_nu.data_ptr<float>();
    float* gs = grad_scale.data_ptr<float>();
    at::parallel_for(0, groups, 16, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; k++) {
        float sum = 0.0f;
        for (int64_t j = 0; j < group; j++) {
          const int64_t i = k * group + j;
          const SoftLevel l = soft_level(b[i], v[i], z[k], maxq);
          gn[i] = g[i] * s[k] * l.dlevel;
          sum += g[i] * l.level;
        }
        gs[k] = sum;
      }
    });
    return {grad_nu, grad_scale, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

void check_f32(const at::Tensor& t, const char* name, const at::Tensor& like) {
  TORCH_CHECK(t.scalar_type() == at::kFloat && t.is_contiguous() && t.device() == like.device(), "soft_weight: ", name,
              " must be contiguous float32 on ", like.device());
}

}  // namespace
}  // namespace lowbit

using namespace lowbit;

extern "C" {

int lb_soft_weight(lb_tensor nu_h, lb_tensor scale_h, lb_tensor base_h, lb_tensor zero_h, int32_t maxq, int32_t out_dtype,
                   lb_tensor* out) {
  return guarded([&] {
    const at::Tensor& nu = deref(nu_h);
    const at::Tensor& scale = deref(scale_h);
    const at::Tensor& base = deref(base_h);
    const at::Tensor& zero = deref(zero_h);
    TORCH_CHECK(nu.dim() == 2, "soft_weight: nu must be [groups, group], got ", nu.sizes());
    check_f32(nu, "nu", nu);
    check_f32(base, "base", nu);
    check_f32(scale, "scale", nu);
    check_f32(zero, "zero", nu);
    TORCH_CHECK(base.sizes() == nu.sizes(), "soft_weight: base must match nu ", nu.sizes());
    TORCH_CHECK(scale.numel() == nu.size(0) && zero.numel() == nu.size(0), "soft_weight: scale and zero need one entry per group");
    *out = make_handle(SoftWeight::apply(nu, scale, base, zero, static_cast<double>(maxq), static_cast<int64_t>(out_dtype)));
  });
}

int lb_adam_step(lb_tensor p_h, lb_tensor g_h, lb_tensor m_h, lb_tensor v_h, double lr, double beta1, double beta2, double eps,
                 double decay, double correction1, double correction2) {
  return guarded([&] {
    at::Tensor& p = deref(p_h);
    const at::Tensor& g = deref(g_h);
    at::Tensor& m = deref(m_h);
    at::Tensor& v = deref(v_h);
    for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&p, &g, &m, &v})
      TORCH_CHECK(t->scalar_type() == at::kFloat && t->is_contiguous() && t->sizes() == p.sizes() && t->device() == p.device(),
                  "adam_step: parameter, gradient and moments must be contiguous float32 of one shape on one device");
    c10::NoGradGuard no_grad;
#ifdef LOWBIT_WITH_CUDA
    if (p.is_cuda()) {
      lowbit::cuda::adam_step(p, g, m, v, lr, beta1, beta2, eps, decay, correction1, correction2);
      return;
    }
#endif
    float* pp = p.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* mp = m.data_ptr<float>();
    float* vp = v.data_ptr<float>();
    at::parallel_for(0, p.numel(), 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++)
        adam_element(pp, gp, mp, vp, i, lr, beta1, beta2, eps, decay, correction1, correction2);
    });
  });
}

}  // extern "C"
