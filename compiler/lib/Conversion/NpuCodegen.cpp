//===- NpuCodegen.cpp - NPU partitions to ISA programs --------------------===//
//
// compileNpuPartition: runs the planning passes (npu-fuse-epilogues,
// npu-select-layouts, npu-plan-memory, npu-plan-kernels) on a copy of the
// partition, then asks each op's kernel (NpuKernelOpInterface, one file
// per kernel in compiler/lib/Dialect/Npu/Kernels) for its cost and to emit
// itself at the buffers the plan gave it; the program is checked by
// npu-verify-sync as an npu.program and serialized from it. claimsOp: what
// the NPU runs, as each op's kernel answers.
//
//===----------------------------------------------------------------------===//

#include "nuri/Conversion/NpuCodegen.h"

#include "KernelContext.h"
#include "NpuKernels.h"
#include "NpuPlan.h"

#include "nuri/Conversion/NpuProgram.h"
#include "nuri/Dialect/Npu/Transforms/Passes.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/IR/NuriTarget.h"
#include "nuri/Dialect/Nuri/IR/WeightOnly.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <fmt/format.h>

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
  // Run-time indices (a KV-cache write's slots and positions).
  if (t.isSignlessInteger(64)) {
    return graph::DType::I64;
  }
  if (t.isSignlessInteger(32)) {
    return graph::DType::I32;
  }
  return std::nullopt;
}

/// Why the NPU cannot run `op` on `target`; empty when it can.
std::string whyNot(Operation *op, const target::Target &t) {
  // The int8 and fp8 paths: 8-bit tensors, which only these ops hold on
  // the NPU.
  if (llvm::isa<nuri::QuantizeOp, QuantizedMatmulOp>(op)) {
    isa::Dtype tiles =
        quantizedTileType(tensorOf(op->getOperand(0)).getElementType());
    if (auto q = dyn_cast<nuri::QuantizeOp>(op)) {
      tiles = quantizedTileType(tensorOf(q.getOutput()).getElementType());
    }
    if (!t.supports(tiles)) {
      return fmt::format("the {} matrix engine has no {} path", t.name,
                         isa::dtypeName(tiles));
    }
    if (auto q = dyn_cast<nuri::QuantizeOp>(op)) {
      return quantizeFormProblem(q);
    }
    return quantizedMatmulFormProblem(cast<QuantizedMatmulOp>(op));
  }
  if (llvm::isa<npu::QuantizeOp, QuantizedGemmOp>(op)) {
    return cast<NpuKernelOpInterface>(op).getNpuIllegalReason(t);
  }
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
  if (auto kernel = dyn_cast<NpuKernelOpInterface>(op)) {
    return kernel.getNpuIllegalReason(t);
  }
  return llvm::TypeSwitch<Operation *, std::string>(op)
      .Case([&](ConstantOp c) -> std::string { return ""; })
      .Case<DequantizeOp, DequantizeBlockedOp>([&](Operation *d) {
        // A weight stored quantized: its reader reads it (isConstantExpr).
        return isConstantExpr(d->getResult(0))
                   ? std::string()
                   : fmt::format("no NPU lowering for '{}' of a computed "
                                 "tensor",
                                 d->getName().getStringRef().str());
      })
      .Case<LinearOp, MatmulOp>([&](Operation *g) -> std::string {
        if (std::string r = matrixType(g->getOperand(0)); !r.empty()) {
          return r;
        }
        return gemmFormProblem(g);
      })
      .Case([&](ReshapeOp) -> std::string { return ""; })
      .Default([&](Operation *o) -> std::string {
        return fmt::format("no NPU lowering for '{}'",
                           o->getName().getStringRef().str());
      });
}

//===----------------------------------------------------------------------===//
// The lowering of one partition
//===----------------------------------------------------------------------===//

