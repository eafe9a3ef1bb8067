//===- NpuOps.cpp - The npu hardware dialect ------------------------------===//

#include "nuri/Dialect/Npu/IR/NpuOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace nuri::npu;

#include "nuri/Dialect/Npu/IR/NpuDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "nuri/Dialect/Npu/IR/NpuAttrs.cpp.inc"

#include "nuri/Dialect/Npu/IR/NpuInterfaces.cpp.inc"

void NpuDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "nuri/Dialect/Npu/IR/NpuOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "nuri/Dialect/Npu/IR/NpuAttrs.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "nuri/Dialect/Npu/IR/NpuOps.cpp.inc"

//===----------------------------------------------------------------------===//
// The planning passes' attributes
//===----------------------------------------------------------------------===//

LogicalResult BufferAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef space, int64_t offset) {
  if (space != "dram" && space != "shared" && space != "peer") {
    return emitError() << "memory space '" << space
                       << "' is not dram, shared or peer";
  }
  if (offset < 0 || offset % 256) {
    return emitError() << "offset " << offset
                       << " is not a non-negative multiple of 256";
  }
  return success();
}

LogicalResult GemmPlanAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t rowSlices, int64_t colSlices,
                                   int64_t sliceRows, int64_t sliceCols,
                                   int64_t blockRows, int64_t tileCols,
                                   int64_t kChunk, int64_t aBuffers,
                                   int64_t wBuffers, int64_t aPitch,
                                   bool multicastA, int64_t cycles) {
  for (auto [name, v] :
       {std::pair<const char *, int64_t>{"row_slices", rowSlices},
        {"col_slices", colSlices},
        {"slice_rows", sliceRows},
        {"slice_cols", sliceCols},
        {"block_rows", blockRows},
        {"tile_cols", tileCols},
        {"k_chunk", kChunk},
        {"a_pitch", aPitch}}) {
    if (v <= 0) {
      return emitError() << name << " must be positive, got " << v;
    }
  }
  if (aBuffers != 1 && aBuffers != 2) {
    return emitError() << "a_buffers must be 1 or 2, got " << aBuffers;
  }
  if (wBuffers < 0) {
    return emitError() << "w_buffers must be 0 (resident) or positive, got "
                       << wBuffers;
  }
  if (blockRows > sliceRows || tileCols > sliceCols) {
    return emitError() << "a " << blockRows << "x" << tileCols
                       << " block does not fit in a " << sliceRows << "x"
                       << sliceCols << " slice";
  }
  if (multicastA && colSlices < 2) {
    return emitError() << "multicast_a needs more than one column slice";
  }
  if (cycles < 0) {
    return emitError() << "cycles must not be negative, got " << cycles;
  }
  return success();
}

bool nuri::npu::isHeadSwapTranspose(Operation *op) {
  auto perm = op->getAttrOfType<DenseI64ArrayAttr>("permutation");
  return op->getName().getStringRef() == "nuri.transpose" && perm &&
         perm.asArrayRef() == ArrayRef<int64_t>{0, 2, 1, 3};
}

bool nuri::npu::isColumnSlice(Operation *op) {
  if (op->getName().getStringRef() != "nuri.slice" ||
      op->getNumOperands() != 1) {
    return false;
  }
  auto in = dyn_cast<RankedTensorType>(op->getOperand(0).getType());
  auto starts = op->getAttrOfType<DenseI64ArrayAttr>("starts");
  auto limits = op->getAttrOfType<DenseI64ArrayAttr>("limits");
  auto steps = op->getAttrOfType<DenseI64ArrayAttr>("steps");
  if (!in || !starts || !limits || !steps || in.getRank() == 0 ||
      int64_t(steps.size()) != in.getRank()) {
    return false;
  }
  for (int64_t d = 0; d < in.getRank(); ++d) {
    bool last = d + 1 == in.getRank();
    if (steps[d] != 1 ||
        (!last && (starts[d] != 0 || limits[d] != in.getDimSize(d)))) {
      return false;
    }
  }
  return true;
}

