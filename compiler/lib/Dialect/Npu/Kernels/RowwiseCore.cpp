//===- RowwiseCore.cpp - The row-wise vector kernel -----------------------===//
//
// The MLIR-free core of the row-wise kernels (Rowwise.cpp is their MLIR
// side): the rows of a [rows x cols] view split over the cores, each
// core's rows in chunks double-buffered through SRAM, the op's vector body
// run on every chunk.
//
//===----------------------------------------------------------------------===//

#include "RowwiseCore.h"

#include "KernelSupport.h"

#include "nuri/target/CostModel.h"

namespace nuri::npu {

using namespace isa;
using namespace kernel;

namespace {

/// rowF32 entry of an operand the body reads as it is (0 is a valid SRAM
/// address).
constexpr uint64_t kNoCopy = ~uint64_t(0);

/// Bytes of a row or scalar operand, loaded once per core; 0 for the
/// operands loaded per chunk.
uint64_t fixedBytes(const RowwiseDesc &r, const RowOperand &o) {
  return o.kind == RowOperand::Row      ? r.cols * dtypeBytes(o.dtype)
         : o.kind == RowOperand::Scalar ? dtypeBytes(o.dtype)
                                        : 0;
}

} // namespace

std::vector<std::pair<uint64_t, uint64_t>>
rowwiseFixedReads(const RowwiseDesc &r) {
  std::vector<std::pair<uint64_t, uint64_t>> reads;
  for (const RowOperand &o : r.ins) {
    if (uint64_t b = fixedBytes(r, o)) {
      reads.push_back({o.addr, o.addr + b});
    }
  }
  return reads;
}

namespace {

/// Completion cycle of one chunk's vector body of `rows` rows, timed as the
/// simulator times it (docs/simulator.md, "Vector engine", from the same
/// description of each op, target::describeVectorOp): each op holds
/// the lanes for its occupancy, and an op reading what the op just before
/// it writes waits for that op's completion (`vector_raw`: occupancy plus
/// the pipeline depth). A layer norm's chain of dependent ops pays the
/// depth on most of its ops, which a count of elementwise passes misses
/// (rngd bert-base: 524 predicted against 1,297 simulated cycles).
uint64_t chunkVectorCycles(const target::Target &t, const RowwiseDesc &r,
                           const RowwiseLayout &x, uint64_t rows) {
  ProgramBuilder scratch;
  StreamBuilder vec = scratch.queue(0, Engine::Vector);
  RowChunk ch;
  ch.rows = rows;
  ch.in = x.slots[0].in;
  ch.out = x.slots[0].out;
  ch.f32 = x.slots[0].f32;
  ch.vecs = x.slots[0].vecs;
  r.body(vec, ch);
  uint64_t issue = 0, lastDone = 0;
  std::pair<uint64_t, uint64_t> lastDst{0, 0};
  for (const Instruction &in : scratch.program().streams.front().insts) {
    std::optional<target::VectorOp> op = target::describeVectorOp(t, in);
    if (!op) {
      continue;
    }
    if (lastDone > issue) {
      for (auto [lo, hi] : op->reads) {
        if (lo < lastDst.second && lastDst.first < hi) {
          issue = lastDone;
        }
      }
    }
    target::VectorCost vc = op->cost(t);
    lastDone = issue + vc.latency();
    issue += vc.occupancy;
    lastDst = op->write;
  }
  return std::max(issue, lastDone);
}

/// The former estimate, elementwise passes over the busiest core's rows or
/// the kernel's bytes at DRAM's rate: the fallback without a layout, and
/// what the weight stream's idle-DRAM planning was tuned on (emitRowwise).
uint64_t passCountEstimate(const target::Target &t, const RowwiseDesc &r) {
  target::VectorCost vc = target::vectorCost(t, target::VectorKind::Elementwise,
                                             ceilDiv(r.rows, t.cores), r.cols,
                                             t.vector.transcendentalPasses, 8);
  const uint64_t bytes =
      r.rows * r.cols * dtypeBytes(r.outType) * (1 + r.ins.size());
  return std::max<uint64_t>(vc.latency() * (2 + r.f32Scratch),
                            uint64_t(double(bytes) / t.dramBytesPerCycle()));
}

} // namespace

uint64_t estimateRowwise(const target::Target &t, const RowwiseDesc &r) {
  if (r.cols == 0 || r.rows == 0) {
    return 0;
  }
  // The busiest core's chunks, as emitRowwise runs them: its dma queue
  // loads chunk i + 1 and stores chunk i - 1 while the vector engine runs
  // chunk i, so the kernel takes the first load, the longer of the two
  // pipelines, and the last store.
  const unsigned eo = dtypeBytes(r.outType);
  const uint64_t rowsPerCore = ceilDiv(r.rows, t.cores);
  Result<RowwiseLayout> placed = placeRowwise(t, r, {0, 0}, false);
  if (!placed || !r.body) {
    // No layout (emitRowwise reports why).
    return passCountEstimate(t, r);
  }
  const uint64_t rb = placed->rowsPerChunk, n = ceilDiv(rowsPerCore, rb);
  const uint64_t lastRows = rowsPerCore - (n - 1) * rb;
  uint64_t vector = (n - 1) * chunkVectorCycles(t, r, *placed, rb) +
                    chunkVectorCycles(t, r, *placed, lastRows);
  // Per row, the bytes each transfer moves and whether it crosses DRAM (an
  // intermediate in the shared SRAM or a peer pool goes over the NoC:
  // its own latency and rate).
  uint64_t inPerRow = 0, dramPerRow = 0;
  bool inDram = false;
  for (const RowOperand &o : r.ins) {
    uint64_t b = o.kind == RowOperand::Full || o.kind == RowOperand::Periodic
                     ? r.cols * dtypeBytes(o.dtype)
                 : o.kind == RowOperand::Column ? dtypeBytes(o.dtype)
                                                : 0;
    inPerRow += b;
    if (b && dramBytes(o.addr, b) > 0) {
      inDram = true;
      dramPerRow += b;
    }
  }
  const uint64_t outPerRow = r.cols * eo;
  const bool outDram = dramBytes(r.out, outPerRow) > 0;
  dramPerRow += outDram ? outPerRow : 0;
  const double coreRate =
      std::min(t.dma.bytesPerCycle,
               inDram || outDram ? t.dramBytesPerCycle() : t.noc.bytesPerCycle);
  // All cores stream at once: each at its dma rate, together at DRAM's.
  const uint64_t dma = std::max<uint64_t>(
      uint64_t(double(rowsPerCore * (inPerRow + outPerRow)) / coreRate),
      uint64_t(double(r.rows * dramPerRow) / t.dramBytesPerCycle()));
  return target::dmaCycles(t, rb * inPerRow, inDram) + std::max(vector, dma) +
         target::dmaCycles(t, lastRows * outPerRow, outDram);
}

Result<RowwiseLayout> placeRowwise(const target::Target &t,
                                   const RowwiseDesc &r,
                                   std::pair<uint64_t, uint64_t> beside,
                                   bool streamed) {
  if (r.cols > 65535) {
    return Result<RowwiseLayout>::failure(
        fmt::format("rows of {} elements exceed the vector engine's 65535 "
                    "columns",
                    r.cols));
  }
  const unsigned eo = dtypeBytes(r.outType);
  SramPlan sram(kernelSramBytes(t));
  auto [earlyEnd, earlyRoom] = beside;
  // Row and scalar operands (gamma, beta, ...): loaded once per core. When
  // none is written by the previous kernel and that kernel leaves room in
  // SRAM, the fetch queue loads them while it runs; otherwise the first
  // chunk would wait a DRAM round trip for them.
  // rowF32: the operand's f32 copy, kNoCopy when the body reads it as is.
  RowwiseLayout x;
  x.fixedAddr.assign(r.ins.size(), 0);
  x.rowF32.assign(r.ins.size(), kNoCopy);
  std::vector<uint64_t> &fixedAddr = x.fixedAddr, &rowF32 = x.rowF32;
  uint64_t &fixedTotal = x.fixedTotal, &earlyLo = x.earlyLo;
  for (const RowOperand &o : r.ins) {
    if (fixedBytes(r, o)) {
      // Scalars are broadcast to a row in place.
      fixedTotal += roundUp(r.cols * dtypeBytes(o.dtype), 64);
    }
  }
  x.streamed = streamed && fixedTotal > 0;
  // Only where it leaves this kernel most of the scratchpad below it.
  const bool early = x.early = !x.streamed && fixedTotal > 0 &&
                               earlyRoom >= fixedTotal &&
                               earlyEnd - fixedTotal >= kernelSramBytes(t) / 2;
  if (early) {
    earlyLo = earlyEnd - fixedTotal;
    sram.limit(earlyLo);
  }
  uint64_t earlyNext = earlyLo;
  for (size_t i = 0; i < r.ins.size(); ++i) {
    const RowOperand &o = r.ins[i];
    if (!fixedBytes(r, o)) {
      continue;
    }
    uint64_t bytes = r.cols * dtypeBytes(o.dtype);
    if (x.streamed) {
      fixedAddr[i] = 0; // per core, in the ring (emitRowwise)
    } else if (early) {
      fixedAddr[i] = earlyNext;
      earlyNext += roundUp(bytes, 64);
    } else {
      fixedAddr[i] = sram.alloc(
          bytes, o.kind == RowOperand::Row ? "row operand" : "scalar operand");
    }
    if (o.kind == RowOperand::Row && r.rowsAsF32) {
      rowF32[i] = sram.alloc(r.cols * 4, "row operand f32");
    }
  }
  uint64_t perRow =
      r.cols * eo + r.f32Scratch * r.cols * 4 + r.vecScratch * 4 + 6 * 64;
  for (const RowOperand &o : r.ins) {
    if (o.kind == RowOperand::Full || o.kind == RowOperand::Periodic) {
      perRow += r.cols * dtypeBytes(o.dtype);
    } else if (o.kind == RowOperand::Column) {
      perRow += dtypeBytes(o.dtype);
    }
  }
  uint64_t rowsPerCore = ceilDiv(r.rows, t.cores);
  uint64_t avail = sram.size() > sram.used() + 64 * 16
                       ? sram.size() - sram.used() - 64 * 16
                       : 0;
  uint64_t rb = std::min<uint64_t>({rowsPerCore, avail / (2 * perRow), 65535});
  // Chunks big enough to amortize DMA latency, small enough to pipeline.
  // About four chunks per core, so loads, vector work and stores of
  // neighbouring chunks overlap, but no chunk under ~8 KiB.
  uint64_t minRows =
      std::max<uint64_t>(1, ceilDiv(8192, std::max<uint64_t>(1, r.cols * eo)));
  uint64_t want = std::max(minRows, ceilDiv(rowsPerCore, 4));
  rb = std::min(rb, want);
  if (rb == 0) {
    return Result<RowwiseLayout>::failure(
        fmt::format("sram of {} B per core cannot hold one row of {} "
                    "elements with its scratch buffers",
                    kernelSramBytes(t), r.cols));
  }
  x.rowsPerChunk = rb;
  for (RowwiseLayout::Slot &s : x.slots) {
    for (size_t i = 0; i < r.ins.size(); ++i) {
      const RowOperand &o = r.ins[i];
      if (o.kind == RowOperand::Full || o.kind == RowOperand::Periodic) {
        s.in.push_back(sram.alloc(rb * r.cols * dtypeBytes(o.dtype), "input"));
      } else if (o.kind == RowOperand::Column) {
        s.in.push_back(sram.alloc(rb * dtypeBytes(o.dtype), "column input"));
      } else {
        s.in.push_back(rowF32[i] != kNoCopy ? rowF32[i] : fixedAddr[i]);
      }
    }
    s.out = sram.alloc(rb * r.cols * eo, "output");
    for (unsigned i = 0; i < r.f32Scratch; ++i) {
      s.f32.push_back(sram.alloc(rb * r.cols * 4, "f32 scratch"));
    }
    for (unsigned i = 0; i < r.vecScratch; ++i) {
      s.vecs.push_back(sram.alloc(rb * 4, "row scratch"));
    }
  }
  if (!sram.ok()) {
    return Result<RowwiseLayout>::failure(sram.error());
  }
  x.sramBytesPerCore = sram.used();
  return x;
}

Result<bool> emitRowwise(KernelEmitter &emitter, const RowwiseDesc &r) {
  const target::Target &t = emitter.target();
  const unsigned P = t.cores;
  emitter.setEstimate(estimateRowwise(t, r));
  if (r.cols == 0 || r.rows == 0) {
    emitter.barrierAll();
    return true;
  }
  // With the weight stream the fixed operands (a layer norm's gamma and
  // beta, ...) ride it: the fetch queue loads them into the ring in kernel
  // order, ahead of the kernel like the GEMMs' weights, instead of after
  // the barrier on the kernel's own dma queue (a DRAM round trip before the
  // first chunk: 400 cycles on rngd, for a kernel of a few hundred). The
  // vector queue takes their full signals in stream order: the kernels
  // before it took exactly theirs, and the barrier orders those waits
  // before this one. Not for operands a kernel before wrote (the stream
  // would read them before they are written) or beyond the ring.
  const std::vector<std::pair<uint64_t, uint64_t>> fixedReads =
      rowwiseFixedReads(r);
  const bool streamed =
      emitter.weightStream() && !fixedReads.empty() &&
      std::all_of(fixedReads.begin(), fixedReads.end(),
                  [&](const auto &rd) {
                    return !emitter.writtenBefore(rd.first, rd.second);
                  }) &&
      std::all_of(r.ins.begin(), r.ins.end(), [&](const RowOperand &o) {
        return !fixedBytes(r, o) ||
               (emitter.fitsWeightStream(
                    roundUp(r.cols * dtypeBytes(o.dtype), 64)) &&
                r.cols * dtypeBytes(o.dtype) < (uint64_t(1) << 23));
      });
  Result<RowwiseLayout> placed = placeRowwise(
      t, r,
      // Without the stream, the fetch queue loads them early into SRAM the
      // previous kernel leaves alone; with it, pending full signals of
      // weight chunks share its semaphore, so they take the ring.
      emitter.weightStream() ? std::pair<uint64_t, uint64_t>{0, 0}
                             : emitter.placeBesidePrevious(0, fixedReads),
      streamed);
  if (!placed) {
    return Result<bool>::failure(placed.error());
  }
  const RowwiseLayout &x = *placed;
  if (x.early) {
    emitter.releaseFetch(true);
  }
  const unsigned eo = dtypeBytes(r.outType);
  const uint64_t rb = x.rowsPerChunk, rowsPerCore = ceilDiv(r.rows, P);
  const bool early = x.early;
  const uint64_t earlyLo = x.earlyLo, fixedTotal = x.fixedTotal;
  const std::vector<uint64_t> &fixedAddr = x.fixedAddr, &rowF32 = x.rowF32;

  enum : unsigned { kConst, kInFull, kInFree, kOutFull, kOutFree };
  for (unsigned p = 0; p < P; ++p) {
    uint64_t r0 = std::min<uint64_t>(r.rows, p * rowsPerCore);
    uint64_t r1 = std::min<uint64_t>(r.rows, r0 + rowsPerCore);
    StreamBuilder dma = emitter.q(p, Engine::Dma),
                  vec = emitter.q(p, Engine::Vector);
    emitter.q(p, Engine::Matrix);
    if (r0 >= r1) {
      continue;
    }
    uint64_t n = ceilDiv(r1 - r0, rb);
    Ring in{kInFull, kInFree, 2, n}, out{kOutFull, kOutFree, 2, n};
    // The fixed operands' loads, and the semaphore the vector engine
    // waits on for them: the fetch queue's (it crosses kernels, so it
    // signals one no kernel uses) or this kernel's own.
    StreamBuilder fixedQ = early ? emitter.q(p, Engine::Fetch) : dma;
    const unsigned fixedSem =
        early || x.streamed ? emitter.fetchFullSemaphore() : unsigned(kConst);
    bool anyFixed = false;
    // This core's addresses of the fixed operands, and its chunks' slots
    // with them (the ring's head differs between cores).
    std::vector<uint64_t> coreFixed = fixedAddr;
    RowwiseLayout::Slot slots[2] = {x.slots[0], x.slots[1]};
    unsigned streamedChunks = 0;
    for (size_t i = 0; i < r.ins.size(); ++i) {
      uint64_t b = fixedBytes(r, r.ins[i]);
      if (!b) {
        continue;
      }
      anyFixed = true;
      if (!x.streamed) {
        loadVector(fixedQ, r.ins[i].addr, fixedAddr[i], b);
        continue;
      }
      // A scalar is broadcast to a row in place: its chunk holds the row.
      unsigned frees = 0;
      coreFixed[i] = emitter.placeStreamChunk(
          p, roundUp(r.cols * dtypeBytes(r.ins[i].dtype), 64), frees);
      emitter.issueStreamLoad(p, load(r.ins[i].addr, 0, coreFixed[i], 0, 1, b),
                              frees);
      ++streamedChunks;
      if (rowF32[i] == kNoCopy) {
        for (RowwiseLayout::Slot &sl : slots) {
          sl.in[i] = coreFixed[i];
        }
      }
    }
    if (anyFixed && !x.streamed) {
      fixedQ.signal(fixedSem);
    }
    auto storeChunk = [&](uint64_t ci) {
      uint64_t row = r0 + ci * rb, rows = std::min(rb, r1 - row);
      out.consume(dma);
      dma.dma(store(x.slots[ci % 2].out, r.cols * eo, r.out + row * r.cols * eo,
                    r.cols * eo, rows, r.cols * eo));
      out.consumed(dma, ci);
    };
    for (uint64_t ci = 0; ci < n; ++ci) {
      uint64_t row = r0 + ci * rb, rows = std::min(rb, r1 - row);
      in.produce(dma, ci);
      for (size_t i = 0; i < r.ins.size(); ++i) {
        const RowOperand &o = r.ins[i];
        unsigned e = dtypeBytes(o.dtype);
        if (o.kind == RowOperand::Full) {
          dma.dma(load(o.addr + row * r.cols * e, r.cols * e,
                       x.slots[ci % 2].in[i], r.cols * e, rows, r.cols * e));
        } else if (o.kind == RowOperand::Column) {
          dma.dma(
              load(o.addr + row * e, 0, x.slots[ci % 2].in[i], 0, 1, rows * e));
        } else if (o.kind == RowOperand::Periodic) {
          // One transfer per run of rows that is contiguous in the table.
          uint64_t rr = 0;
          while (rr < rows) {
            uint64_t g = row + rr;
            uint64_t src = (g / o.groupRows) * o.groupStride + g % o.period;
            uint64_t run = std::min(rows - rr, o.period - g % o.period);
            run = std::min(run, o.groupRows - g % o.groupRows);
            dma.dma(load(o.addr + src * r.cols * e, r.cols * e,
                         x.slots[ci % 2].in[i] + rr * r.cols * e, r.cols * e,
                         run, r.cols * e));
            rr += run;
          }
        }
      }
      in.produced(dma);
      if (ci > 0) {
        storeChunk(ci - 1);
      }
    }
    storeChunk(n - 1);

    if (anyFixed) {
      vec.wait(fixedSem, x.streamed ? streamedChunks : 1);
      for (size_t i = 0; i < r.ins.size(); ++i) {
        const RowOperand &o = r.ins[i];
        if (o.kind == RowOperand::Scalar) {
          // One element -> a full row, so bodies treat it as a Row operand.
          vec.bcast(Bcast::Col, {coreFixed[i], r.cols * dtypeBytes(o.dtype)},
                    coreFixed[i], 1, r.cols, o.dtype, o.dtype);
        }
        if (rowF32[i] != kNoCopy) {
          vec.unary(UnOp::Copy, {rowF32[i], r.cols * 4},
                    {coreFixed[i], r.cols * dtypeBytes(o.dtype)}, 1, r.cols,
                    Dtype::F32, o.dtype);
        }
      }
    }
    for (uint64_t ci = 0; ci < n; ++ci) {
      uint64_t row = r0 + ci * rb, rows = std::min(rb, r1 - row);
      in.consume(vec);
      out.produce(vec, ci);
      RowChunk ch;
      ch.rows = rows;
      ch.in = slots[ci % 2].in;
      ch.out = slots[ci % 2].out;
      ch.f32 = slots[ci % 2].f32;
      ch.vecs = slots[ci % 2].vecs;
      r.body(vec, ch);
      in.consumed(vec, ci);
      out.produced(vec);
    }
    // The ring's chunks are free once the last body has read them (a
    // signal fires when the queue's earlier work completed), in the order
    // they were placed.
    if (streamedChunks) {
      vec.signal(emitter.fetchFreeSemaphore(), p, streamedChunks);
    }
  }
  KernelFootprint used;
  used.low = x.sramBytesPerCore;
  used.highLo = early ? earlyLo : 0;
  used.highHi = early ? earlyLo + fixedTotal : 0;
  used.writeLo = r.out;
  used.writeHi = r.out + r.rows * r.cols * eo;
  {
    double dram = dramBytes(r.out, r.rows * r.cols * eo);
    for (const RowOperand &o : r.ins) {
      if (o.kind == RowOperand::Full || o.kind == RowOperand::Periodic) {
        dram += dramBytes(o.addr, r.rows * r.cols * dtypeBytes(o.dtype));
      }
    }
    // The weight stream plans on the DRAM time this kernel leaves idle.
    // It was tuned on the former pass-count estimate, which is kept for
    // it: planning on the timed estimate above moved x330 bert-base b8 by
    // +3.9% and atom bert-base b1 by +0.8% (docs/npu-codegen.md, "Cost
    // model accuracy"); retuning the stream is its own measured change.
    used.dramIdle = emitter.dramIdleBeside(dram, passCountEstimate(t, r));
  }
  emitter.barrierAll(used);
  return true;
}

} // namespace nuri::npu
