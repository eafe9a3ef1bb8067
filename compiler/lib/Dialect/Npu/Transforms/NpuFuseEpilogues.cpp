//===- NpuFuseEpilogues.cpp - GEMM kernels with their read-out epilogues --===//
//
// Rewrites linears and matmuls into npu.gemm, absorbing the ops the GEMM's
// accumulator read-out computes for free (bias, activation, residual add)
// and merging the projections of one input into one wide GEMM.
//
//===----------------------------------------------------------------------===//

#include "NpuPlan.h"

#include "nuri/Dialect/Npu/Transforms/Passes.h"

#include "GemmCore.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriTarget.h"
#include "nuri/Dialect/Nuri/IR/WeightOnly.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace nuri::npu {
#define GEN_PASS_DEF_NPUFUSEEPILOGUES
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"
} // namespace nuri::npu

using namespace mlir;

namespace nuri::npu {
namespace {

/// A constant expression computed from `v` by an op of type OpT with
/// `attrs` and result `type`; reuses an identical one, so that a weight
/// read by two GEMMs is laid out once.
template <typename OpT>
Value derive(OpBuilder &b, Location loc, Type type, Value v,
             ArrayRef<NamedAttribute> attrs = {}) {
  for (Operation *user : v.getUsers()) {
    auto same = dyn_cast<OpT>(user);
    if (same && same->getResult(0).getType() == type &&
        same->getNumOperands() == 1 &&
        same->getBlock() == b.getInsertionBlock() &&
        same->isBeforeInBlock(&*b.getInsertionPoint()) &&
        llvm::all_of(attrs, [&](NamedAttribute a) {
          return same->getAttr(a.getName()) == a.getValue();
        })) {
      return same->getResult(0);
    }
  }
  return b.create<OpT>(loc, type, v, attrs)->getResult(0);
}

/// The bias as the [N] f32 vector the read-out adds: a constant is
/// converted at compile time, a computed bias is read in its own type.
Value readOutBias(OpBuilder &b, Location loc, Value bias) {
  if (!isConstantExpr(bias)) {
    return bias;
  }
  auto t = tensorOf(bias);
  if (t.getRank() != 1) {
    bias = derive<ReshapeOp>(
        b, loc, RankedTensorType::get({t.getNumElements()}, t.getElementType()),
        bias);
  }
  if (t.getElementType().isF32()) {
    return bias;
  }
  return derive<CastOp>(
      b, loc, RankedTensorType::get({t.getNumElements()}, b.getF32Type()),
      bias);
}

/// The constant rhs of a matmul with transpose_rhs, transposed at compile
/// time (the GEMM reads B as [K, N]).
Value transposedConstant(OpBuilder &b, Location loc, Value rhs) {
  auto t = tensorOf(rhs);
  SmallVector<int64_t> perm, shape(t.getShape());
  for (int64_t i = 0; i < t.getRank(); ++i) {
    perm.push_back(i);
  }
  std::swap(perm[t.getRank() - 1], perm[t.getRank() - 2]);
  std::swap(shape[t.getRank() - 1], shape[t.getRank() - 2]);
  return derive<TransposeOp>(
      b, loc, RankedTensorType::get(shape, t.getElementType()), rhs,
      {b.getNamedAttr("permutation", b.getDenseI64ArrayAttr(perm))});
}

/// A weight-only quantized weight as npu.gemm reads it compressed: `values`
/// i8 [K, N * bits / 8] (b), `scales` f32 [ceil(K / group), N] (b_scales);
/// `transposed` (b_transposed): [N, K * bits / 8] and [N, ceil(K / group)].
struct PackedWeight {
  Value values, scales;
  unsigned bits = 0;
  int64_t group = 0;
  bool transposed = false;
};

/// Whether the GEMM of `rows` rows by the compressed weight `e` runs as
/// the transposed GEMV on `t` (the cost model's choice, GemmCore.h); never
/// without a target.
bool transposedGemv(const target::Target *t, int64_t rows, Type in,
                    const ExpandableWeight &e) {
  std::optional<isa::Dtype> d = isaType(in);
  if (!t || !d || e.K % 2 != 0) {
    return false;
  }
  GemmDesc g;
  g.M = uint64_t(rows);
  g.N = uint64_t(e.N);
  g.K = uint64_t(e.K);
  g.in = g.out = *d;
  g.wBits = e.bits;
  g.wGroup = uint64_t(e.group);
  return preferTransposedWeight(*t, g);
}

/// A w4a16 weight in MatMulNBits' layout ([N, blocks, block / 2] u8, the
/// unsigned value u with the implicit zero point 8, K along the bytes) as
/// dma.dq reads it: rows of K, two columns a byte (the even one in the low
/// nibble), each the signed u - 8, which is the nibble u ^ 8. A splat
/// (a shapes-only placeholder) stays a splat.
Value repackInt4(OpBuilder &b, Location loc, DequantizeBlockedOp d, int64_t K,
                 int64_t N) {
  auto type = RankedTensorType::get({K, N / 2}, b.getIntegerType(8));
  ElementsAttr src = d.getPacked().getDefiningOp<ConstantOp>().getValue();
  if (auto dense = dyn_cast<DenseElementsAttr>(src); dense && dense.isSplat()) {
    auto v = uint8_t(dense.getSplatValue<APInt>().getZExtValue());
    if ((v & 15) == (v >> 4)) {
      auto u = uint8_t((v & 15) ^ 8);
      return b.create<ConstantOp>(
          loc, DenseElementsAttr::get(type, APInt(8, uint8_t(u | u << 4))));
    }
  }
  FailureOr<std::vector<char>> raw = readRawBytes(src);
  if (failed(raw)) {
    return Value();
  }
  auto pt = tensorOf(d.getPacked());
  const int64_t rowBytes = pt.getDimSize(1) * pt.getDimSize(2);
  std::vector<char> out(size_t(K * N / 2), 0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      auto byte = uint8_t((*raw)[size_t(n * rowBytes + k / 2)]);
      unsigned u = (byte >> (4 * (k % 2))) & 15;
      out[size_t(k * (N / 2) + n / 2)] |= char((u ^ 8) << (4 * (n % 2)));
    }
  }
  return b.create<ConstantOp>(loc, makeFromRawBytes(type, out, "w4.npu"));
}

/// The same weight for the transposed GEMV: MatMulNBits' own rows of K
/// ([N, K / 2], the even column in the low nibble already), each nibble
/// u ^ 8; a row's padding past K dropped.
Value repackInt4Rows(OpBuilder &b, Location loc, DequantizeBlockedOp d,
                     int64_t K, int64_t N) {
  auto type = RankedTensorType::get({N, K / 2}, b.getIntegerType(8));
  ElementsAttr src = d.getPacked().getDefiningOp<ConstantOp>().getValue();
  if (auto dense = dyn_cast<DenseElementsAttr>(src); dense && dense.isSplat()) {
    auto v = uint8_t(dense.getSplatValue<APInt>().getZExtValue());
    return b.create<ConstantOp>(
        loc, DenseElementsAttr::get(type, APInt(8, uint8_t(v ^ 0x88))));
  }
  FailureOr<std::vector<char>> raw = readRawBytes(src);
  if (failed(raw)) {
    return Value();
  }
  auto pt = tensorOf(d.getPacked());
  const int64_t rowBytes = pt.getDimSize(1) * pt.getDimSize(2);
  std::vector<char> out(size_t(N * (K / 2)));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t j = 0; j < K / 2; ++j) {
      out[size_t(n * (K / 2) + j)] =
          char(uint8_t((*raw)[size_t(n * rowBytes + j)]) ^ 0x88);
    }
  }
  return b.create<ConstantOp>(loc, makeFromRawBytes(type, out, "w4t.npu"));
}

