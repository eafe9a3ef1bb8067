//===- Kernels.cpp - Entry point and shared helpers of the CPU kernels ----===//

#include "Internal.h"
#include "Vector.h"

#include <cstring>
#include <sstream>

namespace nuri::cpu {
namespace detail {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    os << (i ? "x" : "") << shape[i];
  }
  os << "]";
  return os.str();
}

std::string fail(const graph::Op &op, const std::string &why) {
  std::string kind = op.kind;
  if (kind == "onnx_op") {
    kind += " " + op.getString("op_type", "?");
  }
  std::string where = op.location.empty() ? "" : " (" + op.location + ")";
  return kind + where + ": " + why;
}

std::string unsupported(const graph::Op &op, const Inputs &in,
                        const Outputs &out) {
  std::string types;
  for (const TensorView &t : in) {
    types += std::string(types.empty() ? "" : ", ") +
             (t.data ? graph::dtypeName(t.dtype) : "none");
  }
  types += " -> ";
  for (size_t i = 0; i < out.size(); ++i) {
    types += std::string(i ? ", " : "") + graph::dtypeName(out[i].dtype);
  }
  return fail(op, "unsupported dtype combination " + types);
}

bool isHalfLike(DType t) {
  return t == DType::F16 || t == DType::BF16 || t == DType::F8E4M3 ||
         t == DType::F8E5M2;
}

void loadF32(DType t, const void *src, float *dst, int64_t n) {
  size_t es = graph::dtypeSize(t);
  if (canConvertRow(t, DType::F32)) {
    parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
      convertRow(t, static_cast<const uint8_t *>(src) + b * es, DType::F32,
                 dst + b, e - b);
    });
    return;
  }
  auto convert = [&](auto fn, auto *p) {
    parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        dst[i] = fn(p[i]);
      }
    });
  };
  switch (t) {
  case DType::F32:
    std::memcpy(dst, src, n * sizeof(float));
    break;
  case DType::F16:
    convert(isa::f16ToF32, static_cast<const uint16_t *>(src));
    break;
  case DType::BF16:
    // Inline, so the loop vectorizes: a bf16 is the upper half of the fp32
    // of the same value (isa::bf16ToF32, out of line, cost a call per value).
    convert(
        [](uint16_t h) {
          uint32_t bits = uint32_t(h) << 16;
          float f;
          std::memcpy(&f, &bits, 4);
          return f;
        },
        static_cast<const uint16_t *>(src));
    break;
  case DType::F8E4M3:
    convert(isa::e4m3ToF32, static_cast<const uint8_t *>(src));
    break;
  case DType::F8E5M2:
    convert(isa::e5m2ToF32, static_cast<const uint8_t *>(src));
    break;
  case DType::F64:
    convert([](double v) { return static_cast<float>(v); },
            static_cast<const double *>(src));
    break;
  default:
    break;
  }
}

void storeF32(DType t, const float *src, void *dst, int64_t n) {
  size_t es = graph::dtypeSize(t);
  if (canConvertRow(DType::F32, t)) {
    parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
      convertRow(DType::F32, src + b, t, static_cast<uint8_t *>(dst) + b * es,
                 e - b);
    });
    return;
  }
  auto convert = [&](auto fn, auto *p) {
    parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        p[i] = fn(src[i]);
      }
    });
  };
  switch (t) {
  case DType::F32:
    if (dst != src) {
      std::memcpy(dst, src, n * sizeof(float));
    }
    break;
  case DType::F16:
    convert(isa::f32ToF16, static_cast<uint16_t *>(dst));
    break;
  case DType::BF16:
    convert(isa::f32ToBf16, static_cast<uint16_t *>(dst));
    break;
  case DType::F8E4M3:
    convert(isa::f32ToE4M3, static_cast<uint8_t *>(dst));
    break;
  case DType::F8E5M2:
    convert(isa::f32ToE5M2, static_cast<uint8_t *>(dst));
    break;
  case DType::F64:
    convert([](float v) { return static_cast<double>(v); },
            static_cast<double *>(dst));
    break;
  default:
    break;
  }
}

F32Buffer toF32(const TensorView &t) {
  F32Buffer b;
  if (t.dtype == DType::F32) {
    b.ptr = t.as<const float>();
    return b;
  }
  b.storage.resize(t.elements());
  loadF32(t.dtype, t.data, b.storage.data(), t.elements());
  b.ptr = b.storage.data();
  return b;
}

F32Out::F32Out(const TensorView &v) : view(&v) {
  if (v.dtype == DType::F32) {
    ptr = v.as<float>();
  } else {
    storage.resize(v.elements());
    ptr = storage.data();
  }
}

void F32Out::finish() {
  if (view->dtype != DType::F32) {
    storeF32(view->dtype, ptr, view->data, view->elements());
  }
}

std::vector<int64_t> contiguousStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size());
  int64_t acc = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

bool broadcastable(const std::vector<int64_t> &shape,
                   const std::vector<int64_t> &outShape) {
  if (shape.size() > outShape.size()) {
    return false;
  }
  size_t lead = outShape.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] != 1 && shape[d] != outShape[lead + d]) {
      return false;
    }
  }
  return true;
}

std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &shape,
                                      const std::vector<int64_t> &outShape) {
  std::vector<int64_t> strides(outShape.size(), 0);
  std::vector<int64_t> own = contiguousStrides(shape);
  size_t lead = outShape.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    strides[lead + d] = shape[d] == 1 ? 0 : own[d];
  }
  return strides;
}

bool isIntegerIndex(DType t) {
  switch (t) {
  case DType::I8:
  case DType::I16:
  case DType::I32:
  case DType::I64:
  case DType::U8:
  case DType::U16:
  case DType::U32:
  case DType::U64:
    return true;
  default:
    return false;
  }
}