class PartitionLowering : public KernelContext {
public:
  /// `source` is the partition as the caller has it: estimates name its
  /// ops (an npu.gemm by the linear or matmul it was formed from).
  PartitionLowering(func::FuncOp func, func::FuncOp source,
                    const target::Target &t, const CodegenOptions &options)
      : KernelContext(func, t), func_(func), t_(t), options_(options),
        emit_(t) {
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
  /// Where the kernels find `v` (plannedAddress); a constant expression's
  /// bytes are materialized on first use.
  FailureOr<uint64_t> addressOf(Value v) override;
  KernelEmitter *emitter() override { return &emit_; }
  LogicalResult materialize(Value root, uint64_t at);
  LogicalResult lower(Operation *op);

  func::FuncOp func_;
  const target::Target &t_;
  const CodegenOptions &options_;
  KernelEmitter emit_;
  llvm::DenseSet<Value> materialized_;
  llvm::DenseMap<Location, StringRef> gemmSources_;
  CompiledPartition out_;
};

LogicalResult PartitionLowering::materialize(Value root, uint64_t at) {
  if (!options_.constantBytes) {
    // The program only: where the constant goes and how large it is.
    out_.constants.push_back({at, bytesOf(root), {}});
    return success();
  }
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
  uint64_t size = bytes.size();
  out_.constants.push_back({at, size, std::move(bytes)});
  return success();
}

FailureOr<uint64_t> PartitionLowering::addressOf(Value v) {
  FailureOr<uint64_t> at = plannedAddress(v);
  if (failed(at)) {
    return failure();
  }
  Value root = bufferRoot(v);
  if (isConstantExpr(root) && !materialized_.contains(root)) {
    // Constants live in DRAM, at the untagged offset of their buffer.
    FailureOr<uint64_t> rootAt = plannedAddress(root);
    materialized_.insert(root);
    if (failed(rootAt) || failed(materialize(root, *rootAt & ~kSharedTag))) {
      return failure();
    }
  }
  return at;
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
  auto kernel = dyn_cast<NpuKernelOpInterface>(op);
  if (!kernel) {
    if (llvm::isa<LinearOp, MatmulOp>(op)) {
      return op->emitOpError("reached the NPU lowering without "
                             "npu-fuse-epilogues");
    }
    if (llvm::isa<ReshapeOp>(op)) {
      return op->emitOpError("reached the NPU lowering without "
                             "npu-select-layouts");
    }
    return op->emitOpError("has no NPU kernel");
  }
  unsigned kernelsBefore = emit_.kernelCount();
  try {
    FailureOr<KernelCost> cost = kernel.getNpuKernelCost(*this);
    if (failed(cost) || failed(kernel.emitNpuKernel(*this))) {
      return failure();
    }
    std::string location;
    llvm::raw_string_ostream os(location);
    os << op->getLoc();
    // Ops that move nothing (an empty copy) cost nothing.
    unsigned kernels = emit_.kernelCount() - kernelsBefore;
    out_.estimates.push_back({std::move(location), kindOf(op),
                              kernels ? cost->cycles : 0, kernelsBefore,
                              kernels});
    return success();
  } catch (const Error &e) {
    // The ISA builder (backends/) refuses a malformed instruction by
    // throwing; the kernels themselves return their errors.
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
    FailureOr<uint64_t> at = addressOf(v);
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

/// A constant expression's values in row-major order, as doubles (every
/// dtype the NPU reads is exact in a double).
FailureOr<std::vector<double>> evaluate(Value v) {
  if (!isConstantExpr(v)) {
    return failure();
  }
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
  if (llvm::isa<DequantizeOp, DequantizeBlockedOp>(op)) {
    // A quantized weight whose GEMM does not read it compressed: the CPU
    // kernel's arithmetic, as nuri-fold-weight-dequantize folds it.
    FailureOr<ElementsAttr> x = evaluateWeightDequantize(op);
    if (failed(x)) {
      return op->emitError("cannot expand the quantized weight at compile "
                           "time (its operands are not constants)");
    }
    return readAsDouble(*x);
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
  if (!npuKernelsRegistered(op->getContext())) {
    reason = "the NPU kernels are not registered with this context "
             "(npu::registerNpuKernels)";
    return false;
  }
  reason = whyNot(op, target);
  return reason.empty();
}

void buildNpuPlanningPipeline(OpPassManager &pm) {
  pm.addPass(createNpuFuseEpilogues());
  pm.addPass(createNpuSelectLayouts());
  pm.addPass(createNpuPlanMemory());
  pm.addPass(createNpuPlanKernels());
}

/// The #nuri.target of the nearest op enclosing `op` that has one and whose
/// parse is `t` itself, else null.
static TargetAttr enclosingTargetAttr(Operation *op, const target::Target &t) {
  for (Operation *at = op; at; at = at->getParentOp()) {
    if (auto attr = at->getAttrOfType<TargetAttr>(kTargetAttrName)) {
      const Result<target::Target> &parsed = getParsedTarget(attr);
      return parsed && &*parsed == &t ? attr : TargetAttr();
    }
  }
  return {};
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
  if (!npuKernelsRegistered(partition.getContext())) {
    return partition.emitError("the NPU kernels are not registered with this "
                               "context (npu::registerNpuKernels)");
  }
  MLIRContext *ctx = partition.getContext();
  ctx->getOrLoadDialect<NpuDialect>();
  // The passes rewrite and annotate a copy: the caller's function stays
  // the graph (the packager counts its ops, --emit mlir prints it).
  OwningOpRef<ModuleOp> work = ModuleOp::create(partition.getLoc());
  work->getBody()->push_back(partition.clone());
  // The planning passes read the target from the module, as everywhere:
  // the partition's own #nuri.target when it is the one given (nuri
  // compile), else `target` attached with its config (a test's target, or
  // convert-nuri-to-npu's option naming another one).
  if (TargetAttr attr = enclosingTargetAttr(partition, target)) {
    (*work)->setAttr(kTargetAttrName, attr);
  } else {
    attachTarget(*work, target, /*embedConfig=*/true);
  }
  auto func = cast<func::FuncOp>(work->getBody()->front());
  // --dump-ir-after-all prints every pass of the lowering: the planned
  // partition after each planning pass, then the npu.program.
  auto printing = [&](PassManager &pm) {
    if (!options.dumpIrAfterAll) {
      return;
    }
    pm.enableIRPrinting(
        [](Pass *, Operation *) { return false; },
        [](Pass *, Operation *) { return true; },
        /*printModuleScope=*/false, /*printAfterOnlyOnChange=*/false,
        /*printAfterOnlyOnFailure=*/false, llvm::errs(),
        OpPrintingFlags().elideLargeElementsAttrs(16).elideLargeResourceString(
            64));
  };
  PassManager pm(ctx);
  printing(pm);
  buildNpuPlanningPipeline(pm.nest<func::FuncOp>());
  if (failed(pm.run(*work))) {
    return failure();
  }
  PartitionLowering lowering(func, partition, target, options);
  FailureOr<CompiledPartition> part = lowering.run();
  if (failed(part)) {
    return failure();
  }
  // The kernels' streams as an npu.program, which npu-verify-sync checks
  // in every compile; the binary is serialized from it, last.
  OwningOpRef<ModuleOp> programs = ModuleOp::create(partition.getLoc());
  OpBuilder b = OpBuilder::atBlockEnd(programs->getBody());
  ProgramOp program =
      importProgram(b, partition.getLoc(), (partition.getName() + "_npu").str(),
                    *part, target.name);
  PassManager check(ctx);
  printing(check);
  check.nest<ProgramOp>().addPass(createNpuVerifySync());
  if (failed(check.run(*programs))) {
    return failure();
  }
  FailureOr<isa::Program> binary = emitProgram(program);
  if (failed(binary)) {
    return failure();
  }
  part->program = std::move(*binary);
  return part;
}

} // namespace nuri::npu
