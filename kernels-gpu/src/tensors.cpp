// tensors.cpp — tensor lifecycle: host copies in and out, handles, shape, dtype, device.
#include <cstring>

#include "guard.hpp"

using namespace lowbit;

namespace {
c10::Device device_of(int32_t type, int32_t index) {
  if (type == 0) return c10::Device(c10::DeviceType::CPU);
  if (type == 1) return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
  throw std::invalid_argument("unknown device type " + std::to_string(type));
}
}  // namespace

extern "C" {

int lb_from_host(const void* data, const int64_t* shape, int32_t ndim, int32_t dtype,
                 int32_t device_type, int32_t device_index, lb_tensor* out) {
  return guarded([&] {
    auto options = at::TensorOptions().dtype(static_cast<c10::ScalarType>(dtype));
    std::vector<int64_t> sizes(shape, shape + ndim);
    // from_blob borrows the caller's memory; the copy below makes the tensor its own.
    at::Tensor borrowed = at::from_blob(const_cast<void*>(data), sizes, options);
    c10::Device device = device_of(device_type, device_index);
    at::Tensor owned = device.is_cpu() ? borrowed.clone() : borrowed.to(device, /*non_blocking=*/false, /*copy=*/true);
    *out = make_handle(std::move(owned));
  });
}

int lb_to_host(lb_tensor t, void* dst, int64_t nbytes) {
  return guarded([&] {
    at::Tensor host = deref(t).detach().to(at::kCPU).contiguous();
    int64_t have = host.numel() * static_cast<int64_t>(host.element_size());
    if (have != nbytes)
      throw std::invalid_argument("to_host: tensor holds " + std::to_string(have) + " bytes, destination has " +
                                  std::to_string(nbytes));
    if (nbytes > 0) std::memcpy(dst, host.data_ptr(), nbytes);
  });
}

int lb_free(lb_tensor t) {
  return guarded([&] {
    if (t == nullptr) return;
    delete static_cast<at::Tensor*>(t);
    live_tensors.fetch_sub(1, std::memory_order_relaxed);
  });
}

int lb_clone_handle(lb_tensor t, lb_tensor* out) {
  return guarded([&] { *out = make_handle(deref(t)); });
}

int lb_dim(lb_tensor t, int32_t* out) {
  return guarded([&] { *out = static_cast<int32_t>(deref(t).dim()); });
}

int lb_shape(lb_tensor t, int64_t* out) {
  return guarded([&] {
    auto sizes = deref(t).sizes();
    std::copy(sizes.begin(), sizes.end(), out);
  });
}

int lb_strides(lb_tensor t, int64_t* out) {
  return guarded([&] {
    auto strides = deref(t).strides();
    std::copy(strides.begin(), strides.end(), out);
  });
}

int lb_dtype(lb_tensor t, int32_t* out) {
  return guarded([&] { *out = static_cast<int32_t>(deref(t).scalar_type()); });
}

int lb_device(lb_tensor t, int32_t* type, int32_t* index) {
  return guarded([&] {
    c10::Device d = deref(t).device();
    if (d.is_cpu()) *type = 0;
    else if (d.is_cuda()) *type = 1;
    else throw std::invalid_argument("tensor on unsupported device " + d.str());
    *index = d.has_index() ? d.index() : -1;
  });
}

int lb_data_ptr(lb_tensor t, void** out) {
  return guarded([&] { *out = deref(t).data_ptr(); });
}

int lb_numel(lb_tensor t, int64_t* out) {
  return guarded([&] { *out = deref(t).numel(); });
}

}  // extern "C"