/// `w` as the GEMM reads it compressed (WeightOnly.h), or nullopt: then it
/// is an ordinary constant expression, laid out in float.
std::optional<PackedWeight> packedWeight(OpBuilder &b, Location loc, Value w,
                                         bool transposed) {
  std::optional<ExpandableWeight> e = expandableWeightOf(w);
  if (!e) {
    return std::nullopt;
  }
  PackedWeight p;
  p.bits = e->bits;
  p.group = e->group;
  p.transposed = transposed;
  if (auto d = dyn_cast<DequantizeOp>(e->op)) {
    p.values =
        transposed ? transposedConstant(b, loc, d.getInput()) : d.getInput();
    p.scales = derive<ReshapeOp>(
        b, loc,
        RankedTensorType::get(transposed ? ArrayRef<int64_t>{e->N, 1}
                                         : ArrayRef<int64_t>{1, e->N},
                              b.getF32Type()),
        d.getScale());
    return p;
  }
  auto d = cast<DequantizeBlockedOp>(e->op);
  p.values = transposed ? repackInt4Rows(b, loc, d, e->K, e->N)
                        : repackInt4(b, loc, d, e->K, e->N);
  if (!p.values) {
    return std::nullopt;
  }
  // MatMulNBits' scales are [N, blocks] already (or flat).
  const int64_t groups = (e->K + e->group - 1) / e->group;
  auto rowScales = RankedTensorType::get({e->N, groups}, b.getF32Type());
  p.scales = !transposed ? transposedConstant(b, loc, d.getScales())
             : d.getScales().getType() == rowScales
                 ? d.getScales()
                 : derive<ReshapeOp>(b, loc, rowScales, d.getScales());
  return p;
}

