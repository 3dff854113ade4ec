// errors.cpp — the thread-local error message and the facts about this build.
#include <torch/version.h>

#include "guard.hpp"

namespace lowbit {

static thread_local std::string last_error;
std::atomic<int64_t> live_tensors{0};

void set_error(const std::string& message) { last_error = message; }

}  // namespace lowbit

extern "C" {

const char* lb_last_error(void) { return lowbit::last_error.c_str(); }

const char* lb_torch_version(void) { return TORCH_VERSION; }

int lb_has_cuda_build(void) {
#ifdef LOWBIT_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

int64_t lb_live_tensors(void) { return lowbit::live_tensors.load(); }

}  // extern "C"
