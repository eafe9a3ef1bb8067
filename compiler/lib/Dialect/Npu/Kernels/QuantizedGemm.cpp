//===- QuantizedGemm.cpp - npu.quantized_gemm as an NPU kernel ------------===//
//
// The int8 GEMM: i8 x i8 tiles accumulating in i32 on the matrix engine,
// the requantizing read-out (zero-point correction, per-column scale, float
// bias, relu, cast) in one vec.accrd. Tiling, buffering and scheduling are
// the GEMM core's (GemmCore.h), with 1-byte operands: the planner picks its
// tiles from the target's i8 rate.
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
describe(QuantizedGemmOp op,
         function_ref<FailureOr<uint64_t>(Value)> addressOf) {
  auto at = tensorOf(op.getA()), bt = tensorOf(op.getB()),
       ot = tensorOf(op.getOutput());
  GemmDesc g;
  g.in = isa::Dtype::I8;
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
  if (Value bias = op.getBias()) {
    FailureOr<uint64_t> ba = addressOf(bias);
    if (failed(ba)) {
      return failure();
    }
    g.hasBias = true;
    g.bias = *ba;
    g.biasType = isa::Dtype::F32;
  }
  if (Value r = op.getResidual()) {
    FailureOr<uint64_t> ra = addressOf(r);
    if (failed(ra)) {
      return failure();
    }
    g.hasResidual = true;
    g.residual = *ra;
  }
  uint64_t act = 0;
  isa::parseEnum(isa::FieldKind::Act, op.getAct().str(), act);
  g.act = isa::Act(act);
  FailureOr<uint64_t> c = addressOf(op.getOutput());
  if (failed(c)) {
    return failure();
  }
  g.c = *c;
  return g;
}

struct QuantizedGemmKernel
    : NpuKernelOpInterface::ExternalModel<QuantizedGemmKernel,
                                          QuantizedGemmOp> {
  std::string getNpuIllegalReason(Operation *op,
                                  const target::Target &t) const {
    if (!t.supports(isa::Dtype::I8)) {
      return fmt::format("the {} matrix engine has no i8 path", t.name);
    }
    return "";
  }

  LogicalResult planNpuKernel(Operation *op, KernelContext &ctx) const {
    FailureOr<GemmDesc> g = describe(cast<QuantizedGemmOp>(op), [&](Value v) {
      return ctx.plannedAddress(v);
    });
    if (failed(g)) {
      return failure();
    }
    if (auto pinned = op->getAttrOfType<GemmPlanAttr>(kPlanAttr)) {
      std::string why =
          gemmPlanProblem(ctx.target(), *g, gemmPlanFromAttr(pinned));
      if (!why.empty()) {
        return op->emitOpError("has a plan the target cannot run: ") << why;
      }
      return success();
    }
    Result<GemmPlan> plan = planGemm(ctx.target(), *g);
    if (!plan) {
      return op->emitOpError("cannot be lowered to the NPU: ") << plan.error();
    }
    op->setAttr(kPlanAttr, gemmPlanToAttr(op->getContext(), *plan));
    return success();
  }

  FailureOr<KernelCost> getNpuKernelCost(Operation *op,
                                         KernelContext &ctx) const {
    auto attr = op->getAttrOfType<GemmPlanAttr>(kPlanAttr);
    if (!attr) {
      return op->emitOpError("has no plan (npu-plan-kernels)");
    }
    FailureOr<GemmDesc> g = describe(cast<QuantizedGemmOp>(op), [&](Value v) {
      return ctx.plannedAddress(v);
    });
    if (failed(g)) {
      return failure();
    }
    GemmPlan plan = gemmPlanFromAttr(attr);
    return KernelCost{gemmSramBytes(*g, plan), plan.estimate};
  }

  LogicalResult emitNpuKernel(Operation *op, KernelContext &ctx) const {
    KernelEmitter *emitter = ctx.emitter();
    assert(emitter && "emitNpuKernel outside the lowering");
    auto attr = op->getAttrOfType<GemmPlanAttr>(kPlanAttr);
    if (!attr) {
      return op->emitOpError("has no plan (npu-plan-kernels)");
    }
    FailureOr<GemmDesc> g = describe(cast<QuantizedGemmOp>(op),
                                     [&](Value v) { return ctx.addressOf(v); });
    if (failed(g)) {
      return failure();
    }
    Result<bool> emitted = emitGemm(*emitter, *g, gemmPlanFromAttr(attr));
    if (!emitted) {
      return op->emitOpError("cannot be lowered to the NPU: ")
             << emitted.error();
    }
    return success();
  }
};

} // namespace

void registerQuantizedGemmKernel(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NpuDialect *) {
    QuantizedGemmOp::attachInterface<QuantizedGemmKernel>(*ctx);
  });
}

} // namespace nuri::npu