/// `w` compressed, in the layout the cost model picks for a GEMM of
/// `a`'s rows on `t`.
std::optional<PackedWeight> packedWeightFor(OpBuilder &b, Location loc, Value w,
                                            Value a, const target::Target *t,
                                            int64_t n = 0) {
  std::optional<ExpandableWeight> e = expandableWeightOf(w);
  if (!e) {
    return std::nullopt;
  }
  auto at = tensorOf(a);
  ExpandableWeight whole = *e;
  whole.N = n ? n : e->N;
  return packedWeight(b, loc, w,
                      transposedGemv(t, at.getNumElements() / e->K,
                                     at.getElementType(), whole));
}

/// npu.gemm of `a` by `w` (compressed when `packed`).
GemmOp createGemm(OpBuilder &b, Location loc, Type type, Value a, Value w,
                  const std::optional<PackedWeight> &packed, Value bias,
                  Value residual, StringRef act) {
  if (!packed) {
    return b.create<GemmOp>(loc, type, a, w, bias, residual, Value(),
                            b.getStringAttr(act), IntegerAttr(), IntegerAttr(),
                            UnitAttr());
  }
  return b.create<GemmOp>(loc, type, a, packed->values, bias, residual,
                          packed->scales, b.getStringAttr(act),
                          b.getI64IntegerAttr(packed->bits),
                          b.getI64IntegerAttr(packed->group),
                          packed->transposed ? b.getUnitAttr() : UnitAttr());
}

bool definedBefore(Value v, Operation *op) {
  Operation *def = v.getDefiningOp();
  return !def ||
         (def->getBlock() == op->getBlock() && def->isBeforeInBlock(op));
}

Operation *soleUser(Value v) {
  return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
}

