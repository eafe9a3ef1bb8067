//===- NpuCodegen.cpp - NPU partitions to ISA programs --------------------===//
//
// compileNpuPartition: plans DRAM for every tensor of the partition
// (constants with the layouts the kernels read, inputs, outputs,
// intermediates with liveness), then hands each nuri op, with epilogues
// fused, to the kernel emitter (NpuKernels.h), which tiles, buffers and
// schedules it over all cores.
//
//===----------------------------------------------------------------------===//

#include "nuri/Conversion/NpuCodegen.h"

#include "NpuKernels.h"

#include "nuri/Conversion/NpuProgram.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>
#include <map>
#include <array>
#include <optional>

using namespace mlir;

namespace nuri::npu {

namespace {

constexpr llvm::StringLiteral kNameAttr = "nuri.name";

std::optional<isa::Dtype> isaType(Type t) {
  if (t.isBF16()) {
    return isa::Dtype::BF16;
  }
  if (t.isF16()) {
    return isa::Dtype::F16;
  }
  if (t.isF32()) {
    return isa::Dtype::F32;
  }
  return std::nullopt;
}

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

RankedTensorType tensorOf(Value v) {
  return dyn_cast<RankedTensorType>(v.getType());
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

/// The constant a value is (through reshapes, which keep row-major bytes).
ConstantOp constantOf(Value v) {
  while (auto r = v.getDefiningOp<ReshapeOp>()) {
    v = r.getInput();
  }
  return v.getDefiningOp<ConstantOp>();
}

bool isConstant(Value v) { return constantOf(v) != nullptr; }

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

bool isHeadSwap(TransposeOp t) {
  ArrayRef<int64_t> p = t.getPermutation();
  return p.size() == 4 && p[0] == 0 && p[1] == 2 && p[2] == 1 && p[3] == 3;
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
      .Case([&](LinearOp l) -> std::string {
        if (std::string r = matrixType(l.getInput()); !r.empty()) {
          return r;
        }
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
      })
      .Case([&](MatmulOp m) -> std::string {
        if (std::string r = matrixType(m.getLhs()); !r.empty()) {
          return r;
        }
        auto lt = tensorOf(m.getLhs()), rt = tensorOf(m.getRhs()),
             ot = tensorOf(m.getOutput());
        if (lt.getElementType() != rt.getElementType()) {
          return "operand element types differ";
        }
        if (m.getTransposeLhs()) {
          return "transposed lhs (no DMA or layout lowering yet)";
        }
        if (m.getTransposeRhs() && !(isConstant(m.getRhs()))) {
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
      })
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
  PartitionLowering(func::FuncOp func, const target::Target &t)
      : func_(func), t_(t), emit_(t) {}

  FailureOr<CompiledPartition> run();

private:
  /// DRAM for computed tensors; constants first, then I/O, then the rest.
  uint64_t allocDram(uint64_t bytes) {
    uint64_t at = dramTop_;
    dramTop_ = (dramTop_ + bytes + 255) & ~uint64_t(255);
    return at;
  }
  FailureOr<uint64_t> addrOf(Value v);
  FailureOr<uint64_t> constantAs(Value v, isa::Dtype d, bool transpose2d);
  /// The buffer of a value an op computes: intermediates go to the shared
  /// SRAM when they fit beside the live ones (first fit; a buffer is free
  /// once the last op reading it, or an alias of it, has run), everything
  /// else to DRAM.
  uint64_t resultAddr(Value v) {
    auto it = addr_.find(v);
    if (it != addr_.end()) {
      return it->second;
    }
    uint64_t bytes = bytesOf(v);
    uint64_t a = 0;
    if (!outputRoots_.count(v) && !llvm::isa<BlockArgument>(v) &&
        placeShared(bytes, lastUse_.lookup(v), a)) {
      a |= kSharedTag;
    } else {
      a = allocDram(bytes);
    }
    addr_[v] = a;
    return a;
  }
  bool placeShared(uint64_t bytes, int64_t lastUse, uint64_t &at) {
    uint64_t cap = t_.sram.sharedBytes;
    bytes = (bytes + 255) & ~uint64_t(255);
    uint64_t cursor = 0;
    for (auto it = shared_.begin(); it != shared_.end(); ++it) {
      if (it->first - cursor >= bytes) {
        break;
      }
      cursor = it->first + it->second.first;
    }
    if (cursor + bytes > cap) {
      return false;
    }
    shared_[cursor] = {bytes, lastUse};
    at = cursor;
    return true;
  }
  void releaseShared(int64_t opIndex) {
    for (auto it = shared_.begin(); it != shared_.end();) {
      it = it->second.second < opIndex ? shared_.erase(it) : std::next(it);
    }
  }
  void planLiveness(Block &body);
  static uint64_t bytesOf(Value v) {
    auto t = tensorOf(v);
    return uint64_t(t.getNumElements()) *
           std::max<unsigned>(1, t.getElementTypeBitWidth() / 8);
  }
  LogicalResult lower(Operation *op);
  LogicalResult lowerLinearLike(Operation *op, Value input, Value weight,
                                Value bias, bool transposeW);
  LogicalResult lowerMatmul(MatmulOp op);
  LogicalResult lowerMergedLinears(ArrayRef<LinearOp> group);
  void findMergeableLinears(Block &body);
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
  llvm::DenseMap<Value, uint64_t> addr_;
  std::map<std::tuple<void *, int, bool>, uint64_t> derived_;
  llvm::DenseSet<Operation *> fused_;
  uint64_t dramTop_ = 0;
  /// Liveness: the index of the last op reading a value or an alias of it
  /// (keyed by the value that owns the buffer).
  llvm::DenseMap<Value, int64_t> lastUse_;
  llvm::DenseSet<Value> outputRoots_;
  /// Projections of one input merged into one GEMM (Q, K, V): the first
  /// op of each group -> the group; the others are in fused_.
  llvm::DenseMap<Operation *, SmallVector<LinearOp>> groups_;
  /// Row pitch in bytes of values that are column slices of a wider buffer.
  llvm::DenseMap<Value, uint64_t> pitch_;
  /// Shared-SRAM buffers: offset -> (bytes, last use).
  std::map<uint64_t, std::pair<uint64_t, int64_t>> shared_;
  CompiledPartition out_;
};

FailureOr<uint64_t> PartitionLowering::constantAs(Value v, isa::Dtype d,
                                                  bool transpose2d) {
  auto c = constantOf(v);
  auto key =
      std::make_tuple(c.getResult().getAsOpaquePointer(), int(d), transpose2d);
  if (auto it = derived_.find(key); it != derived_.end()) {
    return it->second;
  }
  auto t = tensorOf(v);
  auto src = isaType(t.getElementType());
  // Refuse before materializing anything: a weight beyond DRAM is an error
  // at the constant, not an allocation of its bytes on the host.
  uint64_t need = uint64_t(t.getNumElements()) * elemBytes(d);
  if (dramTop_ + need > t_.dram.bytes) {
    return c.emitError("constant of ")
           << need << " B does not fit in the " << t_.dram.bytes
           << " B of DRAM of target " << t_.name << " (" << dramTop_
           << " B already planned)";
  }
  std::vector<char> bytes;
  if (src == d && !transpose2d) {
    FailureOr<std::vector<char>> raw = readRawBytes(c.getValue());
    if (failed(raw)) {
      return c.emitError("constant of type ") << t << " cannot be read";
    }
    bytes = std::move(*raw);
  } else {
    FailureOr<std::vector<double>> vals = readAsDouble(c.getValue());
    if (failed(vals)) {
      return c.emitError("constant of type ") << t << " cannot be read";
    }
    std::vector<double> x = std::move(*vals);
    if (transpose2d) {
      int64_t r = t.getDimSize(t.getRank() - 2), cc = t.getShape().back();
      int64_t batch = t.getNumElements() / (r * cc);
      std::vector<double> y(x.size());
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t i = 0; i < r; ++i) {
          for (int64_t j = 0; j < cc; ++j) {
            y[b * r * cc + j * r + i] = x[b * r * cc + i * cc + j];
          }
        }
      }
      x = std::move(y);
    }
    Type et = d == isa::Dtype::F32    ? Type(Float32Type::get(v.getContext()))
              : d == isa::Dtype::BF16 ? Type(BFloat16Type::get(v.getContext()))
                                      : Type(Float16Type::get(v.getContext()));
    auto nt = RankedTensorType::get({int64_t(x.size())}, et);
    ElementsAttr attr = makeFromDouble(nt, x);
    FailureOr<std::vector<char>> raw = readRawBytes(attr);
    if (failed(raw)) {
      return c.emitError("constant of type ") << t << " cannot be converted";
    }
    bytes = std::move(*raw);
  }
  uint64_t at = allocDram(bytes.size());
  out_.constants.push_back({at, std::move(bytes)});
  derived_[key] = at;
  return at;
}

FailureOr<uint64_t> PartitionLowering::addrOf(Value v) {
  if (auto it = addr_.find(v); it != addr_.end()) {
    return it->second;
  }
  if (isConstant(v)) {
    auto d = isaType(tensorOf(v).getElementType());
    if (!d) {
      return v.getDefiningOp()->emitError("constant of type ")
             << v.getType() << " is not a float tensor the NPU reads";
    }
    FailureOr<uint64_t> a = constantAs(v, *d, false);
    if (succeeded(a)) {
      addr_[v] = *a;
    }
    return a;
  }
  return func_.emitError("value without a DRAM buffer");
}

LogicalResult PartitionLowering::lowerLinearLike(Operation *op, Value input,
                                                 Value weight, Value bias,
                                                 bool transposeW) {
  auto it = tensorOf(input), wt = tensorOf(weight);
  Value result = op->getResult(0);
  GemmDesc g;
  g.in = *isaType(it.getElementType());
  g.out = *isaType(tensorOf(result).getElementType());
  g.K = it.getShape().back();
  g.N = transposeW ? wt.getDimSize(0) : wt.getDimSize(1);
  g.M = it.getNumElements() / g.K;
  unsigned ei = elemBytes(g.in), eo = elemBytes(g.out);
  g.lda = g.K * ei;
  g.ldb = g.N * ei;
  g.ldc = g.N * eo;
  FailureOr<uint64_t> a = addrOf(input);
  FailureOr<uint64_t> b =
      transposeW ? constantAs(weight, g.in, true) : addrOf(weight);
  if (failed(a) || failed(b)) {
    return failure();
  }
  g.a = *a;
  g.b = *b;
  if (bias) {
    g.hasBias = true;
    FailureOr<uint64_t> ba = isConstant(bias)
                                 ? constantAs(bias, isa::Dtype::F32, false)
                                 : addrOf(bias);
    if (failed(ba)) {
      return failure();
    }
    g.bias = *ba;
    g.biasType = isConstant(bias) ? isa::Dtype::F32
                                  : *isaType(tensorOf(bias).getElementType());
  }
  // Epilogue fusion: an activation that is the only user, then a residual
  // add of the same shape that is the only user of that.
  Value cur = result;
  auto soleUser = [](Value v) -> Operation * {
    return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
  };
  if (Operation *u = soleUser(cur)) {
    std::optional<isa::Act> act;
    if (auto gelu = dyn_cast<GeluOp>(u)) {
      act = gelu.getApproximate() == GeluApproximation::Tanh
                ? isa::Act::GeluTanh
                : isa::Act::Gelu;
    } else if (llvm::isa<ReluOp>(u)) {
      act = isa::Act::Relu;
    } else if (llvm::isa<SiluOp>(u)) {
      act = isa::Act::Silu;
    }
    if (act) {
      g.act = *act;
      fused_.insert(u);
      cur = u->getResult(0);
    }
  }
  if (auto add = dyn_cast_or_null<AddOp>(soleUser(cur))) {
    Value other = add.getLhs() == cur ? add.getRhs() : add.getLhs();
    if (tensorOf(other) &&
        tensorOf(other).getShape() == tensorOf(cur).getShape() &&
        tensorOf(other).getElementType() == tensorOf(cur).getElementType() &&
        add.getLhs() != add.getRhs()) {
      FailureOr<uint64_t> r = addrOf(other);
      if (failed(r)) {
        return failure();
      }
      g.hasResidual = true;
      g.residual = *r;
      fused_.insert(add);
      cur = add.getResult();
    }
  }
  g.c = resultAddr(cur);
  emit_.gemm(g);
  return success();
}

LogicalResult PartitionLowering::lowerMatmul(MatmulOp op) {
  auto lt = tensorOf(op.getLhs()), rt = tensorOf(op.getRhs()),
       ot = tensorOf(op.getOutput());
  if (rt.getRank() == 2) {
    return lowerLinearLike(op, op.getLhs(), op.getRhs(), Value(),
                           op.getTransposeRhs());
  }
  GemmDesc g;
  g.in = *isaType(lt.getElementType());
  g.out = *isaType(ot.getElementType());
  unsigned ei = elemBytes(g.in), eo = elemBytes(g.out);
  g.M = ot.getDimSize(ot.getRank() - 2);
  g.N = ot.getShape().back();
  g.K = lt.getShape().back();
  g.batch = ot.getNumElements() / (g.M * g.N);
  g.lda = g.K * ei;
  g.ldb = g.N * ei;
  g.ldc = g.N * eo;
  g.aBatch = lt.getRank() == 2 ? 0 : g.M * g.K * ei;
  g.bBatch = g.K * g.N * ei;
  g.cBatch = g.M * g.N * eo;
  FailureOr<uint64_t> a = addrOf(op.getLhs());
  FailureOr<uint64_t> b = op.getTransposeRhs()
                              ? constantAs(op.getRhs(), g.in, true)
                              : addrOf(op.getRhs());
  if (failed(a) || failed(b)) {
    return failure();
  }
  g.a = *a;
  g.b = *b;
  g.c = resultAddr(op.getOutput());
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
    isa::UnOp code =
        gelu ? (gelu.getApproximate() == GeluApproximation::Tanh
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
    auto tr = v.getDefiningOp<TransposeOp>();
    if (tr && fused_.count(tr)) {
      v = tr.getInput();
      uint64_t row = H * D * e;
      if (auto p = pitch_.find(v); p != pitch_.end()) {
        row = p->second; // a column slice of a merged projection
      }
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
    if (tr && fused_.count(tr)) {
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
  if (llvm::isa<ConstantOp>(op) || fused_.count(op)) {
    return success();
  }
  if (std::string why = whyNot(op, t_); !why.empty()) {
    return op->emitOpError("cannot be lowered to the NPU: ") << why;
  }
  unsigned kernelsBefore = emit_.kernelCount();
  try {
    LogicalResult r =
        llvm::TypeSwitch<Operation *, LogicalResult>(op)
            .Case([&](LinearOp l) {
              if (auto g = groups_.find(l); g != groups_.end()) {
                return lowerMergedLinears(g->second);
              }
              return lowerLinearLike(l, l.getInput(), l.getWeight(),
                                     l.getBias(), false);
            })
            .Case([&](MatmulOp m) { return lowerMatmul(m); })
            .Case([&](ReshapeOp r) -> LogicalResult {
              if (isConstant(r.getInput())) {
                return success(); // materialized by its reader, if any
              }
              FailureOr<uint64_t> a = addrOf(r.getInput());
              if (failed(a)) {
                return failure();
              }
              addr_[r.getOutput()] = *a; // dense row-major: same bytes
              if (auto p = pitch_.find(r.getInput()); p != pitch_.end()) {
                pitch_[r.getOutput()] = p->second;
              }
              return success();
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
           op->getName().getStringRef().str(),
           // Reshapes and ops folded into another op's kernel cost nothing.
           emit_.kernelCount() != kernelsBefore ? emit_.lastEstimate() : 0,
           kernelsBefore, emit_.kernelCount() - kernelsBefore});
    }
    return r;
  } catch (const Error &e) {
    return op->emitOpError("cannot be lowered to the NPU: ") << e.what();
  }
}

void PartitionLowering::findMergeableLinears(Block &body) {
  // A projection qualifies when its weight is a constant matrix, it has no
  // fused epilogue, and its result only reaches attentions through a
  // reshape and a folded head-split transpose (the consumers that take a
  // row pitch).
  auto qualifies = [&](LinearOp l) {
    if (!isConstant(l.getWeight()) ||
        (l.getBias() && !isConstant(l.getBias())) ||
        tensorOf(l.getWeight()).getRank() != 2 || !l.getOutput().hasOneUse()) {
      return false;
    }
    auto r = dyn_cast<ReshapeOp>(*l.getOutput().getUsers().begin());
    if (!r || !r.getOutput().hasOneUse()) {
      return false;
    }
    auto t = dyn_cast<TransposeOp>(*r.getOutput().getUsers().begin());
    return t && fused_.count(t);
  };
  llvm::DenseMap<Value, SmallVector<LinearOp>> byInput;
  SmallVector<Value> order;
  for (Operation &op : body) {
    auto l = dyn_cast<LinearOp>(op);
    if (l && qualifies(l)) {
      if (!byInput.count(l.getInput())) {
        order.push_back(l.getInput());
      }
      byInput[l.getInput()].push_back(l);
    }
  }
  for (Value in : order) {
    SmallVector<LinearOp> &g = byInput[in];
    if (g.size() < 2) {
      continue;
    }
    bool same = llvm::all_of(g, [&](LinearOp l) {
      return bool(l.getBias()) == bool(g[0].getBias()) &&
             tensorOf(l.getWeight()).getElementType() ==
                 tensorOf(g[0].getWeight()).getElementType();
    });
    if (!same) {
      continue;
    }
    groups_[g[0]] = g;
    for (size_t i = 1; i < g.size(); ++i) {
      fused_.insert(g[i]);
    }
  }
}

LogicalResult PartitionLowering::lowerMergedLinears(ArrayRef<LinearOp> group) {
  LinearOp first = group[0];
  auto it = tensorOf(first.getInput());
  isa::Dtype in = *isaType(it.getElementType());
  isa::Dtype out = *isaType(tensorOf(first.getOutput()).getElementType());
  unsigned ei = elemBytes(in), eo = elemBytes(out);
  int64_t K = it.getShape().back(), M = it.getNumElements() / K, N = 0;
  for (LinearOp l : group) {
    N += tensorOf(l.getWeight()).getDimSize(1);
  }
  // The concatenated weight [K, sum N] and bias, laid out once at compile
  // time.
  std::vector<double> w(size_t(K) * N), b(size_t(N), 0.0);
  int64_t col = 0;
  for (LinearOp l : group) {
    int64_t n = tensorOf(l.getWeight()).getDimSize(1);
    FailureOr<std::vector<double>> x =
        readAsDouble(constantOf(l.getWeight()).getValue());
    if (failed(x)) {
      return l.emitOpError("weight cannot be read");
    }
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t j = 0; j < n; ++j) {
        w[size_t(k) * N + col + j] = (*x)[size_t(k) * n + j];
      }
    }
    if (l.getBias()) {
      FailureOr<std::vector<double>> y =
          readAsDouble(constantOf(l.getBias()).getValue());
      if (failed(y)) {
        return l.emitOpError("bias cannot be read");
      }
      std::copy(y->begin(), y->end(), b.begin() + col);
    }
    col += n;
  }
  MLIRContext *ctx = first.getContext();
  auto store = [&](std::vector<double> &vals, Type et) -> FailureOr<uint64_t> {
    auto ty = RankedTensorType::get({int64_t(vals.size())}, et);
    FailureOr<std::vector<char>> raw = readRawBytes(makeFromDouble(ty, vals));
    if (failed(raw) || dramTop_ + raw->size() > t_.dram.bytes) {
      return first.emitOpError("merged projection weights do not fit");
    }
    uint64_t at = allocDram(raw->size());
    out_.constants.push_back({at, std::move(*raw)});
    return at;
  };
  Type wt = tensorOf(first.getWeight()).getElementType();
  GemmDesc g;
  g.in = in;
  g.out = out;
  g.M = M;
  g.K = K;
  g.N = N;
  g.lda = K * ei;
  g.ldb = N * ei;
  g.ldc = N * eo;
  FailureOr<uint64_t> a = addrOf(first.getInput());
  FailureOr<uint64_t> wb = store(w, wt);
  if (failed(a) || failed(wb)) {
    return failure();
  }
  g.a = *a;
  g.b = *wb;
  if (first.getBias()) {
    FailureOr<uint64_t> bb = store(b, Float32Type::get(ctx));
    if (failed(bb)) {
      return failure();
    }
    g.hasBias = true;
    g.bias = *bb;
    g.biasType = isa::Dtype::F32;
  }
  // One buffer [M, sum N] alive until the last reader of any slice.
  int64_t last = 0;
  for (LinearOp l : group) {
    last = std::max(last, lastUse_.lookup(l.getOutput()));
  }
  uint64_t bytes = uint64_t(M) * N * eo, base = 0;
  if (placeShared(bytes, last, base)) {
    base |= kSharedTag;
  } else {
    base = allocDram(bytes);
  }
  g.c = base;
  col = 0;
  for (LinearOp l : group) {
    addr_[l.getOutput()] = base + uint64_t(col) * eo;
    pitch_[l.getOutput()] = uint64_t(N) * eo;
    col += tensorOf(l.getWeight()).getDimSize(1);
  }
  emit_.gemm(g);
  return success();
}

void PartitionLowering::planLiveness(Block &body) {
  llvm::DenseMap<Value, Value> root;
  auto rootOf = [&](Value v) {
    auto it = root.find(v);
    return it == root.end() ? v : it->second;
  };
  // Layout folding: a head split ([B,S,H,D] -> [B,H,S,D]) feeding only an
  // attention, or the head merge right after it, becomes the attention's
  // DMA strides instead of a copy.
  for (Operation &op : body) {
    auto att = dyn_cast<AttentionOp>(op);
    if (!att) {
      continue;
    }
    for (Value v : {att.getQuery(), att.getKey(), att.getValue()}) {
      auto t = v.getDefiningOp<TransposeOp>();
      if (t && isHeadSwap(t) && v.hasOneUse()) {
        fused_.insert(t);
      }
    }
    Value r = att.getOutput();
    if (r.hasOneUse()) {
      auto t = dyn_cast<TransposeOp>(*r.getUsers().begin());
      if (t && isHeadSwap(t)) {
        fused_.insert(t);
      }
    }
  }
  findMergeableLinears(body);
  int64_t index = 0;
  for (Operation &op : body) {
    for (Value in : op.getOperands()) {
      Value r = rootOf(in);
      lastUse_[r] = std::max(lastUse_.lookup(r), index);
    }
    if (auto reshape = dyn_cast<ReshapeOp>(op)) {
      root[reshape.getOutput()] = rootOf(reshape.getInput());
    }
    auto tr = dyn_cast<TransposeOp>(op);
    if (tr && fused_.count(tr) && !tr.getInput().getDefiningOp<AttentionOp>()) {
      root[tr.getOutput()] = rootOf(tr.getInput());
    }
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands()) {
        outputRoots_.insert(rootOf(v));
      }
    }
    ++index;
  }
}

