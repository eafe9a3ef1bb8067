//===- NpuCodegen.cpp - NPU partitions to ISA programs --------------------===//
//
// compileNpuPartition: runs the planning passes (npu-fuse-epilogues,
// npu-select-layouts, npu-plan-memory) on a copy of the partition, then
// hands each op, at the buffers the plan gave it, to the kernel emitter
// (NpuKernels.h), which tiles, buffers and schedules it over all cores.
// claimsOp: what the NPU runs.
//
//===----------------------------------------------------------------------===//

#include "nuri/Conversion/NpuCodegen.h"

#include "NpuKernels.h"
#include "NpuPlan.h"

#include "nuri/Conversion/NpuProgram.h"
#include "nuri/Dialect/Npu/Transforms/Passes.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <limits>
#include <optional>

using namespace mlir;

namespace nuri::npu {

namespace {

constexpr llvm::StringLiteral kNameAttr = "nuri.name";

std::optional<graph::DType> graphType(Type t) {
  if (t.isBF16()) {
    return graph::DType::BF16;
  }
  if (t.isF16()) {
    return graph::DType::F16;
  }
  if (t.isF32()) {
    return graph::DType::F32;
  }
  return std::nullopt;
}

int64_t numElements(Value v) { return tensorOf(v).getNumElements(); }

std::string typeStr(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

/// The float dtype of a tensor value the vector engine handles, or a reason.
std::string floatOperand(Value v, const char *what) {
  auto t = tensorOf(v);
  if (!t) {
    return fmt::format("{} is not a ranked tensor", what);
  }
  if (!isaType(t.getElementType())) {
    return fmt::format("{} has element type {} (the NPU path takes bf16, "
                       "f16, f32)",
                       what, typeStr(t.getElementType()));
  }
  return "";
}

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

/// The nuri.constant a value is, through reshapes (same row-major bytes).
ConstantOp constantOf(Value v) {
  while (auto r = v.getDefiningOp<ReshapeOp>()) {
    v = r.getInput();
  }
  return v.getDefiningOp<ConstantOp>();
}

/// A transpose that moves the innermost dimension as a batch of 2-D
/// transposes: perm = (0..k-1, m..rank-1, k..m-1), i.e. two groups of
/// adjacent dims swap places behind an untouched prefix. Returns
/// {batch, rows, cols} of the grouped [batch, rows, cols] input.
std::optional<std::array<int64_t, 3>> asBatchedTranspose(TransposeOp t) {
  ArrayRef<int64_t> perm = t.getPermutation();
  ArrayRef<int64_t> in = tensorOf(t.getInput()).getShape();
  int64_t rank = int64_t(perm.size()), k = 0;
  while (k < rank && perm[k] == k) {
    ++k;
  }
  if (k >= rank - 1) {
    return std::nullopt;
  }
  int64_t m = perm[k];
  for (int64_t i = k; i < rank; ++i) {
    int64_t want = i - k < rank - m ? m + (i - k) : k + (i - k - (rank - m));
    if (perm[i] != want) {
      return std::nullopt;
    }
  }
  std::array<int64_t, 3> g{1, 1, 1};
  for (int64_t i = 0; i < rank; ++i) {
    g[i < k ? 0 : i < m ? 1 : 2] *= in[i];
  }
  return g;
}

/// The indices of a gather whose index operand is a constant (a KV cache
/// split into layers, a fixed token), normalized to [0, dim); nullopt when
/// they are only known at run time or out of range.
std::optional<std::vector<int64_t>> constantGatherIndices(GatherOp g) {
  ConstantOp c = constantOf(g.getIndices());
  if (!c) {
    return std::nullopt;
  }
  FailureOr<std::vector<int64_t>> v = readAsInt(c.getValue());
  if (failed(v)) {
    return std::nullopt;
  }
  int64_t dim = tensorOf(g.getInput()).getDimSize(int64_t(g.getAxis()));
  for (int64_t &i : *v) {
    i = i < 0 ? i + dim : i;
    if (i < 0 || i >= dim) {
      return std::nullopt;
    }
  }
  return std::move(*v);
}

/// Why the NPU cannot run `op` on `target`; empty when it can.
std::string whyNot(Operation *op, const target::Target &t) {
  for (Value v : op->getResults()) {
    if (std::string r = floatOperand(v, "result"); !r.empty()) {
      return r;
    }
  }
  auto matrixType = [&](Value v) -> std::string {
    Type e = tensorOf(v).getElementType();
    auto d = isaType(e);
    if (!d || !t.supports(*d)) {
      return fmt::format("the {} matrix engine has no {} path", t.name,
                         typeStr(e));
    }
    return "";
  };
  return llvm::TypeSwitch<Operation *, std::string>(op)
      .Case([&](ConstantOp c) -> std::string { return ""; })
      .Case<LinearOp, MatmulOp>([&](Operation *g) -> std::string {
        if (std::string r = matrixType(g->getOperand(0)); !r.empty()) {
          return r;
        }
        return gemmFormProblem(g);
      })
      .Case([&](GemmOp g) -> std::string { return matrixType(g.getA()); })
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
      .Case([&](SliceOp sl) -> std::string {
        for (int64_t st : sl.getSteps()) {
          if (st != 1) {
            return "slice with a step other than 1";
          }
        }
        return "";
      })
      .Case<SplitOp, ConcatOp>([&](Operation *) -> std::string { return ""; })
      .Case([&](ReshapeOp) -> std::string { return ""; })
      .Case([&](TransposeOp tr) -> std::string {
        ArrayRef<int64_t> perm = tr.getPermutation();
        if (!perm.empty() && perm.back() != int64_t(perm.size()) - 1 &&
            !asBatchedTranspose(tr)) {
          return "transpose moves the innermost dimension in a way that is "
                 "not a batch of 2-D transposes (two groups of adjacent dims "
                 "swapping places)";
        }
        return "";
      })
      .Case([&](AttentionOp a) -> std::string {
        if (std::string r = matrixType(a.getQuery()); !r.empty()) {
          return r;
        }
        auto qt = tensorOf(a.getQuery());
        if (tensorOf(a.getKey()).getElementType() != qt.getElementType() ||
            tensorOf(a.getValue()).getElementType() != qt.getElementType()) {
          return "query, key and value element types differ";
        }
        if (qt.getRank() != 4) {
          return "attention operands are not [B, H, S, D]";
        }
        if (Value m = a.getMask()) {
          auto mt = tensorOf(m);
          if (!isaType(mt.getElementType())) {
            return "boolean or integer attention mask (only float masks are "
                   "lowered)";
          }
          if (mt.getRank() > 4 || mt.getRank() == 0 ||
              mt.getShape().back() != tensorOf(a.getKey()).getDimSize(2)) {
            return "mask does not span the key dimension";
          }
        }
        return "";
      })
      .Case([&](GatherOp g) -> std::string {
        // Embedding lookups address rows by token ids known only at run
        // time; the DMA engines take addresses from the instruction. With
        // constant indices a gather is a set of copies.
        if (!constantGatherIndices(g)) {
          return constantOf(g.getIndices())
                     ? "gather index out of range"
                     : "gather reads rows chosen by run-time indices (the "
                       "ISA has no indirect DMA)";
        }
        return "";
      })
      .Default([&](Operation *o) -> std::string {
        return fmt::format("no NPU lowering for '{}'",
                           o->getName().getStringRef().str());
      });
}

//===----------------------------------------------------------------------===//
// The lowering of one partition
//===----------------------------------------------------------------------===//

class PartitionLowering {
public:
  /// `source` is the partition as the caller has it: estimates name its
  /// ops (an npu.gemm by the linear or matmul it was formed from).
  PartitionLowering(func::FuncOp func, func::FuncOp source,
                    const target::Target &t)
      : func_(func), t_(t), emit_(t) {
    source.walk([&](Operation *op) {
      if (llvm::isa<LinearOp, MatmulOp>(op)) {
        gemmSources_.try_emplace(op->getLoc(), op->getName().getStringRef());
      }
    });
  }

  FailureOr<CompiledPartition> run();

private:
  /// The source op kind an estimate names.
  std::string kindOf(Operation *op) const {
    StringRef src =
        llvm::isa<GemmOp>(op) ? gemmSources_.lookup(op->getLoc()) : StringRef();
    return (src.empty() ? op->getName().getStringRef() : src).str();
  }
  /// Where the kernels find `v`: the buffer npu-plan-memory gave the value
  /// it views, as a DRAM address or a shared-SRAM address with kSharedTag;
  /// a constant expression's bytes are materialized on first use.
  FailureOr<uint64_t> addrOf(Value v);
  /// The buffer of a value an op computes; the plan gives every one.
  uint64_t resultAddr(Value v) {
    FailureOr<uint64_t> a = addrOf(v);
    if (failed(a)) {
      throw Error("a result has no buffer in the memory plan");
    }
    return *a;
  }
  /// The row pitch in bytes of a column view (a slice of a merged
  /// projection), seen through aliases.
  std::optional<uint64_t> pitchOf(Value v);
  LogicalResult materialize(Value root, uint64_t at);
  LogicalResult lower(Operation *op);
  LogicalResult lowerGemm(GemmOp op);
  LogicalResult lowerBinary(Operation *op, isa::BinOp code);
  LogicalResult lowerUnary(Operation *op);
  LogicalResult lowerNorm(Operation *op, bool rms);
  LogicalResult lowerSoftmax(SoftmaxOp op);
  LogicalResult lowerTranspose(TransposeOp op);
  LogicalResult lowerAttention(AttentionOp op);
  LogicalResult lowerRope(RopeOp op);
  LogicalResult lowerDataMovement(Operation *op);

  func::FuncOp func_;
  const target::Target &t_;
  KernelEmitter emit_;
  llvm::DenseSet<Value> materialized_;
  llvm::DenseMap<Location, StringRef> gemmSources_;
  CompiledPartition out_;
};

/// A constant expression's values in row-major order, as doubles (every
/// dtype the NPU reads is exact in a double).
FailureOr<std::vector<double>> evaluate(Value v) {
  Operation *op = v.getDefiningOp();
  if (auto c = dyn_cast<ConstantOp>(op)) {
    FailureOr<std::vector<double>> x = readAsDouble(c.getValue());
    if (failed(x)) {
      return c.emitError("constant of type ")
             << c.getType() << " cannot be read";
    }
    return x;
  }
  SmallVector<std::vector<double>> ins;
  for (Value in : op->getOperands()) {
    FailureOr<std::vector<double>> x = evaluate(in);
    if (failed(x)) {
      return failure();
    }
    ins.push_back(std::move(*x));
  }
  auto ot = tensorOf(v);
  if (llvm::isa<ReshapeOp>(op)) {
    return std::move(ins[0]);
  }
  if (llvm::isa<CastOp>(op)) {
    // Round to the cast's type here: a later widening must not undo it.
    auto flat =
        RankedTensorType::get({ot.getNumElements()}, ot.getElementType());
    return readAsDouble(makeFromDouble(flat, ins[0]));
  }
  std::vector<double> y(size_t(ot.getNumElements()));
  if (auto t = dyn_cast<TransposeOp>(op)) {
    auto it = tensorOf(t.getInput());
    ArrayRef<int64_t> perm = t.getPermutation();
    SmallVector<int64_t> is = rowMajorStrides(it.getShape());
    int64_t rank = ot.getRank();
    SmallVector<int64_t> idx(rank, 0);
    for (size_t o = 0; o < y.size(); ++o) {
      int64_t src = 0;
      for (int64_t d = 0; d < rank; ++d) {
        src += idx[d] * is[perm[d]];
      }
      y[o] = ins[0][size_t(src)];
      for (int64_t d = rank - 1; d >= 0 && ++idx[d] == ot.getDimSize(d); --d) {
        idx[d] = 0;
      }
    }
    return y;
  }
  auto c = cast<ConcatOp>(op);
  int64_t axis = int64_t(c.getAxis()), outer = 1, inner = 1;
  for (int64_t d = 0; d < ot.getRank(); ++d) {
    if (d < axis) {
      outer *= ot.getDimSize(d);
    } else if (d > axis) {
      inner *= ot.getDimSize(d);
    }
  }
  size_t at = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (auto [in, x] : llvm::zip(c.getInputs(), ins)) {
      size_t run = size_t(tensorOf(in).getDimSize(axis) * inner);
      std::copy_n(x.begin() + o * run, run, y.begin() + at);
      at += run;
    }
  }
  return y;
}

LogicalResult PartitionLowering::materialize(Value root, uint64_t at) {
  Value c = root;
  while (auto r = c.getDefiningOp<ReshapeOp>()) {
    c = r.getInput(); // a reshape keeps the row-major bytes
  }
  std::vector<char> bytes;
  if (auto cst = c.getDefiningOp<ConstantOp>()) {
    FailureOr<std::vector<char>> raw = readRawBytes(cst.getValue());
    if (failed(raw)) {
      return cst.emitError("constant of type ")
             << cst.getType() << " cannot be read";
    }
    bytes = std::move(*raw);
  } else {
    FailureOr<std::vector<double>> x = evaluate(root);
    if (failed(x)) {
      return failure();
    }
    auto t = tensorOf(root);
    auto flat = RankedTensorType::get({t.getNumElements()}, t.getElementType());
    FailureOr<std::vector<char>> raw = readRawBytes(makeFromDouble(flat, *x));
    if (failed(raw)) {
      return root.getDefiningOp()->emitError("constant of type ")
             << t << " cannot be converted";
    }
    bytes = std::move(*raw);
  }
  out_.constants.push_back({at, std::move(bytes)});
  return success();
}

FailureOr<uint64_t> PartitionLowering::addrOf(Value v) {
  uint64_t column = 0;
  for (; isView(v); v = v.getDefiningOp()->getOperand(0)) {
    if (auto s = v.getDefiningOp<SliceOp>()) {
      column += uint64_t(s.getStarts().back()) * bytesOf(v) /
                uint64_t(std::max<int64_t>(1, tensorOf(v).getNumElements()));
    }
  }
  BufferAttr buf;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    unsigned i = arg.getArgNumber();
    buf = func_.getArgAttrOfType<BufferAttr>(i, kStagedAttr);
    if (!buf) {
      buf = func_.getArgAttrOfType<BufferAttr>(i, kBufferAttr);
    }
  } else if (auto bufs =
                 v.getDefiningOp()->getAttrOfType<ArrayAttr>(kBuffersAttr)) {
    buf = dyn_cast<BufferAttr>(bufs[cast<OpResult>(v).getResultNumber()]);
  }
  if (!buf) {
    return func_.emitError("value without a buffer in the memory plan "
                           "(npu-plan-memory)");
  }
  uint64_t at = uint64_t(buf.getOffset());
  if (isConstantExpr(v) && materialized_.insert(v).second &&
      failed(materialize(v, at))) {
    return failure();
  }
  return (buf.getSpace() == "shared" ? at | kSharedTag : at) + column;
}

std::optional<uint64_t> PartitionLowering::pitchOf(Value v) {
  for (; isView(v); v = v.getDefiningOp()->getOperand(0)) {
    if (layoutOf(v) == kLayoutColumns) {
      Value src = v.getDefiningOp()->getOperand(0);
      return uint64_t(tensorOf(src).getShape().back()) * bytesOf(src) /
             uint64_t(std::max<int64_t>(1, tensorOf(src).getNumElements()));
    }
  }
  return std::nullopt;
}

LogicalResult PartitionLowering::lowerGemm(GemmOp op) {
  auto at = tensorOf(op.getA()), bt = tensorOf(op.getB()),
       ot = tensorOf(op.getOutput());
  GemmDesc g;
  g.in = *isaType(at.getElementType());
  g.out = *isaType(ot.getElementType());
  unsigned ei = elemBytes(g.in), eo = elemBytes(g.out);
  g.K = at.getShape().back();
  g.N = bt.getShape().back();
  if (bt.getRank() == 2) {
    g.M = at.getNumElements() / g.K; // every row of A is a GEMM row
  } else {
    g.M = ot.getDimSize(ot.getRank() - 2);
    g.batch = ot.getNumElements() / (g.M * g.N);
    g.aBatch = at.getRank() == 2 ? 0 : g.M * g.K * ei;
    g.bBatch = g.K * g.N * ei;
    g.cBatch = g.M * g.N * eo;
  }
  g.lda = g.K * ei;
  g.ldb = g.N * ei;
  g.ldc = g.N * eo;
  FailureOr<uint64_t> a = addrOf(op.getA());
  FailureOr<uint64_t> b = addrOf(op.getB());
  if (failed(a) || failed(b)) {
    return failure();
  }
  g.a = *a;
  g.b = *b;
  if (Value bias = op.getBias()) {
    FailureOr<uint64_t> ba = addrOf(bias);
    if (failed(ba)) {
      return failure();
    }
    g.hasBias = true;
    g.bias = *ba;
    g.biasType = *isaType(tensorOf(bias).getElementType());
  }
  if (Value r = op.getResidual()) {
    FailureOr<uint64_t> ra = addrOf(r);
    if (failed(ra)) {
      return failure();
    }
    g.hasResidual = true;
    g.residual = *ra;
  }
  uint64_t act = 0;
  isa::parseEnum(isa::FieldKind::Act, op.getAct().str(), act);
  g.act = isa::Act(act);
  FailureOr<uint64_t> c = addrOf(op.getOutput());
  if (failed(c)) {
    return failure();
  }
  g.c = *c;
  emit_.gemm(g);
  return success();
}

LogicalResult PartitionLowering::lowerBinary(Operation *op, isa::BinOp code) {
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
    FailureOr<uint64_t> a = addrOf(v);
    if (failed(a)) {
      return failure();
    }
    o.addr = *a;
    r.ins.push_back(o);
  }
  r.out = resultAddr(op->getResult(0));
  RowOperand l = r.ins[0], rr = r.ins[1];
  uint64_t cols = r.cols;
  isa::Dtype outT = r.outType;
  auto ld = [&](const RowOperand &o) -> uint64_t {
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
  emit_.rowwise(r);
  return success();
}

LogicalResult PartitionLowering::lowerUnary(Operation *op) {
  Value in = op->getOperand(0);
  auto ot = tensorOf(op->getResult(0));
  RowwiseDesc r;
  r.cols = ot.getRank() ? ot.getShape().back() : 1;
  r.rows = ot.getNumElements() / r.cols;
  r.outType = *isaType(ot.getElementType());
  RowOperand o;
  o.dtype = *isaType(tensorOf(in).getElementType());
  FailureOr<uint64_t> a = addrOf(in);
  if (failed(a)) {
    return failure();
  }
  o.addr = *a;
  r.ins.push_back(o);
  r.out = resultAddr(op->getResult(0));
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
  emit_.rowwise(r);
  return success();
}

LogicalResult PartitionLowering::lowerNorm(Operation *op, bool rms) {
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
    FailureOr<uint64_t> a = addrOf(v);
    if (failed(a)) {
      return failure();
    }
    o.addr = *a;
    r.ins.push_back(o);
  }
  r.out = resultAddr(op->getResult(0));
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
  emit_.rowwise(r);
  return success();
}

