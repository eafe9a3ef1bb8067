//===- Copy.cpp - Data movement graph ops as NPU kernels ------------------===//
//
// The MLIR side of the copy kernel: split, concat, unit-step slices and
// gathers with constant indices are boxes of one row-major tensor copied
// into another, each box a strided DMA descriptor (the innermost dim a
// contiguous run, the next two the descriptor's rows and planes). The
// spread of the descriptors over the cores' DMA queues is the MLIR-free
// core (planCopies, KernelEmitter::copies).
//
// A gather of rows (axis 0) at run-time indices (an embedding lookup of a
// generation step's token or position ids) is one `dma.idx` per index: the
// row at `table + index * row_bytes`, the index read from DRAM as the DMA
// issues (docs/isa.md). The DMA checks only that the row lies inside DRAM:
// the indices must be in [0, rows), as the generator's token ids and
// positions are (a negative index is not wrapped as the CPU kernel does).
//
//===----------------------------------------------------------------------===//

#include "KernelContext.h"
#include "KernelSupport.h"
#include "NpuPlan.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace nuri::npu {

namespace {

using AddressFn = function_ref<FailureOr<uint64_t>(Value)>;

/// The nuri.constant a value is, through reshapes (same row-major bytes).
ConstantOp constantOf(Value v) {
  while (auto r = v.getDefiningOp<ReshapeOp>()) {
    v = r.getInput();
  }
  return v.getDefiningOp<ConstantOp>();
}

/// The indices of a gather whose index operand is a constant (a KV cache
/// split into layers, a fixed token), normalized to [0, dim); nullopt when
/// they are only known at run time or out of range.
std::optional<std::vector<int64_t>> constantGatherIndices(GatherOp g) {
  ConstantOp c = constantOf(g.getIndices());
  if (!c) {
    return std::nullopt;
  }
  FailureOr<std::vector<int64_t>> v = readAsInt(c.getValue());
  if (failed(v)) {
    return std::nullopt;
  }
  int64_t dim = tensorOf(g.getInput()).getDimSize(int64_t(g.getAxis()));
  for (int64_t &i : *v) {
    i = i < 0 ? i + dim : i;
    if (i < 0 || i >= dim) {
      return std::nullopt;
    }
  }
  return std::move(*v);
}

/// Bytes of one element of a run-time index tensor (i32 or i64; dma.idx
/// reads the low 32 bits, little endian).
std::optional<uint64_t> indexBytesOf(Value v) {
  auto t = tensorOf(v);
  if (!t || !t.getElementType().isSignlessInteger()) {
    return std::nullopt;
  }
  unsigned w = t.getElementTypeBitWidth();
  return w == 32 || w == 64 ? std::optional<uint64_t>(w / 8) : std::nullopt;
}

/// A gather of rows at run-time indices: one indexed row copy per index.
struct IndexedRows {
  std::vector<std::pair<isa::DmaDesc, isa::DmaIndex>> rows;
};

FailureOr<IndexedRows> describeIndexedGather(GatherOp g, AddressFn addressOf) {
  auto it = tensorOf(g.getInput());
  uint64_t rowBytes = bytesOf(g.getInput()) / uint64_t(it.getDimSize(0));
  uint64_t ib = *indexBytesOf(g.getIndices());
  int64_t n = tensorOf(g.getIndices()).getNumElements();
  FailureOr<uint64_t> table = addressOf(g.getInput()),
                      idx = addressOf(g.getIndices()),
                      out = addressOf(g.getOutput());
  if (failed(table) || failed(idx) || failed(out)) {
    return failure();
  }
  if (kernel::spaceOf(*idx) != isa::Space::Dram) {
    return g.emitOpError("expects its run-time indices in DRAM (dma.idx "
                         "reads them from DRAM)");
  }
  IndexedRows r;
  for (int64_t j = 0; j < n; ++j) {
    isa::DmaDesc d;
    d.src = *table;
    d.dst = *out + uint64_t(j) * rowBytes;
    d.bytes = rowBytes;
    d.rows = 1;
    // The memory plan keeps a run-time gather's tensors off the peer pools
    // (NpuPlanMemory), so no copy here needs a second issuing core.
    int issuer = -1;
    d = kernel::resolveTagged(d, issuer);
    isa::DmaIndex ix;
    ix.index0 = *idx + uint64_t(j) * ib;
    ix.scale0 = rowBytes;
    r.rows.push_back({d, ix});
  }
  return r;
}

/// The cost model's cycles for the rows: each queue's rows in sequence,
/// each a DRAM round trip for its index plus its transfer.
uint64_t indexedRowsEstimate(const target::Target &t, const IndexedRows &r) {
  if (r.rows.empty()) {
    return 0;
  }
  double bytes = double(r.rows.front().first.bytes);
  double perRow = double(t.dram.latencyCycles) * 2 + double(t.dma.issueCycles) +
                  bytes / std::max(1.0, double(t.dma.bytesPerCycle));
  uint64_t perQueue = (r.rows.size() + t.cores - 1) / t.cores;
  return uint64_t(perRow * double(perQueue));
}

/// Strided copies of the box `extent` at `srcOff` of a row-major `src` to
/// `dstOff` of a row-major `dst`: the innermost dim is a contiguous run,
/// the next two are the DMA's rows and planes, the rest one descriptor each.
void boxCopies(uint64_t src, ArrayRef<int64_t> srcShape,
               ArrayRef<int64_t> srcOff, uint64_t dst,
               ArrayRef<int64_t> dstShape, ArrayRef<int64_t> dstOff,
               ArrayRef<int64_t> extent, uint64_t e,
               std::vector<isa::DmaDesc> &out) {
  int64_t n = int64_t(extent.size());
  if (n == 0) {
    isa::DmaDesc d;
    d.src = src;
    d.dst = dst;
    d.bytes = e;
    out.push_back(d);
    return;
  }
  SmallVector<int64_t> ss = rowMajorStrides(srcShape),
                       ds = rowMajorStrides(dstShape);
  uint64_t sBase = 0, dBase = 0;
  for (int64_t i = 0; i < n; ++i) {
    sBase += srcOff[i] * ss[i];
    dBase += dstOff[i] * ds[i];
  }
  isa::DmaDesc d;
  d.bytes = extent[n - 1] * e;
  d.rows = n >= 2 ? extent[n - 2] : 1;
  d.srcStride = n >= 2 ? ss[n - 2] * e : 0;
  d.dstStride = n >= 2 ? ds[n - 2] * e : 0;
  d.planes = n >= 3 ? extent[n - 3] : 1;
  d.srcPStride = n >= 3 ? ss[n - 3] * e : 0;
  d.dstPStride = n >= 3 ? ds[n - 3] * e : 0;
  int64_t outer = 1;
  for (int64_t i = 0; i + 3 < n; ++i) {
    outer *= extent[i];
  }
  if (d.bytes == 0 || d.rows == 0 || d.planes == 0 || outer == 0) {
    return;
  }
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, so = 0, dOff = 0;
    for (int64_t i = n - 4; i >= 0; --i) {
      int64_t idx = rem % extent[i];
      rem /= extent[i];
      so += idx * ss[i];
      dOff += idx * ds[i];
    }
    isa::DmaDesc c = d;
    c.src = src + (sBase + so) * e;
    c.dst = dst + (dBase + dOff) * e;
    out.push_back(c);
  }
}

