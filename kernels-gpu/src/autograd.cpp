// autograd.cpp — requires_grad, backward, grad, and the thread-local grad mode.
#include <torch/autograd.h>

#include "guard.hpp"

using namespace lowbit;

extern "C" {

int lb_set_requires_grad(lb_tensor t, int32_t flag) {
  return guarded([&] { deref(t).set_requires_grad(flag != 0); });
}

int lb_requires_grad(lb_tensor t, int32_t* out) {
  return guarded([&] { *out = deref(t).requires_grad() ? 1 : 0; });
}

int lb_backward(lb_tensor t, lb_tensor gradient, int32_t retain_graph) {
  return guarded([&] {
    at::Tensor g = gradient == nullptr ? at::Tensor() : deref(gradient);
    deref(t).backward(g, retain_graph != 0, /*create_graph=*/false);
  });
}

int lb_grad(lb_tensor t, lb_tensor* out) {
  return guarded([&] {
    const at::Tensor& g = deref(t).grad();
    *out = g.defined() ? make_handle(g) : nullptr;
  });
}

int lb_zero_grad(lb_tensor t) {
  return guarded([&] {
    at::Tensor& g = deref(t).mutable_grad();
    if (g.defined()) g = at::Tensor();  // set_to_none, as torch.optim does by default
  });
}

int lb_set_grad_enabled(int32_t flag) {
  return guarded([&] { c10::GradMode::set_enabled(flag != 0); });
}

int lb_is_grad_enabled(int32_t* out) {
  return guarded([&] { *out = c10::GradMode::is_enabled() ? 1 : 0; });
}

}  // extern "C"
