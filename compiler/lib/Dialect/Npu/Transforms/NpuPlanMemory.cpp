//===- NpuPlanMemory.cpp - DRAM and shared-SRAM placement with liveness ---===//
//
// Gives every tensor of a partition its place (#npu.buffer) in the order
// the kernels will run: inputs, staged inputs, constants laid out as the
// kernels read them, intermediates in the shared SRAM while they fit (on a
// chip without one, in the peer pools of the cores' own SRAM), outputs. Each
// kernel ends with a chip-wide barrier, so a buffer is free for the next kernel
// as soon as the last kernel reading it has run.
//
//===----------------------------------------------------------------------===//

#include "NpuPlan.h"

#include "NpuKernels.h"

#include "nuri/Dialect/Npu/Transforms/Passes.h"
#include "nuri/Dialect/Nuri/IR/NuriTarget.h"

#include "llvm/ADT/DenseSet.h"

#include <map>

namespace nuri::npu {
#define GEN_PASS_DEF_NPUPLANMEMORY
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"
} // namespace nuri::npu

using namespace mlir;

namespace nuri::npu {
namespace {

struct Place {
  bool shared = false;
  uint64_t offset = 0;
  /// In the peer pools (peerPoolBytes) instead: `offset` is in the flat
  /// space of every core's pool, one after the other.
  bool peer = false;
  bool onChip() const { return shared || peer; }
};

class MemoryPlanner {
public:
  MemoryPlanner(func::FuncOp func, const target::Target &t)
      : func_(func), t_(t), pool_(peerPoolBytes(t)) {}

  LogicalResult run();

private:
  uint64_t allocDram(uint64_t bytes) {
    uint64_t at = dramTop_;
    dramTop_ = (dramTop_ + bytes + 255) & ~uint64_t(255);
    return at;
  }
  /// First fit in the shared SRAM among the buffers still live.
  std::optional<uint64_t> placeShared(uint64_t bytes, int64_t lastUse) {
    bytes = (bytes + 255) & ~uint64_t(255);
    uint64_t cursor = 0;
    for (auto &[at, buf] : shared_) {
      if (at - cursor >= bytes) {
        break;
      }
      cursor = at + buf.first;
    }
    if (cursor + bytes > t_.sram.sharedBytes) {
      return std::nullopt;
    }
    shared_[cursor] = {bytes, lastUse};
    return cursor;
  }
  /// First fit in the peer pools among the buffers still live; a buffer
  /// lies in one core's pool (a DMA names one peer core).
  std::optional<uint64_t> placePeer(uint64_t bytes, int64_t lastUse) {
    bytes = (bytes + 255) & ~uint64_t(255);
    if (pool_ == 0 || bytes > pool_) {
      return std::nullopt;
    }
    auto inOnePool = [&](uint64_t at) {
      if (at / pool_ != (at + bytes - 1) / pool_) {
        return (at / pool_ + 1) * pool_;
      }
      return at;
    };
    uint64_t cursor = 0;
    for (auto &[at, buf] : peer_) {
      cursor = inOnePool(cursor);
      if (cursor + bytes <= at) {
        break;
      }
      cursor = std::max(cursor, at + buf.first);
    }
    cursor = inOnePool(cursor);
    if (cursor + bytes > pool_ * t_.cores) {
      return std::nullopt;
    }
    peer_[cursor] = {bytes, lastUse};
    return cursor;
  }
  void releaseShared(int64_t opIndex) {
    for (auto *live : {&shared_, &peer_}) {
      for (auto it = live->begin(); it != live->end();) {
        it = it->second.second < opIndex ? live->erase(it) : std::next(it);
      }
    }
  }
  /// A tensor an op computes: shared SRAM when it fits beside the live
  /// ones and is not a partition output, or on a chip without shared SRAM
  /// a peer pool, else DRAM.
  void alloc(Value v) {
    if (places_.count(v)) {
      return;
    }
    if (!outputRoots_.count(v)) {
      if (std::optional<uint64_t> s =
              placeShared(bytesOf(v), lastUse_.lookup(v))) {
        places_[v] = Place{true, *s};
        return;
      }
      if (!peerBarred_.count(v)) {
        if (std::optional<uint64_t> s =
                placePeer(bytesOf(v), lastUse_.lookup(v))) {
          places_[v] = Place{false, *s, true};
          return;
        }
      }
    }
    places_[v] = Place{false, allocDram(bytesOf(v))};
  }
  /// A value a kernel reads: constants get their DRAM on first read.
  /// `integers`: the reader is an int8 kernel, which reads i8 and i32
  /// constants.
  LogicalResult read(Value v, bool integers = false);
  void planLiveness(Block &body);
  LogicalResult planOp(Operation *op, int64_t index);
  BufferAttr attr(const Place &p) {
    return BufferAttr::get(func_.getContext(),
                           p.peer     ? "peer"
                           : p.shared ? "shared"
                                      : "dram",
                           int64_t(p.offset));
  }

