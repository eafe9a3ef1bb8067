//===- Shape.cpp - Data movement: transpose, slice, concat, gather, ... ---===//
//
// These ops only move elements, so they dispatch on the element size and
// serve every dtype, bool included. Transpose, broadcast_to and slice are
// all one strided gather: output element i reads input offset
// base + sum(index_d * stride_d).
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <algorithm>

namespace nuri::cpu::detail {
namespace {

template <typename T>
void stridedCopyT(const T *in, T *out, const std::vector<int64_t> &outShape,
                  const std::vector<int64_t> &strides, int64_t base) {
  int64_t n = graph::elementCount(outShape);
  if (n == 0) {
    return;
  }
  int64_t inner = outShape.empty() ? 1 : outShape.back();
  int64_t step = strides.empty() ? 0 : strides.back();
  int64_t rows = n / inner;
  parallelRange(rows, std::max<int64_t>(1, kParallelGrain / inner),
                [&](int64_t rb, int64_t re) {
                  for (int64_t r = rb; r < re; ++r) {
                    const T *src =
                        in + base + offsetOf(r * inner, outShape, strides);
                    T *dst = out + r * inner;
                    if (step == 1) {
                      std::copy(src, src + inner, dst);
                    } else {
                      for (int64_t i = 0; i < inner; ++i) {
                        dst[i] = src[i * step];
                      }
                    }
                  }
                });
}

void stridedCopy(const TensorView &in, const TensorView &out,
                 const std::vector<int64_t> &strides, int64_t base) {
  dispatchBySize(graph::dtypeSize(in.dtype), [&](auto tag) {
    using T = decltype(tag);
    stridedCopyT<T>(in.as<const T>(), out.as<T>(), out.shape, strides, base);
  });
}

std::string checkSameType(const graph::Op &op, const Inputs &in,
                          const Outputs &out) {
  for (const TensorView &o : out) {
    if (o.dtype != in[0].dtype) {
      return fail(op, std::string("input is ") + graph::dtypeName(in[0].dtype) +
                          " but output is " + graph::dtypeName(o.dtype));
    }
  }
  if (graph::dtypeSize(in[0].dtype) == 0) {
    return unsupported(op, in, out);
  }
  return "";
}

std::string runTranspose(const graph::Op &op, const Inputs &in,
                         const Outputs &out) {
  std::vector<int64_t> perm = op.getInts("permutation");
  const std::vector<int64_t> &shape = in[0].shape;
  if (perm.size() != shape.size()) {
    return fail(op, "permutation has " + std::to_string(perm.size()) +
                        " entries for rank " + std::to_string(shape.size()));
  }
  std::vector<int64_t> own = contiguousStrides(shape);
  std::vector<int64_t> strides(perm.size()), expect(perm.size());
  std::vector<bool> seen(perm.size(), false);
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(perm.size()) ||
        seen[perm[i]]) {
      return fail(op, "permutation is not a permutation");
    }
    seen[perm[i]] = true;
    strides[i] = own[perm[i]];
    expect[i] = shape[perm[i]];
  }
  if (expect != out[0].shape) {
    return fail(op, "output shape " + shapeString(out[0].shape) +
                        " is not the permuted " + shapeString(shape));
  }
  stridedCopy(in[0], out[0], strides, 0);
  return "";
}

std::string runSlice(const graph::Op &op, const Inputs &in,
                     const Outputs &out) {
  std::vector<int64_t> starts = op.getInts("starts"),
                       limits = op.getInts("limits"),
                       steps = op.getInts("steps");
  const std::vector<int64_t> &shape = in[0].shape;
  size_t rank = shape.size();
  if (starts.size() != rank || limits.size() != rank || steps.size() != rank) {
    return fail(op, "starts/limits/steps need one entry per dimension");
  }
  std::vector<int64_t> own = contiguousStrides(shape);
  std::vector<int64_t> strides(rank), expect(rank);
  int64_t base = 0;
  for (size_t d = 0; d < rank; ++d) {
    int64_t s = starts[d], l = limits[d], st = steps[d];
    if (st == 0) {
      return fail(op, "step 0 in dimension " + std::to_string(d));
    }
    int64_t count = st > 0 ? std::max<int64_t>(0, (l - s + st - 1) / st)
                           : std::max<int64_t>(0, (s - l + (-st) - 1) / (-st));
    // Every index read must lie inside the input.
    if (count > 0 && (s < 0 || s >= shape[d] || s + (count - 1) * st < 0 ||
                      s + (count - 1) * st >= shape[d])) {
      return fail(op, "slice out of range in dimension " + std::to_string(d));
    }
    expect[d] = count;
    strides[d] = own[d] * st;
    if (count > 0) {
      base += s * own[d];
    }
  }
  if (expect != out[0].shape) {
    return fail(op, "output shape " + shapeString(out[0].shape) +
                        " does not match the slice " + shapeString(expect));
  }
  stridedCopy(in[0], out[0], strides, base);
  return "";
}