LogicalResult PartitionLowering::lowerSoftmax(SoftmaxOp op) {
  auto it = tensorOf(op.getInput());
  RowwiseDesc r;
  r.cols = it.getShape().back();
  r.rows = it.getNumElements() / r.cols;
  r.outType = *isaType(tensorOf(op.getOutput()).getElementType());
  RowOperand o;
  o.dtype = *isaType(it.getElementType());
  FailureOr<uint64_t> a = addrOf(op.getInput());
  if (failed(a)) {
    return failure();
  }
  o.addr = *a;
  r.ins.push_back(o);
  r.out = resultAddr(op.getOutput());
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
  emit_.rowwise(r);
  return success();
}

LogicalResult PartitionLowering::lowerTranspose(TransposeOp op) {
  auto it = tensorOf(op.getInput()), ot = tensorOf(op.getOutput());
  ArrayRef<int64_t> perm = op.getPermutation();
  int64_t rank = it.getRank();
  uint64_t e = std::max<unsigned>(1, it.getElementTypeBitWidth() / 8);
  SmallVector<int64_t> inStride(rank, 1);
  for (int64_t i = rank - 2; i >= 0; --i) {
    inStride[i] = inStride[i + 1] * it.getDimSize(i + 1);
  }
  SmallVector<int64_t> outStride(rank, 1);
  for (int64_t i = rank - 2; i >= 0; --i) {
    outStride[i] = outStride[i + 1] * ot.getDimSize(i + 1);
  }
  FailureOr<uint64_t> src = addrOf(op.getInput());
  if (failed(src)) {
    return failure();
  }
  uint64_t dst = resultAddr(op.getOutput());
  if (!perm.empty() && perm.back() != rank - 1) {
    // claimsOp admitted it: a batch of 2-D transposes on the vector engine.
    std::array<int64_t, 3> g = *asBatchedTranspose(op);
    TransposeDesc td;
    td.batch = uint64_t(g[0]);
    td.rows = uint64_t(g[1]);
    td.cols = uint64_t(g[2]);
    td.in = *src;
    td.out = dst;
    td.dtype = *isaType(it.getElementType());
    emit_.transpose(td);
    return success();
  }
  // The innermost dim stays: rows are runs of it; the next two output dims
  // are the DMA's rows and planes, the rest one descriptor each.
  isa::DmaDesc d;
  d.srcSpace = d.dstSpace = isa::Space::Dram;
  d.bytes = ot.getShape().back() * e;
  int64_t rd = rank - 2, pd = rank - 3;
  d.rows = rd >= 0 ? ot.getDimSize(rd) : 1;
  d.srcStride = rd >= 0 ? inStride[perm[rd]] * e : 0;
  d.dstStride = rd >= 0 ? outStride[rd] * e : 0;
  d.planes = pd >= 0 ? ot.getDimSize(pd) : 1;
  d.srcPStride = pd >= 0 ? inStride[perm[pd]] * e : 0;
  d.dstPStride = pd >= 0 ? outStride[pd] * e : 0;
  std::vector<isa::DmaDesc> all;
  int64_t outer = 1;
  for (int64_t i = 0; i < pd; ++i) {
    outer *= ot.getDimSize(i);
  }
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, soff = 0, doff = 0;
    for (int64_t i = pd - 1; i >= 0; --i) {
      int64_t idx = rem % ot.getDimSize(i);
      rem /= ot.getDimSize(i);
      soff += idx * inStride[perm[i]];
      doff += idx * outStride[i];
    }
    isa::DmaDesc c = d;
    c.src = *src + soff * e;
    c.dst = dst + doff * e;
    all.push_back(c);
  }
  emit_.copies(all);
  return success();
}