  func::FuncOp func_;
  const target::Target &t_;
  uint64_t dramTop_ = 0;
  llvm::DenseMap<Value, Place> places_;
  /// Liveness: the index of the last op reading a buffer through any view.
  llvm::DenseMap<Value, int64_t> lastUse_;
  llvm::DenseSet<Value> outputRoots_;
  /// cache_write results that are their cache input's buffer.
  llvm::DenseSet<Value> inPlace_;
  /// DRAM offsets of constants.
  SmallVector<uint64_t> constants_;
  /// Shared-SRAM buffers: offset -> (bytes, last use).
  std::map<uint64_t, std::pair<uint64_t, int64_t>> shared_;
  /// Bytes of each core's peer pool (0: the target has shared SRAM) and
  /// the peer buffers live, as shared_.
  uint64_t pool_;
  std::map<uint64_t, std::pair<uint64_t, int64_t>> peer_;
  /// Buffers kept off the peer pools: those of kernels that address them
  /// with a run-time index (dma.idx, gathers and KV caches), where the
  /// descriptor's one peer core could be needed on both sides.
  llvm::DenseSet<Value> peerBarred_;
};

LogicalResult MemoryPlanner::read(Value v, bool integers) {
  Value root = bufferRoot(v);
  if (places_.count(root) || !isConstantExpr(root)) {
    return success();
  }
  auto t = tensorOf(root);
  std::optional<isa::Dtype> d =
      integers ? storageType(t.getElementType()) : isaType(t.getElementType());
  if (!d) {
    return root.getDefiningOp()->emitError("constant of type ")
           << root.getType() << " is not a float tensor the NPU reads";
  }
  // Refused here, before the lowering materializes anything: a weight
  // beyond DRAM is an error at the constant, not an allocation of its
  // bytes on the host.
  uint64_t need = uint64_t(t.getNumElements()) * elemBytes(*d);
  if (dramTop_ + need > t_.dram.bytes) {
    Operation *at = root.getDefiningOp(); // named at the weight itself
    while (!llvm::isa<ConstantOp>(at) && at->getNumOperands()) {
      at = at->getOperand(0).getDefiningOp();
    }
    return at->emitError("constant of ")
           << need << " B does not fit in the " << t_.dram.bytes
           << " B of DRAM of target " << t_.name << " (" << dramTop_
           << " B already planned)";
  }
  uint64_t at = allocDram(need);
  places_[root] = {false, at};
  constants_.push_back(at);
  return success();
}

void MemoryPlanner::planLiveness(Block &body) {
  int64_t index = 0;
  for (Operation &op : body) {
    const bool indexed =
        llvm::isa<CacheWriteOp, CacheAttentionOp>(op) ||
        (llvm::isa<GatherOp>(op) && !isConstantExpr(op.getOperand(1)));
    for (Value in : kernelOperands(&op)) {
      Value r = bufferRoot(in);
      lastUse_[r] = std::max(lastUse_.lookup(r), index);
      if (indexed) {
        peerBarred_.insert(r);
      }
    }
    if (indexed) {
      for (Value r : op.getResults()) {
        peerBarred_.insert(bufferRoot(r));
      }
    }
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands()) {
        outputRoots_.insert(bufferRoot(v));
      }
    }
    ++index;
  }
}

