//===- Attention.cpp - nuri.attention as an NPU kernel --------------------===//
//
// The MLIR side of the attention kernel: which nuri.attention ops the NPU
// runs (float masks, [B, H, S, D] operands, a dtype the matrix engine
// has), and the kernel each becomes: operands read dense, or through the
// strides of a head split npu-select-layouts folded into the read, the
// result written into the merged-heads layout when the head merge is
// folded too. The tiling and schedule are the MLIR-free core
// (AttentionCore.h).
//
//===----------------------------------------------------------------------===//

#include "AttentionKernel.h"
#include "NpuPlan.h"

#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include <fmt/format.h>

using namespace mlir;

namespace nuri::npu {

namespace {

/// Why the matrix engine of `t` cannot multiply `v`'s element type.
std::string matrixType(const target::Target &t, Value v) {
  Type e = tensorOf(v).getElementType();
  auto d = isaType(e);
  if (!d || !t.supports(*d)) {
    return fmt::format("the {} matrix engine has no {} path", t.name,
                       typeStr(e));
  }
  return "";
}

/// The attention `op` computes with its operands at the addresses
/// `addressOf` gives (query, key, value, mask, then the output).
FailureOr<AttentionDesc>
describe(AttentionOp op, const KernelContext &ctx,
         function_ref<FailureOr<uint64_t>(Value)> addressOf) {
  auto qt = tensorOf(op.getQuery()), kt = tensorOf(op.getKey()),
       vt = tensorOf(op.getValue());
  AttentionDesc a =
      describeShape(qt, kt, vt, kt.getDimSize(2),
                    op.getScale().convertToFloat(), op.getCausal());
  unsigned e = elemBytes(a.dtype);
  // Operand address and strides: dense [B, H, S, D], or the [B, S, H, D]
  // input of a folded head-split transpose.
  auto operand = [&](Value v, uint64_t &addr, uint64_t *stride) {
    auto t = tensorOf(v);
    int64_t H = t.getDimSize(1), S = t.getDimSize(2), D = t.getDimSize(3);
    if (layoutOf(v) == kLayoutHeadSplit) {
      v = v.getDefiningOp<TransposeOp>().getInput();
      // A column slice of a merged projection has the wide row's pitch.
      uint64_t row = ctx.pitchOf(v).value_or(H * D * e);
      stride[0] = S * row;
      stride[1] = D * e;
      stride[2] = row;
    } else {
      stride[0] = H * S * D * e;
      stride[1] = S * D * e;
      stride[2] = D * e;
    }
    FailureOr<uint64_t> at = addressOf(v);
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
  if (failed(describeMask(op.getMask(), a, addressOf))) {
    return failure();
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
  FailureOr<uint64_t> outAddr = addressOf(out);
  if (failed(outAddr)) {
    return failure();
  }
  a.o = *outAddr;
  return a;
}

struct AttentionKernel
    : NpuKernelOpInterface::ExternalModel<AttentionKernel, AttentionOp> {
  std::string getNpuIllegalReason(Operation *op,
                                  const target::Target &t) const {
    auto a = cast<AttentionOp>(op);
    if (std::string r = matrixType(t, a.getQuery()); !r.empty()) {
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
  }

  FailureOr<KernelCost> getNpuKernelCost(Operation *op,
                                         KernelContext &ctx) const {
    return attentionKernelCost(op, ctx, [&](auto addressOf) {
      return describe(cast<AttentionOp>(op), ctx, addressOf);
    });
  }

  LogicalResult emitNpuKernel(Operation *op, KernelContext &ctx) const {
    return emitAttentionKernel(op, ctx, [&](auto addressOf) {
      return describe(cast<AttentionOp>(op), ctx, addressOf);
    });
  }
};

} // namespace

void registerAttentionKernel(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NuriDialect *) {
    AttentionOp::attachInterface<AttentionKernel>(*ctx);
  });
}

} // namespace nuri::npu
