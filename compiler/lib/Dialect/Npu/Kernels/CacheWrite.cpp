//===- CacheWrite.cpp - nuri.cache_write as an NPU kernel -----------------===//
//
// A generation step writes the new K/V rows of each sequence into its KV
// cache at the slot and position the host chose for this step
// (docs/generation.md). Those are run-time values, so every row is one
// `dma.idx` (docs/isa.md): the update rows of batch row b, one plane per
// head, land at
//   cache + kv_slots[b] * heads * max_seq * row + kv_positions[b] * row
// with both indices read from the step's inputs in DRAM. The CPU kernel
// checks that the slots are distinct, which is what lets the rows go to
// several cores' DMA queues at once.
//
// The op is pure: its result is the cache with the rows replaced. When the
// memory plan gives the result the cache's own buffer (the in-place state of
// a device-resident cache), only the rows move; otherwise the cache is first
// copied to the result (a kernel of its own, so the rows land after it).
//
// The kernel is legal only where the cache stays on the device: the cache
// is the program's state, which a device keeps at device addresses shared
// by the family's programs (docs/runtime.md), and every reader of the
// result must run on the NPU too (nuri.cache_attention, CacheAttention.cpp);
// otherwise the whole cache would cross the host-device boundary instead of
// a few rows. The memory plan gives the result the cache's own buffer when
// the cache is a partition input nothing else reads afterwards.
//
//===----------------------------------------------------------------------===//

#include "KernelContext.h"
#include "KernelSupport.h"
#include "NpuPlan.h"

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <fmt/format.h>

using namespace mlir;