namespace {

LogicalResult verifyLayout(Operation *op, Attribute attr) {
  auto s = dyn_cast<StringAttr>(attr);
  if (!s) {
    return op->emitOpError("'") << kLayoutAttr << "' must be a string";
  }
  StringRef v = s.getValue();
  if (v == kLayoutAlias) {
    if (op->getName().getStringRef() != "nuri.reshape") {
      return op->emitOpError("'")
             << kLayoutAttr << "' = \"" << v << "\" applies to nuri.reshape";
    }
    return success();
  }
  if (v == kLayoutHeadSplit || v == kLayoutHeadMerge) {
    if (!isHeadSwapTranspose(op)) {
      return op->emitOpError("'")
             << kLayoutAttr << "' = \"" << v
             << "\" applies to a nuri.transpose with permutation [0, 2, 1, 3]";
    }
    return success();
  }
  if (v == kLayoutColumns) {
    if (!isColumnSlice(op)) {
      return op->emitOpError("'")
             << kLayoutAttr << "' = \"" << v
             << "\" applies to a unit-step nuri.slice of the last dimension";
    }
    return success();
  }
  return op->emitOpError("'")
         << kLayoutAttr << "' = \"" << v
         << "\" is not alias, head_split, head_merge or columns";
}

LogicalResult verifyBinding(Operation *op, NamedAttribute attr,
                            StringRef what) {
  auto b = dyn_cast<BufferAttr>(attr.getValue());
  StringRef want = attr.getName() == kStagedAttr ? "shared" : "dram";
  if (attr.getName() != kBufferAttr && attr.getName() != kStagedAttr) {
    return op->emitOpError("has unknown ")
           << what << " attribute '" << attr.getName().getValue() << "'";
  }
  if (attr.getName() == kStagedAttr && what != "argument") {
    return op->emitOpError("'") << kStagedAttr << "' applies to arguments";
  }
  if (!b || b.getSpace() != want) {
    return op->emitOpError("'") << attr.getName().getValue() << "' of " << what
                                << " must be a #npu.buffer in " << want
                                << ", got " << attr.getValue();
  }
  return success();
}

} // namespace

LogicalResult NpuDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (attr.getName() == kLayoutAttr) {
    return verifyLayout(op, attr.getValue());
  }
  if (attr.getName() == kBuffersAttr) {
    auto list = dyn_cast<ArrayAttr>(attr.getValue());
    if (!list || !llvm::all_of(list, llvm::IsaPred<BufferAttr>)) {
      return op->emitOpError("'")
             << kBuffersAttr << "' must be an array of #npu.buffer";
    }
    if (list.size() != op->getNumResults()) {
      return op->emitOpError("'")
             << kBuffersAttr << "' has " << list.size() << " entries for "
             << op->getNumResults() << " results";
    }
    return success();
  }
  if (attr.getName() == kPlanAttr) {
    if (!llvm::isa<GemmOp, QuantizedGemmOp>(op) ||
        !llvm::isa<GemmPlanAttr>(attr.getValue())) {
      return op->emitOpError("'")
             << kPlanAttr
             << "' must be a #npu.gemm_plan on an npu.gemm or "
                "npu.quantized_gemm";
    }
    return success();
  }
  if (attr.getName() == kDramBytesAttr) {
    auto n = dyn_cast<IntegerAttr>(attr.getValue());
    if (!n || n.getInt() < 0) {
      return op->emitOpError("'")
             << kDramBytesAttr << "' must be a non-negative integer";
    }
    return success();
  }
  return op->emitOpError("has unknown attribute '")
         << attr.getName().getValue() << "'";
}

LogicalResult NpuDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                   unsigned,
                                                   NamedAttribute attr) {
  return verifyBinding(op, attr, "argument");
}

LogicalResult NpuDialect::verifyRegionResultAttribute(Operation *op, unsigned,
                                                      unsigned,
                                                      NamedAttribute attr) {
  return verifyBinding(op, attr, "result");
}