/// One linear or matmul -> npu.gemm with the epilogue its result's users
/// allow: an activation that is the only user, then a residual add of the
/// same type that is the only user of that.
void fuse(Operation *op, const target::Target *t) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  Value a, w, bias;
  std::optional<PackedWeight> packed;
  if (auto l = dyn_cast<LinearOp>(op)) {
    a = l.getInput();
    w = l.getWeight();
    bias = l.getBias();
    packed = packedWeightFor(b, loc, w, a, t);
  } else {
    auto m = cast<MatmulOp>(op);
    a = m.getLhs();
    w = m.getTransposeRhs() ? transposedConstant(b, loc, m.getRhs())
                            : m.getRhs();
  }
  if (bias) {
    bias = readOutBias(b, loc, bias);
  }
  Value cur = op->getResult(0);
  SmallVector<Operation *> absorbed;
  StringRef act = "none";
  // Epilogues need one row-major [M, N] output: not for batched B.
  bool epilogue = tensorOf(w).getRank() == 2;
  if (Operation *u = epilogue ? soleUser(cur) : nullptr) {
    if (auto gelu = dyn_cast<GeluOp>(u)) {
      act = gelu.getApproximate() == GeluApproximation::Tanh ? "gelu_tanh"
                                                             : "gelu";
    } else if (llvm::isa<ReluOp>(u)) {
      act = "relu";
    } else if (llvm::isa<SiluOp>(u)) {
      act = "silu";
    }
    if (act != "none") {
      absorbed.push_back(u);
      cur = u->getResult(0);
    }
  }
  // The residual add may sit behind a reshape (GPT-2 reshapes the projection
  // back to [B, S, H] before adding): a reshape moves no bytes, so the
  // residual is read through the inverse reshape and the sum reshaped after.
  Value residual;
  Operation *next = epilogue ? soleUser(cur) : nullptr;
  auto view = dyn_cast_or_null<ReshapeOp>(next);
  Value viewed = view ? view.getOutput() : cur;
  Type gemmType = cur.getType();
  if (auto add = dyn_cast_or_null<AddOp>(view ? soleUser(viewed) : next)) {
    Value other = add.getLhs() == viewed ? add.getRhs() : add.getLhs();
    // The GEMM runs where the linear was: the residual must exist by then.
    if (other.getType() == viewed.getType() && add.getLhs() != add.getRhs() &&
        definedBefore(other, op)) {
      residual =
          view ? b.create<ReshapeOp>(loc, gemmType, other).getOutput() : other;
      if (view) {
        absorbed.push_back(view);
      }
      absorbed.push_back(add);
      cur = add.getResult();
    }
  }
  GemmOp gemm = createGemm(b, loc, gemmType, a, w, packed, bias, residual, act);
  Value out = gemm.getOutput();
  if (out.getType() != cur.getType()) {
    out = b.create<ReshapeOp>(loc, cur.getType(), out).getOutput();
  }
  cur.replaceAllUsesWith(out);
  for (Operation *o : llvm::reverse(absorbed)) {
    o->erase();
  }
  op->erase();
}

/// Whether two weights are stored alike: both float, or both compressed
/// with the same bits and group (a merged GEMM has one format).
bool sameWeightFormat(Value x, Value y) {
  std::optional<ExpandableWeight> a = expandableWeightOf(x),
                                  b = expandableWeightOf(y);
  return bool(a) == bool(b) &&
         (!a || (a->bits == b->bits && a->group == b->group &&
                 (a->bits == 4 || a->K == b->K)));
}

/// Whether a linear may join a merged projection: constant weight matrix
/// (and bias), and its result only reaches an attention through a reshape
/// and a head split the attention reads through its strides, the readers
/// that take a column slice of a wider buffer.
bool mergeable(LinearOp l) {
  if (!isConstantExpr(l.getWeight()) ||
      (l.getBias() && !isConstantExpr(l.getBias())) ||
      tensorOf(l.getWeight()).getRank() != 2 || !gemmFormProblem(l).empty()) {
    return false;
  }
  auto r = dyn_cast_or_null<ReshapeOp>(soleUser(l.getOutput()));
  auto t = r ? dyn_cast_or_null<TransposeOp>(soleUser(r.getOutput())) : nullptr;
  return t && foldsIntoAttentionRead(t);
}

