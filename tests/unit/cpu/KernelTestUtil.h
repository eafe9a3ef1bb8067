//===- KernelTestUtil.h - Helpers for the CPU kernel tests ------*- C++ -*-===//
//
// Tensors that own their bytes, deterministic random fills, and a runner
// that builds a graph::Op. References in the tests are scalar loops written
// independently of the kernels.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_TESTS_CPU_KERNELTESTUTIL_H
#define NURI_TESTS_CPU_KERNELTESTUTIL_H

#include "nuri/cpu/Kernels.h"
#include "nuri/isa/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace nuri::cpu::test {

using graph::DType;

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  Tensor() = default;
  Tensor(DType t, std::vector<int64_t> s) : dtype(t), shape(std::move(s)) {
    bytes.assign(static_cast<size_t>(graph::elementCount(shape)) *
                     graph::dtypeSize(dtype),
                 0);
  }
  int64_t size() const { return graph::elementCount(shape); }
  TensorView view() const {
    return TensorView{dtype, shape, const_cast<uint8_t *>(bytes.data())};
  }
  template <typename T> T *as() { return reinterpret_cast<T *>(bytes.data()); }
  template <typename T> const T *as() const {
    return reinterpret_cast<const T *>(bytes.data());
  }

  /// Element i as double, whatever the dtype.
  double get(int64_t i) const {
    switch (dtype) {
    case DType::F32:
      return as<float>()[i];
    case DType::F64:
      return as<double>()[i];
    case DType::F16:
      return isa::f16ToF32(as<uint16_t>()[i]);
    case DType::BF16:
      return isa::bf16ToF32(as<uint16_t>()[i]);
    case DType::I8:
      return as<int8_t>()[i];
    case DType::I16:
      return as<int16_t>()[i];
    case DType::I32:
      return as<int32_t>()[i];
    case DType::I64:
      return static_cast<double>(as<int64_t>()[i]);
    case DType::U8:
    case DType::Bool:
      return as<uint8_t>()[i];
    case DType::F8E4M3:
      return isa::e4m3ToF32(as<uint8_t>()[i]);
    case DType::U16:
      return as<uint16_t>()[i];
    case DType::U32:
      return as<uint32_t>()[i];
    case DType::U64:
      return static_cast<double>(as<uint64_t>()[i]);
    default:
      return NAN;
    }
  }
  /// Stores v (rounded to nearest even for the 16-bit floats).
  void set(int64_t i, double v) {
    switch (dtype) {
    case DType::F32:
      as<float>()[i] = static_cast<float>(v);
      break;
    case DType::F64:
      as<double>()[i] = v;
      break;
    case DType::F16:
      as<uint16_t>()[i] = isa::f32ToF16(static_cast<float>(v));
      break;
    case DType::BF16:
      as<uint16_t>()[i] = isa::f32ToBf16(static_cast<float>(v));
      break;
    case DType::F8E4M3:
      as<uint8_t>()[i] = isa::f32ToE4M3(static_cast<float>(v));
      break;
    case DType::I8:
      as<int8_t>()[i] = static_cast<int8_t>(v);
      break;
    case DType::I16:
      as<int16_t>()[i] = static_cast<int16_t>(v);
      break;
    case DType::I32:
      as<int32_t>()[i] = static_cast<int32_t>(v);
      break;
    case DType::I64:
      as<int64_t>()[i] = static_cast<int64_t>(v);
      break;
    case DType::U8:
      as<uint8_t>()[i] = static_cast<uint8_t>(v);
      break;
    case DType::Bool:
      as<uint8_t>()[i] = v != 0;
      break;
    case DType::U16:
      as<uint16_t>()[i] = static_cast<uint16_t>(v);
      break;
    case DType::U32:
      as<uint32_t>()[i] = static_cast<uint32_t>(v);
      break;
    case DType::U64:
      as<uint64_t>()[i] = static_cast<uint64_t>(v);
      break;
    default:
      break;
    }
  }
};

/// Uniform values in [lo, hi] (integers for integer dtypes), seeded.
inline Tensor randomTensor(DType t, std::vector<int64_t> shape, double lo,
                           double hi, unsigned seed) {
  Tensor x(t, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  for (int64_t i = 0; i < x.size(); ++i) {
    double v = dist(rng);
    x.set(i, graph::isFloat(t) ? v : std::round(v));
  }
  return x;
}

inline Tensor fromValues(DType t, std::vector<int64_t> shape,
                         const std::vector<double> &values) {
  Tensor x(t, std::move(shape));
  for (int64_t i = 0; i < x.size(); ++i) {
    x.set(i, values[i]);
  }
  return x;
}

inline graph::Op makeOp(const std::string &kind,
                        std::map<std::string, graph::AttrValue> attrs = {}) {
  graph::Op op;
  op.kind = kind;
  op.attrs = std::move(attrs);
  return op;
}

/// Runs op; absent optional inputs are passed as nullptr.
inline std::string run(const graph::Op &op,
                       const std::vector<const Tensor *> &inputs,
                       std::vector<Tensor *> outputs) {
  std::vector<TensorView> in, out;
  for (const Tensor *t : inputs) {
    in.push_back(t ? t->view() : TensorView{});
  }
  for (Tensor *t : outputs) {
    out.push_back(t->view());
  }
  return runKernel(op, in, out);
}

/// Rounds a double through dtype t, what a store does.
inline double roundTo(DType t, double v) {
  Tensor x(t, {1});
  x.set(0, v);
  return x.get(0);
}

/// Expects every element of `got` within atol + rtol * |want|.
inline void expectNear(const Tensor &got, const std::vector<double> &want,
                       double rtol, double atol, const std::string &what) {
  ASSERT_EQ(static_cast<size_t>(got.size()), want.size()) << what;
  int failures = 0;
  for (int64_t i = 0; i < got.size() && failures < 5; ++i) {
    double g = got.get(i), w = want[i];
    bool ok = (std::isnan(w) && std::isnan(g)) || g == w ||
              std::fabs(g - w) <= atol + rtol * std::fabs(w);
    if (!ok) {
      ADD_FAILURE() << what << ": element " << i << " is " << g << ", expected "
                    << w;
      ++failures;
    }
  }
}

} // namespace nuri::cpu::test

#endif // NURI_TESTS_CPU_KERNELTESTUTIL_H