LogicalResult QuantizeOp::verify() {
  auto it = cast<RankedTensorType>(getInput().getType());
  auto ot = cast<RankedTensorType>(getOutput().getType());
  if (!it.getElementType().isBF16() && !it.getElementType().isF16() &&
      !it.getElementType().isF32()) {
    return emitOpError("quantizes ")
           << it.getElementType() << "; the input must be bf16, f16 or f32";
  }
  const bool fp8 = llvm::isa<Float8E4M3FNType>(ot.getElementType());
  if (!ot.getElementType().isSignlessInteger(8) && !fp8) {
    return emitOpError("has result element type ")
           << ot.getElementType() << "; expected i8 or f8E4M3FN";
  }
  if (it.getShape() != ot.getShape()) {
    return emitOpError("has result shape ") << ot << " for an input of " << it;
  }
  float s = getScale().convertToFloat();
  if (!(s > 0) || !std::isfinite(s)) {
    return emitOpError("has scale ") << s << "; expected a finite value > 0";
  }
  if (getAct() != "none" && getAct() != "gelu" && getAct() != "gelu_tanh" &&
      getAct() != "relu") {
    return emitOpError("has act '")
           << getAct() << "'; expected none, gelu, gelu_tanh or relu";
  }
  // I64Attr's getter is unsigned.
  int64_t offset = int64_t(getOffset());
  if (offset < -255 || offset > 255 || (fp8 && offset != 0)) {
    return emitOpError("has offset ")
           << offset << "; expected a value in "
           << (fp8 ? "[0, 0] (fp8 has no zero point)" : "[-255, 255]");
  }
  return success();
}

LogicalResult QuantizedGemmOp::verify() {
  auto at = cast<RankedTensorType>(getA().getType());
  auto bt = cast<RankedTensorType>(getB().getType());
  auto ot = cast<RankedTensorType>(getOutput().getType());
  const bool fp8 = llvm::isa<Float8E4M3FNType>(at.getElementType());
  if (at.getElementType() != bt.getElementType() ||
      !(fp8 || at.getElementType().isSignlessInteger(8))) {
    return emitOpError("multiplies ")
           << at.getElementType() << " by " << bt.getElementType()
           << "; a and b must both be i8 or both f8E4M3FN";
  }
  if (at.getRank() < 2 || bt.getRank() != 2) {
    return emitOpError("expects a of rank >= 2 and b of rank 2, got ")
           << at.getRank() << " and " << bt.getRank();
  }
  int64_t k = at.getShape().back(), n = bt.getShape().back();
  if (bt.getDimSize(0) != k) {
    return emitOpError("contracts K = ")
           << k << " of a with " << bt.getDimSize(0) << " rows of b";
  }
  SmallVector<int64_t> want(at.getShape().begin(), at.getShape().end() - 1);
  want.push_back(n);
  if (ot.getShape() != ArrayRef<int64_t>(want)) {
    return emitOpError("has result ")
           << ot << "; a x b has shape [" << ArrayRef<int64_t>(want) << "]";
  }
  if (!ot.getElementType().isBF16() && !ot.getElementType().isF16() &&
      !ot.getElementType().isF32()) {
    return emitOpError("has result element type ")
           << ot.getElementType() << "; expected bf16, f16 or f32";
  }
  auto vector = [&](Value v, Type e, StringRef what) -> LogicalResult {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getRank() != 1 || t.getDimSize(0) != n || t.getElementType() != e) {
      return emitOpError("has ") << what << " of type " << t << "; expected "
                                 << RankedTensorType::get({n}, e);
    }
    return success();
  };
  Builder b(getContext());
  // The correction is added to the accumulator, in its type.
  if (failed(vector(getZpBias(),
                    fp8 ? Type(b.getF32Type()) : Type(b.getI32Type()),
                    "zp_bias")) ||
      failed(vector(getScale(), b.getF32Type(), "scale")) ||
      (getBias() && failed(vector(getBias(), b.getF32Type(), "bias")))) {
    return failure();
  }
  if (Value r = getResidual(); r && r.getType() != ot) {
    return emitOpError("has a residual of type ")
           << r.getType() << ", not the result type " << ot;
  }
  // Only read-outs that commute with the rounding to the output type: the
  // CPU runs the graph's activation after that rounding.
  if (getAct() != "none" && getAct() != "relu") {
    return emitOpError("has act '") << getAct() << "'; expected none or relu";
  }
  return success();
}