/// Q, K and V of one input -> one GEMM over [K, sum N] weights; each
/// projection becomes the slice of its columns.
void merge(ArrayRef<LinearOp> group, const target::Target *t) {
  LinearOp first = group.front();
  OpBuilder b(first);
  Location loc = first.getLoc();
  SmallVector<Value> weights, biases, values, scales;
  int64_t n = 0;
  for (LinearOp l : group) {
    n += tensorOf(l.getWeight()).getDimSize(1);
  }
  // Compressed weights of one format concatenate along N as they are
  // (their rows, and their scales' rows, run along N; the columns, in the
  // transposed GEMV's layout), in the layout of the merged GEMM.
  std::optional<PackedWeight> packed;
  std::optional<ExpandableWeight> e0 = expandableWeightOf(first.getWeight());
  const bool transposed =
      e0 &&
      transposedGemv(t, tensorOf(first.getInput()).getNumElements() / e0->K,
                     tensorOf(first.getInput()).getElementType(),
                     ExpandableWeight{e0->op, e0->bits, e0->K, n, e0->group});
  for (LinearOp l : group) {
    weights.push_back(l.getWeight());
    if (l.getBias()) {
      biases.push_back(readOutBias(b, loc, l.getBias()));
    }
    if (std::optional<PackedWeight> p =
            packedWeight(b, loc, l.getWeight(), transposed)) {
      values.push_back(p->values);
      scales.push_back(p->scales);
      packed = p;
    }
  }
  auto wt = tensorOf(first.getWeight());
  Value w;
  if (packed) {
    const int64_t axis = packed->transposed ? 0 : 1;
    auto concat = [&](ValueRange vs) -> Value {
      auto t = tensorOf(vs.front());
      SmallVector<int64_t, 2> shape(t.getShape());
      shape[axis] = 0;
      for (Value v : vs) {
        shape[axis] += tensorOf(v).getDimSize(axis);
      }
      return b.create<ConcatOp>(
          loc, RankedTensorType::get(shape, t.getElementType()), vs,
          b.getI64IntegerAttr(axis));
    };
    packed->values = concat(values);
    packed->scales = concat(scales);
  } else {
    w = b.create<ConcatOp>(
        loc, RankedTensorType::get({wt.getDimSize(0), n}, wt.getElementType()),
        weights, b.getI64IntegerAttr(1));
  }
  Value bias;
  if (!biases.empty()) {
    bias = b.create<ConcatOp>(
        loc, RankedTensorType::get({n}, tensorOf(biases[0]).getElementType()),
        biases, b.getI64IntegerAttr(0));
  }
  auto ot = tensorOf(first.getOutput());
  SmallVector<int64_t> shape(ot.getShape());
  shape.back() = n;
  GemmOp gemm =
      createGemm(b, loc, RankedTensorType::get(shape, ot.getElementType()),
                 first.getInput(), w, packed, bias, Value(), "none");
  int64_t col = 0;
  for (LinearOp l : group) {
    auto t = tensorOf(l.getOutput());
    SmallVector<int64_t> starts(t.getRank(), 0), limits(t.getShape()),
        steps(t.getRank(), 1);
    starts.back() = col;
    col += t.getShape().back();
    limits.back() = col;
    b.setInsertionPoint(l);
    auto slice = b.create<SliceOp>(
        l.getLoc(), t, gemm.getOutput(), b.getDenseI64ArrayAttr(starts),
        b.getDenseI64ArrayAttr(limits), b.getDenseI64ArrayAttr(steps));
    l.getOutput().replaceAllUsesWith(slice.getOutput());
    l.erase();
  }
}

/// The float value a graph nuri.quantize reads, before any widening cast
/// (bf16 -> f32 is exact, and the vector engine converts as exactly).
Value quantizedInput(nuri::QuantizeOp q) {
  Value x = q.getInput();
  if (auto c = x.getDefiningOp<CastOp>()) {
    Type from = tensorOf(c.getInput()).getElementType();
    if ((from.isBF16() || from.isF16()) &&
        tensorOf(x).getElementType().isF32()) {
      return c.getInput();
    }
  }
  return x;
}