LogicalResult PartitionLowering::lowerAttention(AttentionOp op) {
  auto qt = tensorOf(op.getQuery()), kt = tensorOf(op.getKey()),
       vt = tensorOf(op.getValue());
  AttentionDesc a;
  a.B = qt.getDimSize(0);
  a.Hq = qt.getDimSize(1);
  a.Sq = qt.getDimSize(2);
  a.D = qt.getDimSize(3);
  a.Hkv = kt.getDimSize(1);
  a.Skv = kt.getDimSize(2);
  a.Dv = vt.getDimSize(3);
  a.dtype = *isaType(qt.getElementType());
  a.scale = op.getScale().convertToFloat();
  a.causal = op.getCausal();
  unsigned e = elemBytes(a.dtype);
  // Operand address and strides: dense [B, H, S, D], or the [B, S, H, D]
  // input of a folded head-split transpose.
  auto operand = [&](Value v, uint64_t &addr, uint64_t *stride) {
    auto t = tensorOf(v);
    int64_t H = t.getDimSize(1), S = t.getDimSize(2), D = t.getDimSize(3);
    if (layoutOf(v) == kLayoutHeadSplit) {
      v = v.getDefiningOp<TransposeOp>().getInput();
      // A column slice of a merged projection has the wide row's pitch.
      uint64_t row = pitchOf(v).value_or(H * D * e);
      stride[0] = S * row;
      stride[1] = D * e;
      stride[2] = row;
    } else {
      stride[0] = H * S * D * e;
      stride[1] = S * D * e;
      stride[2] = D * e;
    }
    FailureOr<uint64_t> at = addrOf(v);
    if (failed(at)) {
      return failure();
    }
    addr = *at;
    return success();
  };
  if (failed(operand(op.getQuery(), a.q, a.qStride)) ||
      failed(operand(op.getKey(), a.k, a.kStride)) ||
      failed(operand(op.getValue(), a.v, a.vStride))) {
    return failure();
  }
  if (Value m = op.getMask()) {
    auto mt = tensorOf(m);
    FailureOr<uint64_t> ma = addrOf(m);
    if (failed(ma)) {
      return failure();
    }
    a.hasMask = true;
    a.mask = *ma;
    a.maskType = *isaType(mt.getElementType());
    // Right-aligned broadcast to [B, Hq, Sq, Skv]: size-1 dims stride 0.
    int64_t lead = 4 - mt.getRank(), stride = 1;
    for (int64_t i = 3; i >= 0; --i) {
      int64_t mi = i - lead;
      if (mi < 0 || mt.getDimSize(mi) == 1) {
        a.maskStride[i] = 0;
      } else {
        a.maskStride[i] = stride;
      }
      if (mi >= 0) {
        stride *= mt.getDimSize(mi);
      }
    }
  }
  Value out = op.getOutput();
  a.oStride[0] = a.Hq * a.Sq * a.Dv * e;
  a.oStride[1] = a.Sq * a.Dv * e;
  a.oStride[2] = a.Dv * e;
  if (out.hasOneUse()) {
    auto tr = dyn_cast<TransposeOp>(*out.getUsers().begin());
    if (tr && layoutOf(tr.getOutput()) == kLayoutHeadMerge) {
      // Written straight into the merged-heads layout [B, S, H, Dv].
      out = tr.getOutput();
      a.oStride[1] = a.Dv * e;
      a.oStride[2] = a.Hq * a.Dv * e;
    }
  }
  a.o = resultAddr(out);
  emit_.attention(a);
  return success();
}