/// Why the NPU cannot move `op`'s data; empty when it can.
std::string copyIllegalReason(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::string>(op)
      .Case([&](SliceOp sl) -> std::string {
        for (int64_t st : sl.getSteps()) {
          if (st != 1) {
            return "slice with a step other than 1";
          }
        }
        return "";
      })
      .Case<SplitOp, ConcatOp>([&](Operation *) -> std::string { return ""; })
      .Case([&](GatherOp g) -> std::string {
        // With constant indices a gather is a set of copies; an embedding
        // lookup addresses rows by token ids known only at run time, one
        // dma.idx per row.
        if (constantOf(g.getIndices())) {
          return constantGatherIndices(g) ? "" : "gather index out of range";
        }
        if (g.getAxis() != 0) {
          return "gather at run-time indices along an axis other than 0 "
                 "(dma.idx moves whole rows)";
        }
        if (!indexBytesOf(g.getIndices())) {
          return "gather indices must be i32 or i64 (dma.idx reads a 32-bit "
                 "index)";
        }
        return "";
      })
      .Default([&](Operation *) -> std::string { return ""; });
}

/// The copies `op` is, its operands at `addressOf`.
FailureOr<std::vector<isa::DmaDesc>> describe(Operation *op,
                                              AddressFn addressOf) {
  std::vector<isa::DmaDesc> copies;
  if (auto sp = dyn_cast<SplitOp>(op)) {
    auto it = tensorOf(sp.getInput());
    uint64_t e =
        bytesOf(sp.getInput()) / std::max<int64_t>(1, it.getNumElements());
    FailureOr<uint64_t> src = addressOf(sp.getInput());
    if (failed(src)) {
      return failure();
    }
    int64_t axis = static_cast<int64_t>(sp.getAxis());
    int64_t off = 0;
    for (Value r : sp.getOutputs()) {
      auto rt = tensorOf(r);
      SmallVector<int64_t> so(it.getRank(), 0), zero(it.getRank(), 0);
      so[axis] = off;
      FailureOr<uint64_t> dst = addressOf(r);
      if (failed(dst)) {
        return failure();
      }
      boxCopies(*src, it.getShape(), so, *dst, rt.getShape(), zero,
                rt.getShape(), e, copies);
      off += rt.getDimSize(axis);
    }
  } else if (auto cc = dyn_cast<ConcatOp>(op)) {
    auto ot = tensorOf(cc.getOutput());
    uint64_t e =
        bytesOf(cc.getOutput()) / std::max<int64_t>(1, ot.getNumElements());
    int64_t axis = static_cast<int64_t>(cc.getAxis());
    FailureOr<uint64_t> dstAddr = addressOf(cc.getOutput());
    if (failed(dstAddr)) {
      return failure();
    }
    uint64_t dst = *dstAddr;
    int64_t off = 0;
    for (Value in : cc.getInputs()) {
      auto t = tensorOf(in);
      FailureOr<uint64_t> src = addressOf(in);
      if (failed(src)) {
        return failure();
      }
      SmallVector<int64_t> dOff(ot.getRank(), 0), zero(ot.getRank(), 0);
      dOff[axis] = off;
      boxCopies(*src, t.getShape(), zero, dst, ot.getShape(), dOff,
                t.getShape(), e, copies);
      off += t.getDimSize(axis);
    }
  } else if (auto ga = dyn_cast<GatherOp>(op)) {
    // Constant indices (claimsOp): one box copy per index, the output seen
    // as [input dims before axis, indices flattened, input dims after].
    std::vector<int64_t> idx = *constantGatherIndices(ga);
    auto it = tensorOf(ga.getInput());
    uint64_t e =
        bytesOf(ga.getInput()) / std::max<int64_t>(1, it.getNumElements());
    FailureOr<uint64_t> src = addressOf(ga.getInput());
    if (failed(src)) {
      return failure();
    }
    int64_t axis = int64_t(ga.getAxis());
    SmallVector<int64_t> outShape(it.getShape()), box(it.getShape());
    outShape[axis] = int64_t(idx.size());
    box[axis] = 1;
    FailureOr<uint64_t> dstAddr = addressOf(ga.getOutput());
    if (failed(dstAddr)) {
      return failure();
    }
    uint64_t dst = *dstAddr;
    for (size_t j = 0; j < idx.size(); ++j) {
      SmallVector<int64_t> so(it.getRank(), 0), dOff(it.getRank(), 0);
      so[axis] = idx[j];
      dOff[axis] = int64_t(j);
      boxCopies(*src, it.getShape(), so, dst, outShape, dOff, box, e, copies);
    }
  } else {
    auto sl = cast<SliceOp>(op);
    auto it = tensorOf(sl.getInput()), ot = tensorOf(sl.getOutput());
    uint64_t e =
        bytesOf(sl.getInput()) / std::max<int64_t>(1, it.getNumElements());
    FailureOr<uint64_t> src = addressOf(sl.getInput());
    if (failed(src)) {
      return failure();
    }
    SmallVector<int64_t> zero(ot.getRank(), 0);
    FailureOr<uint64_t> dst = addressOf(sl.getOutput());
    if (failed(dst)) {
      return failure();
    }
    boxCopies(*src, it.getShape(), sl.getStarts(), *dst, ot.getShape(), zero,
              ot.getShape(), e, copies);
  }
  return copies;
}