/// What the npu.quantize for `q` reads, and the activation it applies
/// first: an activation whose result only `q` reads (the GELU before
/// BERT's second FFN product) runs in the quantize's kernel, so its result
/// never goes to memory.
std::pair<Value, StringRef> quantizeSource(nuri::QuantizeOp q) {
  Value x = quantizedInput(q);
  Operation *def = x.getDefiningOp();
  auto cast = q.getInput().getDefiningOp<CastOp>();
  bool onlyReader = x.hasOneUse() && q.getOutput().hasOneUse() &&
                    (x == q.getInput() || (cast && cast->hasOneUse()));
  if (!def || !onlyReader || def->getNumOperands() != 1 ||
      tensorOf(def->getOperand(0)) != tensorOf(x)) {
    return {x, "none"};
  }
  if (auto g = dyn_cast<GeluOp>(def)) {
    return {def->getOperand(0), g.getApproximate() == GeluApproximation::Tanh
                                    ? "gelu_tanh"
                                    : "gelu"};
  }
  if (llvm::isa<ReluOp>(def)) {
    return {def->getOperand(0), "relu"};
  }
  return {x, "none"};
}

/// A graph nuri.quantize -> npu.quantize, producing the NPU's 8-bit form
/// of its result (for uint8: the value minus 128; int8 and fp8 as they are).
Value npuQuantize(OpBuilder &b, nuri::QuantizeOp q, int64_t offset,
                  float scale) {
  auto [x, act] = quantizeSource(q);
  Type element = tensorOf(q.getOutput()).getElementType();
  auto type =
      tensorOf(q.getOutput())
          .clone(llvm::isa<Float8E4M3FNType>(element) ? element
                                                      : b.getIntegerType(8));
  return b.create<npu::QuantizeOp>(
      q.getLoc(), type, x, b.getF32FloatAttr(scale),
      b.getI64IntegerAttr(offset), b.getStringAttr(act));
}

/// An int8 weight's values: a constant's bytes (large weights are blobs
/// readAsDouble does not take), else the constant expression evaluated.
FailureOr<std::vector<double>> int8Values(Value v) {
  Value c = v;
  while (auto r = c.getDefiningOp<ReshapeOp>()) {
    c = r.getInput();
  }
  if (auto cst = c.getDefiningOp<ConstantOp>()) {
    FailureOr<std::vector<char>> raw = readRawBytes(cst.getValue());
    if (failed(raw)) {
      return failure();
    }
    return std::vector<double>(reinterpret_cast<const int8_t *>(raw->data()),
                               reinterpret_cast<const int8_t *>(raw->data()) +
                                   raw->size());
  }
  return evaluate(v);
}