namespace {
/// Strided copies of the box `extent` at `srcOff` of a row-major `src` to
/// `dstOff` of a row-major `dst`: the innermost dim is a contiguous run,
/// the next two are the DMA's rows and planes, the rest one descriptor each.
void boxCopies(uint64_t src, ArrayRef<int64_t> srcShape,
               ArrayRef<int64_t> srcOff, uint64_t dst,
               ArrayRef<int64_t> dstShape, ArrayRef<int64_t> dstOff,
               ArrayRef<int64_t> extent, uint64_t e,
               std::vector<isa::DmaDesc> &out) {
  int64_t n = int64_t(extent.size());
  if (n == 0) {
    isa::DmaDesc d;
    d.src = src;
    d.dst = dst;
    d.bytes = e;
    out.push_back(d);
    return;
  }
  SmallVector<int64_t> ss = rowMajorStrides(srcShape),
                       ds = rowMajorStrides(dstShape);
  uint64_t sBase = 0, dBase = 0;
  for (int64_t i = 0; i < n; ++i) {
    sBase += srcOff[i] * ss[i];
    dBase += dstOff[i] * ds[i];
  }
  isa::DmaDesc d;
  d.bytes = extent[n - 1] * e;
  d.rows = n >= 2 ? extent[n - 2] : 1;
  d.srcStride = n >= 2 ? ss[n - 2] * e : 0;
  d.dstStride = n >= 2 ? ds[n - 2] * e : 0;
  d.planes = n >= 3 ? extent[n - 3] : 1;
  d.srcPStride = n >= 3 ? ss[n - 3] * e : 0;
  d.dstPStride = n >= 3 ? ds[n - 3] * e : 0;
  int64_t outer = 1;
  for (int64_t i = 0; i + 3 < n; ++i) {
    outer *= extent[i];
  }
  if (d.bytes == 0 || d.rows == 0 || d.planes == 0 || outer == 0) {
    return;
  }
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, so = 0, dOff = 0;
    for (int64_t i = n - 4; i >= 0; --i) {
      int64_t idx = rem % extent[i];
      rem /= extent[i];
      so += idx * ss[i];
      dOff += idx * ds[i];
    }
    isa::DmaDesc c = d;
    c.src = src + (sBase + so) * e;
    c.dst = dst + (dBase + dOff) * e;
    out.push_back(c);
  }
}
} // namespace

