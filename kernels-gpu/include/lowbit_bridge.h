/*
 * lowbit_bridge.h — the C contract between Java (java.lang.foreign) and libtorch.
 *
 * Every function returns LB_OK (0) or LB_ERROR (1). On LB_ERROR, lb_last_error() gives the
 * message of the failure on the calling thread (libtorch's own message where it came from
 * libtorch). No function lets a C++ exception escape, so the host process never aborts.
 *
 * A tensor handle (lb_tensor) owns one reference to an at::Tensor; lb_free releases it.
 */
#ifndef LOWBIT_BRIDGE_H
#define LOWBIT_BRIDGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LB_OK 0
#define LB_ERROR 1

typedef void* lb_tensor;
typedef void* lb_op;

/* Argument tags for lb_op_call. */
enum lb_tag {
  LB_NONE = 0,        /* None (also a missing optional)                                   */
  LB_TENSOR = 1,      /* p: lb_tensor (NULL means None)                                   */
  LB_INT = 2,         /* i                                                                */
  LB_DOUBLE = 3,      /* d                                                                */
  LB_BOOL = 4,        /* i != 0                                                           */
  LB_INT_LIST = 5,    /* p: const int64_t[n]                                              */
  LB_DOUBLE_LIST = 6, /* p: const double[n]                                               */
  LB_TENSOR_LIST = 7, /* p: const lb_tensor[n]; NULL entries are None (for Tensor?[])      */
  LB_DTYPE = 8,       /* i: c10::ScalarType code                                          */
  LB_STRING = 9,      /* p: UTF-8 bytes, n: length; parsed as a Device where one is wanted */
  LB_DEVICE = 10      /* i: device type (0 cpu, 1 cuda), n: index (-1: current)          */
};

/* One tagged argument: 40 bytes, laid out identically in Java. */
typedef struct lb_arg {
  int32_t tag;
  int32_t reserved;
  int64_t i;
  double d;
  const void* p;
  int64_t n;
} lb_arg;

/* ---- errors and build facts ---- */
const char* lb_last_error(void);
const char* lb_torch_version(void);  /* e.g. "1.13.1" or "2.11.0" */
int lb_has_cuda_build(void);         /* 1 when the bridge was compiled with CUDA support */
int64_t lb_live_tensors(void);       /* handles made and not yet freed (leak checks)   */

/* ---- operators: look up once, call many times ---- */
int lb_op_lookup(const char* name, const char* overload, lb_op* out);
int lb_op_has(const char* name, const char* overload, int* out);
int lb_op_schema(lb_op op, char* buf, int64_t cap, int64_t* len);
/* Calls the operator with nargs tagged arguments; trailing arguments not given take the schema's
 * defaults. Outputs (tensors, tensors of tensor lists, scalars as 0-d tensors, NULL for None) are
 * written to outs (capacity cap); their number to *nouts. */
int lb_op_call(lb_op op, const lb_arg* args, int32_t nargs, lb_tensor* outs, int32_t cap, int32_t* nouts);

/* ---- tensor lifecycle ---- */
int lb_from_host(const void* data, const int64_t* shape, int32_t ndim, int32_t dtype,
                 int32_t device_type, int32_t device_index, lb_tensor* out);
int lb_to_host(lb_tensor t, void* dst, int64_t nbytes);
int lb_free(lb_tensor t);
int lb_clone_handle(lb_tensor t, lb_tensor* out); /* a second handle to the same tensor */
int lb_dim(lb_tensor t, int32_t* out);
int lb_shape(lb_tensor t, int64_t* out);          /* out: dim() entries */
int lb_strides(lb_tensor t, int64_t* out);        /* out: dim() entries */
int lb_dtype(lb_tensor t, int32_t* out);
int lb_device(lb_tensor t, int32_t* type, int32_t* index);
int lb_data_ptr(lb_tensor t, void** out);
int lb_numel(lb_tensor t, int64_t* out);

/* ---- autograd ---- */
int lb_set_requires_grad(lb_tensor t, int32_t flag);
int lb_requires_grad(lb_tensor t, int32_t* out);
int lb_backward(lb_tensor t, lb_tensor gradient /* may be NULL */, int32_t retain_graph);
int lb_grad(lb_tensor t, lb_tensor* out);          /* *out = NULL when no gradient yet */
int lb_zero_grad(lb_tensor t);
int lb_set_grad_enabled(int32_t flag);             /* thread-local, like torch.set_grad_enabled */
int lb_is_grad_enabled(int32_t* out);

/* ---- random and devices ---- */
int lb_manual_seed(uint64_t seed);
int lb_cuda_device_count(int32_t* out);
int lb_cuda_synchronize(int32_t device);
int lb_cuda_memory_allocated(int32_t device, int64_t* out);
int lb_cuda_max_memory_allocated(int32_t device, int64_t* out);
int lb_cuda_reset_peak_memory(int32_t device);
int lb_cuda_empty_cache(void);
/* Bytes a new allocation on the device can get (driver free + allocator cache) and the total. */
int lb_cuda_mem_get_info(int32_t device, int64_t* free_bytes, int64_t* total_bytes);

/* ---- custom kernels (CUDA when compiled in, ATen otherwise) ---- */
/* acc += |g|, acc float32, g any floating dtype of the same shape. */
int lb_abs_accumulate(lb_tensor acc, lb_tensor g);
/* GPTQ's column sweep inside one block of nb columns, every operand laid out [nb, rows], float32:
   w is updated in place; q, codes, err are written; losses [rows] accumulate Σ err²/2; keep
   (bool, may be null) marks weights that stay as they are. maxq = 2^bits − 1. */
/* TesseraQ's soft-rounded weight (soft_round.hpp) as one autograd node: nu, base [groups, group],
   scale (α·s) and zero [groups] float32; out is [groups, group] of dtype out_dtype; gradients
   flow to nu and scale. */
int lb_soft_weight(lb_tensor nu, lb_tensor scale, lb_tensor base, lb_tensor zero, int32_t maxq, int32_t out_dtype,
                   lb_tensor* out);
/* One Adam step in place on float32 p with gradient g and moments m, v (decay: L2, added to g). */
int lb_adam_step(lb_tensor p, lb_tensor g, lb_tensor m, lb_tensor v, double lr, double beta1, double beta2, double eps,
                 double decay, double correction1, double correction2);
/* GPTQ's clipping search (mse=True) for every row of w [rows, n] (contiguous float32): candidates
 * p = 1 − i/grid, i < steps, of the range [p·xmin, p·xmax]; scores Σ|x̂ − x|^norm; writes the first
 * strictly best scale and zero per row. xmin, xmax, scale, zero: float32, one per row. */
int lb_mse_grid(lb_tensor w, lb_tensor xmin, lb_tensor xmax, int32_t maxq, double norm, int32_t grid, int32_t steps,
                int32_t sym, lb_tensor scale, lb_tensor zero);
int lb_gptq_sweep(lb_tensor w, lb_tensor u, lb_tensor scale, lb_tensor zero, lb_tensor keep, int32_t maxq,
                  lb_tensor q, lb_tensor codes, lb_tensor err, lb_tensor losses);

#ifdef __cplusplus
}
#endif
#endif