namespace nuri::npu {

namespace {

/// One batch row's write: the box of its update rows and where the indices
/// that move its destination are.
struct RowWrite {
  isa::DmaDesc box;
  isa::DmaIndex index;
};

/// The kernel `op` is with its operands at `addressOf`: whether the cache
/// must be copied to the result first, and the row writes.
struct CacheWriteForm {
  std::optional<isa::DmaDesc> copy;
  std::vector<RowWrite> rows;
};

/// Bytes of one element of an index tensor (i32 or i64). dma.idx reads a
/// little-endian i32: the low word of an i64 index below 2^31 is its value.
std::optional<uint64_t> indexBytes(Value v) {
  auto t = tensorOf(v);
  if (!t || !t.getElementType().isSignlessInteger()) {
    return std::nullopt;
  }
  unsigned w = t.getElementTypeBitWidth();
  return w == 32 || w == 64 ? std::optional<uint64_t>(w / 8) : std::nullopt;
}

FailureOr<CacheWriteForm>
describe(CacheWriteOp op, function_ref<FailureOr<uint64_t>(Value)> addressOf) {
  auto ct = tensorOf(op.getCache()), ut = tensorOf(op.getUpdate());
  uint64_t e = std::max<unsigned>(1, ct.getElementTypeBitWidth() / 8);
  int64_t batch = ut.getDimSize(0), heads = ut.getDimSize(1);
  int64_t tokens = ut.getDimSize(2), dim = ut.getDimSize(3);
  int64_t maxSeq = ct.getDimSize(2);
  FailureOr<uint64_t> cache = addressOf(op.getCache());
  FailureOr<uint64_t> update = addressOf(op.getUpdate());
  FailureOr<uint64_t> slots = addressOf(op.getSlots());
  FailureOr<uint64_t> positions = addressOf(op.getPositions());
  FailureOr<uint64_t> out = addressOf(op.getOutput());
  if (failed(cache) || failed(update) || failed(slots) || failed(positions) ||
      failed(out)) {
    return failure();
  }
  // The indices are inputs the host writes each step: always DRAM (only a
  // GEMM operand is ever staged into the shared SRAM).
  if (kernel::spaceOf(*slots) != isa::Space::Dram ||
      kernel::spaceOf(*positions) != isa::Space::Dram) {
    return op.emitOpError("expects kv_slots and kv_positions in DRAM (dma.idx "
                          "reads its indices from DRAM)");
  }
  CacheWriteForm form;
  if (*out != *cache) {
    isa::DmaDesc c;
    c.srcSpace = c.dstSpace = isa::Space::Dram;
    c.src = *cache;
    c.dst = *out;
    c.bytes = bytesOf(op.getCache());
    form.copy = c;
  }
  uint64_t row = uint64_t(dim) * e;
  uint64_t sb = *indexBytes(op.getSlots()), pb = *indexBytes(op.getPositions());
  for (int64_t b = 0; b < batch; ++b) {
    RowWrite w;
    isa::DmaDesc &d = w.box;
    // [heads planes] x [tokens rows] x [row bytes]: a sequence's new rows
    // are consecutive in both tensors. The memory plan keeps the cache
    // kernels' tensors off the peer pools (NpuPlanMemory).
    d.src = *update + uint64_t(b * heads * tokens) * row;
    d.dst = *out;
    int issuer = -1;
    d = kernel::resolveTagged(d, issuer);
    d.bytes = row;
    d.rows = uint64_t(tokens);
    d.srcStride = d.dstStride = row;
    d.planes = uint64_t(heads);
    d.srcPStride = uint64_t(tokens) * row;
    d.dstPStride = uint64_t(maxSeq) * row;
    w.index.offsetDst = true;
    w.index.index0 = *slots + uint64_t(b) * sb;
    w.index.scale0 = uint64_t(heads * maxSeq) * row;
    w.index.index1 = *positions + uint64_t(b) * pb;
    w.index.scale1 = row;
    form.rows.push_back(w);
  }
  return form;
}

/// The cost model's cycles for the row writes: each queue's rows in
/// sequence, each a DRAM round trip for its indices plus its transfer.
uint64_t rowsEstimate(const target::Target &t, const CacheWriteForm &f) {
  if (f.rows.empty()) {
    return 0;
  }
  const isa::DmaDesc &d = f.rows.front().box;
  double bytes = double(d.bytes * d.rows * d.planes);
  double perRow = double(t.dram.latencyCycles) * 2 + double(t.dma.issueCycles) +
                  bytes / std::max(1.0, double(t.dma.bytesPerCycle));
  uint64_t perQueue = (f.rows.size() + t.cores - 1) / t.cores;
  // Reads and writes of every row share DRAM.
  double total = 2 * bytes * double(f.rows.size());
  double dram = total / std::max(1e-9, t.dramBytesPerCycle());
  return uint64_t(std::max(perRow * double(perQueue), dram));
}

struct CacheWriteKernel
    : NpuKernelOpInterface::ExternalModel<CacheWriteKernel, CacheWriteOp> {
  std::string getNpuIllegalReason(Operation *op,
                                  const target::Target &t) const {
    auto cw = cast<CacheWriteOp>(op);
    for (Value v : {cw.getSlots(), cw.getPositions()}) {
      if (!indexBytes(v)) {
        return "kv_slots and kv_positions must be i32 or i64 (dma.idx reads "
               "a 32-bit index)";
      }
    }
    // The cache (the program's state, which the device keeps between
    // runs) must stay on the device: the result's readers must run there
    // too. A function's return (the state output) is the device-resident
    // cache itself.
    for (Operation *user : cw.getOutput().getUsers()) {
      if (llvm::isa<func::ReturnOp>(user)) {
        continue;
      }
      std::string reason;
      if (!claimsOp(user, t, reason)) {
        return fmt::format("its cache is read by '{}', which runs on the CPU "
                           "({}): writing it here would move the whole cache "
                           "across the host-device boundary every step",
                           user->getName().getStringRef().str(), reason);
      }
    }
    return "";
  }

  FailureOr<KernelCost> getNpuKernelCost(Operation *op,
                                         KernelContext &ctx) const {
    FailureOr<CacheWriteForm> form = describe(
        cast<CacheWriteOp>(op), [&](Value v) { return ctx.plannedAddress(v); });
    if (failed(form)) {
      return failure();
    }
    uint64_t cycles = rowsEstimate(ctx.target(), *form);
    if (form->copy) {
      cycles += planCopies(ctx.target(), {*form->copy}).estimate;
    }
    return KernelCost{0, cycles};
  }

  LogicalResult emitNpuKernel(Operation *op, KernelContext &ctx) const {
    KernelEmitter *emitter = ctx.emitter();
    assert(emitter && "emitNpuKernel outside the lowering");
    FailureOr<CacheWriteForm> form = describe(
        cast<CacheWriteOp>(op), [&](Value v) { return ctx.addressOf(v); });
    if (failed(form)) {
      return failure();
    }
    if (form->copy) {
      // Its own kernel: the barrier that ends it orders the rows after it.
      emitter->copies({*form->copy});
    }
    const target::Target &t = ctx.target();
    // Distinct slots (the op's contract) write disjoint bytes, so the rows
    // spread over the cores' DMA queues with no ordering between them.
    for (size_t b = 0; b < form->rows.size(); ++b) {
      emitter->q(unsigned(b % t.cores), isa::Engine::Dma)
          .dmaIndexed(form->rows[b].box, form->rows[b].index);
    }
    emitter->setEstimate(rowsEstimate(t, *form));
    emitter->barrierAll();
    return success();
  }
};

} // namespace

void registerCacheWriteKernel(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NuriDialect *) {
    CacheWriteOp::attachInterface<CacheWriteKernel>(*ctx);
  });
}

} // namespace nuri::npu
