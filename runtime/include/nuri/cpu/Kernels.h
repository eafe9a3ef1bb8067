//===- Kernels.h - CPU kernels for nuri ops ---------------------*- C++ -*-===//
//
// The CPU device's kernels: one entry point that runs any graph op on dense
// row-major buffers. It is the fallback for ops the NPU cannot run and the
// golden model the simulator's numerics are checked against, so every op is
// exact to DESIGN.md's numerics in every dtype it accepts: fp32 math; fp16
// and bf16 inputs computed in fp32 and rounded to nearest even on output;
// int8 x int8 -> int32 accumulation.
//
// Coverage (runtime/lib/cpu):
// - every nuri op but constant; floats in f32, f16, bf16 (staged to fp32,
//   rounded to nearest even once on store; fp8 stages the same way) and
//   f64; integers (i8..i64, u8..u64) and bool wherever ONNX allows them
//   (arithmetic, compare, where, clip, reductions, data movement, cast);
//   matmul/linear also i8/u8/i32 -> i32 and narrow floats -> f32.
// - onnx_op: ArgMax/ArgMin, TopK, CumSum, Pad, Einsum, GatherElements,
//   GatherND, ScatterElements, OneHot, LeakyRelu, Elu, Selu, Celu,
//   HardSigmoid, HardSwish, PRelu, Softplus, Softsign, Sinh, Cosh, Tan,
//   Asin, Acos, Atan, Mish, ThresholdedRelu, IsNaN, IsInf,
//   InstanceNormalization, BatchNormalization (inference), LRN, ReduceL1,
//   ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare,
//   MatMulInteger, QLinearMatMul, DynamicQuantizeLinear (hasKernel says).
// - the vector ISA is picked at run time (AVX-512, AVX2+FMA, scalar);
//   NURI_CPU_ISA=avx2|scalar caps it, for tests and comparisons.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CPU_KERNELS_H
#define NURI_CPU_KERNELS_H

#include "nuri/graph/Graph.h"

#include <memory>
#include <string>
#include <vector>

namespace nuri::cpu {

/// A dense row-major tensor in host memory. Kernels never own memory.
struct TensorView {
  graph::DType dtype = graph::DType::F32;
  std::vector<int64_t> shape;
  void *data = nullptr;
  /// A constant of the model (a weight): its pointer and bytes stay the same
  /// for as long as a KernelCache passed with it lives.
  bool constant = false;

  int64_t elements() const { return graph::elementCount(shape); }
  size_t bytes() const {
    return static_cast<size_t>(elements()) * graph::dtypeSize(dtype);
  }
  template <typename T> T *as() const { return static_cast<T *>(data); }
};

/// State a caller keeps per op instance across runs: kernels put what they
/// derive from constant inputs here (linear's and matmul's weights packed
/// once into the GEMM's panel layout, fp16/bf16 weights converted once).
/// One per op of a loaded model; safe to share among concurrent runs.
class PackPool;
/// Packed weights shared by the caches made with it, by the weight's
/// address: the programs of a generation family read the same constants, so
/// each is packed once, not once per program.
std::shared_ptr<PackPool> makePackPool();

class KernelCache {
public:
  KernelCache();
  explicit KernelCache(std::shared_ptr<PackPool> pool);
  ~KernelCache();
  KernelCache(const KernelCache &) = delete;
  KernelCache &operator=(const KernelCache &) = delete;

  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Derives now what `op` would keep in `cache` on its first run (a linear's
/// constant weight packed for the GEMM), so the first request does not pay
/// for it. `inputs` need only the constant ones (others may be empty).
void prepareKernel(const graph::Op &op, const std::vector<TensorView> &inputs,
                   KernelCache *cache);

/// Whether a kernel exists for this op (for onnx_op: its "op_type").
bool hasKernel(const graph::Op &op);

/// Runs `op`. Inputs are read-only (absent optional inputs have data ==
/// nullptr); outputs are preallocated with the shapes and dtypes the graph
/// declares. Returns an empty string on success, otherwise a message that
/// names the op kind and the reason. Thread-safe: kernels share no state,
/// and they parallelize internally with oneTBB in the caller's arena.
std::string runKernel(const graph::Op &op,
                      const std::vector<TensorView> &inputs,
                      const std::vector<TensorView> &outputs);
/// The same with a cache for this op (null: none). Inputs marked constant
/// may be kept in derived form in the cache; a cache whose entry does not
/// match the current input (other pointer, shape or dtype) is not used.
std::string runKernel(const graph::Op &op,
                      const std::vector<TensorView> &inputs,
                      const std::vector<TensorView> &outputs,
                      KernelCache *cache);

/// A kernel entry point, as resolveKernel returns it.
using KernelFn = std::string (*)(const graph::Op &op,
                                 const std::vector<TensorView> &inputs,
                                 const std::vector<TensorView> &outputs,
                                 KernelCache *cache);
/// The kernel family that runs `op` (elementwise, data movement,
/// normalization, linear algebra, ONNX), chosen from its kind once, when a
/// model is prepared, so that runs do not compare op-kind strings per op.
/// Calling it is runKernel(op, ...). Null when no kernel exists;
/// runKernel's message then says why.
KernelFn resolveKernel(const graph::Op &op);

} // namespace nuri::cpu

#endif // NURI_CPU_KERNELS_H
