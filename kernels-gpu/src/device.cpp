// device.cpp — random seed and CUDA facts: device count, synchronize, memory statistics.
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#ifdef LOWBIT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

#include "guard.hpp"

using namespace lowbit;

namespace {
#ifdef LOWBIT_WITH_CUDA
void check_device(int32_t device) {
  int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (device < 0 || device >= count)
    throw std::invalid_argument("no CUDA device " + std::to_string(device) + " (this machine has " +
                                std::to_string(count) + ")");
}
#else
[[noreturn]] void no_cuda() {
  throw std::runtime_error("this Lowbit bridge was built without CUDA (libtorch " TORCH_VERSION ")");
}
#endif
}  // namespace

extern "C" {

int lb_manual_seed(uint64_t seed) {
  return guarded([&] { torch::manual_seed(seed); });  // seeds the CPU and every CUDA generator
}

int lb_cuda_device_count(int32_t* out) {
  return guarded([&] { *out = static_cast<int32_t>(torch::cuda::device_count()); });
}

#ifdef LOWBIT_WITH_CUDA
// The caching allocator's aggregate statistics are entry 0 of each stat array.
int lb_cuda_synchronize(int32_t device) {
  return guarded([&] {
    check_device(device);
    c10::cuda::device_synchronize();
  });
}
int lb_cuda_memory_allocated(int32_t device, int64_t* out) {
  return guarded([&] {
    check_device(device);
    *out = c10::cuda::CUDACachingAllocator::getDeviceStats(device).allocated_bytes[0].current;
  });
}
int lb_cuda_max_memory_allocated(int32_t device, int64_t* out) {
  return guarded([&] {
    check_device(device);
    *out = c10::cuda::CUDACachingAllocator::getDeviceStats(device).allocated_bytes[0].peak;
  });
}
int lb_cuda_reset_peak_memory(int32_t device) {
  return guarded([&] {
    check_device(device);
    c10::cuda::CUDACachingAllocator::resetPeakStats(device);
  });
}
int lb_cuda_empty_cache(void) {
  return guarded([&] { c10::cuda::CUDACachingAllocator::emptyCache(); });
}
// What a new allocation can still get: the driver's free bytes plus what the caching allocator
// holds unused (torch reuses that first).
int lb_cuda_mem_get_info(int32_t device, int64_t* free_bytes, int64_t* total_bytes) {
  return guarded([&] {
    check_device(device);
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
    size_t f = 0, t = 0;
    cudaError_t e = cudaMemGetInfo(&f, &t);
    if (e != cudaSuccess) throw std::runtime_error(std::string("cudaMemGetInfo: ") + cudaGetErrorString(e));
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
    int64_t cached = stats.reserved_bytes[0].current - stats.allocated_bytes[0].current;
    *free_bytes = static_cast<int64_t>(f) + (cached > 0 ? cached : 0);
    *total_bytes = static_cast<int64_t>(t);
  });
}
#else
int lb_cuda_synchronize(int32_t) { return guarded([&] { no_cuda(); }); }
int lb_cuda_memory_allocated(int32_t, int64_t*) { return guarded([&] { no_cuda(); }); }
int lb_cuda_max_memory_allocated(int32_t, int64_t*) { return guarded([&] { no_cuda(); }); }
int lb_cuda_reset_peak_memory(int32_t) { return guarded([&] { no_cuda(); }); }
int lb_cuda_empty_cache(void) { return guarded([&] { no_cuda(); }); }
int lb_cuda_mem_get_info(int32_t, int64_t*, int64_t*) { return guarded([&] { no_cuda(); }); }
#endif

}  // extern "C"