LogicalResult PartitionLowering::lowerDataMovement(Operation *op) {
  std::vector<isa::DmaDesc> copies;
  if (auto sp = dyn_cast<SplitOp>(op)) {
    auto it = tensorOf(sp.getInput());
    uint64_t e =
        bytesOf(sp.getInput()) / std::max<int64_t>(1, it.getNumElements());
    FailureOr<uint64_t> src = addrOf(sp.getInput());
    if (failed(src)) {
      return failure();
    }
    int64_t axis = static_cast<int64_t>(sp.getAxis());
    int64_t off = 0;
    for (Value r : sp.getOutputs()) {
      auto rt = tensorOf(r);
      SmallVector<int64_t> so(it.getRank(), 0), zero(it.getRank(), 0);
      so[axis] = off;
      boxCopies(*src, it.getShape(), so, resultAddr(r), rt.getShape(), zero,
                rt.getShape(), e, copies);
      off += rt.getDimSize(axis);
    }
  } else if (auto cc = dyn_cast<ConcatOp>(op)) {
    auto ot = tensorOf(cc.getOutput());
    uint64_t e =
        bytesOf(cc.getOutput()) / std::max<int64_t>(1, ot.getNumElements());
    int64_t axis = static_cast<int64_t>(cc.getAxis());
    uint64_t dst = resultAddr(cc.getOutput());
    int64_t off = 0;
    for (Value in : cc.getInputs()) {
      auto t = tensorOf(in);
      FailureOr<uint64_t> src = addrOf(in);
      if (failed(src)) {
        return failure();
      }
      SmallVector<int64_t> dOff(ot.getRank(), 0), zero(ot.getRank(), 0);
      dOff[axis] = off;
      boxCopies(*src, t.getShape(), zero, dst, ot.getShape(), dOff,
                t.getShape(), e, copies);
      off += t.getDimSize(axis);
    }
  } else if (auto ga = dyn_cast<GatherOp>(op)) {
    // Constant indices (claimsOp): one box copy per index, the output seen
    // as [input dims before axis, indices flattened, input dims after].
    std::vector<int64_t> idx = *constantGatherIndices(ga);
    auto it = tensorOf(ga.getInput());
    uint64_t e =
        bytesOf(ga.getInput()) / std::max<int64_t>(1, it.getNumElements());
    FailureOr<uint64_t> src = addrOf(ga.getInput());
    if (failed(src)) {
      return failure();
    }
    int64_t axis = int64_t(ga.getAxis());
    SmallVector<int64_t> outShape(it.getShape()), box(it.getShape());
    outShape[axis] = int64_t(idx.size());
    box[axis] = 1;
    uint64_t dst = resultAddr(ga.getOutput());
    for (size_t j = 0; j < idx.size(); ++j) {
      SmallVector<int64_t> so(it.getRank(), 0), dOff(it.getRank(), 0);
      so[axis] = idx[j];
      dOff[axis] = int64_t(j);
      boxCopies(*src, it.getShape(), so, dst, outShape, dOff, box, e, copies);
    }
  } else {
    auto sl = cast<SliceOp>(op);
    auto it = tensorOf(sl.getInput()), ot = tensorOf(sl.getOutput());
    uint64_t e =
        bytesOf(sl.getInput()) / std::max<int64_t>(1, it.getNumElements());
    FailureOr<uint64_t> src = addrOf(sl.getInput());
    if (failed(src)) {
      return failure();
    }
    SmallVector<int64_t> zero(ot.getRank(), 0);
    boxCopies(*src, it.getShape(), sl.getStarts(), resultAddr(sl.getOutput()),
              ot.getShape(), zero, ot.getShape(), e, copies);
  }
  emit_.copies(copies);
  return success();
}

