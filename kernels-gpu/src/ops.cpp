// ops.cpp — one generic entry into the ATen dispatcher.
//
// Java looks an operator up once by name and overload (the handle is kept), then calls it with
// tagged arguments. Each argument is converted to the IValue the operator's schema wants; the
// trailing arguments the caller left out take the schema's defaults. The boxed call goes through
// the dispatcher, so autograd, CPU and CUDA all work as they do from Python.
#include <ATen/core/dispatch/Dispatcher.h>

#include <torch/version.h>

#include <cstring>
#include <sstream>
#include <vector>

#include "guard.hpp"

namespace lowbit {
namespace {

c10::TypePtr unwrap_optional(c10::TypePtr type) {
  if (auto opt = type->cast<c10::OptionalType>()) return opt->getElementType();
  return type;
}

std::string describe(const c10::FunctionSchema& schema, size_t index) {
  std::ostringstream out;
  out << schema.name();
  if (!schema.overload_name().empty()) out << "." << schema.overload_name();
  out << " argument " << index << " '" << schema.arguments()[index].name() << "' ("
      << schema.arguments()[index].type()->str() << ")";
  return out.str();
}

c10::IValue to_ivalue(const lb_arg& a, const c10::FunctionSchema& schema, size_t index) {
  const c10::TypePtr wanted = unwrap_optional(schema.arguments()[index].type());
  switch (a.tag) {
    case LB_NONE:
      return c10::IValue();
    case LB_TENSOR:
      return a.p == nullptr ? c10::IValue() : c10::IValue(deref(const_cast<void*>(a.p)));
    case LB_INT:
      if (wanted->kind() == c10::TypeKind::FloatType) return c10::IValue(static_cast<double>(a.i));
      if (wanted->kind() == c10::TypeKind::BoolType) return c10::IValue(a.i != 0);
      return c10::IValue(a.i);
    case LB_DOUBLE:
      if (wanted->kind() == c10::TypeKind::IntType) {
        if (a.d != static_cast<double>(static_cast<int64_t>(a.d)))
          throw std::invalid_argument(describe(schema, index) + " wants an int, got " + std::to_string(a.d));
        return c10::IValue(static_cast<int64_t>(a.d));
      }
      return c10::IValue(a.d);
    case LB_BOOL:
      return c10::IValue(a.i != 0);
    case LB_INT_LIST: {
      const auto* v = static_cast<const int64_t*>(a.p);
      return c10::IValue(std::vector<int64_t>(v, v + a.n));
    }
    case LB_DOUBLE_LIST: {
      const auto* v = static_cast<const double*>(a.p);
      return c10::IValue(std::vector<double>(v, v + a.n));
    }
    case LB_TENSOR_LIST: {
      const auto* v = static_cast<const lb_tensor*>(a.p);
      auto list_type = wanted->cast<c10::ListType>();
      bool optional_elements = list_type && list_type->getElementType()->cast<c10::OptionalType>();
      if (optional_elements) {  // Tensor?[], e.g. aten::index.Tensor
        c10::List<c10::optional<at::Tensor>> list;
        for (int64_t k = 0; k < a.n; ++k)
          list.push_back(v[k] == nullptr ? c10::optional<at::Tensor>() : c10::optional<at::Tensor>(deref(v[k])));
        return c10::IValue(list);
      }
      std::vector<at::Tensor> list;
      list.reserve(a.n);
      for (int64_t k = 0; k < a.n; ++k) list.push_back(deref(v[k]));
      return c10::IValue(list);
    }
    case LB_DTYPE:
      return c10::IValue(static_cast<c10::ScalarType>(a.i));
    case LB_STRING: {
      std::string s(static_cast<const char*>(a.p), a.n);
      if (wanted->kind() == c10::TypeKind::DeviceObjType) return c10::IValue(c10::Device(s));
      return c10::IValue(s);
    }
    case LB_DEVICE:
      return c10::IValue(c10::Device(a.i == 1 ? c10::DeviceType::CUDA : c10::DeviceType::CPU,
                                     static_cast<c10::DeviceIndex>(a.n)));
    default:
      throw std::invalid_argument(describe(schema, index) + ": unknown argument tag " + std::to_string(a.tag));
  }
}

// Appends one returned value to outs; lists are flattened, scalars become 0-d tensors.
void collect(const c10::IValue& v, std::vector<lb_tensor>& outs) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    outs.push_back(t.defined() ? make_handle(t) : nullptr);
  } else if (v.isTensorList()) {
    for (const at::Tensor& t : v.toTensorVector()) outs.push_back(make_handle(t));
  } else if (v.isNone()) {
    outs.push_back(nullptr);
  } else if (v.isInt()) {
    outs.push_back(make_handle(at::scalar_tensor(v.toInt(), at::kLong)));
  } else if (v.isDouble()) {
    outs.push_back(make_handle(at::scalar_tensor(v.toDouble(), at::kDouble)));
  } else if (v.isBool()) {
    outs.push_back(make_handle(at::scalar_tensor(v.toBool(), at::kBool)));
  } else if (v.isTuple()) {
    for (const c10::IValue& e : v.toTupleRef().elements()) collect(e, outs);
  } else if (v.isIntList()) {
    auto ints = v.toIntVector();
    outs.push_back(make_handle(at::tensor(ints, at::kLong)));
  } else {
    throw std::runtime_error("operator returned a value the bridge cannot pass on: " + v.tagKind());
  }
}

}  // namespace
}  // namespace lowbit