LogicalResult MemoryPlanner::planOp(Operation *op, int64_t index) {
  // Views, constant expressions (placed on first read) and the head merge
  // an attention writes own no buffer of their own here.
  if (op->getNumResults() == 0 || llvm::isa<ConstantOp>(op) ||
      !layoutOf(op->getResult(0)).empty() || isConstantExpr(op->getResult(0))) {
    return success();
  }
  // Integer constants: the int8 GEMM's, and a weight-only GEMM's
  // compressed weight (npu.gemm b_bits).
  auto gemm = dyn_cast<GemmOp>(op);
  const bool integers =
      llvm::isa<QuantizedGemmOp>(op) || (gemm && gemm.getBBits());
  auto readAll = [&](ValueRange vs) {
    for (Value v : vs) {
      if (failed(read(v, integers))) {
        return failure();
      }
    }
    return success();
  };
  if (auto att = dyn_cast<AttentionOp>(op)) {
    if (failed(readAll(kernelOperands(op)))) {
      return failure();
    }
    Value out = att.getOutput();
    Operation *user = out.hasOneUse() ? *out.getUsers().begin() : nullptr;
    if (user && user->getNumResults() == 1 &&
        layoutOf(user->getResult(0)) == kLayoutHeadMerge) {
      out = user->getResult(0); // the attention writes the merged heads
    }
    alloc(out);
    return success();
  }
  // A KV-cache write whose cache is a partition input (the program's
  // device-resident state) that nothing reads after it writes in place:
  // its result is the input's buffer, so only the new rows move.
  if (auto cw = dyn_cast<CacheWriteOp>(op)) {
    Value c = bufferRoot(cw.getCache());
    auto it = places_.find(c);
    if (llvm::isa<BlockArgument>(c) && it != places_.end() &&
        !it->second.onChip() && !outputRoots_.count(c) &&
        lastUse_.lookup(c) <= index) {
      places_[cw.getOutput()] = it->second;
      inPlace_.insert(cw.getOutput());
      return readAll(kernelOperands(op));
    }
    // Otherwise a copy of the cache, still in DRAM: the cache kernels
    // address caches there (dma.idx moves a DRAM row).
    if (failed(readAll(kernelOperands(op)))) {
      return failure();
    }
    places_[cw.getOutput()] = {false, allocDram(bytesOf(cw.getOutput()))};
    return success();
  }
  // A concat's kernel takes its destination before its sources.
  if (llvm::isa<ConcatOp>(op)) {
    alloc(op->getResult(0));
    return readAll(kernelOperands(op));
  }
  if (failed(readAll(kernelOperands(op)))) {
    return failure();
  }
  for (Value r : op->getResults()) {
    alloc(r);
  }
  return success();
}