/// nuri.quantize + nuri.quantized_matmul (+ the bias add, the cast to the
/// compute type, relu, a residual add) -> npu.quantize + npu.quantized_gemm.
/// The read-out's per-column constants are computed here: the scale product
/// sa * sw[n] in fp32 (as the CPU kernel takes it), and the i32 correction
/// -(za - 128) * sum_k W[k, n] that makes the NPU's int8 activations (uint8
/// minus 128) give the CPU's sum of (a - za) * W exactly. fp8 has no zero
/// points: its f32 correction is 0.
LogicalResult fuseQuantized(QuantizedMatmulOp m,
                            llvm::DenseMap<Operation *, Value> &quantized) {
  OpBuilder b(m);
  Location loc = m.getLoc();
  auto q = m.getLhs().getDefiningOp<nuri::QuantizeOp>();
  FailureOr<std::vector<double>> za = evaluate(m.getLhsZeroPoint());
  FailureOr<std::vector<double>> sa = evaluate(m.getLhsScale());
  FailureOr<std::vector<double>> sw = evaluate(m.getRhsScale());
  const bool fp8 =
      llvm::isa<Float8E4M3FNType>(tensorOf(m.getRhs()).getElementType());
  // fp8's correction needs no weight values.
  FailureOr<std::vector<double>> w =
      fp8 ? FailureOr<std::vector<double>>(std::vector<double>())
          : int8Values(m.getRhs());
  FailureOr<std::vector<double>> qs = evaluate(q.getScale());
  for (auto [what, x] : {std::pair{"the activations' zero point", &za},
                         {"the activations' scale", &sa},
                         {"the weight scales", &sw},
                         {"the weight", &w},
                         {"the quantize's scale", &qs}}) {
    if (failed(*x)) {
      return m.emitOpError("cannot read ")
             << what << " at compile time (a constant, or a cast or reshape "
             << "of one)";
    }
  }
  const bool unsignedA =
      tensorOf(m.getLhs()).getElementType().isUnsignedInteger();
  const int64_t offset = int64_t((*za)[0]) - (unsignedA ? 128 : 0);
  Value a;
  if (auto it = quantized.find(q); it != quantized.end()) {
    a = it->second;
  } else {
    // The projections of one input (Q, K, V) each quantize it alike: one
    // npu.quantize serves them all.
    const float scale = float((*qs)[0]);
    for (auto &[other, value] : quantized) {
      auto n = value.getDefiningOp<npu::QuantizeOp>();
      if (n &&
          std::pair<Value, StringRef>(n.getInput(), n.getAct()) ==
              quantizeSource(q) &&
          n.getScale().convertToFloat() == scale &&
          int64_t(n.getOffset()) == offset) {
        a = value;
        break;
      }
    }
    if (!a) {
      OpBuilder qb(q);
      a = npuQuantize(qb, q, offset, scale);
    }
    quantized[q] = a;
  }
  auto wt = tensorOf(m.getRhs());
  const int64_t K = wt.getDimSize(0), N = wt.getDimSize(1);
  std::vector<int64_t> corr(size_t(N), 0);
  std::vector<double> scale(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    int64_t sum = 0;
    for (int64_t k = 0; k < K && !fp8; ++k) {
      sum += int64_t((*w)[size_t(k * N + n)]);
    }
    // Wraps as the i32 accumulator does.
    corr[size_t(n)] = int64_t(int32_t(uint32_t(-offset * sum)));
    scale[size_t(n)] =
        double(float((*sa)[0]) * float((*sw)[sw->size() == 1 ? 0 : size_t(n)]));
  }
  Value zpBias = b.create<ConstantOp>(
      loc, makeFromInt(RankedTensorType::get({N}, fp8 ? Type(b.getF32Type())
                                                      : Type(b.getI32Type())),
                       corr));
  Value scaleV = b.create<ConstantOp>(
      loc, makeFromDouble(RankedTensorType::get({N}, b.getF32Type()), scale));

  Value cur = m.getOutput();
  SmallVector<Operation *> absorbed;
  Value bias;
  if (auto add = dyn_cast_or_null<AddOp>(soleUser(cur))) {
    Value other = add.getLhs() == cur ? add.getRhs() : add.getLhs();
    auto ot = tensorOf(other);
    if (add.getLhs() != add.getRhs() && isConstantExpr(other) &&
        ot.getNumElements() == N && ot.getShape().back() == N &&
        add.getType() == cur.getType()) {
      bias = other;
      absorbed.push_back(add);
      cur = add.getResult();
    }
  }
  if (auto c = dyn_cast_or_null<CastOp>(soleUser(cur))) {
    Type to = tensorOf(c.getOutput()).getElementType();
    if (to.isBF16() || to.isF16()) {
      absorbed.push_back(c);
      cur = c.getOutput();
    }
  }
  StringRef act = "none";
  // relu commutes with rounding to the output type, so the read-out may
  // apply it before the cast; other activations stay graph ops, as the CPU
  // runs them after the rounding.
  if (auto r = dyn_cast_or_null<ReluOp>(soleUser(cur))) {
    act = "relu";
    absorbed.push_back(r);
    cur = r.getOutput();
  }
  Value residual;
  if (auto add = dyn_cast_or_null<AddOp>(soleUser(cur))) {
    Value other = add.getLhs() == cur ? add.getRhs() : add.getLhs();
    if (other.getType() == cur.getType() && add.getLhs() != add.getRhs() &&
        definedBefore(other, m)) {
      residual = other;
      absorbed.push_back(add);
      cur = add.getResult();
    }
  }
  // The GEMM replaces the last op it absorbs: the bias (a constant
  // expression the graph may compute just before its add) exists there.
  if (!absorbed.empty()) {
    b.setInsertionPoint(absorbed.back());
  }
  if (bias) {
    bias = readOutBias(b, loc, bias);
  }
  auto gemm =
      b.create<QuantizedGemmOp>(loc, cur.getType(), a, m.getRhs(), zpBias,
                                scaleV, bias, residual, b.getStringAttr(act));
  cur.replaceAllUsesWith(gemm.getOutput());
  for (Operation *o : llvm::reverse(absorbed)) {
    o->erase();
  }
  m->erase();
  return success();
}