/// `op` as a gather at run-time indices, else null.
GatherOp indexedGather(Operation *op) {
  auto g = dyn_cast<GatherOp>(op);
  return g && !constantOf(g.getIndices()) ? g : GatherOp();
}

template <typename ConcreteOp>
struct CopyKernel
    : NpuKernelOpInterface::ExternalModel<CopyKernel<ConcreteOp>, ConcreteOp> {
  std::string getNpuIllegalReason(Operation *op, const target::Target &) const {
    return copyIllegalReason(op);
  }

  FailureOr<KernelCost> getNpuKernelCost(Operation *op,
                                         KernelContext &ctx) const {
    if (GatherOp g = indexedGather(op)) {
      FailureOr<IndexedRows> r = describeIndexedGather(
          g, [&](Value v) { return ctx.plannedAddress(v); });
      if (failed(r)) {
        return failure();
      }
      return KernelCost{0, indexedRowsEstimate(ctx.target(), *r)};
    }
    FailureOr<std::vector<isa::DmaDesc>> copies =
        describe(op, [&](Value v) { return ctx.plannedAddress(v); });
    if (failed(copies)) {
      return failure();
    }
    return KernelCost{0, planCopies(ctx.target(), *copies).estimate};
  }

  LogicalResult emitNpuKernel(Operation *op, KernelContext &ctx) const {
    KernelEmitter *emitter = ctx.emitter();
    assert(emitter && "emitNpuKernel outside the lowering");
    if (GatherOp g = indexedGather(op)) {
      FailureOr<IndexedRows> r =
          describeIndexedGather(g, [&](Value v) { return ctx.addressOf(v); });
      if (failed(r)) {
        return failure();
      }
      // Distinct destination rows: spread over the cores' DMA queues with
      // no ordering between them.
      const target::Target &t = ctx.target();
      for (size_t j = 0; j < r->rows.size(); ++j) {
        emitter->q(unsigned(j % t.cores), isa::Engine::Dma)
            .dmaIndexed(r->rows[j].first, r->rows[j].second);
      }
      emitter->setEstimate(indexedRowsEstimate(t, *r));
      emitter->barrierAll();
      return success();
    }
    FailureOr<std::vector<isa::DmaDesc>> copies =
        describe(op, [&](Value v) { return ctx.addressOf(v); });
    if (failed(copies)) {
      return failure();
    }
    emitter->copies(*copies);
    return success();
  }
};

template <typename... Ops> void attach(MLIRContext *ctx) {
  (Ops::template attachInterface<CopyKernel<Ops>>(*ctx), ...);
}

} // namespace

void registerCopyKernels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NuriDialect *) {
    attach<SplitOp, ConcatOp, SliceOp, GatherOp>(ctx);
  });
}

} // namespace nuri::npu