/// Concat and split move blocks of `inner * size(axis)` elements.
void blockCopy(const uint8_t *src, int64_t srcRow, uint8_t *dst, int64_t dstRow,
               int64_t rows, int64_t bytes) {
  parallelRange(rows, std::max<int64_t>(1, (kParallelGrain * 4) / (bytes + 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t r = b; r < e; ++r) {
                    std::memcpy(dst + r * dstRow, src + r * srcRow, bytes);
                  }
                });
}

std::string runConcat(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  const TensorView &o = out[0];
  int64_t rank = static_cast<int64_t>(o.shape.size());
  int64_t axis = normAxis(op.getInt("axis", 0), rank);
  if (axis < 0) {
    return fail(op, "axis out of range");
  }
  int64_t total = 0;
  for (const TensorView &t : in) {
    if (t.dtype != o.dtype || static_cast<int64_t>(t.shape.size()) != rank) {
      return fail(op, "inputs differ from the output in dtype or rank");
    }
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis && t.shape[d] != o.shape[d]) {
        return fail(op, "input " + shapeString(t.shape) +
                            " does not fit output " + shapeString(o.shape));
      }
    }
    total += t.shape[axis];
  }
  if (total != o.shape[axis]) {
    return fail(op, "inputs do not add up to the output along the axis");
  }
  int64_t outer = 1, inner = static_cast<int64_t>(graph::dtypeSize(o.dtype));
  for (int64_t d = 0; d < axis; ++d) {
    outer *= o.shape[d];
  }
  for (int64_t d = axis + 1; d < rank; ++d) {
    inner *= o.shape[d];
  }
  int64_t offset = 0;
  for (const TensorView &t : in) {
    int64_t bytes = t.shape[axis] * inner;
    if (bytes > 0) {
      blockCopy(static_cast<const uint8_t *>(t.data), bytes,
                static_cast<uint8_t *>(o.data) + offset, o.shape[axis] * inner,
                outer, bytes);
    }
    offset += bytes;
  }
  return "";
}

std::string runSplit(const graph::Op &op, const Inputs &in,
                     const Outputs &out) {
  const TensorView &x = in[0];
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normAxis(op.getInt("axis", 0), rank);
  if (axis < 0) {
    return fail(op, "axis out of range");
  }
  int64_t total = 0;
  for (const TensorView &t : out) {
    if (static_cast<int64_t>(t.shape.size()) != rank) {
      return fail(op, "outputs differ from the input in rank");
    }
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis && t.shape[d] != x.shape[d]) {
        return fail(op, "output " + shapeString(t.shape) +
                            " does not fit input " + shapeString(x.shape));
      }
    }
    total += t.shape[axis];
  }
  if (total != x.shape[axis]) {
    return fail(op, "outputs do not add up to the input along the axis");
  }
  int64_t outer = 1, inner = static_cast<int64_t>(graph::dtypeSize(x.dtype));
  for (int64_t d = 0; d < axis; ++d) {
    outer *= x.shape[d];
  }
  for (int64_t d = axis + 1; d < rank; ++d) {
    inner *= x.shape[d];
  }
  int64_t offset = 0;
  for (const TensorView &t : out) {
    int64_t bytes = t.shape[axis] * inner;
    if (bytes > 0) {
      blockCopy(static_cast<const uint8_t *>(x.data) + offset,
                x.shape[axis] * inner, static_cast<uint8_t *>(t.data), bytes,
                outer, bytes);
    }
    offset += bytes;
  }
  return "";
}