struct NpuFuseEpiloguesPass : impl::NpuFuseEpiloguesBase<NpuFuseEpiloguesPass> {
  using NpuFuseEpiloguesBase::NpuFuseEpiloguesBase;

  LogicalResult initialize(MLIRContext *ctx) override {
    return target_.load(ctx, target);
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!func.getBody().hasOneBlock()) {
      return; // not a partition; the lowering says so
    }
    // The target the compressed weights' layout is chosen for; without
    // one (a test of the fusion alone) they stay [K, N].
    const target::Target *t = nullptr;
    bool named = !target.empty();
    for (Operation *at = func; at && !named; at = at->getParentOp()) {
      named = at->hasAttr(kTargetAttrName);
    }
    if (named && !(t = target_.resolve(func))) {
      return signalPassFailure();
    }
    Block &body = func.getBody().front();
    // Merging first: a merged projection has no epilogue to fuse.
    llvm::MapVector<Value, SmallVector<LinearOp>> byInput;
    for (auto l : body.getOps<LinearOp>()) {
      if (mergeable(l)) {
        byInput[l.getInput()].push_back(l);
      }
    }
    for (auto &[input, group] : byInput) {
      LinearOp first = group.front();
      bool same = llvm::all_of(group, [&](LinearOp l) {
        return bool(l.getBias()) == bool(first.getBias()) &&
               tensorOf(l.getWeight()).getElementType() ==
                   tensorOf(first.getWeight()).getElementType() &&
               sameWeightFormat(l.getWeight(), first.getWeight()) &&
               // The concatenated weights are built where the first
               // projection runs.
               definedBefore(l.getWeight(), first) &&
               (!l.getBias() || definedBefore(l.getBias(), first));
      });
      if (group.size() >= 2 && same) {
        merge(group, t);
      }
    }
    SmallVector<Operation *> gemms;
    for (Operation &op : body) {
      if (llvm::isa<LinearOp, MatmulOp>(op) && gemmFormProblem(&op).empty()) {
        gemms.push_back(&op);
      }
    }
    for (Operation *op : gemms) {
      fuse(op, t);
    }
    // The int8 GEMMs the partitioner claimed (quantizedMatmulFormProblem),
    // then their activations' quantize ops, which only they read.
    SmallVector<QuantizedMatmulOp> qmms(body.getOps<QuantizedMatmulOp>());
    llvm::DenseMap<Operation *, Value> quantized;
    for (QuantizedMatmulOp m : qmms) {
      if (quantizedMatmulFormProblem(m).empty() &&
          failed(fuseQuantized(m, quantized))) {
        return signalPassFailure();
      }
    }
    for (auto &[q, a] : quantized) {
      if (!q->use_empty()) {
        continue;
      }
      // The widening cast and the activation the npu.quantize reads past.
      Operation *cast = q->getOperand(0).getDefiningOp<CastOp>();
      Operation *act =
          (cast ? cast->getOperand(0) : q->getOperand(0)).getDefiningOp();
      q->erase();
      if (cast && cast->use_empty()) {
        cast->erase();
      }
      if (act && llvm::isa<GeluOp, ReluOp>(act) && act->use_empty()) {
        act->erase();
      }
    }
  }

  /// The target the option names, when it names one.
  TargetOption target_;
};

} // namespace
} // namespace nuri::npu