LogicalResult MemoryPlanner::run() {
  if (!func_.getBody().hasOneBlock()) {
    return func_.emitError("npu partition must have one block");
  }
  Block &body = func_.getBody().front();
  auto ret = dyn_cast<func::ReturnOp>(body.getTerminator());
  if (!ret) {
    return func_.emitError("npu partition has no return");
  }
  planLiveness(body);
  MLIRContext *ctx = func_.getContext();
  // Inputs first, so their addresses are stable and small.
  for (BlockArgument arg : body.getArguments()) {
    auto t = tensorOf(arg);
    // Integer inputs are run-time indices a DMA reads its address from (a
    // KV-cache write's slots and positions, a cache attention's slots, a
    // gather's run-time rows), never computed on.
    auto isIndexUse = [](OpOperand &u) {
      return (llvm::isa<CacheWriteOp>(u.getOwner()) &&
              u.getOperandNumber() >= 2) ||
             (llvm::isa<CacheAttentionOp>(u.getOwner()) &&
              u.getOperandNumber() == 3) ||
             (llvm::isa<GatherOp>(u.getOwner()) && u.getOperandNumber() == 1);
    };
    bool indices = t && t.getElementType().isSignlessInteger() &&
                   !arg.use_empty() && llvm::all_of(arg.getUses(), isIndexUse);
    if (!t || (!isaType(t.getElementType()) && !indices)) {
      return func_.emitError("partition argument ")
             << arg.getArgNumber() << " has type " << arg.getType()
             << "; the NPU takes bf16, f16 or f32 tensors (integers only as "
                "run-time indices: a cache_write's, a cache_attention's, a "
                "gather's)";
    }
    places_[arg] = {false, allocDram(bytesOf(arg))};
    func_.setArgAttr(arg.getArgNumber(), kBufferAttr, attr(places_[arg]));
    func_.removeArgAttr(arg.getArgNumber(), kStagedAttr);
  }
  // An input every core re-reads as a GEMM's A operand is staged once into
  // the shared SRAM: one DRAM read, then the NoC, instead of one DRAM read
  // per column slice. Worth it when the GEMM is weight-dominated (wide,
  // split over many column slices); for a large A the serialized copy
  // costs more than the re-reads it saves. The threshold was tuned on
  // single projections: a merged one (B a concat) counts per projection
  // (staging the 1.5 MB A of bert-base's QKV GEMM at batch 8 costs 0.5%).
  auto weightBytes = [](GemmOp g) {
    auto c = g.getB().getDefiningOp<ConcatOp>();
    return bytesOf(g.getB()) / (c ? c.getInputs().size() : 1);
  };
  for (BlockArgument arg : body.getArguments()) {
    bool isA = llvm::any_of(arg.getUses(), [&](OpOperand &u) {
      auto g = dyn_cast<GemmOp>(u.getOwner());
      return g && u.getOperandNumber() == 0 &&
             2 * bytesOf(arg) <= weightBytes(g);
    });
    if (!isA) {
      continue;
    }
    if (std::optional<uint64_t> at =
            placeShared(bytesOf(arg), lastUse_.lookup(arg))) {
      places_[arg] = {true, *at};
      func_.setArgAttr(arg.getArgNumber(), kStagedAttr, attr(places_[arg]));
    }
  }
  int64_t index = 0;
  for (Operation &op : body.without_terminator()) {
    releaseShared(index++);
    if (failed(planOp(&op, index - 1))) {
      return failure();
    }
  }
  // Outputs: a DRAM buffer each; a value in the shared SRAM or aliasing an
  // input, a constant or another output is copied to a fresh one.
  llvm::DenseSet<uint64_t> taken;
  for (BlockArgument arg : body.getArguments()) {
    taken.insert(
        cast<BufferAttr>(func_.getArgAttr(arg.getArgNumber(), kBufferAttr))
            .getOffset());
  }
  taken.insert(constants_.begin(), constants_.end());
  llvm::DenseSet<uint64_t> returned;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto t = tensorOf(v);
    if (!t || !isaType(t.getElementType())) {
      return ret.emitError("partition result ")
             << i << " has type " << v.getType()
             << "; the NPU returns bf16, f16 or f32 tensors";
    }
    if (failed(read(v))) {
      return failure();
    }
    Place p = places_.lookup(bufferRoot(v));
    // An in-place cache write's result is its input's buffer by design.
    bool own = inPlace_.count(bufferRoot(v)) && !returned.count(p.offset);
    returned.insert(p.offset);
    if (p.onChip() || (taken.count(p.offset) && !own)) {
      p = {false, allocDram(bytesOf(v))};
    }
    taken.insert(p.offset);
    func_.setResultAttr(i, kBufferAttr, attr(p));
  }
  if (dramTop_ > t_.dram.bytes) {
    return func_.emitError("npu partition needs ")
           << dramTop_ << " B of DRAM (weights, inputs, outputs and "
           << "intermediates), target " << t_.name << " has " << t_.dram.bytes;
  }
  // Record the plan: one buffer per result of the ops that own one.
  for (Operation &op : body) {
    op.removeAttr(kBuffersAttr);
    if (op.getNumResults() == 0 || !llvm::all_of(op.getResults(), [&](Value r) {
          return places_.count(r) != 0;
        })) {
      continue;
    }
    SmallVector<Attribute> bufs;
    for (Value r : op.getResults()) {
      bufs.push_back(attr(places_[r]));
    }
    op.setAttr(kBuffersAttr, ArrayAttr::get(ctx, bufs));
  }
  func_->setAttr(kDramBytesAttr,
                 IntegerAttr::get(IntegerType::get(ctx, 64), dramTop_));
  return success();
}

struct NpuPlanMemoryPass : impl::NpuPlanMemoryBase<NpuPlanMemoryPass> {
  using NpuPlanMemoryBase::NpuPlanMemoryBase;

  LogicalResult initialize(MLIRContext *ctx) override {
    return target_.load(ctx, target);
  }

  void runOnOperation() override {
    const target::Target *t = target_.resolve(getOperation());
    if (!t || failed(MemoryPlanner(getOperation(), *t).run())) {
      signalPassFailure();
    }
  }

  /// The target the option names, when it names one.
  TargetOption target_;
};

} // namespace

} // namespace nuri::npu
