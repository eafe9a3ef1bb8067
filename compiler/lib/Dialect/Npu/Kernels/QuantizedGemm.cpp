//===- QuantizedGemm.cpp - npu.quantized_gemm as an NPU kernel ------------===//
//
// The 8-bit GEMM: i8 x i8 tiles accumulating in i32 (or e4m3 x e4m3 in f32)
// on the matrix engine, the scaling read-out (zero-point correction,
// per-column scale, float bias, relu, cast) in one vec.accrd. Tiling,
// buffering and scheduling are the GEMM core's (GemmCore.h), with 1-byte
// operands: the planner picks its tiles from the target's i8 / e4m3 rate.
//
//===----------------------------------------------------------------------===//

#include "GemmCore.h"
#include "GemmKernel.h"
#include "KernelContext.h"
#include "NpuPlan.h"

#include "nuri/Dialect/Npu/IR/NpuOps.h"

#include <fmt/format.h>

using namespace mlir;

namespace nuri::npu {

namespace {

FailureOr<GemmDesc>
describeGemm(QuantizedGemmOp op,
             function_ref<FailureOr<uint64_t>(Value)> addressOf) {
  auto at = tensorOf(op.getA()), bt = tensorOf(op.getB()),
       ot = tensorOf(op.getOutput());
  GemmDesc g;
  g.in = quantizedTileType(at.getElementType());
  g.out = *isaType(ot.getElementType());
  unsigned eo = elemBytes(g.out);
  g.K = at.getShape().back();
  g.N = bt.getShape().back();
  g.M = at.getNumElements() / g.K;
  g.lda = g.K;
  g.ldb = g.N;
  g.ldc = g.N * eo;
  g.quantized = true;
  FailureOr<uint64_t> a = addressOf(op.getA());
  FailureOr<uint64_t> b = addressOf(op.getB());
  FailureOr<uint64_t> zp = addressOf(op.getZpBias());
  FailureOr<uint64_t> s = addressOf(op.getScale());
  if (failed(a) || failed(b) || failed(zp) || failed(s)) {
    return failure();
  }
  g.a = *a;
  g.b = *b;
  g.zpBias = *zp;
  g.scale = *s;
  // The bias is added in fp32 after the scale (vec.accrd obias).
  if (failed(describeReadOut(g, op.getBias(), isa::Dtype::F32, op.getResidual(),
                             op.getAct(), op.getOutput(), addressOf))) {
    return failure();
  }
  return g;
}

struct QuantizedGemmKernel
    : GemmKernelModel<QuantizedGemmKernel, QuantizedGemmOp> {
  static FailureOr<GemmDesc>
  describe(QuantizedGemmOp op,
           function_ref<FailureOr<uint64_t>(Value)> addressOf) {
    return describeGemm(op, addressOf);
  }
  std::string getNpuIllegalReason(Operation *op,
                                  const target::Target &t) const {
    isa::Dtype tiles = quantizedTileType(
        tensorOf(cast<QuantizedGemmOp>(op).getA()).getElementType());
    if (!t.supports(tiles)) {
      return fmt::format("the {} matrix engine has no {} path", t.name,
                         isa::dtypeName(tiles));
    }
    return "";
  }
};

} // namespace

void registerQuantizedGemmKernel(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NpuDialect *) {
    QuantizedGemmOp::attachInterface<QuantizedGemmKernel>(*ctx);
  });
}

} // namespace nuri::npu