LogicalResult GemmOp::verify() {
  auto at = cast<RankedTensorType>(getA().getType());
  auto bt = cast<RankedTensorType>(getB().getType());
  auto ot = cast<RankedTensorType>(getOutput().getType());
  if (at.getRank() < 2 || bt.getRank() < 2) {
    return emitOpError("expects a and b of rank >= 2, got ")
           << at.getRank() << " and " << bt.getRank();
  }
  int64_t k = at.getShape().back(), n = bt.getShape().back();
  if (std::optional<uint64_t> bits = getBBits()) {
    // A compressed weight: i8 [K, N * bits / 8] and its scales.
    if (*bits != 8 && *bits != 4) {
      return emitOpError("has b_bits ") << *bits << "; expected 8 or 4";
    }
    if (!bt.getElementType().isSignlessInteger(8) || bt.getRank() != 2 ||
        !llvm::isa<FloatType>(at.getElementType())) {
      return emitOpError("with b_bits expects a float a and a 2-D i8 b, got ")
             << at << " and " << bt;
    }
    std::optional<uint64_t> group = getBGroup();
    Value scales = getBScales();
    if (!group || *group == 0 || !scales) {
      return emitOpError("with b_bits needs b_group >= 1 and b_scales");
    }
    int64_t groups = (k + int64_t(*group) - 1) / int64_t(*group);
    SmallVector<int64_t, 2> want;
    if (getBTransposed()) {
      // [N, K * bits / 8]: rows of K; a row of scales per row of N.
      if (bt.getDimSize(1) * 8 != k * int64_t(*bits)) {
        return emitOpError("with b_transposed expects b of ")
               << k * int64_t(*bits) / 8 << " bytes a row (K = " << k
               << "), got " << bt;
      }
      n = bt.getDimSize(0);
      want = {n, groups};
    } else {
      n = n * 8 / int64_t(*bits);
      want = {groups, n};
    }
    auto st = cast<RankedTensorType>(scales.getType());
    auto wantType = RankedTensorType::get(want, Float32Type::get(getContext()));
    if (st != wantType) {
      return emitOpError("has b_scales of type ")
             << st << "; expected " << wantType;
    }
  } else if (getBScales() || getBGroup() || getBTransposed()) {
    return emitOpError("has b_scales, b_group or b_transposed without b_bits");
  } else if (at.getElementType() != bt.getElementType()) {
    return emitOpError("multiplies ")
           << at.getElementType() << " by " << bt.getElementType()
           << "; a and b must have one element type";
  }
  if (!getBTransposed() && bt.getDimSize(bt.getRank() - 2) != k) {
    return emitOpError("contracts K = ")
           << k << " of a with " << bt.getDimSize(bt.getRank() - 2)
           << " rows of b";
  }
  SmallVector<int64_t> want;
  if (bt.getRank() == 2) {
    want.assign(at.getShape().begin(), at.getShape().end() - 1);
  } else {
    ArrayRef<int64_t> batch = bt.getShape().drop_back(2);
    if (at.getRank() != 2 && at.getShape().drop_back(2) != batch) {
      return emitOpError("has batch dims of a that are neither absent nor "
                         "those of b: ")
             << at << " and " << bt;
    }
    want.assign(batch.begin(), batch.end());
    want.push_back(at.getDimSize(at.getRank() - 2));
  }
  want.push_back(n);
  if (ot.getShape() != ArrayRef<int64_t>(want)) {
    return emitOpError("has result ")
           << ot << "; a x b has shape [" << ArrayRef<int64_t>(want) << "]";
  }
  if ((getBias() || getResidual()) && bt.getRank() != 2) {
    return emitOpError("fuses an epilogue into a batched GEMM (b is ")
           << bt << "); epilogues take a [K, N] b";
  }
  if (Value bias = getBias()) {
    auto t = cast<RankedTensorType>(bias.getType());
    if (t.getNumElements() != n) {
      return emitOpError("has a bias of ")
             << t.getNumElements() << " values for " << n << " columns";
    }
  }
  if (Value r = getResidual()) {
    if (r.getType() != ot) {
      return emitOpError("has a residual of type ")
             << r.getType() << ", not the result type " << ot;
    }
  }
  uint64_t act = 0;
  if (!nuri::isa::parseEnum(nuri::isa::FieldKind::Act, getAct().str(), act)) {
    // The read-out's activations are Isa.def's: list them from there.
    InFlightDiagnostic d = emitOpError("has act '")
                           << getAct() << "'; expected";
    unsigned n = nuri::isa::enumCount(nuri::isa::FieldKind::Act);
    for (unsigned i = 0; i < n; ++i) {
      d << (i ? ", " : " ")
        << nuri::isa::enumName(nuri::isa::FieldKind::Act, i);
    }
    return d;
  }
  return success();
}

