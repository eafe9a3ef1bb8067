//===- KernelContext.cpp - What a kernel sees of its partition ------------===//

#include "KernelContext.h"

#include "NpuPlan.h"

#include "nuri/Dialect/Nuri/IR/NuriOps.h"

using namespace mlir;

namespace nuri::npu {

FailureOr<uint64_t> KernelContext::plannedAddress(Value v) const {
  uint64_t column = 0;
  for (; isView(v); v = v.getDefiningOp()->getOperand(0)) {
    if (auto s = v.getDefiningOp<SliceOp>()) {
      column += uint64_t(s.getStarts().back()) * bytesOf(v) /
                uint64_t(std::max<int64_t>(1, tensorOf(v).getNumElements()));
    }
  }
  func::FuncOp func = partition_;
  BufferAttr buf;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    unsigned i = arg.getArgNumber();
    buf = func.getArgAttrOfType<BufferAttr>(i, kStagedAttr);
    if (!buf) {
      buf = func.getArgAttrOfType<BufferAttr>(i, kBufferAttr);
    }
  } else if (auto bufs =
                 v.getDefiningOp()->getAttrOfType<ArrayAttr>(kBuffersAttr)) {
    buf = dyn_cast<BufferAttr>(bufs[cast<OpResult>(v).getResultNumber()]);
  }
  if (!buf) {
    return func.emitError("value without a buffer in the memory plan "
                          "(npu-plan-memory)");
  }
  uint64_t at = uint64_t(buf.getOffset());
  if (buf.getSpace() == "peer") {
    const uint64_t pool = peerPoolBytes(target_);
    if (pool == 0 || at / pool >= target_.cores) {
      return func.emitError("peer buffer at offset ")
             << at << " is outside the peer pools of target " << target_.name
             << " (" << target_.cores << " x " << pool << " B)";
    }
    return peerAddress(target_, at) + column;
  }
  return (buf.getSpace() == "shared" ? at | kSharedTag : at) + column;
}

std::optional<uint64_t> KernelContext::pitchOf(Value v) const {
  for (; isView(v); v = v.getDefiningOp()->getOperand(0)) {
    if (layoutOf(v) == kLayoutColumns) {
      Value src = v.getDefiningOp()->getOperand(0);
      return uint64_t(tensorOf(src).getShape().back()) * bytesOf(src) /
             uint64_t(std::max<int64_t>(1, tensorOf(src).getNumElements()));
    }
  }
  return std::nullopt;
}

} // namespace nuri::npu