LogicalResult PartitionLowering::lowerRope(RopeOp op) {
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
    FailureOr<uint64_t> a = addrOf(v);
    if (failed(a)) {
      return failure();
    }
    o.addr = *a;
    r.ins.push_back(o);
  }
  r.out = resultAddr(op.getOutput());
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
  emit_.rowwise(r);
  return success();
}

LogicalResult PartitionLowering::lower(Operation *op) {
  // Constant expressions are materialized by their readers; views and the
  // head merge an attention writes are addresses, not kernels.
  if (op->getNumResults() == 0 || isConstantExpr(op->getResult(0)) ||
      !layoutOf(op->getResult(0)).empty()) {
    return success();
  }
  if (std::string why = whyNot(op, t_); !why.empty()) {
    return op->emitOpError("cannot be lowered to the NPU: ") << why;
  }
  unsigned kernelsBefore = emit_.kernelCount();
  try {
    LogicalResult r =
        llvm::TypeSwitch<Operation *, LogicalResult>(op)
            .Case([&](GemmOp g) { return lowerGemm(g); })
            .Case<LinearOp, MatmulOp>([&](Operation *o) {
              return o->emitOpError("reached the NPU lowering without "
                                    "npu-fuse-epilogues");
            })
            .Case([&](ReshapeOp r) {
              return r.emitOpError("reached the NPU lowering without "
                                   "npu-select-layouts");
            })
            .Case([&](TransposeOp t) { return lowerTranspose(t); })
            .Case([&](SoftmaxOp s) { return lowerSoftmax(s); })
            .Case([&](LayerNormOp l) { return lowerNorm(l, false); })
            .Case([&](RmsNormOp l) { return lowerNorm(l, true); })
            .Case([&](AttentionOp a) { return lowerAttention(a); })
            .Case([&](RopeOp r) { return lowerRope(r); })
            .Case<SplitOp, ConcatOp, SliceOp, GatherOp>(
                [&](Operation *o) { return lowerDataMovement(o); })
            .Default([&](Operation *o) -> LogicalResult {
              if (auto code = binaryOpcode(o)) {
                return lowerBinary(o, *code);
              }
              return lowerUnary(o);
            });
    if (succeeded(r)) {
      out_.estimates.push_back(
          {[&] {
             std::string s;
             llvm::raw_string_ostream os(s);
             os << op->getLoc();
             return s;
           }(),
           kindOf(op),
           // Ops that move nothing (an empty copy) cost nothing.
           emit_.kernelCount() != kernelsBefore ? emit_.lastEstimate() : 0,
           kernelsBefore, emit_.kernelCount() - kernelsBefore});
    }
    return r;
  } catch (const Error &e) {
    return op->emitOpError("cannot be lowered to the NPU: ") << e.what();
  }
}