int64_t readIndex(const TensorView &t, int64_t i) {
  switch (t.dtype) {
  case DType::I8:
    return t.as<const int8_t>()[i];
  case DType::I16:
    return t.as<const int16_t>()[i];
  case DType::I32:
    return t.as<const int32_t>()[i];
  case DType::I64:
    return t.as<const int64_t>()[i];
  case DType::U8:
    return t.as<const uint8_t>()[i];
  case DType::U16:
    return t.as<const uint16_t>()[i];
  case DType::U32:
    return t.as<const uint32_t>()[i];
  case DType::U64:
    return static_cast<int64_t>(t.as<const uint64_t>()[i]);
  case DType::Bool:
    return t.as<const uint8_t>()[i] != 0;
  default:
    return 0;
  }
}

std::vector<int64_t> readInts(const TensorView &t) {
  std::vector<int64_t> v;
  if (!t.data) {
    return v;
  }
  int64_t n = t.elements();
  v.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    v.push_back(readIndex(t, i));
  }
  return v;
}

} // namespace detail

using namespace detail;

bool hasKernel(const graph::Op &op) {
  if (op.kind == "onnx_op") {
    return hasOnnxKernel(op.getString("op_type", ""));
  }
  return isElementwise(op.kind) || isShapeOp(op.kind) || isNormOp(op.kind) ||
         isLinalgOp(op.kind) || isKvCacheOp(op.kind) || isQuantizedOp(op.kind);
}

KernelCache::KernelCache() : impl(std::make_unique<Impl>()) {}
KernelCache::KernelCache(std::shared_ptr<PackPool> pool)
    : impl(std::make_unique<Impl>()) {
  impl->pool = std::move(pool);
}
std::shared_ptr<PackPool> makePackPool() {
  return std::make_shared<PackPool>();
}
KernelCache::~KernelCache() = default;

namespace {

/// What every entry checks before its family runs, and the one place where
/// a kernel's exception becomes a message.
template <typename Fn>
std::string guarded(const graph::Op &op, const Outputs &out, Fn &&fn) {
  // Kernels index their operands by ODS position; a short list would read
  // past the end, so it is an error before any kernel runs.
  for (const TensorView &t : out) {
    if (!t.data && t.elements() != 0) {
      return fail(op, "output has no buffer");
    }
  }
  try {
    return fn();
  } catch (const std::exception &e) {
    // Allocation failure of scratch space is the only expected source.
    return fail(op, e.what());
  }
}

std::string onnxEntry(const graph::Op &op, const Inputs &in, const Outputs &out,
                      KernelCache *) {
  return guarded(op, out, [&] { return runOnnxOp(op, in, out); });
}
std::string elementwiseEntry(const graph::Op &op, const Inputs &in,
                             const Outputs &out, KernelCache *) {
  return guarded(op, out, [&] { return runElementwise(op, in, out); });
}
std::string shapeEntry(const graph::Op &op, const Inputs &in,
                       const Outputs &out, KernelCache *) {
  return guarded(op, out, [&] { return runShapeOp(op, in, out); });
}
std::string normEntry(const graph::Op &op, const Inputs &in, const Outputs &out,
                      KernelCache *) {
  return guarded(op, out, [&] { return runNormOp(op, in, out); });
}
std::string linalgEntry(const graph::Op &op, const Inputs &in,
                        const Outputs &out, KernelCache *cache) {
  return guarded(op, out, [&] { return runLinalgOp(op, in, out, cache); });
}
std::string quantizedEntry(const graph::Op &op, const Inputs &in,
                           const Outputs &out, KernelCache *cache) {
  return guarded(op, out, [&] { return runQuantizedOp(op, in, out, cache); });
}

std::string kvCacheEntry(const graph::Op &op, const Inputs &in,
                         const Outputs &out, KernelCache *) {
  return guarded(op, out, [&] { return runCacheWrite(op, in, out); });
}

} // namespace

KernelFn resolveKernel(const graph::Op &op) {
  if (op.kind == "onnx_op") {
    return hasOnnxKernel(op.getString("op_type", "")) ? onnxEntry : nullptr;
  }
  if (isElementwise(op.kind)) {
    return elementwiseEntry;
  }
  if (isShapeOp(op.kind)) {
    return shapeEntry;
  }
  if (isNormOp(op.kind)) {
    return normEntry;
  }
  if (isLinalgOp(op.kind)) {
    return linalgEntry;
  }
  if (isKvCacheOp(op.kind)) {
    return kvCacheEntry;
  }
  if (isQuantizedOp(op.kind)) {
    return quantizedEntry;
  }
  return nullptr;
}

void prepareKernel(const graph::Op &op, const std::vector<TensorView> &in,
                   KernelCache *cache) {
  if (isLinalgOp(op.kind)) {
    try {
      prepareLinalgOp(op, in, cache);
    } catch (const std::exception &) {
      // Out of memory while packing: the first run packs (and reports) it.
    }
  }
}

std::string runKernel(const graph::Op &op, const std::vector<TensorView> &in,
                      const std::vector<TensorView> &out) {
  return runKernel(op, in, out, nullptr);
}

std::string runKernel(const graph::Op &op, const std::vector<TensorView> &in,
                      const std::vector<TensorView> &out, KernelCache *cache) {
  if (op.kind == "constant") {
    return fail(op, "constants are data, never executed");
  }
  if (KernelFn fn = resolveKernel(op)) {
    return fn(op, in, out, cache);
  }
  if (op.kind == "onnx_op") {
    // Its message names the ONNX op type and domain.
    return guarded(op, out, [&] { return runOnnxOp(op, in, out); });
  }
  return fail(op, "no CPU kernel for this op");
}

} // namespace nuri::cpu
