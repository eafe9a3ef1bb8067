//===- Transpose.cpp - nuri.transpose as an NPU kernel --------------------===//
//
// The MLIR side of the transpose kernel: which nuri.transpose ops the NPU
// runs, and the kernel each becomes once the memory plan placed its
// operands. A transpose that keeps the innermost dimension is a set of
// strided DMA copies (planCopies); one that moves it, when its dims group
// into a batch of 2-D transposes, goes through SRAM tiles the vector
// engine transposes (TransposeCore.h). Views (a head split or merge an
// attention folds) and constant expressions never get here: they are
// addresses and compile-time data.
//
//===----------------------------------------------------------------------===//

#include "KernelContext.h"
#include "NpuPlan.h"
#include "TransposeCore.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include <array>
#include <variant>

using namespace mlir;

namespace nuri::npu {

namespace {

/// A transpose that moves the innermost dimension as a batch of 2-D
/// transposes: perm = (0..k-1, m..rank-1, k..m-1), i.e. two groups of
/// adjacent dims swap places behind an untouched prefix. Returns
/// {batch, rows, cols} of the grouped [batch, rows, cols] input.
std::optional<std::array<int64_t, 3>> asBatchedTranspose(TransposeOp t) {
  ArrayRef<int64_t> perm = t.getPermutation();
  ArrayRef<int64_t> in = tensorOf(t.getInput()).getShape();
  int64_t rank = int64_t(perm.size()), k = 0;
  while (k < rank && perm[k] == k) {
    ++k;
  }
  if (k >= rank - 1) {
    return std::nullopt;
  }
  int64_t m = perm[k];
  for (int64_t i = k; i < rank; ++i) {
    int64_t want = i - k < rank - m ? m + (i - k) : k + (i - k - (rank - m));
    if (perm[i] != want) {
      return std::nullopt;
    }
  }
  std::array<int64_t, 3> g{1, 1, 1};
  for (int64_t i = 0; i < rank; ++i) {
    g[i < k ? 0 : i < m ? 1 : 2] *= in[i];
  }
  return g;
}

bool keepsInnermost(TransposeOp op) {
  ArrayRef<int64_t> perm = op.getPermutation();
  return perm.empty() || perm.back() == int64_t(perm.size()) - 1;
}

/// The kernel a transpose is: tiles through the vector engine, or copies.
using TransposeKernelForm =
    std::variant<TransposeDesc, std::vector<isa::DmaDesc>>;

/// The kernel for `op` with its operands at the addresses `addressOf`
/// gives (the input's first: it may lay out a constant).
FailureOr<TransposeKernelForm>
describe(TransposeOp op, function_ref<FailureOr<uint64_t>(Value)> addressOf) {
  auto it = tensorOf(op.getInput()), ot = tensorOf(op.getOutput());
  FailureOr<uint64_t> src = addressOf(op.getInput());
  if (failed(src)) {
    return failure();
  }
  FailureOr<uint64_t> dst = addressOf(op.getOutput());
  if (failed(dst)) {
    return failure();
  }
  if (!keepsInnermost(op)) {
    // getNpuIllegalReason admitted it: a batch of 2-D transposes.
    std::array<int64_t, 3> g = *asBatchedTranspose(op);
    TransposeDesc td;
    td.batch = uint64_t(g[0]);
    td.rows = uint64_t(g[1]);
    td.cols = uint64_t(g[2]);
    td.in = *src;
    td.out = *dst;
    td.dtype = *isaType(it.getElementType());
    return TransposeKernelForm(td);
  }
  // The innermost dim stays: rows are runs of it; the next two output dims
  // are the DMA's rows and planes, the rest one descriptor each.
  ArrayRef<int64_t> perm = op.getPermutation();
  int64_t rank = it.getRank();
  uint64_t e = std::max<unsigned>(1, it.getElementTypeBitWidth() / 8);
  SmallVector<int64_t> inStride = rowMajorStrides(it.getShape());
  SmallVector<int64_t> outStride = rowMajorStrides(ot.getShape());
  isa::DmaDesc d;
  d.srcSpace = d.dstSpace = isa::Space::Dram;
  d.bytes = ot.getShape().back() * e;
  int64_t rd = rank - 2, pd = rank - 3;
  d.rows = rd >= 0 ? ot.getDimSize(rd) : 1;
  d.srcStride = rd >= 0 ? inStride[perm[rd]] * e : 0;
  d.dstStride = rd >= 0 ? outStride[rd] * e : 0;
  d.planes = pd >= 0 ? ot.getDimSize(pd) : 1;
  d.srcPStride = pd >= 0 ? inStride[perm[pd]] * e : 0;
  d.dstPStride = pd >= 0 ? outStride[pd] * e : 0;
  std::vector<isa::DmaDesc> all;
  int64_t outer = 1;
  for (int64_t i = 0; i < pd; ++i) {
    outer *= ot.getDimSize(i);
  }
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, soff = 0, doff = 0;
    for (int64_t i = pd - 1; i >= 0; --i) {
      int64_t idx = rem % ot.getDimSize(i);
      rem /= ot.getDimSize(i);
      soff += idx * inStride[perm[i]];
      doff += idx * outStride[i];
    }
    isa::DmaDesc c = d;
    c.src = *src + soff * e;
    c.dst = *dst + doff * e;
    all.push_back(c);
  }
  return TransposeKernelForm(std::move(all));
}

/// The plan of the batched transpose `td`, or an error on `op` saying why the
/// target cannot hold it. The cost and the emission both plan through here,
/// so they agree on whether the op fits and say so in the same words.
FailureOr<TransposePlan> planOrEmitError(Operation *op,
                                         const target::Target &tgt,
                                         const TransposeDesc &td) {
  Result<TransposePlan> plan = planTranspose(tgt, td);
  if (!plan) {
    return op->emitOpError("cannot be lowered to the NPU: ") << plan.error();
  }
  return *plan;
}

struct TransposeKernel
    : NpuKernelOpInterface::ExternalModel<TransposeKernel, TransposeOp> {
  std::string getNpuIllegalReason(Operation *op, const target::Target &) const {
    auto tr = cast<TransposeOp>(op);
    if (!keepsInnermost(tr) && !asBatchedTranspose(tr)) {
      return "transpose moves the innermost dimension in a way that is "
             "not a batch of 2-D transposes (two groups of adjacent dims "
             "swapping places)";
    }
    return "";
  }

  FailureOr<KernelCost> getNpuKernelCost(Operation *op,
                                         KernelContext &ctx) const {
    FailureOr<TransposeKernelForm> form = describe(
        cast<TransposeOp>(op), [&](Value v) { return ctx.plannedAddress(v); });
    if (failed(form)) {
      return failure();
    }
    if (auto *td = std::get_if<TransposeDesc>(&*form)) {
      FailureOr<TransposePlan> plan = planOrEmitError(op, ctx.target(), *td);
      if (failed(plan)) {
        return failure();
      }
      return KernelCost{plan->sramBytesPerCore, plan->estimate};
    }
    CopyPlan copies =
        planCopies(ctx.target(), std::get<std::vector<isa::DmaDesc>>(*form));
    return KernelCost{0, copies.estimate};
  }

  LogicalResult emitNpuKernel(Operation *op, KernelContext &ctx) const {
    KernelEmitter *emitter = ctx.emitter();
    assert(emitter && "emitNpuKernel outside the lowering");
    FailureOr<TransposeKernelForm> form = describe(
        cast<TransposeOp>(op), [&](Value v) { return ctx.addressOf(v); });
    if (failed(form)) {
      return failure();
    }
    if (auto *td = std::get_if<TransposeDesc>(&*form)) {
      FailureOr<TransposePlan> plan = planOrEmitError(op, ctx.target(), *td);
      if (failed(plan)) {
        return failure();
      }
      emitTranspose(*emitter, *td, *plan);
      return success();
    }
    emitter->copies(std::get<std::vector<isa::DmaDesc>>(*form));
    return success();
  }
};

} // namespace

void registerTransposeKernel(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NuriDialect *) {
    TransposeOp::attachInterface<TransposeKernel>(*ctx);
  });
}

} // namespace nuri::npu