namespace nuri::npu {

namespace {

struct NameMap {
  isa::Opcode opcode;
  const char *op;
};
// The op of each opcode (`end` is implicit: the emitter appends it).
constexpr NameMap kNames[] = {
    {isa::Opcode::SemWait, "sem_wait"},
    {isa::Opcode::SemSignal, "sem_signal"},
    {isa::Opcode::Barrier, "barrier"},
    {isa::Opcode::Repeat, "repeat"},
    {isa::Opcode::Nop, "nop"},
    {isa::Opcode::DmaCopy, "dma_copy"},
    {isa::Opcode::DmaMcast, "dma_mcast"},
    {isa::Opcode::DmaIdx, "dma_idx"},
    {isa::Opcode::DmaDq, "dma_dq"},
    {isa::Opcode::MatMul, "mm"},
    {isa::Opcode::VecBinary, "vec_binary"},
    {isa::Opcode::VecScalar, "vec_scalar"},
    {isa::Opcode::VecUnary, "vec_unary"},
    {isa::Opcode::VecReduce, "vec_reduce"},
    {isa::Opcode::VecBcast, "vec_bcast"},
    {isa::Opcode::VecTranspose, "vec_transpose"},
    {isa::Opcode::VecFill, "vec_fill"},
    {isa::Opcode::VecAccRead, "acc_read"},
};

const isa::OpcodeInfo *infoOf(Operation *op) {
  StringRef name = op->getName().stripDialect();
  for (const NameMap &n : kNames) {
    if (name == n.op) {
      return isa::opcodeInfo(n.opcode);
    }
  }
  return nullptr;
}

int64_t intAttr(Operation *op, StringRef name) {
  auto a = op->getAttrOfType<IntegerAttr>(name);
  return a ? a.getInt() : 0;
}

/// Checks every instruction shares: fields, then the queue.
LogicalResult verifyInstruction(Operation *op) {
  FailureOr<isa::Instruction> inst = toInstruction(op);
  if (failed(inst)) {
    return failure();
  }
  auto stream = op->getParentOfType<StreamOp>();
  isa::Engine engine;
  if (stream && isa::parseEngine(stream.getEngine().str(), engine) &&
      !isa::engineAccepts(engine, inst->opcode)) {
    return op->emitOpError("is not legal on the '")
           << stream.getEngine() << "' queue";
  }
  return success();
}

LogicalResult atLeastOne(Operation *op, ArrayRef<StringRef> names) {
  for (StringRef n : names) {
    if (intAttr(op, n) < 1) {
      return op->emitOpError("expects ")
             << n << " >= 1, got " << intAttr(op, n);
    }
  }
  return success();
}

} // namespace

StringRef opNameOf(isa::Opcode opcode) {
  for (const NameMap &n : kNames) {
    if (n.opcode == opcode) {
      return n.op;
    }
  }
  return "";
}

FailureOr<isa::Instruction> toInstruction(Operation *op) {
  const isa::OpcodeInfo *info = infoOf(op);
  if (!info) {
    return op->emitOpError("is not an instruction");
  }
  isa::Instruction inst(info->opcode);
  for (isa::Field f : info->fields) {
    const isa::FieldInfo &fi = isa::fieldInfo(f);
    Attribute a = op->getAttr(fi.mnemonic);
    if (!a) {
      return op->emitOpError("misses field '") << fi.mnemonic << "'";
    }
    switch (fi.kind) {
    case isa::FieldKind::Int:
    case isa::FieldKind::Addr:
    case isa::FieldKind::Label: {
      auto i = dyn_cast<IntegerAttr>(a);
      if (!i) {
        return op->emitOpError("field '")
               << fi.mnemonic << "' must be an integer";
      }
      int64_t v = i.getInt();
      if (v < 0 || (fi.bits < 64 && uint64_t(v) >> fi.bits)) {
        return op->emitOpError("field '")
               << fi.mnemonic << "' = " << v << " does not fit in " << fi.bits
               << " bits";
      }
      inst.set(f, uint64_t(v));
      break;
    }
    case isa::FieldKind::F32: {
      auto x = dyn_cast<FloatAttr>(a);
      if (!x) {
        return op->emitOpError("field '") << fi.mnemonic << "' must be a float";
      }
      inst.setImm(float(x.getValueAsDouble()));
      break;
    }
    default: {
      auto s = dyn_cast<StringAttr>(a);
      uint64_t v = 0;
      if (!s || !isa::parseEnum(fi.kind, s.getValue(), v)) {
        return op->emitOpError("field '")
               << fi.mnemonic << "' has no enumerator " << a;
      }
      inst.set(f, v);
      break;
    }
    }
  }
  return inst;
}

} // namespace nuri::npu

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