using namespace lowbit;

extern "C" {

int lb_op_lookup(const char* name, const char* overload, lb_op* out) {
  return guarded([&] {
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload ? overload : ""});
    if (!handle.has_value())
      throw std::invalid_argument(std::string("no operator ") + name +
                                  (overload && *overload ? std::string(".") + overload : std::string()) +
                                  " in this libtorch (" + TORCH_VERSION + ")");
    *out = new c10::OperatorHandle(*handle);  // kept for the life of the process
  });
}

int lb_op_has(const char* name, const char* overload, int* out) {
  return guarded([&] {
    *out = c10::Dispatcher::singleton().findSchema({name, overload ? overload : ""}).has_value() ? 1 : 0;
  });
}

int lb_op_schema(lb_op op, char* buf, int64_t cap, int64_t* len) {
  return guarded([&] {
    std::ostringstream s;
    s << static_cast<c10::OperatorHandle*>(op)->schema();
    std::string text = s.str();
    *len = static_cast<int64_t>(text.size());
    if (buf != nullptr && cap > 0) {
      int64_t n = std::min<int64_t>(cap - 1, *len);
      std::memcpy(buf, text.data(), n);
      buf[n] = 0;
    }
  });
}

int lb_op_call(lb_op op, const lb_arg* args, int32_t nargs, lb_tensor* outs, int32_t cap, int32_t* nouts) {
  std::vector<lb_tensor> results;
  int rc = guarded([&] {
    const auto& handle = *static_cast<c10::OperatorHandle*>(op);
    const c10::FunctionSchema& schema = handle.schema();
    const auto& formals = schema.arguments();
    if (static_cast<size_t>(nargs) > formals.size()) {
      std::ostringstream m;
      m << schema << ": " << nargs << " arguments given, at most " << formals.size() << " taken";
      throw std::invalid_argument(m.str());
    }
    torch::jit::Stack stack;
    stack.reserve(formals.size());
    for (int32_t k = 0; k < nargs; ++k) stack.push_back(to_ivalue(args[k], schema, k));
    for (size_t k = nargs; k < formals.size(); ++k) {
      if (!formals[k].default_value().has_value()) {
        std::ostringstream m;
        m << schema << ": missing argument " << k << " '" << formals[k].name() << "'";
        throw std::invalid_argument(m.str());
      }
      stack.push_back(*formals[k].default_value());
    }
    handle.callBoxed(&stack);
    for (const c10::IValue& v : stack) collect(v, results);
    if (static_cast<int32_t>(results.size()) > cap) {
      std::ostringstream m;
      m << schema.name() << " returned " << results.size() << " tensors, more than the " << cap << " the caller takes";
      throw std::length_error(m.str());
    }
    for (size_t k = 0; k < results.size(); ++k) outs[k] = results[k];
    *nouts = static_cast<int32_t>(results.size());
  });
  if (rc != LB_OK) {  // nothing made by a failed call may leak
    for (lb_tensor t : results) lb_free(t);
  }
  return rc;
}

}  // extern "C"