std::string runGather(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  const TensorView &x = in[0], &idx = in[1], &o = out[0];
  if (!isIntegerIndex(idx.dtype)) {
    return fail(op, std::string("indices must be integers, not ") +
                        graph::dtypeName(idx.dtype));
  }
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normAxis(op.getInt("axis", 0), rank);
  if (axis < 0) {
    return fail(op, "axis out of range");
  }
  std::vector<int64_t> expect(x.shape.begin(), x.shape.begin() + axis);
  expect.insert(expect.end(), idx.shape.begin(), idx.shape.end());
  expect.insert(expect.end(), x.shape.begin() + axis + 1, x.shape.end());
  if (expect != o.shape) {
    return fail(op, "output shape " + shapeString(o.shape) + " should be " +
                        shapeString(expect));
  }
  int64_t outer = 1, inner = static_cast<int64_t>(graph::dtypeSize(x.dtype));
  for (int64_t d = 0; d < axis; ++d) {
    outer *= x.shape[d];
  }
  for (int64_t d = axis + 1; d < rank; ++d) {
    inner *= x.shape[d];
  }
  int64_t n = x.shape[axis], count = idx.elements();
  std::vector<int64_t> resolved(count);
  for (int64_t j = 0; j < count; ++j) {
    int64_t v = readIndex(idx, j);
    int64_t r = v < 0 ? v + n : v;
    if (r < 0 || r >= n) {
      return fail(op, "index " + std::to_string(v) + " out of range [" +
                          std::to_string(-n) + ", " + std::to_string(n) +
                          ") at position " + std::to_string(j));
    }
    resolved[j] = r;
  }
  const auto *src = static_cast<const uint8_t *>(x.data);
  auto *dst = static_cast<uint8_t *>(o.data);
  parallelRange(outer * count,
                std::max<int64_t>(1, (kParallelGrain * 4) / (inner + 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t t = b; t < e; ++t) {
                    int64_t oi = t / count, j = t % count;
                    std::memcpy(dst + t * inner,
                                src + (oi * n + resolved[j]) * inner, inner);
                  }
                });
  return "";
}

} // namespace

bool isShapeOp(const std::string &k) {
  return k == "transpose" || k == "reshape" || k == "broadcast_to" ||
         k == "concat" || k == "slice" || k == "split" || k == "gather";
}

std::string runShapeOp(const graph::Op &op, const Inputs &in,
                       const Outputs &out) {
  const std::string &k = op.kind;
  if (in.empty() || out.empty() || (k != "split" && out.size() != 1)) {
    return fail(op, "wrong number of inputs or outputs");
  }
  if (k == "gather" && in.size() < 2) {
    return fail(op, "gather needs input and indices");
  }
  for (const TensorView &t : in) {
    if (!t.data && t.elements() != 0) {
      return fail(op, "input has no buffer");
    }
  }
  if (k == "concat") {
    return runConcat(op, in, out);
  }
  if (std::string e = checkSameType(op, in, out); !e.empty()) {
    return e;
  }
  if (k == "reshape") {
    if (in[0].elements() != out[0].elements()) {
      return fail(op, "cannot reshape " + shapeString(in[0].shape) + " to " +
                          shapeString(out[0].shape));
    }
    if (in[0].data != out[0].data && in[0].bytes() > 0) {
      std::memcpy(out[0].data, in[0].data, in[0].bytes());
    }
    return "";
  }
  if (k == "broadcast_to") {
    if (!broadcastable(in[0].shape, out[0].shape)) {
      return fail(op, shapeString(in[0].shape) + " does not broadcast to " +
                          shapeString(out[0].shape));
    }
    stridedCopy(in[0], out[0], broadcastStrides(in[0].shape, out[0].shape), 0);
    return "";
  }
  if (k == "transpose") {
    return runTranspose(op, in, out);
  }
  if (k == "slice") {
    return runSlice(op, in, out);
  }
  if (k == "split") {
    return runSplit(op, in, out);
  }
  return runGather(op, in, out);
}

} // namespace nuri::cpu::detail