LogicalResult ProgramOp::verify() {
  llvm::DenseSet<std::pair<int64_t, StringRef>> seen;
  for (Operation &op : getBody().front()) {
    auto s = dyn_cast<StreamOp>(op);
    if (!s) {
      return emitOpError("holds only npu.stream ops, found ") << op.getName();
    }
    if (!seen.insert({s.getCore(), s.getEngine()}).second) {
      return s.emitOpError("duplicates the stream of core ")
             << s.getCore() << " engine " << s.getEngine();
    }
  }
  return success();
}

LogicalResult StreamOp::verify() {
  isa::Engine e;
  if (!isa::parseEngine(getEngine().str(), e)) {
    return emitOpError("has engine '")
           << getEngine() << "'; expected one of " << isa::engineNames(", ");
  }
  if (getCore() > 255) {
    return emitOpError("has core ") << getCore() << " outside [0, 255]";
  }
  return success();
}

LogicalResult SemWaitOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"count"});
}
LogicalResult SemSignalOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"count"});
}
LogicalResult BarrierOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"count"});
}
LogicalResult NopOp::verify() { return verifyInstruction(*this); }
LogicalResult RepeatOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"times"});
}
LogicalResult DmaCopyOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"bytes", "rows", "planes"});
}
LogicalResult DmaIdxOp::verify() {
  if (failed(verifyInstruction(*this)) ||
      failed(nuri::npu::atLeastOne(*this, {"bytes", "rows", "planes"}))) {
    return failure();
  }
  if (getIdxScale0() == 0 && getIdxScale1() == 0) {
    return emitOpError("expects idx_scale0 or idx_scale1 >= 1 (both are 0: "
                       "use dma_copy for a fixed address)");
  }
  return success();
}
LogicalResult DmaDqOp::verify() {
  if (failed(verifyInstruction(*this)) ||
      failed(nuri::npu::atLeastOne(*this,
                                   {"rows", "cols", "qgroup", "qcgroup"}))) {
    return failure();
  }
  if (getQbits() != 8 && getQbits() != 4) {
    return emitOpError("expects qbits 8 or 4, got ") << getQbits();
  }
  if (getQbits() == 4 && getCols() % 2 != 0) {
    return emitOpError("expects an even cols with qbits 4 (two values a "
                       "byte), got ")
           << getCols();
  }
  return success();
}
LogicalResult DmaMcastOp::verify() {
  if (failed(verifyInstruction(*this)) ||
      failed(
          nuri::npu::atLeastOne(*this, {"cores", "bytes", "rows", "planes"}))) {
    return failure();
  }
  return success();
}
LogicalResult MmOp::verify() {
  if (failed(verifyInstruction(*this)) ||
      failed(nuri::npu::atLeastOne(*this, {"m", "n", "k"}))) {
    return failure();
  }
  isa::Dtype a, b;
  uint64_t av = 0, bv = 0;
  isa::parseEnum(isa::FieldKind::Dtype, getAtype(), av);
  isa::parseEnum(isa::FieldKind::Dtype, getBtype(), bv);
  a = isa::Dtype(av);
  b = isa::Dtype(bv);
  bool ok = (a == isa::Dtype::I8 && b == isa::Dtype::I8) ||
            (a == b && (a == isa::Dtype::BF16 || a == isa::Dtype::F16)) ||
            (isa::isFp8(a) && isa::isFp8(b));
  if (!ok) {
    return emitOpError("multiplies ")
           << getAtype() << " by " << getBtype()
           << "; legal pairs are i8 x i8, equal bf16/f16, fp8 x fp8";
  }
  return success();
}
LogicalResult AccReadOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"m", "n"});
}
LogicalResult VecBinaryOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"rows", "cols"});
}
LogicalResult VecScalarOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"rows", "cols"});
}
LogicalResult VecUnaryOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"rows", "cols"});
}
LogicalResult VecReduceOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"rows", "cols"});
}
LogicalResult VecBcastOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"rows", "cols"});
}
LogicalResult VecTransposeOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"rows", "cols"});
}
LogicalResult VecFillOp::verify() {
  if (failed(verifyInstruction(*this))) {
    return failure();
  }
  return nuri::npu::atLeastOne(*this, {"rows", "cols"});
}
