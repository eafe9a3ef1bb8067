//===- CacheAttention.cpp - nuri.cache_attention as an NPU kernel ---------===//
//
// The attention of a generation step over its KV cache (docs/generation.md):
// batch row b attends to the first context_length positions of its cache
// slot, slots[b], a value the host writes for the step. The keys and values
// are read where they lie in the cache, each K/V block by one `dma.idx`
// whose source moves by slots[b] * slot_bytes (docs/isa.md), so one
// compiled decode step serves any assignment of sequences to slots and the
// cache never leaves the device. The mask the host writes per step (a
// sequence's written positions) hides the rest of the prefix.
//
// The tiling, online softmax and schedule are the flash-attention core's
// (AttentionCore.h): units of (batch row, query head, query block) dealt
// over the cores, key blocks streamed through SRAM. Under grouped-query
// attention a decode step's unit is (batch row, kv head): the kv head's
// query heads are the unit's rows, so its keys and values are read once,
// not once per query head. The caches must be in DRAM: they are the
// program's state (or a cache_write's result in place of it), never staged.
//
//===----------------------------------------------------------------------===//

#include "AttentionKernel.h"
#include "KernelSupport.h"
#include "NpuPlan.h"

#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include <fmt/format.h>

using namespace mlir;

namespace nuri::npu {

namespace {

/// Bytes of one element of the slots tensor (i32 or i64). dma.idx reads a
/// little-endian i32: the low word of an i64 slot below 2^31 is its value.
std::optional<uint64_t> slotBytesOf(Value v) {
  auto t = tensorOf(v);
  if (!t || !t.getElementType().isSignlessInteger()) {
    return std::nullopt;
  }
  unsigned w = t.getElementTypeBitWidth();
  return w == 32 || w == 64 ? std::optional<uint64_t>(w / 8) : std::nullopt;
}

/// The attention `op` computes, as the core sees it, with its operands at
/// the addresses `addressOf` gives. Every operand is dense: no layout pass
/// folds a head split into a cache read.
FailureOr<AttentionDesc>
describe(CacheAttentionOp op,
         function_ref<FailureOr<uint64_t>(Value)> addressOf) {
  auto qt = tensorOf(op.getQuery()), kt = tensorOf(op.getKeyCache()),
       vt = tensorOf(op.getValueCache());
  AttentionDesc a =
      describeShape(qt, kt, vt, uint64_t(op.getContextLength()),
                    op.getScale().convertToFloat(), op.getCausal());
  const uint64_t e = elemBytes(a.dtype), maxSeq = kt.getDimSize(2);
  a.qStride[0] = a.Hq * a.Sq * a.D * e;
  a.qStride[1] = a.Sq * a.D * e;
  a.qStride[2] = a.D * e;
  // [slots, Hkv, max_seq, D]: the "batch" stride is a slot's, scaled by the
  // run-time slot index.
  a.kStride[0] = a.Hkv * maxSeq * a.D * e;
  a.kStride[1] = maxSeq * a.D * e;
  a.kStride[2] = a.D * e;
  a.vStride[0] = a.Hkv * maxSeq * a.Dv * e;
  a.vStride[1] = maxSeq * a.Dv * e;
  a.vStride[2] = a.Dv * e;
  a.oStride[0] = a.Hq * a.Sq * a.Dv * e;
  a.oStride[1] = a.Sq * a.Dv * e;
  a.oStride[2] = a.Dv * e;
  FailureOr<uint64_t> q = addressOf(op.getQuery()),
                      k = addressOf(op.getKeyCache()),
                      v = addressOf(op.getValueCache()),
                      slots = addressOf(op.getSlots()),
                      o = addressOf(op.getOutput());
  if (failed(q) || failed(k) || failed(v) || failed(slots) || failed(o)) {
    return failure();
  }
  // dma.idx reads its index from DRAM and moves a DRAM (or SRAM) address;
  // a cache in the shared SRAM would be a copy, not the state.
  if (kernel::spaceOf(*slots) != isa::Space::Dram ||
      kernel::spaceOf(*k) != isa::Space::Dram ||
      kernel::spaceOf(*v) != isa::Space::Dram) {
    return op.emitOpError("expects its caches and slots in DRAM (dma.idx "
                          "reads the slot from DRAM and moves a cache read)");
  }
  a.q = *q;
  a.k = *k;
  a.v = *v;
  a.o = *o;
  a.slots = *slots;
  a.slotBytes = *slotBytesOf(op.getSlots());
  if (failed(describeMask(op.getMask(), a, addressOf))) {
    return failure();
  }
  return a;
}

struct CacheAttentionKernel
    : NpuKernelOpInterface::ExternalModel<CacheAttentionKernel,
                                          CacheAttentionOp> {
  std::string getNpuIllegalReason(Operation *op,
                                  const target::Target &t) const {
    auto ca = cast<CacheAttentionOp>(op);
    auto qt = tensorOf(ca.getQuery());
    std::optional<isa::Dtype> d = isaType(qt.getElementType());
    if (!d || !t.supports(*d)) {
      return fmt::format("the {} matrix engine has no {} path", t.name,
                         typeStr(qt.getElementType()));
    }
    if (tensorOf(ca.getKeyCache()).getElementType() != qt.getElementType() ||
        tensorOf(ca.getValueCache()).getElementType() != qt.getElementType()) {
      return "query and cache element types differ";
    }
    if (!slotBytesOf(ca.getSlots())) {
      return "slots must be i32 or i64 (dma.idx reads a 32-bit index)";
    }
    if (Value m = ca.getMask()) {
      auto mt = tensorOf(m);
      if (!isaType(mt.getElementType())) {
        return "boolean or integer attention mask (only float masks are "
               "lowered)";
      }
      if (mt.getRank() > 4 || mt.getRank() == 0 ||
          mt.getShape().back() != int64_t(ca.getContextLength())) {
        return "mask does not span the context";
      }
    }
    return "";
  }

  FailureOr<KernelCost> getNpuKernelCost(Operation *op,
                                         KernelContext &ctx) const {
    return attentionKernelCost(op, ctx, [&](auto addressOf) {
      return describe(cast<CacheAttentionOp>(op), addressOf);
    });
  }

  LogicalResult emitNpuKernel(Operation *op, KernelContext &ctx) const {
    return emitAttentionKernel(op, ctx, [&](auto addressOf) {
      return describe(cast<CacheAttentionOp>(op), addressOf);
    });
  }
};

} // namespace

void registerCacheAttentionKernel(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NuriDialect *) {
    CacheAttentionOp::attachInterface<CacheAttentionKernel>(*ctx);
  });
}

} // namespace nuri::npu
