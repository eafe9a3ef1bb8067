//===- Rowwise.cpp - Row-wise graph ops as NPU kernels --------------------===//
//
// The MLIR side of the row-wise kernels: elementwise binary ops (full,
// row, column, scalar and repeated-rows broadcasts), unary ops, gelu,
// cast, clip, layer_norm, rms_norm, softmax over the last axis and rope.
// Each op is a [rows x cols] view of its output and a vector body run on
// every chunk of rows (the fp32 math, one rounding); the split over cores,
// the buffers and the DMA are the MLIR-free core (RowwiseCore.h).
//
//===----------------------------------------------------------------------===//

#include "KernelContext.h"
#include "NpuPlan.h"
#include "RowwiseCore.h"
#include "RowwiseKernel.h"

#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <fmt/format.h>

#include <limits>

using namespace mlir;

namespace nuri::npu {

namespace {

using AddressFn = function_ref<FailureOr<uint64_t>(Value)>;

int64_t numElements(Value v) { return tensorOf(v).getNumElements(); }

/// How an elementwise operand maps onto the [rows x cols] view of the
/// output (cols = last dimension).
std::optional<RowOperand::Kind> broadcastKind(RankedTensorType operand,
                                              RankedTensorType result) {
  if (operand.getShape() == result.getShape()) {
    return RowOperand::Full;
  }
  if (operand.getNumElements() == 1) {
    return RowOperand::Scalar;
  }
  ArrayRef<int64_t> s = operand.getShape(), r = result.getShape();
  if (r.empty() || s.size() > r.size()) {
    return std::nullopt;
  }
  // Leading ones, then the full shape: equal after dropping the ones.
  size_t lead = r.size() - s.size();
  bool sameTail = true, onlyLast = true, allButLast = true;
  for (size_t i = 0; i < s.size(); ++i) {
    int64_t rd = r[lead + i];
    if (s[i] != rd) {
      sameTail = false;
    }
    bool last = lead + i + 1 == r.size();
    if (!last && s[i] != 1) {
      onlyLast = false;
    }
    if (last ? s[i] != 1 : s[i] != rd) {
      allButLast = false;
    }
  }
  if (onlyLast && s.back() == r.back()) {
    return RowOperand::Row;
  }
  if (allButLast && s.size() == r.size()) {
    return RowOperand::Column;
  }
  if (sameTail) {
    for (size_t i = 0; i < lead; ++i) {
      if (r[i] != 1) {
        return RowOperand::Periodic; // repeats over the leading dims
      }
    }
    return RowOperand::Full;
  }
  // Leading ones, then the result's trailing dims ([1, S, H] + [B, S, H]):
  // the operand's rows repeat.
  size_t k = 0;
  while (k < s.size() && s[k] == 1) {
    ++k;
  }
  if (k > 0 && k < s.size()) {
    for (size_t i = k; i < s.size(); ++i) {
      if (s[i] != r[lead + i]) {
        return std::nullopt;
      }
    }
    return RowOperand::Periodic;
  }
  return std::nullopt;
}

std::optional<isa::UnOp> unaryOpcode(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<isa::UnOp>>(op)
      .Case([](NegOp) { return isa::UnOp::Neg; })
      .Case([](AbsOp) { return isa::UnOp::Abs; })
      .Case([](ReluOp) { return isa::UnOp::Relu; })
      .Case([](ExpOp) { return isa::UnOp::Exp; })
      .Case([](SqrtOp) { return isa::UnOp::Sqrt; })
      .Case([](RsqrtOp) { return isa::UnOp::Rsqrt; })
      .Case([](ReciprocalOp) { return isa::UnOp::Recip; })
      .Case([](TanhOp) { return isa::UnOp::Tanh; })
      .Case([](ErfOp) { return isa::UnOp::Erf; })
      .Case([](SigmoidOp) { return isa::UnOp::Sigmoid; })
      .Case([](SiluOp) { return isa::UnOp::Silu; })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<isa::BinOp> binaryOpcode(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<isa::BinOp>>(op)
      .Case([](AddOp) { return isa::BinOp::Add; })
      .Case([](SubOp) { return isa::BinOp::Sub; })
      .Case([](MulOp) { return isa::BinOp::Mul; })
      .Case([](DivOp) { return isa::BinOp::Div; })
      .Case([](MaxOp) { return isa::BinOp::Max; })
      .Case([](MinOp) { return isa::BinOp::Min; })
      .Default([](Operation *) { return std::nullopt; });
}

/// The product of the normalized dims [axis, rank) for a norm/softmax.
int64_t trailing(RankedTensorType t, int64_t axis) {
  int64_t n = 1;
  for (int64_t i = axis; i < t.getRank(); ++i) {
    n *= t.getDimSize(i);
  }
  return n;
}

/// Why the vector engine cannot run `op`; empty when it can.
std::string rowwiseIllegalReason(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::string>(op)
      .Case<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp>(
          [&](Operation *b) -> std::string {
            auto ot = tensorOf(b->getResult(0));
            if (ot.getRank() == 0 || ot.getShape().back() > 65535) {
              return "rank-0 or rows longer than 65535 elements";
            }
            for (Value v : b->getOperands()) {
              if (std::string r = floatOperand(v, "operand"); !r.empty()) {
                return r;
              }
              if (!broadcastKind(tensorOf(v), ot)) {
                return fmt::format("broadcast of {} to {} is not a row, "
                                   "column, scalar or repeated-rows broadcast",
                                   typeStr(v.getType()), typeStr(ot));
              }
            }
            return "";
          })
      .Case<NegOp, AbsOp, ReluOp, ExpOp, SqrtOp, RsqrtOp, ReciprocalOp, TanhOp,
            ErfOp, SigmoidOp, SiluOp, GeluOp, CastOp, ClipOp>(
          [&](Operation *u) -> std::string {
            if (std::string r = floatOperand(u->getOperand(0), "input");
                !r.empty()) {
              return r;
            }
            auto ot = tensorOf(u->getResult(0));
            if (ot.getRank() > 0 && ot.getShape().back() > 65535) {
              return "rows longer than 65535 elements";
            }
            return "";
          })
      .Case([&](SoftmaxOp s) -> std::string {
        auto it = tensorOf(s.getInput());
        if (s.getLog()) {
          return "log-softmax is not lowered yet";
        }
        int64_t axis = static_cast<int64_t>(s.getAxis());
        if (axis != it.getRank() - 1) {
          return "softmax over a dimension other than the last";
        }
        if (it.getShape().back() > 65535) {
          return "rows longer than 65535 elements";
        }
        return "";
      })
      .Case([&](LayerNormOp l) -> std::string {
        auto it = tensorOf(l.getInput());
        int64_t axis = static_cast<int64_t>(l.getAxis());
        int64_t n = trailing(it, axis);
        if (n > 65535) {
          return "normalized size above 65535 elements";
        }
        if (tensorOf(l.getScale()).getNumElements() != n ||
            (l.getBias() && tensorOf(l.getBias()).getNumElements() != n)) {
          return "scale or bias is broadcast inside the normalized shape";
        }
        return "";
      })
      .Case([&](RmsNormOp l) -> std::string {
        auto it = tensorOf(l.getInput());
        int64_t axis = static_cast<int64_t>(l.getAxis());
        int64_t n = trailing(it, axis);
        if (n > 65535) {
          return "normalized size above 65535 elements";
        }
        if (tensorOf(l.getScale()).getNumElements() != n) {
          return "scale is broadcast inside the normalized shape";
        }
        return "";
      })
      .Case([&](RopeOp r) -> std::string {
        auto it = tensorOf(r.getInput()), ct = tensorOf(r.getCos());
        if (std::string why = floatOperand(r.getInput(), "input");
            !why.empty()) {
          return why;
        }
        if (it.getRank() != 4 || it.getShape().back() % 2 ||
            ct.getShape() != tensorOf(r.getSin()).getShape() ||
            ct.getRank() != 4 || ct.getDimSize(1) != 1 ||
            ct.getDimSize(2) != it.getDimSize(2) ||
            ct.getDimSize(3) != it.getDimSize(3) ||
            (ct.getDimSize(0) != 1 && ct.getDimSize(0) != it.getDimSize(0)) ||
            !isaType(ct.getElementType())) {
          return "rope tables that are not [B or 1, 1, S, D] against "
                 "[B, H, S, D] with an even D";
        }
        return "";
      })
      .Default([&](Operation *o) -> std::string {
        return fmt::format("no NPU lowering for '{}'",
                           o->getName().getStringRef().str());
      });
}

FailureOr<RowwiseDesc> describeBinary(Operation *op, isa::BinOp code,
                                      AddressFn addressOf) {
  auto ot = tensorOf(op->getResult(0));
  RowwiseDesc r;
  r.cols = ot.getRank() ? ot.getShape().back() : 1;
  r.rows = ot.getNumElements() / r.cols;
  r.outType = *isaType(ot.getElementType());
  for (Value v : op->getOperands()) {
    RowOperand o;
    o.kind = *broadcastKind(tensorOf(v), ot);
    o.dtype = *isaType(tensorOf(v).getElementType());
    if (o.kind == RowOperand::Periodic) {
      o.period = uint64_t(numElements(v)) / r.cols;
      o.groupRows = r.rows;
      o.groupStride = 0;
    }
    FailureOr<uint64_t> a = addressOf(v);
    if (failed(a)) {
      return failure();
    }
    o.addr = *a;
    r.ins.push_back(o);
  }
  FailureOr<uint64_t> outAddr = addressOf(op->getResult(0));
  if (failed(outAddr)) {
    return failure();
  }
  r.out = *outAddr;
  RowOperand l = r.ins[0], rr = r.ins[1];
  uint64_t cols = r.cols;
  isa::Dtype outT = r.outType;
  // By value: r.body keeps a copy of this lambda and runs after
  // describeBinary has returned (a reference to `cols` would dangle).
  auto ld = [cols](const RowOperand &o) -> uint64_t {
    if (o.kind == RowOperand::Full || o.kind == RowOperand::Periodic) {
      return cols * elemBytes(o.dtype);
    }
    return o.kind == RowOperand::Column ? elemBytes(o.dtype) : 0;
  };
  auto bc = [](const RowOperand &o) {
    return o.kind == RowOperand::Full || o.kind == RowOperand::Periodic
               ? isa::Bcast::None
           : o.kind == RowOperand::Column ? isa::Bcast::Col
                                          : isa::Bcast::Row;
  };
  auto full = [](const RowOperand &o) {
    return o.kind == RowOperand::Full || o.kind == RowOperand::Periodic;
  };
  bool direct = full(l) && l.dtype == rr.dtype;
  r.f32Scratch = direct ? 0 : 2;
  r.body = [=](isa::StreamBuilder &vec, const RowChunk &ch) {
    uint64_t eo = elemBytes(outT);
    if (direct) {
      vec.binary(code, bc(rr), {ch.out, cols * eo}, {ch.in[0], ld(l)},
                 {ch.in[1], ld(rr)}, ch.rows, cols, outT, l.dtype);
      return;
    }
    // Mixed dtypes or a broadcast lhs: both to full f32 tiles first
    // (exact), then one fp32 op rounded once, as the CPU does.
    const RowOperand ops[2] = {l, rr};
    for (int i = 0; i < 2; ++i) {
      const RowOperand &o = ops[i];
      isa::TileRef dst{ch.f32[i], cols * 4};
      if (full(o)) {
        vec.unary(isa::UnOp::Copy, dst, {ch.in[i], ld(o)}, ch.rows, cols,
                  isa::Dtype::F32, o.dtype);
      } else if (o.kind == RowOperand::Column) {
        vec.bcast(isa::Bcast::Col, dst, ch.in[i], ch.rows, cols,
                  isa::Dtype::F32, o.dtype);
      } else {
        vec.bcast(isa::Bcast::Row, dst, ch.in[i], ch.rows, cols,
                  isa::Dtype::F32, o.dtype);
      }
    }
    vec.binary(code, isa::Bcast::None, {ch.out, cols * eo},
               {ch.f32[0], cols * 4}, {ch.f32[1], cols * 4}, ch.rows, cols,
               outT, isa::Dtype::F32);
  };
  return r;
}

FailureOr<RowwiseDesc> describeUnary(Operation *op, AddressFn addressOf) {
  Value in = op->getOperand(0);
  auto ot = tensorOf(op->getResult(0));
  RowwiseDesc r;
  r.cols = ot.getRank() ? ot.getShape().back() : 1;
  r.rows = ot.getNumElements() / r.cols;
  r.outType = *isaType(ot.getElementType());
  RowOperand o;
  o.dtype = *isaType(tensorOf(in).getElementType());
  FailureOr<uint64_t> a = addressOf(in);
  if (failed(a)) {
    return failure();
  }
  o.addr = *a;
  r.ins.push_back(o);
  FailureOr<uint64_t> outAddr = addressOf(op->getResult(0));
  if (failed(outAddr)) {
    return failure();
  }
  r.out = *outAddr;
  uint64_t cols = r.cols;
  isa::Dtype outT = r.outType, inT = o.dtype;
  uint64_t eo = elemBytes(outT), ei = elemBytes(inT);
  auto gelu = dyn_cast<GeluOp>(op);
  if (auto clip = dyn_cast<ClipOp>(op)) {
    // min(max(x, lo), hi) in fp32, rounded once.
    std::optional<float> lo, hi;
    if (auto a = clip.getMinAttr()) {
      lo = float(a.getValueAsDouble());
    }
    if (auto a = clip.getMaxAttr()) {
      hi = float(a.getValueAsDouble());
    }
    r.f32Scratch = 1;
    r.body = [=](isa::StreamBuilder &vec, const RowChunk &ch) {
      auto F = isa::Dtype::F32;
      isa::TileRef x{ch.f32[0], cols * 4};
      vec.unary(isa::UnOp::Copy, x, {ch.in[0], cols * ei}, ch.rows, cols, F,
                inT);
      if (lo) {
        vec.scalar(isa::BinOp::Max, x, x, *lo, ch.rows, cols, F, F);
      }
      vec.scalar(isa::BinOp::Min, {ch.out, cols * eo}, x,
                 hi ? *hi : std::numeric_limits<float>::infinity(), ch.rows,
                 cols, outT, F);
    };
  } else {
    isa::UnOp code = gelu ? (gelu.getApproximate() == GeluApproximation::Tanh
                                 ? isa::UnOp::GeluTanh
                                 : isa::UnOp::Gelu)
                     : llvm::isa<CastOp>(op) ? isa::UnOp::Copy
                                             : *unaryOpcode(op);
    r.body = [=](isa::StreamBuilder &vec, const RowChunk &ch) {
      vec.unary(code, {ch.out, cols * eo}, {ch.in[0], cols * ei}, ch.rows, cols,
                outT, inT);
    };
  }
  return r;
}

FailureOr<RowwiseDesc> describeNorm(Operation *op, bool rms,
                                    AddressFn addressOf) {
  Value in = op->getOperand(0), scale = op->getOperand(1);
  Value bias = rms ? Value() : cast<LayerNormOp>(op).getBias();
  int64_t axis =
      rms ? cast<RmsNormOp>(op).getAxis() : cast<LayerNormOp>(op).getAxis();
  float eps = rms ? cast<RmsNormOp>(op).getEpsilon().convertToFloat()
                  : cast<LayerNormOp>(op).getEpsilon().convertToFloat();
  auto it = tensorOf(in);
  if (axis < 0) {
    axis += it.getRank();
  }
  RowwiseDesc r;
  r.cols = trailing(it, axis);
  r.rows = it.getNumElements() / r.cols;
  r.outType = *isaType(tensorOf(op->getResult(0)).getElementType());
  for (Value v : {in, scale, bias}) {
    if (!v) {
      continue;
    }
    RowOperand o;
    o.kind = v == in ? RowOperand::Full : RowOperand::Row;
    o.dtype = *isaType(tensorOf(v).getElementType());
    FailureOr<uint64_t> a = addressOf(v);
    if (failed(a)) {
      return failure();
    }
    o.addr = *a;
    r.ins.push_back(o);
  }
  FailureOr<uint64_t> outAddr = addressOf(op->getResult(0));
  if (failed(outAddr)) {
    return failure();
  }
  r.out = *outAddr;
  r.f32Scratch = 2;
  r.vecScratch = 2;
  r.rowsAsF32 = true;
  uint64_t cols = r.cols;
  isa::Dtype outT = r.outType, inT = r.ins[0].dtype;
  bool hasBias = bool(bias);
  r.body = [=](isa::StreamBuilder &vec, const RowChunk &ch) {
    auto F = isa::Dtype::F32;
    uint64_t n = ch.rows;
    isa::TileRef x{ch.f32[0], cols * 4}, y{ch.f32[1], cols * 4};
    isa::TileRef mu{ch.vecs[0], 4}, var{ch.vecs[1], 4};
    float inv = 1.0f / float(cols);
    vec.unary(isa::UnOp::Copy, x, {ch.in[0], cols * elemBytes(inT)}, n, cols, F,
              inT);
    if (!rms) {
      vec.reduce(isa::RedOp::Sum, mu.addr, x, n, cols, F, F);
      vec.scalar(isa::BinOp::Mul, mu, mu, inv, n, 1, F, F);
      vec.binary(isa::BinOp::Sub, isa::Bcast::Col, x, x, mu, n, cols, F, F);
    }
    vec.binary(isa::BinOp::Mul, isa::Bcast::None, y, x, x, n, cols, F, F);
    vec.reduce(isa::RedOp::Sum, var.addr, y, n, cols, F, F);
    vec.scalar(isa::BinOp::Mul, var, var, inv, n, 1, F, F);
    vec.scalar(isa::BinOp::Add, var, var, eps, n, 1, F, F);
    vec.unary(isa::UnOp::Rsqrt, var, var, n, 1, F, F);
    vec.binary(isa::BinOp::Mul, isa::Bcast::Col, x, x, var, n, cols, F, F);
    // Gamma and beta arrive as f32 rows (converted once per core).
    isa::TileRef out{ch.out, cols * elemBytes(outT)};
    vec.binary(isa::BinOp::Mul, isa::Bcast::Row, hasBias ? x : out, x,
               {ch.in[1], 0}, n, cols, hasBias ? F : outT, F);
    if (hasBias) {
      vec.binary(isa::BinOp::Add, isa::Bcast::Row, out, x, {ch.in[2], 0}, n,
                 cols, outT, F);
    }
  };
  return r;
}

FailureOr<RowwiseDesc> describeSoftmax(SoftmaxOp op, AddressFn addressOf) {
  auto it = tensorOf(op.getInput());
  RowwiseDesc r;
  r.cols = it.getShape().back();
  r.rows = it.getNumElements() / r.cols;
  r.outType = *isaType(tensorOf(op.getOutput()).getElementType());
  RowOperand o;
  o.dtype = *isaType(it.getElementType());
  FailureOr<uint64_t> a = addressOf(op.getInput());
  if (failed(a)) {
    return failure();
  }
  o.addr = *a;
  r.ins.push_back(o);
  FailureOr<uint64_t> outAddr = addressOf(op.getOutput());
  if (failed(outAddr)) {
    return failure();
  }
  r.out = *outAddr;
  r.f32Scratch = 1;
  r.vecScratch = 2;
  uint64_t cols = r.cols;
  isa::Dtype outT = r.outType, inT = o.dtype;
  r.body = [=](isa::StreamBuilder &vec, const RowChunk &ch) {
    auto F = isa::Dtype::F32;
    uint64_t n = ch.rows;
    isa::TileRef x{ch.f32[0], cols * 4};
    isa::TileRef mx{ch.vecs[0], 4}, sum{ch.vecs[1], 4};
    vec.unary(isa::UnOp::Copy, x, {ch.in[0], cols * elemBytes(inT)}, n, cols, F,
              inT);
    vec.reduce(isa::RedOp::Max, mx.addr, x, n, cols, F, F);
    vec.binary(isa::BinOp::Sub, isa::Bcast::Col, x, x, mx, n, cols, F, F);
    vec.unary(isa::UnOp::Exp, x, x, n, cols, F, F);
    vec.reduce(isa::RedOp::Sum, sum.addr, x, n, cols, F, F);
    vec.binary(isa::BinOp::Div, isa::Bcast::Col,
               {ch.out, cols * elemBytes(outT)}, x, sum, n, cols, outT, F);
  };
  return r;
}

FailureOr<RowwiseDesc> describeRope(RopeOp op, AddressFn addressOf) {
  auto it = tensorOf(op.getInput()), ct = tensorOf(op.getCos());
  int64_t H = it.getDimSize(1), S = it.getDimSize(2), D = it.getDimSize(3);
  RowwiseDesc r;
  r.cols = D;
  r.rows = it.getNumElements() / D;
  r.outType = *isaType(tensorOf(op.getOutput()).getElementType());
  for (Value v : {op.getInput(), op.getCos(), op.getSin()}) {
    RowOperand o;
    o.dtype = *isaType(tensorOf(v).getElementType());
    if (v != op.getInput()) {
      o.kind = RowOperand::Periodic;
      o.period = S;
      o.groupRows = H * S;
      o.groupStride = ct.getDimSize(0) == 1 ? 0 : S;
    }
    FailureOr<uint64_t> a = addressOf(v);
    if (failed(a)) {
      return failure();
    }
    o.addr = *a;
    r.ins.push_back(o);
  }
  FailureOr<uint64_t> outAddr = addressOf(op.getOutput());
  if (failed(outAddr)) {
    return failure();
  }
  r.out = *outAddr;
  r.f32Scratch = 3;
  uint64_t cols = D, half = D / 2;
  isa::Dtype outT = r.outType, inT = r.ins[0].dtype, cT = r.ins[1].dtype,
             sT = r.ins[2].dtype;
  r.body = [=](isa::StreamBuilder &vec, const RowChunk &ch) {
    auto F = isa::Dtype::F32;
    uint64_t n = ch.rows, ld = cols * 4;
    isa::TileRef x{ch.f32[0], ld}, c{ch.f32[1], ld}, s{ch.f32[2], ld};
    vec.unary(isa::UnOp::Copy, x, {ch.in[0], cols * elemBytes(inT)}, n, cols, F,
              inT);
    vec.unary(isa::UnOp::Copy, c, {ch.in[1], cols * elemBytes(cT)}, n, cols, F,
              cT);
    vec.unary(isa::UnOp::Copy, s, {ch.in[2], cols * elemBytes(sT)}, n, cols, F,
              sT);
    // s1 = -x2 * s1, s2 = x1 * s2 (rotate_half times sin), then
    // x * cos + that, rounded once.
    isa::TileRef x1{x.addr, ld}, x2{x.addr + half * 4, ld};
    isa::TileRef s1{s.addr, ld}, s2{s.addr + half * 4, ld};
    vec.binary(isa::BinOp::Mul, isa::Bcast::None, s1, x2, s1, n, half, F, F);
    vec.unary(isa::UnOp::Neg, s1, s1, n, half, F, F);
    vec.binary(isa::BinOp::Mul, isa::Bcast::None, s2, x1, s2, n, half, F, F);
    vec.binary(isa::BinOp::Mul, isa::Bcast::None, c, x, c, n, cols, F, F);
    vec.binary(isa::BinOp::Add, isa::Bcast::None,
               {ch.out, cols * elemBytes(outT)}, c, s, n, cols, outT, F);
  };
  return r;
}

/// The row-wise kernel `op` is, its operands at `addressOf`.
FailureOr<RowwiseDesc> describeRowwise(Operation *op, AddressFn addressOf) {
  return llvm::TypeSwitch<Operation *, FailureOr<RowwiseDesc>>(op)
      .Case([&](SoftmaxOp s) { return describeSoftmax(s, addressOf); })
      .Case([&](LayerNormOp l) { return describeNorm(l, false, addressOf); })
      .Case([&](RmsNormOp l) { return describeNorm(l, true, addressOf); })
      .Case([&](RopeOp r) { return describeRope(r, addressOf); })
      .Default([&](Operation *o) {
        if (auto code = binaryOpcode(o)) {
          return describeBinary(o, *code, addressOf);
        }
        return describeUnary(o, addressOf);
      });
}

template <typename ConcreteOp>
struct RowwiseKernel
    : RowwiseKernelModel<RowwiseKernel<ConcreteOp>, ConcreteOp> {
  static FailureOr<RowwiseDesc> describe(ConcreteOp op, AddressFn addressOf) {
    return describeRowwise(op, addressOf);
  }
  std::string getNpuIllegalReason(Operation *op, const target::Target &) const {
    return rowwiseIllegalReason(op);
  }
};

template <typename... Ops> void attach(MLIRContext *ctx) {
  (Ops::template attachInterface<RowwiseKernel<Ops>>(*ctx), ...);
}

} // namespace

void registerRowwiseKernels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NuriDialect *) {
    attach<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, NegOp, AbsOp, ReluOp,
           ExpOp, SqrtOp, RsqrtOp, ReciprocalOp, TanhOp, ErfOp, SigmoidOp,
           SiluOp, GeluOp, CastOp, ClipOp, SoftmaxOp, LayerNormOp, RmsNormOp,
           RopeOp>(ctx);
  });
}

} // namespace nuri::npu