FailureOr<CompiledPartition> PartitionLowering::run() {
  Block &body = func_.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  auto binding = [&](BufferAttr buf, Type type, StringAttr name,
                     std::string fallback) {
    auto t = cast<RankedTensorType>(type);
    DramTensor d;
    d.name = name ? name.str() : fallback;
    d.dtype = *graphType(t.getElementType());
    d.shape.assign(t.getShape().begin(), t.getShape().end());
    d.address = uint64_t(buf.getOffset());
    return d;
  };
  // Inputs at their DRAM bindings; the staged ones copied once into the
  // shared SRAM before the first kernel.
  std::vector<isa::DmaDesc> stage;
  for (BlockArgument arg : body.getArguments()) {
    unsigned i = arg.getArgNumber();
    auto buf = func_.getArgAttrOfType<BufferAttr>(i, kBufferAttr);
    if (!buf) {
      return func_.emitError("partition argument ")
             << i << " has no DRAM binding in the memory plan";
    }
    out_.inputs.push_back(binding(
        buf, arg.getType(), func_.getArgAttrOfType<StringAttr>(i, kNameAttr),
        "input_" + std::to_string(i)));
    if (auto staged = func_.getArgAttrOfType<BufferAttr>(i, kStagedAttr)) {
      isa::DmaDesc c;
      c.src = uint64_t(buf.getOffset());
      c.dst = uint64_t(staged.getOffset()) | kSharedTag;
      c.bytes = bytesOf(arg);
      stage.push_back(c);
    }
  }
  if (!stage.empty()) {
    try {
      emit_.copies(stage);
    } catch (const Error &e) {
      return func_.emitError("staging inputs: ") << e.what();
    }
  }
  for (Operation &op : body.without_terminator()) {
    if (failed(lower(&op))) {
      return failure();
    }
  }
  // Outputs at their DRAM bindings: a value the plan keeps elsewhere
  // (shared SRAM, an input, a constant, another output) is copied there.
  std::vector<isa::DmaDesc> copies;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto buf = func_.getResultAttrOfType<BufferAttr>(i, kBufferAttr);
    if (!buf) {
      return ret.emitError("partition result ")
             << i << " has no DRAM binding in the memory plan";
    }
    FailureOr<uint64_t> at = addrOf(v);
    if (failed(at)) {
      return failure();
    }
    uint64_t dst = uint64_t(buf.getOffset());
    if (*at != dst) {
      isa::DmaDesc c;
      c.srcSpace = c.dstSpace = isa::Space::Dram;
      c.src = *at;
      c.dst = dst;
      c.bytes = bytesOf(v);
      copies.push_back(c);
    }
    out_.outputs.push_back(binding(
        buf, v.getType(), func_.getResultAttrOfType<StringAttr>(i, kNameAttr),
        "output_" + std::to_string(i)));
  }
  if (!copies.empty()) {
    try {
      emit_.copies(copies);
    } catch (const Error &e) {
      return ret.emitError("copying outputs: ") << e.what();
    }
  }
  try {
    out_.program = emit_.finish();
  } catch (const Error &e) {
    return func_.emitError("emitting the program: ") << e.what();
  }
  return std::move(out_);
}

} // namespace