FailureOr<CompiledPartition> PartitionLowering::run() {
  if (!func_.getBody().hasOneBlock()) {
    return func_.emitError("npu partition must have one block");
  }
  Block &body = func_.getBody().front();
  planLiveness(body);
  // Inputs first, so their addresses are stable and small.
  for (BlockArgument arg : body.getArguments()) {
    auto t = tensorOf(arg);
    auto gt = t ? graphType(t.getElementType()) : std::nullopt;
    if (!gt) {
      return func_.emitError("partition argument ")
             << arg.getArgNumber() << " has type " << arg.getType()
             << "; the NPU takes bf16, f16 or f32 tensors";
    }
    DramTensor d;
    auto name =
        func_.getArgAttrOfType<StringAttr>(arg.getArgNumber(), kNameAttr);
    d.name = name ? name.str() : "input_" + std::to_string(arg.getArgNumber());
    d.dtype = *gt;
    d.shape.assign(t.getShape().begin(), t.getShape().end());
    d.address = resultAddr(arg);
    out_.inputs.push_back(d);
  }
  // Inputs every core re-reads as a GEMM's A operand are staged once into
  // the shared SRAM: one DRAM read, then the NoC, instead of one DRAM read
  // per column slice.
  {
    std::vector<isa::DmaDesc> stage;
    for (BlockArgument arg : body.getArguments()) {
      // Worth it when the GEMMs are weight-dominated (wide, split over many
      // column slices); for a large A the serialized copy costs more than
      // the re-reads it saves.
      bool isA = llvm::any_of(arg.getUses(), [&](OpOperand &u) {
        Operation *o = u.getOwner();
        if (u.getOperandNumber() != 0 ||
            !(llvm::isa<LinearOp>(o) || llvm::isa<MatmulOp>(o))) {
          return false;
        }
        return 2 * bytesOf(arg) <= bytesOf(o->getOperand(1));
      });
      uint64_t at = 0;
      if (isA && placeShared(bytesOf(arg), lastUse_.lookup(arg), at)) {
        isa::DmaDesc c;
        c.src = addr_[arg];
        c.dst = at | kSharedTag;
        c.bytes = bytesOf(arg);
        stage.push_back(c);
        addr_[arg] = at | kSharedTag;
      }
    }
    if (!stage.empty()) {
      try {
        emit_.copies(stage);
      } catch (const Error &e) {
        return func_.emitError("staging inputs: ") << e.what();
      }
    }
  }
  func::ReturnOp ret;
  int64_t index = 0;
  for (Operation &op : body) {
    if (auto r = dyn_cast<func::ReturnOp>(op)) {
      ret = r;
      break;
    }
    releaseShared(index++);
    if (failed(lower(&op))) {
      return failure();
    }
  }
  if (!ret) {
    return func_.emitError("npu partition has no return");
  }
  // Outputs: a fresh buffer each; values that alias an input, a constant
  // or another output are copied.
  llvm::DenseSet<uint64_t> taken;
  for (const DramTensor &d : out_.inputs) {
    taken.insert(d.address);
  }
  for (const DramConstant &c : out_.constants) {
    taken.insert(c.address);
  }
  std::vector<isa::DmaDesc> copies;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto t = tensorOf(v);
    auto gt = t ? graphType(t.getElementType()) : std::nullopt;
    if (!gt) {
      return ret.emitError("partition result ")
             << i << " has type " << v.getType()
             << "; the NPU returns bf16, f16 or f32 tensors";
    }
    FailureOr<uint64_t> a = addrOf(v);
    if (failed(a)) {
      return failure();
    }
    uint64_t at = *a;
    if (taken.count(at) || (at & kSharedTag)) {
      uint64_t fresh = allocDram(bytesOf(v));
      isa::DmaDesc c;
      c.srcSpace = c.dstSpace = isa::Space::Dram;
      c.src = at;
      c.dst = fresh;
      c.bytes = bytesOf(v);
      copies.push_back(c);
      at = fresh;
    }
    taken.insert(at);
    DramTensor d;
    auto name = func_.getResultAttrOfType<StringAttr>(i, kNameAttr);
    d.name = name ? name.str() : "output_" + std::to_string(i);
    d.dtype = *gt;
    d.shape.assign(t.getShape().begin(), t.getShape().end());
    d.address = at;
    out_.outputs.push_back(d);
  }
  if (!copies.empty()) {
    try {
      emit_.copies(copies);
    } catch (const Error &e) {
      return ret.emitError("copying outputs: ") << e.what();
    }
  }
  if (dramTop_ > t_.dram.bytes) {
    return func_.emitError("npu partition needs ")
           << dramTop_ << " B of DRAM (weights, inputs, outputs and "
           << "intermediates), target " << t_.name << " has " << t_.dram.bytes;
  }
  try {
    out_.program = emit_.finish();
  } catch (const Error &e) {
    return func_.emitError("emitting the program: ") << e.what();
  }
  return std::move(out_);
}

} // namespace

bool claimsOp(Operation *op, const target::Target &target,
              std::string &reason) {
  reason = whyNot(op, target);
  return reason.empty();
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
  PartitionLowering lowering(partition, target);
  FailureOr<CompiledPartition> part = lowering.run();
  if (succeeded(part) && options.dumpIrAfterAll) {
    // The lowered form in the npu dialect, as --mlir-print-ir-after-all
    // would show it after convert-nuri-to-npu.
    partition.getContext()->getOrLoadDialect<NpuDialect>();
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
