//===- Gemm.cpp - npu.gemm as an NPU kernel -------------------------------===//
//
// The MLIR side of the GEMM kernel: which npu.gemm ops the matrix engine of
// a target runs, the plan npu-plan-kernels records on each (#npu.gemm_plan:
// the cost model's choice, or one pinned in the input), and the kernel the
// plan becomes. The tiling, buffering and scheduling are the MLIR-free core
// (GemmCore.h).
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

/// The GEMM `op` computes with its operands at the addresses `addressOf`
/// gives, in the order A, B, bias, residual, output (constants are laid
/// out in the order they are first read).
FailureOr<GemmDesc>
describeGemm(GemmOp op, function_ref<FailureOr<uint64_t>(Value)> addressOf) {
  auto at = tensorOf(op.getA()), bt = tensorOf(op.getB()),
       ot = tensorOf(op.getOutput());
  GemmDesc g;
  g.in = *isaType(at.getElementType());
  g.out = *isaType(ot.getElementType());
  unsigned ei = elemBytes(g.in), eo = elemBytes(g.out);
  g.K = at.getShape().back();
  g.N = bt.getShape().back();
  if (bt.getRank() == 2) {
    g.M = at.getNumElements() / g.K; // every row of A is a GEMM row
  } else {
    g.M = ot.getDimSize(ot.getRank() - 2);
    g.batch = ot.getNumElements() / (g.M * g.N);
    g.aBatch = at.getRank() == 2 ? 0 : g.M * g.K * ei;
    g.bBatch = g.K * g.N * ei;
    g.cBatch = g.M * g.N * eo;
  }
  g.lda = g.K * ei;
  g.ldb = g.N * ei;
  g.ldc = g.N * eo;
  if (std::optional<uint64_t> bits = op.getBBits()) {
    // A compressed weight (w8a16, w4a16): the packed rows of bt are
    // N * bits / 8 bytes, the kernel expands them into `in` as it loads.
    g.wBits = unsigned(*bits);
    g.N = bt.getShape().back() * 8 / *bits;
    g.ldb = bt.getShape().back();
    g.wGroup = *op.getBGroup();
    if (op.getBTransposed()) {
      // Stored [N, K * bits / 8]: the transposed GEMV.
      g.wT = true;
      g.N = bt.getShape().front();
    }
    g.ldc = g.N * eo;
  }
  FailureOr<uint64_t> a = addressOf(op.getA());
  FailureOr<uint64_t> b = addressOf(op.getB());
  if (failed(a) || failed(b)) {
    return failure();
  }
  g.a = *a;
  g.b = *b;
  if (g.wBits) {
    FailureOr<uint64_t> s = addressOf(op.getBScales());
    if (failed(s)) {
      return failure();
    }
    g.wScale = *s;
  }
  Value bias = op.getBias();
  isa::Dtype biasType =
      bias ? *isaType(tensorOf(bias).getElementType()) : isa::Dtype::F32;
  if (failed(describeReadOut(g, bias, biasType, op.getResidual(), op.getAct(),
                             op.getOutput(), addressOf))) {
    return failure();
  }
  return g;
}

struct GemmKernel : GemmKernelModel<GemmKernel, GemmOp> {
  static FailureOr<GemmDesc>
  describe(GemmOp op, function_ref<FailureOr<uint64_t>(Value)> addressOf) {
    return describeGemm(op, addressOf);
  }
  std::string getNpuIllegalReason(Operation *op,
                                  const target::Target &t) const {
    Type e = tensorOf(cast<GemmOp>(op).getA()).getElementType();
    std::optional<isa::Dtype> d = isaType(e);
    if (!d || !t.supports(*d)) {
      return fmt::format("the {} matrix engine has no {} path", t.name,
                         typeStr(e));
    }
    return "";
  }
};

} // namespace

GemmPlanAttr gemmPlanToAttr(MLIRContext *ctx, const GemmPlan &p) {
  return GemmPlanAttr::get(ctx, int64_t(p.mS), int64_t(p.nS), int64_t(p.mr),
                           int64_t(p.nc), int64_t(p.mb), int64_t(p.nt),
                           int64_t(p.kc), int64_t(p.nA), int64_t(p.nW),
                           int64_t(p.ldaS), p.mcastA, int64_t(p.estimate));
}

GemmPlan gemmPlanFromAttr(GemmPlanAttr a) {
  GemmPlan p;
  p.mS = uint64_t(a.getRowSlices());
  p.nS = uint64_t(a.getColSlices());
  p.mr = uint64_t(a.getSliceRows());
  p.nc = uint64_t(a.getSliceCols());
  p.mb = uint64_t(a.getBlockRows());
  p.nt = uint64_t(a.getTileCols());
  p.kc = uint64_t(a.getKChunk());
  p.nA = unsigned(a.getABuffers());
  p.nW = unsigned(a.getWBuffers());
  p.residentW = p.nW == 0;
  p.ldaS = uint64_t(a.getAPitch());
  p.mcastA = a.getMulticastA();
  p.estimate = uint64_t(a.getCycles());
  return p;
}

/// Why `p` cannot run `g` on `t` (beyond what the attribute verifier
/// checks alone); empty when it can.
std::string gemmPlanProblem(const target::Target &t, const GemmDesc &g,
                            const GemmPlan &p) {
  if (p.mS * p.mr < g.M || p.nS * p.nc < g.N) {
    return fmt::format("{} x {} slices of {} x {} do not cover the {} x {} "
                       "output",
                       p.mS, p.nS, p.mr, p.nc, g.M, g.N);
  }
  if (g.wBits && g.wGroup < g.K && p.kc % g.wGroup != 0) {
    return fmt::format("k_chunk {} is not a multiple of the weight's group "
                       "of {} rows (its chunks must start on a row of "
                       "scales)",
                       p.kc, g.wGroup);
  }
  if (p.ldaS < g.K * elemBytes(g.in) && p.ldaS < p.kc * elemBytes(g.in)) {
    return fmt::format("a_pitch {} is shorter than a chunk of an A row",
                       p.ldaS);
  }
  const bool grouped = t.cores % p.nS == 0;
  if (p.mcastA && !grouped) {
    return fmt::format("multicast_a needs col_slices ({}) to divide the {} "
                       "cores",
                       p.nS, t.cores);
  }
  if (p.residentW && (!grouped || g.bBatch != 0)) {
    return "resident weights (w_buffers = 0) need col_slices to divide the "
           "cores and unbatched weights";
  }
  const uint64_t accEntries = t.matrix.accBytes / 4;
  if (2 * p.mb * p.nt > accEntries) {
    return fmt::format("two {} x {} accumulator tiles exceed the {} entries",
                       p.mb, p.nt, accEntries);
  }
  uint64_t sram = gemmSramBytes(g, p);
  if (sram > kernelSramBytes(t)) {
    return fmt::format("the plan needs {} B of SRAM per core, the core has "
                       "{} B",
                       sram, kernelSramBytes(t));
  }
  return "";
}

void registerGemmKernel(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NpuDialect *) {
    GemmOp::attachInterface<GemmKernel>(*ctx);
  });
}

} // namespace nuri::npu