std::string gemmFormProblem(Operation *op) {
  if (auto l = dyn_cast<LinearOp>(op)) {
    if (tensorOf(l.getWeight()).getElementType() !=
        tensorOf(l.getInput()).getElementType()) {
      return "input and weight element types differ";
    }
    if (l.getBias()) {
      if (std::string r = floatOperand(l.getBias(), "bias"); !r.empty()) {
        return r;
      }
      if (tensorOf(l.getBias()).getNumElements() !=
          tensorOf(l.getWeight()).getDimSize(1)) {
        return "bias does not have one value per output column";
      }
    }
    return "";
  }
  auto m = cast<MatmulOp>(op);
  auto lt = tensorOf(m.getLhs()), rt = tensorOf(m.getRhs()),
       ot = tensorOf(m.getOutput());
  if (lt.getElementType() != rt.getElementType()) {
    return "operand element types differ";
  }
  if (m.getTransposeLhs()) {
    return "transposed lhs (no DMA or layout lowering yet)";
  }
  if (m.getTransposeRhs() && !isConstantExpr(m.getRhs())) {
    return "transposed non-constant rhs (needs a vector transpose per "
           "tile, not lowered yet)";
  }
  int64_t ob = ot.getRank() - 2;
  auto batchOk = [&](RankedTensorType x) {
    int64_t xb = x.getRank() - 2;
    if (xb == 0) {
      return true;
    }
    if (xb != ob) {
      return false;
    }
    for (int64_t i = 0; i < ob; ++i) {
      if (x.getDimSize(i) != ot.getDimSize(i)) {
        return false;
      }
    }
    return true;
  };
  if (!batchOk(lt) || !batchOk(rt)) {
    return "partially broadcast batch dimensions";
  }
  return "";
}

bool claimsOp(Operation *op, const target::Target &target,
              std::string &reason) {
  reason = whyNot(op, target);
  return reason.empty();
}

void buildNpuPlanningPipeline(OpPassManager &pm, const target::Target &t) {
  pm.addPass(createNpuFuseEpilogues());
  pm.addPass(createNpuSelectLayouts());
  pm.addPass(createNpuPlanMemory(t));
}

FailureOr<CompiledPartition>
compileNpuPartition(func::FuncOp partition, const target::Target &target,
                    const CodegenOptions &options) {
  if (target.semaphoresPerCore < kMinSemaphoresPerCore) {
    return partition.emitError("target ")
           << target.name << " has " << target.semaphoresPerCore
           << " semaphores per core; the NPU lowering needs "
           << kMinSemaphoresPerCore;
  }
  if (!partition.getBody().hasOneBlock()) {
    return partition.emitError("npu partition must have one block");
  }
  MLIRContext *ctx = partition.getContext();
  ctx->getOrLoadDialect<NpuDialect>();
  // The passes rewrite and annotate a copy: the caller's function stays
  // the graph (the packager counts its ops, --emit mlir prints it).
  OwningOpRef<ModuleOp> work = ModuleOp::create(partition.getLoc());
  work->getBody()->push_back(partition.clone());
  auto func = cast<func::FuncOp>(work->getBody()->front());
  PassManager pm(ctx);
  if (options.dumpIrAfterAll) {
    pm.enableIRPrinting(
        [](Pass *, Operation *) { return false; },
        [](Pass *, Operation *) { return true; },
        /*printModuleScope=*/false, /*printAfterOnlyOnChange=*/false,
        /*printAfterOnlyOnFailure=*/false, llvm::errs(),
        OpPrintingFlags().elideLargeElementsAttrs(16).elideLargeResourceString(
            64));
  }
  buildNpuPlanningPipeline(pm.nest<func::FuncOp>(), target);
  if (failed(pm.run(*work))) {
    return failure();
  }
  PartitionLowering lowering(func, partition, target);
  FailureOr<CompiledPartition> part = lowering.run();
  if (succeeded(part) && options.dumpIrAfterAll) {
    // The lowered form in the npu dialect, as --mlir-print-ir-after-all
    // would show it after convert-nuri-to-npu.
    OwningOpRef<ModuleOp> tmp = ModuleOp::create(partition.getLoc());
    OpBuilder b = OpBuilder::atBlockEnd(tmp->getBody());
    importProgram(b, partition.getLoc(), (partition.getName() + "_npu").str(),
                  *part, target.name);
    llvm::errs() << "// -----// IR Dump After convert-nuri-to-npu ("
                 << partition.getName() << ") //----- //\n";
    tmp->print(llvm::errs());
    llvm::errs() << "\n";
  }
  return part;
}

} // namespace nuri::npu
