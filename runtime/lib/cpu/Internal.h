//===- Internal.h - Shared helpers of the CPU kernels -----------*- C++ -*-===//
//
// What every kernel file needs: error formatting, dtype dispatch, fp32
// staging of fp16/bf16 tensors, broadcast index arithmetic, and the
// parallel-for threshold. Private to runtime/lib/cpu.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CPU_INTERNAL_H
#define NURI_CPU_INTERNAL_H

#include "nuri/cpu/Gemm.h"
#include "nuri/cpu/Kernels.h"
#include "nuri/isa/Numerics.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace nuri::cpu {

/// What a KernelCache holds: one packed weight, with what it was made from
/// so that a different input never picks it up.
struct KernelCache::Impl {
  std::mutex mutex;
  const void *key = nullptr;
  graph::DType dtype = graph::DType::F32;
  int64_t k = 0, n = 0;
  bool transposed = false;
  std::shared_ptr<const PackedMatrix> packed;
  /// quantized_matmul: its constant int8 weight as packed int16 pairs, with
  /// the weight and zero point it was made from.
  const void *int8Key = nullptr, *int8ZeroKey = nullptr;
  std::shared_ptr<const std::vector<uint32_t>> int8Packed;
  std::shared_ptr<PackPool> pool; ///< null: this op's cache only
};

/// See makePackPool. Keyed like KernelCache::Impl's single entry.
class PackPool {
public:
  using Key = std::tuple<const void *, graph::DType, int64_t, int64_t, bool>;
  std::mutex mutex;
  std::map<Key, std::shared_ptr<const PackedMatrix>> packs;
};

} // namespace nuri::cpu

namespace nuri::cpu::detail {

using graph::DType;
using Inputs = std::vector<TensorView>;
using Outputs = std::vector<TensorView>;

/// Below this many elements an elementwise op runs on the calling thread:
/// spawning tasks costs more than the work.
constexpr int64_t kParallelGrain = 1 << 15;

/// Runs fn(begin, end) over [0, n), in parallel when n is large enough.
template <typename Fn>
void parallelRange(int64_t n, int64_t grain, const Fn &fn) {
  if (n <= grain) {
    if (n > 0) {
      fn(int64_t(0), n);
    }
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, n, grain),
      [&](const tbb::blocked_range<int64_t> &r) { fn(r.begin(), r.end()); });
}

std::string shapeString(const std::vector<int64_t> &shape);
/// "<kind>: <why>" — every error names the op.
std::string fail(const graph::Op &op, const std::string &why);
/// "<kind>: unsupported dtype(s) f16, i8".
std::string unsupported(const graph::Op &op, const Inputs &in,
                        const Outputs &out);

/// fp32 staging for fp16/bf16 (and fp8) tensors: `F32Buffer` views an fp32
/// tensor in place and converts any other float dtype once.
struct F32Buffer {
  std::vector<float> storage;
  const float *ptr = nullptr;
};
bool isHalfLike(DType t); // f16, bf16, f8
F32Buffer toF32(const TensorView &t);
/// Converts `n` fp32 values to `dst` of dtype `t` (f32, f16, bf16, f8, f64)
/// with round to nearest even.
void storeF32(DType t, const float *src, void *dst, int64_t n);
void loadF32(DType t, const void *src, float *dst, int64_t n);

/// For ops that compute in fp32: where to write. Writes straight into an f32
/// output, otherwise into scratch that `finish` rounds into the output.
struct F32Out {
  const TensorView *view;
  std::vector<float> storage;
  float *ptr;
  explicit F32Out(const TensorView &v);
  void finish();
};

/// Strides of `shape` right-aligned into `rank` dims, 0 where the dim
/// broadcasts (size 1 against a larger output).
std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &shape,
                                      const std::vector<int64_t> &outShape);
std::vector<int64_t> contiguousStrides(const std::vector<int64_t> &shape);
bool broadcastable(const std::vector<int64_t> &shape,
                   const std::vector<int64_t> &outShape);

