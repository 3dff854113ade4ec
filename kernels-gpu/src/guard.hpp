// guard.hpp — the one rule of the bridge: no C++ exception crosses into Java.
// Every extern "C" entry runs its body through guarded(), which turns c10::Error and
// std::exception into LB_ERROR plus a thread-local message.
#pragma once

#include <ATen/ATen.h>
#include <atomic>
#include <string>

#include "lowbit_bridge.h"

namespace lowbit {

void set_error(const std::string& message);
extern std::atomic<int64_t> live_tensors;

template <class F>
int guarded(F&& body) {
  try {
    body();
    return LB_OK;
  } catch (const c10::Error& e) {
    set_error(e.what_without_backtrace());
  } catch (const std::exception& e) {
    set_error(e.what());
  } catch (...) {
    set_error("unknown C++ exception in the Lowbit bridge");
  }
  return LB_ERROR;
}

// Handles are heap-allocated at::Tensor objects; each holds one reference.
inline at::Tensor& deref(lb_tensor t) {
  if (t == nullptr) throw std::invalid_argument("null tensor handle");
  return *static_cast<at::Tensor*>(t);
}

inline lb_tensor make_handle(at::Tensor t) {
  live_tensors.fetch_add(1, std::memory_order_relaxed);
  return new at::Tensor(std::move(t));
}

}  // namespace lowbit