/// Element offset of output element `linear` in an input with `strides`.
inline int64_t offsetOf(int64_t linear, const std::vector<int64_t> &outShape,
                        const std::vector<int64_t> &strides) {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(outShape.size()) - 1; d >= 0; --d) {
    int64_t size = outShape[d];
    off += (linear % size) * strides[d];
    linear /= size;
  }
  return off;
}

/// Normalizes an axis into [0, rank); -1 when out of range.
inline int64_t normAxis(int64_t axis, int64_t rank) {
  if (axis < 0) {
    axis += rank;
  }
  return (axis < 0 || axis >= rank) ? -1 : axis;
}

/// Reads an integer tensor (i8..u64) element as int64.
int64_t readIndex(const TensorView &t, int64_t i);
bool isIntegerIndex(DType t);
/// The values of a small integer tensor (shape inputs of ONNX ops).
std::vector<int64_t> readInts(const TensorView &t);

// Dispatch over storage types. `F` is called as f(T{}) with a value of the
// element type; returns false for dtypes not in the set.
template <typename F> bool dispatchNumeric(DType t, F &&f) {
  switch (t) {
  case DType::F32:
    f(float{});
    return true;
  case DType::F64:
    f(double{});
    return true;
  case DType::I8:
    f(int8_t{});
    return true;
  case DType::I16:
    f(int16_t{});
    return true;
  case DType::I32:
    f(int32_t{});
    return true;
  case DType::I64:
    f(int64_t{});
    return true;
  case DType::U8:
    f(uint8_t{});
    return true;
  case DType::U16:
    f(uint16_t{});
    return true;
  case DType::U32:
    f(uint32_t{});
    return true;
  case DType::U64:
    f(uint64_t{});
    return true;
  default:
    return false;
  }
}

/// Same as dispatchNumeric plus raw byte types for pure data movement.
template <typename F> bool dispatchBySize(size_t bytes, F &&f) {
  switch (bytes) {
  case 1:
    f(uint8_t{});
    return true;
  case 2:
    f(uint16_t{});
    return true;
  case 4:
    f(uint32_t{});
    return true;
  case 8:
    f(uint64_t{});
    return true;
  default:
    return false;
  }
}

// Kernel families, one file each.
std::string runElementwise(const graph::Op &op, const Inputs &in,
                           const Outputs &out);
bool isElementwise(const std::string &kind);
std::string runShapeOp(const graph::Op &op, const Inputs &in,
                       const Outputs &out);
bool isShapeOp(const std::string &kind);
std::string runNormOp(const graph::Op &op, const Inputs &in,
                      const Outputs &out);
bool isNormOp(const std::string &kind);
std::string runLinalgOp(const graph::Op &op, const Inputs &in,
                        const Outputs &out, KernelCache *cache);
bool isLinalgOp(const std::string &kind);
void prepareLinalgOp(const graph::Op &op, const Inputs &in, KernelCache *cache);
std::string runCacheWrite(const graph::Op &op, const Inputs &in,
                          const Outputs &out);
bool isKvCacheOp(const std::string &kind);
/// Reads a [B] index tensor (i32 or i64) whose values must lie in
/// [0, limit); the error names the op, `what` and the entry.
std::string readSlots(const graph::Op &op, const TensorView &t, int64_t limit,
                      std::vector<int64_t> &out, const char *what = "slot");
std::string runOnnxOp(const graph::Op &op, const Inputs &in,
                      const Outputs &out);
bool hasOnnxKernel(const std::string &opType);
/// quantized_matmul and dynamic_quantize (Quantized.cpp).
std::string runQuantizedOp(const graph::Op &op, const Inputs &in,
                           const Outputs &out, KernelCache *cache);
bool isQuantizedOp(const std::string &kind);
/// "avx512-vnni", "avx-vnni", "avx2" or "scalar": the int8 GEMM path.
const char *int8KernelName();

} // namespace nuri::cpu::detail

#endif // NURI_CPU_INTERNAL_H
