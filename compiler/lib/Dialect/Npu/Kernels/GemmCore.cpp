//===- GemmCore.cpp - The GEMM kernel -------------------------------------===//
//
// The MLIR-free core of the GEMM kernel (Gemm.cpp is its MLIR side): the
// planner that enumerates core splits and tiles against the cost model,
// and the emitter of the planned kernel (A multicast to a row slice's
// cores, weights streamed or resident on the fetch queue, the read-out
// epilogue on the vector engine).
//
//===----------------------------------------------------------------------===//

#include "GemmCore.h"

#include "KernelSupport.h"

#include "nuri/target/CostModel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nuri::npu {

using namespace isa;
using namespace kernel;

namespace {

/// SRAM row pitch for `bytes` of A so the array's parallel row reads spread
/// over the banks (a pitch that is a multiple of banks x width puts every
/// row in one bank).
uint64_t padPitch(const target::Target &t, uint64_t bytes, uint64_t rows,
                  Dtype in) {
  uint64_t w = t.sram.bankWidthBytes;
  uint64_t base = roundUp(bytes, 64);
  double pack = t.packing(in);
  uint64_t best = base;
  double bestF = 1e30;
  for (unsigned i = 0; i <= 4; ++i) {
    uint64_t pitch = base + i * w;
    double f = target::sramBankFactor(t, pitch,
                                      std::min<uint64_t>(rows, t.matrix.rows),
                                      pack * dtypeBytes(in), 0);
    if (f < bestF - 1e-9) {
      bestF = f;
      best = pitch;
    }
  }
  return best;
}

/// A chunks of a kernel's first block in flight at once: enough that their
/// transfers cover the link's latency, and at least two (where one
/// transfer outlasts the latency, as a 32 KiB chunk from atom's GDDR6 does,
/// two keep the link busy); at most the DMA's outstanding transfers. On
/// rngd a chunk crosses in 128 cycles against 400 of latency: two in
/// flight would leave the array waiting for A most of the time.
uint64_t aChainDepth(const target::Target &t, bool shared,
                     uint64_t chunkBytes) {
  double link =
      shared ? std::max(1.0, t.noc.bytesPerCycle) : t.dramBytesPerCycle();
  double rate = std::min(double(t.dma.bytesPerCycle), link);
  double transfer = std::max(1.0, double(chunkBytes) / rate);
  double lat = double(shared ? t.noc.latencyCycles : t.dram.latencyCycles);
  uint64_t depth = uint64_t(std::ceil(lat / transfer)) + 1;
  return std::clamp<uint64_t>(depth, 2,
                              std::max<uint64_t>(2, t.dma.outstanding));
}

/// SRAM bytes of one weight slot: a kc x nt chunk, or for the transposed
/// GEMV nt rows of kc values at `pitch`.
uint64_t weightSlotBytes(const GemmDesc &g, uint64_t kc, uint64_t nt,
                         uint64_t pitch) {
  return roundUp(g.wT ? nt * pitch : kc * nt * dtypeBytes(g.in), 64);
}

/// SRAM bytes of one A buffer of mb rows: rows at `pitch`, or for the
/// transposed GEMV A^T, K rows of mb values.
uint64_t aBufferBytes(const GemmDesc &g, uint64_t mb, uint64_t pitch) {
  return g.wT ? roundUp(g.K * mb * dtypeBytes(g.in), 64) : mb * pitch;
}

/// The vector op computing activation `a` (the transposed GEMV applies it
/// after its bias, outside vec.accrd).
UnOp actUnOp(Act a) {
  switch (a) {
  case Act::Relu:
    return UnOp::Relu;
  case Act::Gelu:
    return UnOp::Gelu;
  case Act::Silu:
    return UnOp::Silu;
  case Act::Tanh:
    return UnOp::Tanh;
  case Act::GeluTanh:
    return UnOp::GeluTanh;
  case Act::None:
    break;
  }
  return UnOp::Copy;
}

/// Vector cycles of one tile's read-out. The transposed GEMV's accumulator
/// tile is nt x mb: read out in f32, bias and activation, transposed, cast.
double readOutCycles(const target::Target &t, const GemmDesc &g, uint64_t mb,
                     uint64_t nt) {
  const double rowMajor = double(mb * ceilDiv(nt, t.vector.lanes));
  return g.wT ? 3.0 * double(nt * ceilDiv(mb, t.vector.lanes)) + rowMajor
              : rowMajor;
}

} // namespace

bool preferTransposedWeight(const target::Target &t, const GemmDesc &g) {
  // The whole of M must fit one fold of the array's stationary side.
  if (!g.wBits || g.M > t.matrix.cols) {
    return false;
  }
  GemmDesc rowMajor = g, transposed = g;
  rowMajor.wT = false;
  transposed.wT = true;
  rowMajor.a = rowMajor.b = rowMajor.c = 0;
  transposed.a = transposed.b = transposed.c = 0;
  Result<GemmPlan> a = planGemm(t, rowMajor), b = planGemm(t, transposed);
  return b && (!a || b->estimate < a->estimate);
}

Result<GemmPlan> planGemm(const target::Target &t, const GemmDesc &g) {
  if (!t.supports(g.in)) {
    return Result<GemmPlan>::failure(fmt::format(
        "target {} has no {} matrix path", t.name, dtypeName(g.in)));
  }
  const uint64_t P = t.cores, R = t.matrix.rows, C = t.matrix.cols;
  const unsigned ei = dtypeBytes(g.in), eo = dtypeBytes(g.out);
  const uint64_t accEntries = t.matrix.accBytes / 4;
  const uint64_t S = kernelSramBytes(t);
  const double dramPerCycle = t.dramBytesPerCycle();
  const uint64_t pitch = padPitch(t, g.K * ei, R, g.in);
  const double lat = double(t.dram.latencyCycles);
  GemmPlan best;
  const bool stream = weightStreamBytes(t) != 0;
  // Weight rings: resident (0), deep (as many slots as the DMA keeps
  // transfers in flight, where that is more than four), four, two.
  std::vector<unsigned> wRings = {0u};
  if (t.dma.outstanding > 4) {
    wRings.push_back(t.dma.outstanding);
  }
  wRings.push_back(4u);
  wRings.push_back(2u);
  // Work split: mS x nS slices per batch, balancing compute against the
  // DRAM traffic of re-reading A (once per column slice, unless multicast)
  // and B (once per row block, unless resident).
  // Column slices are whole array widths, or, where the array is wider
  // than the weight columns of a core's fair share (bert-base's 768 columns
  // over rngd's eight 128-wide arrays), multiples of kSliceAlign columns:
  // the array then runs part empty, but every core streams its share of
  // the weights and A can be multicast, where whole widths would leave
  // cores idle (768 = 6 x 128) and each core twice the weights.
  constexpr uint64_t kSliceAlign = 32;
  std::vector<uint64_t> aligns = {std::min<uint64_t>(C, g.N)};
  if (kSliceAlign < aligns[0]) {
    aligns.push_back(kSliceAlign);
  }
  for (uint64_t align : aligns) {
    for (uint64_t nS = 1; nS <= P; ++nS) {
      for (uint64_t mS = 1; mS * nS <= P; ++mS) {
        GemmPlan p;
        p.nc = roundUp(ceilDiv(g.N, nS), align);
        if (align != aligns[0] && p.nc % aligns[0] == 0) {
          continue; // the first pass had this split
        }
        p.nS = ceilDiv(g.N, p.nc);
        p.mr = ceilDiv(g.M, mS);
        if (p.mr > R) {
          p.mr = roundUp(p.mr, R);
        }
        p.mS = ceilDiv(g.M, p.mr);
        if (p.nS != nS || p.mS != mS) {
          continue;
        }
        // Slices go to cores round-robin, so with nS dividing the core count
        // each core always gets the same column slice and the cores of a row
        // slice are neighbours.
        const bool grouped = P % nS == 0;
        p.mcastA = grouped && nS > 1;
        const uint64_t slices = g.batch * mS * nS;
        const uint64_t perCore = ceilDiv(slices, P);
        const uint64_t coresUsed = std::min<uint64_t>(P, slices);
        std::vector<uint64_t> nts = {std::min<uint64_t>(p.nc, 512)};
        // Narrower than two array widths the weight rows are too short for
        // the DMA to stream efficiently.
        for (uint64_t x = 2 * C; x < nts[0]; x *= 2) {
          nts.push_back(x);
        }
        // With the weight stream the chunks arrive ahead of the array, and
        // a slice cut into two to four tiles stores all but the last while
        // the array works on the next: only the last tile's store is left
        // after the multiplies (the drain below).
        if (stream) {
          for (uint64_t parts = 2; parts <= 4; ++parts) {
            uint64_t x = roundUp(ceilDiv(p.nc, parts), align);
            if (x < nts[0] && x >= std::min<uint64_t>(C, kSliceAlign) &&
                std::find(nts.begin(), nts.end(), x) == nts.end()) {
              nts.push_back(x);
            }
          }
        }
        std::vector<uint64_t> kcs;
        for (uint64_t k : {512, 256, 128}) {
          k = std::min<uint64_t>(k, g.K);
          if (kcs.empty() || kcs.back() != k) {
            kcs.push_back(k);
          }
        }
        for (uint64_t nt : nts) {
          const uint64_t tilesN = ceilDiv(p.nc, nt);
          for (uint64_t kc : kcs) {
            // A compressed weight's chunks start on a group of scales.
            if (g.wBits && g.wGroup < g.K && kc % g.wGroup != 0) {
              continue;
            }
            const uint64_t chunks = ceilDiv(g.K, kc);
            // The SRAM pitch of the array's A rows: A's, or for the
            // transposed GEMV the weight chunk's.
            const uint64_t aPitch =
                g.wT ? padPitch(t, kc * ei, R, g.in) : pitch;
            const uint64_t slot = weightSlotBytes(g, kc, nt, aPitch);
            // The DRAM bytes of one weight chunk (compressed or not).
            const double wChunk = double(weightChunkBytes(g, kc, nt));
            // nW == 0: the weight slice stays resident.
            for (unsigned nA : {2u, 1u}) {
              for (unsigned nW : wRings) {
                if (nW == 0 && (!grouped || g.bBatch != 0)) {
                  continue;
                }
                uint64_t wBytes = nW ? nW * slot : tilesN * chunks * slot;
                // Per column: the f32 bias and its staging (bf16), or the
                // int8 read-out's i32 correction, f32 scale and f32 bias.
                uint64_t fixed =
                    wBytes + 2 * roundUp(p.nc * (g.quantized ? 12 : 6), 64) +
                    64 * 16;
                // (The transposed GEMV: A^T, and two f32 read-out tiles.)
                uint64_t perRow = nA * (g.wT ? g.K * ei : pitch) + 2 * nt * eo +
                                  (g.hasResidual ? 2 * nt * eo : 0) +
                                  (g.wT ? 8 * nt : 0);
                if (fixed >= S) {
                  continue;
                }
                uint64_t mb = std::min(
                    {p.mr, accEntries / (2 * nt), (S - fixed) / perRow});
                if (mb > R) {
                  mb = mb / R * R;
                }
                if (mb == 0) {
                  continue;
                }
                const uint64_t blocks = ceilDiv(p.mr, mb);
                const uint64_t coreBlocks = perCore * blocks;
                if (nW == 0 && coreBlocks < 2) {
                  continue; // nothing to reuse; streaming overlaps better
                }
                target::MatmulCost mc =
                    g.wT ? target::matmulCost(t, nt, mb, kc, g.in, g.in, aPitch,
                                              mb * ei, false)
                         : target::matmulCost(t, mb, nt, kc, g.in, g.in, pitch,
                                              nt * ei, false);
                double steps = double(coreBlocks * tilesN * chunks);
                const double readOut = readOutCycles(t, g, mb, nt);
                double compute = steps * double(mc.occupancy);
                if (g.wT) {
                  // Its read-out (four vector ops a tile) may bound it.
                  compute =
                      std::max(compute, double(coreBlocks * tilesN) * readOut);
                }
                // Each operand's traffic goes over the link of its space:
                // DRAM, or the NoC for the shared SRAM.
                double aBytes =
                    double(g.batch) * (p.mcastA ? 1 : nS) * g.M * g.K * ei;
                const double wPerElem = wChunk / double(kc * nt);
                double bBytes =
                    nW ? double(g.batch) * mS * blocks * g.K * g.N * wPerElem
                       : double(coresUsed) * g.K * p.nc * wPerElem;
                double cBytes = double(g.batch) * g.M * g.N * eo;
                double dram = 0, noc = 0;
                (onChip(g.a) ? noc : dram) += aBytes;
                (onChip(g.b) ? noc : dram) += bBytes;
                (onChip(g.c) ? noc : dram) += cBytes;
                double dma = std::max(dram / dramPerCycle,
                                      noc / std::max(1.0, t.noc.bytesPerCycle));
                // A core's share of a link: one transfer's cap, or the link
                // split among the cores streaming over it.
                auto shareOf = [&](bool shared, double streams) {
                  double link = shared ? std::max(1.0, t.noc.bytesPerCycle)
                                       : dramPerCycle;
                  return std::min(double(t.dma.bytesPerCycle),
                                  link / std::max(1.0, streams));
                };
                const double used = double(coresUsed);
                const double aShare =
                    shareOf(onChip(g.a), p.mcastA ? used / nS : used);
                const double wShare = shareOf(onChip(g.b), used);
                // A ring of nW weight slots keeps at most nW chunks in
                // flight, each paying the link latency. Four slots are
                // enough where they hold more multiplies than twice a
                // chunk's latency and transfer (twice: with every core
                // streaming, a transfer in the simulator takes about that
                // long): atom's 64x32 array multiplies a 128 x 96 x 128 step
                // in 768 cycles against 500 of latency. rngd's 128x128
                // array does it in 128 cycles against 400 (and x330's in
                // 256 against 500): the ring there takes as many slots as
                // the DMA keeps transfers in flight (4660 instead of 6768
                // cycles for bert-base's FFN down projection on rngd).
                const double wXfer = wChunk / wShare;
                // (And only where a core streams more chunks than four
                // slots hold.)
                if (nW > 4 &&
                    (4.0 * double(mc.occupancy) >= 2.0 * (lat + wXfer) ||
                     coreBlocks * tilesN * chunks <= 4)) {
                  continue;
                }
                // Pipeline fill and drain: nothing overlaps the first
                // chunk's loads or the last chunk's multiply and read-out.
                double fill =
                    lat +
                    std::max(double(mb * kc * ei) / aShare, wChunk / wShare) +
                    double(mc.occupancy) + readOut;
                if (stream) {
                  // The last tile's store: every core stores its last
                  // tile at once, after the multiplies.
                  fill += lat + double(mb * std::min(nt, p.nc) * eo) /
                                    shareOf(onChip(g.c), used);
                }
                // The two queues of the busiest core: the fetch queue streams
                // the weights, the dma queue A (a multicasting leader
                // carries its group's); each keeps `outstanding` transfers in
                // flight, each paying the link latency.
                auto queueCycles = [&](double descs, double bytes,
                                       double share) {
                  return std::max(
                      bytes / share,
                      (lat * descs + bytes / double(t.dma.bytesPerCycle)) /
                          double(std::max(1u, t.dma.outstanding)));
                };
                double wLoads = double((nW ? coreBlocks : 1) * tilesN * chunks);
                const double wRing =
                    nW ? wLoads * (lat + wXfer) /
                             double(
                                 std::min(nW, std::max(1u, t.dma.outstanding)))
                       : 0.0;
                double aLoads = double(coreBlocks * chunks);
                double dmaCore = std::max(
                    {queueCycles(wLoads, wLoads * wChunk, wShare),
                     queueCycles(aLoads,
                                 double(coreBlocks) * double(mb * g.K * ei),
                                 aShare),
                     wRing});
                double overhead = fill + (wLoads + aLoads) * t.dma.issueCycles +
                                  double(coreBlocks) * (nA == 1 ? lat : 0.0) +
                                  double(t.dram.latencyCycles + R + C);
                uint64_t est =
                    uint64_t(std::max({compute, dma, dmaCore}) + overhead);
                if (est < p.estimate) {
                  p.estimate = est;
                  p.mb = mb;
                  p.nt = nt;
                  p.kc = kc;
                  p.nA = nA;
                  p.nW = nW;
                  p.residentW = nW == 0;
                  p.ldaS = aPitch;
                }
              }
            }
          }
        }
        if (p.mb && p.estimate < best.estimate) {
          best = p;
        }
      }
    }
  }
  if (!best.mb) {
    return Result<GemmPlan>::failure(fmt::format(
        "sram of {} B per core cannot hold one gemm tile: an A row of {} B "
        "(K = {}) plus the smallest weight and output buffers",
        S, g.K * ei, g.K));
  }
  return best;
}

uint64_t gemmSramBytes(const GemmDesc &g, const GemmPlan &pl) {
  // The emitter's allocations, in its order, with the weights in their own
  // place (it may put them beside the previous kernel instead).
  SramPlan sram(~uint64_t(0) >> 1);
  uint64_t at = 0;
  if (g.quantized) {
    for (int i = 0; i < 4; ++i) {
      sram.tryAlloc(pl.nc * 4, at);
    }
  }
  if (g.hasBias) {
    for (int i = 0; i < 2; ++i) {
      sram.tryAlloc(pl.nc * 4, at);
      if (g.biasType != Dtype::F32) {
        sram.tryAlloc(pl.nc * dtypeBytes(g.biasType), at);
      }
    }
  }
  for (unsigned i = 0; i < pl.nA; ++i) {
    sram.tryAlloc(aBufferBytes(g, pl.mb, pl.ldaS), at);
  }
  const unsigned eo = dtypeBytes(g.out);
  for (unsigned i = 0; i < pl.nO; ++i) {
    sram.tryAlloc(pl.mb * pl.nt * eo, at);
    if (g.hasResidual) {
      sram.tryAlloc(pl.mb * pl.nt * eo, at);
    }
  }
  if (g.wT) {
    sram.tryAlloc(pl.mb * pl.nt * 4, at);
    sram.tryAlloc(pl.mb * pl.nt * 4, at);
  }
  const uint64_t chunks = ceilDiv(g.K, pl.kc);
  const uint64_t wSlot = weightSlotBytes(g, pl.kc, pl.nt, pl.ldaS);
  sram.tryAlloc((pl.residentW ? ceilDiv(pl.nc, pl.nt) * chunks : pl.nW) * wSlot,
                at);
  return sram.used();
}

Result<bool> emitGemm(KernelEmitter &emitter, const GemmDesc &g,
                      const GemmPlan &pl) {
  const target::Target &t = emitter.target();
  emitter.setEstimate(pl.estimate);
  const unsigned P = t.cores;
  const unsigned ei = dtypeBytes(g.in), eo = dtypeBytes(g.out);
  const unsigned eb = dtypeBytes(g.biasType);

  struct Tile {
    uint64_t n0, nt;
  };
  struct Block {
    uint64_t b, m0, rows;
    std::vector<Tile> tiles;
  };
  std::vector<std::vector<Block>> work(P);
  uint64_t u = 0;
  for (uint64_t b = 0; b < g.batch; ++b) {
    for (uint64_t ms = 0; ms < pl.mS; ++ms) {
      for (uint64_t ns = 0; ns < pl.nS; ++ns, ++u) {
        uint64_t m0 = ms * pl.mr, m1 = std::min(g.M, m0 + pl.mr);
        uint64_t n0 = ns * pl.nc, n1 = std::min(g.N, n0 + pl.nc);
        for (uint64_t r = m0; r < m1; r += pl.mb) {
          Block blk{b, r, std::min(pl.mb, m1 - r), {}};
          for (uint64_t n = n0; n < n1; n += pl.nt) {
            blk.tiles.push_back({n, std::min(pl.nt, n1 - n)});
          }
          work[u % P].push_back(blk);
        }
      }
    }
  }

  SramPlan sram(kernelSramBytes(t));
  // Bias: the block's column range, two slots alternating with the blocks
  // (a slot is reloaded two blocks later, after every tile of the block
  // that read it has been stored).
  uint64_t biasF[2] = {0, 0}, biasStage[2] = {0, 0};
  // The int8 read-out's per-column i32 correction and f32 scale, in the
  // same two slots.
  uint64_t zpV[2] = {0, 0}, scaleV[2] = {0, 0};
  if (g.quantized) {
    for (int i = 0; i < 2; ++i) {
      zpV[i] = sram.alloc(pl.nc * 4, "gemm zero-point correction");
      scaleV[i] = sram.alloc(pl.nc * 4, "gemm scale");
    }
  }
  if (g.hasBias) {
    for (int i = 0; i < 2; ++i) {
      biasF[i] = sram.alloc(pl.nc * 4, "gemm bias");
      biasStage[i] = g.biasType == Dtype::F32
                         ? biasF[i]
                         : sram.alloc(pl.nc * eb, "gemm bias staging");
    }
  }
  uint64_t abuf[2], obuf[2], rbuf[2];
  for (unsigned i = 0; i < pl.nA; ++i) {
    abuf[i] = sram.alloc(aBufferBytes(g, pl.mb, pl.ldaS), "gemm A block");
  }
  const uint64_t chunks = ceilDiv(g.K, pl.kc);
  const uint64_t wSlot = weightSlotBytes(g, pl.kc, pl.nt, pl.ldaS);
  for (unsigned i = 0; i < pl.nO; ++i) {
    obuf[i] = sram.alloc(pl.mb * pl.nt * eo, "gemm output tile");
    rbuf[i] =
        g.hasResidual ? sram.alloc(pl.mb * pl.nt * eo, "gemm residual") : 0;
  }
  // The transposed GEMV's read-out: the nt x mb accumulator tile in f32,
  // and its transpose (one of each: the vector queue uses them in turn).
  uint64_t accT = 0, outT = 0;
  if (g.wT) {
    accT = sram.alloc(pl.mb * pl.nt * 4, "gemm transposed read-out");
    outT = sram.alloc(pl.mb * pl.nt * 4, "gemm read-out transposed back");
  }
  // Weight slots: a ring, or for a resident slice one per (tile, K
  // chunk), filled by the fetch queue, which never joins a barrier. When
  // the previous kernel leaves a place in SRAM alone and does not write the
  // weights, the slots go there and the fetch queue starts as soon as that
  // kernel does: the weights stream while it computes, and a chain of
  // memory-bound kernels keeps DRAM busy. The ring then grows into the free
  // place, by as many slots as that kernel leaves DRAM idle for: more would
  // take DRAM bandwidth from it (at batch 1 a transformer sits at the
  // ridge point, so the weights must stream while this kernel computes).
  const uint64_t residentSlots = ceilDiv(pl.nc, pl.nt) * chunks;
  // One past B's last byte in DRAM (a compressed row is N * wBits / 8).
  const uint64_t bEnd = g.wT ? g.b + (g.N - 1) * g.ldb + g.K * g.wBits / 8
                             : g.b + (g.batch - 1) * g.bBatch +
                                   (g.K - 1) * g.ldb +
                                   (g.wBits ? g.N * g.wBits / 8 : g.N * ei);
  // The program's weight stream (KernelEmitter::weightStream) takes the
  // chunks when four of them fit its ring, and a resident slice when it
  // takes at most half of it (so the chunks of the GEMMs before it can
  // still leave while it loads).
  const uint64_t ring = emitter.weightStreamRing();
  const bool stream = emitter.weightStream() && 4 * wSlot <= ring &&
                      (!pl.residentW || 2 * residentSlots * wSlot <= ring);
  if (emitter.weightStream() && !stream) {
    // This GEMM's own ring below reuses the stream's semaphores: they
    // must be back at zero first.
    for (unsigned p = 0; p < P; ++p) {
      emitter.drainWeightStream(p);
    }
  }
  const uint64_t budgetSlots =
      uint64_t(double(emitter.previousDramIdle()) * t.dramBytesPerCycle() /
               double(P) / double(wSlot));
  uint64_t wSlots = pl.residentW ? residentSlots : pl.nW;
  uint64_t wbase = 0;
  bool early = false;
  if (stream) {
    wSlots = 0;
    // Weights a kernel before this one wrote (a matmul of two computed
    // tensors) are loaded once this kernel has started; constants stream
    // as early as the ring lets them.
    if (emitter.writtenBefore(g.b, bEnd)) {
      emitter.releaseFetch(false);
    }
  } else {
    auto [end, room] = emitter.placeBesidePrevious(sram.used(), {{g.b, bEnd}});
    if (room >= wSlots * wSlot) {
      if (!pl.residentW) {
        // A deep ring (more than four slots) streaming during the
        // previous kernel takes its DRAM bandwidth: it is cut to what that
        // kernel leaves idle, as a ring of four grows by (rngd: a layer
        // norm before the FFN up projection went from 2475 to 3432 cycles
        // with all sixteen slots filling while it ran).
        if (pl.nW > 4) {
          wSlots =
              std::max<uint64_t>(4, std::min<uint64_t>(pl.nW, budgetSlots));
        }
        wSlots = std::max<uint64_t>(
            wSlots, std::min<uint64_t>(budgetSlots, room / wSlot));
      }
      wbase = (end - wSlots * wSlot) & ~uint64_t(63);
      early = true;
    }
  }
  const uint64_t wTotal = wSlots * wSlot;
  if (!early && !stream) {
    wbase = sram.alloc(wTotal, "gemm weight buffers");
  }
  if (!sram.ok()) {
    return Result<bool>::failure(sram.error());
  }
  auto wbuf = [&](uint64_t slot) { return wbase + slot * wSlot; };
  // The load of a kc x nt weight chunk into SRAM at `at`: a copy, or for a
  // compressed weight dma.dq from its packed rows and its scale rows.
  auto weightLoad = [&](uint64_t batchOff, uint64_t k0, uint64_t kcc,
                        uint64_t n0, uint64_t nt, uint64_t at) {
    if (!g.wBits) {
      return load(g.b + batchOff + k0 * g.ldb + n0 * ei, g.ldb, at, nt * ei,
                  kcc, nt * ei);
    }
    if (g.wT) {
      // nt rows of N, kcc columns of K at the SRAM pitch ldaS; a scale per
      // row and group of columns (dma.dq's qcgroup).
      const uint64_t scaleRow = ceilDiv(g.K, g.wGroup) * 4;
      DmaDesc d = load(g.b + n0 * g.ldb + k0 * g.wBits / 8, g.ldb, at, pl.ldaS,
                       nt, kcc * ei);
      d.expand.bits = g.wBits;
      d.expand.out = g.in;
      d.expand.scale = g.wScale + n0 * scaleRow + (k0 / g.wGroup) * 4;
      d.expand.scaleStride = scaleRow;
      d.expand.group = 1;
      d.expand.colGroup = g.wGroup;
      return d;
    }
    DmaDesc d = load(g.b + k0 * g.ldb + n0 * g.wBits / 8, g.ldb, at, nt * ei,
                     kcc, nt * ei);
    d.expand.bits = g.wBits;
    d.expand.out = g.in;
    d.expand.scale = g.wScale + (k0 / g.wGroup) * g.N * 4 + n0 * 4;
    d.expand.scaleStride = g.N * 4;
    d.expand.group = g.wGroup;
    return d;
  };
  if (!stream) {
    emitter.releaseFetch(early);
  }
  uint64_t accBase[2] = {0, pl.mb * pl.nt};

  enum : unsigned {
    kAFull,
    kAFree,
    kAccFull,
    kAccFree,
    kOutFull,
    kOutFree,
    kBias,
    kResFull,
    kResFree,
    kAChain
  };
  for (unsigned p = 0; p < P; ++p) {
    const std::vector<Block> &blocks = work[p];
    uint64_t T = 0;
    for (const Block &b : blocks) {
      T += b.tiles.size();
    }
    if (T == 0) {
      continue;
    }
    // Weight loads: every (tile, chunk), or the first block's only when
    // the slice stays resident (every block has the same tiles).
    const uint64_t G =
        pl.residentW ? blocks.front().tiles.size() * chunks : T * chunks;
    // A: this core's own loads, or the group leader's multicasts (every
    // member has the same blocks, so they consume in lockstep).
    const unsigned leader = pl.mcastA ? p - p % unsigned(pl.nS) : p;
    const bool leads = leader == p;
    const unsigned members = pl.mcastA ? unsigned(pl.nS) : 1;
    Ring ringA{kAFull, kAFree, pl.nA, blocks.size(), members, int(leader)};
    // A resident slice has a slot per load, but the fetch queue still runs
    // at most a window ahead of the array: racing through the whole slice
    // would take the DRAM from the A loads the array needs as urgently.
    Ring ringW{emitter.fetchFullSemaphore(), emitter.fetchFreeSemaphore(),
               pl.residentW ? unsigned(std::min<uint64_t>(
                                  G, std::max<uint64_t>(8, budgetSlots)))
                            : unsigned(wSlots),
               G};
    Ring ringAcc{kAccFull, kAccFree, pl.nAcc, T};
    Ring ringOut{kOutFull, kOutFree, pl.nO, T};
    Ring ringRes{kResFull, kResFree, pl.nO, T};
    StreamBuilder dma = emitter.q(p, Engine::Dma),
                  mat = emitter.q(p, Engine::Matrix),
                  vec = emitter.q(p, Engine::Vector),
                  fetch = emitter.q(p, Engine::Fetch);

    // DMA: bias once, then per block its A rows, per tile its weight chunks
    // (running up to nW chunks ahead of the array), the previous tile's
    // store after the next tile's loads so stores never delay prefetch.
    auto blockCols = [](const Block &b) {
      return std::make_pair(b.tiles.front().n0,
                            b.tiles.back().n0 + b.tiles.back().nt);
    };
    struct Pending {
      const Block *blk;
      Tile tile;
      uint64_t index;
    };
    std::vector<Pending> pending;
    auto storeTile = [&](const Pending &pt) {
      ringOut.consume(dma);
      uint64_t dst =
          g.c + pt.blk->b * g.cBatch + pt.blk->m0 * g.ldc + pt.tile.n0 * eo;
      dma.dma(store(obuf[pt.index % pl.nO], pt.tile.nt * eo, dst, g.ldc,
                    pt.blk->rows, pt.tile.nt * eo));
      ringOut.consumed(dma, pt.index);
    };
    uint64_t gw = 0, ti = 0;
    // The ring addresses of this core's weight chunks, in load order.
    std::vector<uint64_t> streamAddr;
    const uint64_t depth = aChainDepth(
        t, onChip(g.a), blocks.front().rows * std::min(pl.kc, g.K) * ei);
    for (uint64_t bi = 0; bi < blocks.size(); ++bi) {
      const Block &blk = blocks[bi];
      // A arrives in K chunks, so the array starts after the first chunk
      // instead of after the whole block; the bias and residual, needed only
      // at the read-out, follow it (a signal waits for everything before it
      // on its queue).
      if (leads) {
        ringA.produce(dma, bi);
      }
      bool firstTile = true;
      for (const Tile &tile : blk.tiles) {
        const bool loadW = !pl.residentW || bi == 0;
        for (uint64_t c = 0; c < chunks; ++c) {
          uint64_t k0 = c * pl.kc, kcc = std::min(pl.kc, g.K - k0);
          if (firstTile && leads) {
            // The kernel's first block: at most `depth` A chunks in flight.
            // Chunks issued together share the link and all land late,
            // while the array needs the first one first; enough of them
            // to cover the link's latency (aChainDepth). Later blocks load
            // while the array works on the one before, where holding up the
            // queue would delay the stores instead.
            const bool chain = bi == 0 && chunks > depth;
            if (chain && c >= depth) {
              dma.wait(kAChain);
            }
            const uint64_t aSrc =
                g.a + blk.b * g.aBatch + blk.m0 * g.lda + k0 * ei;
            DmaDesc a = load(aSrc, g.lda, abuf[bi % pl.nA] + k0 * ei, pl.ldaS,
                             blk.rows, kcc * ei);
            if (g.wT) {
              // A^T, K rows of mb values: a 3-D box of single elements,
              // a plane per row of A.
              a = load(aSrc, ei, abuf[bi % pl.nA] + k0 * pl.mb * ei, pl.mb * ei,
                       kcc, ei);
              a.planes = blk.rows;
              a.srcPStride = g.lda;
              a.dstPStride = ei;
            }
            if (pl.mcastA) {
              dma.dmaMcast(a,
                           uint32_t(((uint64_t(1) << members) - 1) << leader));
              for (unsigned m = leader; m < leader + members; ++m) {
                dma.signal(kAFull, m);
              }
            } else {
              dma.dma(a);
              dma.signal(kAFull);
            }
            if (chain) {
              dma.signal(kAChain);
              if (c + 1 == chunks) {
                dma.wait(kAChain, unsigned(std::min<uint64_t>(depth, chunks)));
              }
            }
          }
          if (loadW && stream) {
            unsigned frees = 0;
            uint64_t at = emitter.placeStreamChunk(p, wSlot, frees);
            streamAddr.push_back(at);
            emitter.issueStreamLoad(
                p, weightLoad(blk.b * g.bBatch, k0, kcc, tile.n0, tile.nt, at),
                frees, g.M <= KernelEmitter::kWeightBoundRows);
            ++gw;
          } else if (loadW) {
            DmaDesc w = weightLoad(blk.b * g.bBatch, k0, kcc, tile.n0, tile.nt,
                                   wbuf(gw % wSlots));
            ringW.produce(fetch, gw);
            fetch.dma(w);
            ringW.produced(fetch);
            ++gw;
          }
        }
        if (firstTile && (g.hasBias || g.quantized)) {
          auto [c0, c1] = blockCols(blk);
          if (g.quantized) {
            loadVector(dma, g.zpBias + c0 * 4, zpV[bi % 2], (c1 - c0) * 4);
            loadVector(dma, g.scale + c0 * 4, scaleV[bi % 2], (c1 - c0) * 4);
          }
          if (g.hasBias) {
            loadVector(dma, g.bias + c0 * eb, biasStage[bi % 2],
                       (c1 - c0) * eb);
          }
          dma.signal(kBias);
        }
        if (g.hasResidual) {
          ringRes.produce(dma, ti);
          dma.dma(load(g.residual + blk.b * g.residualBatch + blk.m0 * g.ldc +
                           tile.n0 * eo,
                       g.ldc, rbuf[ti % pl.nO], tile.nt * eo, blk.rows,
                       tile.nt * eo));
          ringRes.produced(dma);
        }
        for (const Pending &pt : pending) {
          storeTile(pt);
        }
        pending = {{&blk, tile, ti}};
        ++ti;
        firstTile = false;
      }
    }
    for (const Pending &pt : pending) {
      storeTile(pt);
    }

    // Matrix: one accumulator tile per (block, tile), K in chunks.
    gw = 0;
    ti = 0;
    for (uint64_t bi = 0; bi < blocks.size(); ++bi) {
      const Block &blk = blocks[bi];
      const bool loadW = !pl.residentW || bi == 0;
      for (size_t tj = 0; tj < blk.tiles.size(); ++tj) {
        const Tile &tile = blk.tiles[tj];
        ringAcc.produce(mat, ti);
        for (uint64_t c = 0; c < chunks; ++c) {
          uint64_t k0 = c * pl.kc, kcc = std::min(pl.kc, g.K - k0);
          if (tj == 0) {
            ringA.consume(mat);
          }
          uint64_t slot = pl.residentW ? tj * chunks + c
                          : stream     ? gw
                                       : gw % wSlots;
          if (loadW) {
            ringW.consume(mat);
          }
          const uint64_t w = stream ? streamAddr[slot] : wbuf(slot);
          if (g.wT) {
            // out^T tile (nt x rows) = W^T chunk (nt x kcc) x A^T chunk.
            mat.mm(accBase[ti % pl.nAcc], {w, pl.ldaS},
                   {abuf[bi % pl.nA] + k0 * pl.mb * ei, pl.mb * ei}, tile.nt,
                   blk.rows, kcc, g.in, g.in, c > 0);
          } else {
            mat.mm(accBase[ti % pl.nAcc], {abuf[bi % pl.nA] + k0 * ei, pl.ldaS},
                   {w, tile.nt * ei}, blk.rows, tile.nt, kcc, g.in, g.in,
                   c > 0);
          }
          if (stream) {
            // Every chunk is freed after its last multiply, in load order
            // (a resident slice's in the last block): the fetch queue
            // waits for them in that order (placeStreamChunk).
            if (!pl.residentW || bi + 1 == blocks.size()) {
              mat.signal(emitter.fetchFreeSemaphore());
            }
            if (loadW) {
              ++gw;
            }
          } else if (loadW) {
            ringW.consumed(mat, gw);
            ++gw;
          }
        }
        ringAcc.produced(mat);
        ++ti;
      }
      ringA.consumed(mat, bi);
    }

    // Vector: the read-out epilogue (bias, activation, cast), then the
    // residual add in the output dtype.
    ti = 0;
    for (uint64_t bi = 0; bi < blocks.size(); ++bi) {
      const Block &blk = blocks[bi];
      auto [c0, c1] = blockCols(blk);
      if (g.hasBias || g.quantized) {
        vec.wait(kBias);
      }
      if (g.hasBias) {
        if (g.biasType != Dtype::F32) {
          for (uint64_t off = 0; off < c1 - c0; off += 32768) {
            uint64_t n = std::min<uint64_t>(32768, c1 - c0 - off);
            vec.unary(UnOp::Copy, {biasF[bi % 2] + off * 4, n * 4},
                      {biasStage[bi % 2] + off * eb, n * eb}, 1, n, Dtype::F32,
                      g.biasType);
          }
        }
      }
      for (const Tile &tile : blk.tiles) {
        ringAcc.consume(vec);
        ringOut.produce(vec, ti);
        Epilogue e;
        e.out = g.out;
        e.act = g.act;
        e.useBias = g.hasBias;
        e.bias = biasF[bi % 2] + (tile.n0 - c0) * 4;
        if (g.quantized) {
          // i32 correction into the integer sum, the scale, then the float
          // bias after it (vec.accrd's obias).
          e.useObias = g.hasBias;
          e.obias = e.bias;
          e.useBias = true;
          e.bias = zpV[bi % 2] + (tile.n0 - c0) * 4;
          e.useScale = true;
          e.scale = scaleV[bi % 2] + (tile.n0 - c0) * 4;
        }
        TileRef out{obuf[ti % pl.nO], tile.nt * eo};
        if (g.wT) {
          // The nt x rows tile in f32 (exact), its bias per row and the
          // activation in f32, transposed back, then the one rounding:
          // cast(act(acc + bias)) as vec.accrd computes it.
          TileRef t32{accT, blk.rows * 4}, back{outT, tile.nt * 4};
          Epilogue e32;
          e32.out = Dtype::F32;
          e32.act = g.hasBias ? Act::None : g.act;
          vec.accRead(t32, accBase[ti % pl.nAcc], tile.nt, blk.rows, e32);
          ringAcc.consumed(vec, ti);
          if (g.hasBias) {
            vec.binary(BinOp::Add, Bcast::Col, t32, t32, {e.bias, 4}, tile.nt,
                       blk.rows, Dtype::F32, Dtype::F32);
            if (g.act != Act::None) {
              vec.unary(actUnOp(g.act), t32, t32, tile.nt, blk.rows, Dtype::F32,
                        Dtype::F32);
            }
          }
          vec.transpose(back, t32, tile.nt, blk.rows, Dtype::F32);
          vec.unary(UnOp::Copy, out, back, blk.rows, tile.nt, g.out,
                    Dtype::F32);
        } else {
          vec.accRead(out, accBase[ti % pl.nAcc], blk.rows, tile.nt, e);
          ringAcc.consumed(vec, ti);
        }
        if (g.hasResidual) {
          ringRes.consume(vec);
          vec.binary(BinOp::Add, Bcast::None, out, out,
                     {rbuf[ti % pl.nO], tile.nt * eo}, blk.rows, tile.nt, g.out,
                     g.out);
          ringRes.consumed(vec, ti);
        }
        ringOut.produced(vec);
        ++ti;
      }
    }
  }
  KernelFootprint used;
  used.low = sram.used();
  used.highLo = early ? wbase : 0;
  used.highHi = early ? wbase + wTotal : 0;
  used.writeLo = g.c;
  used.writeHi = g.c + (g.batch - 1) * g.cBatch + (g.M - 1) * g.ldc + g.N * eo;
  // The fetch queue reaches the next kernel's weights after this one's last
  // load: what is left is the last tile's multiply, read-out and store.
  used.dramIdle = (g.wT ? target::matmulCost(t, pl.nt, pl.mb, pl.kc, g.in, g.in,
                                             pl.ldaS, pl.mb * ei)
                        : target::matmulCost(t, pl.mb, pl.nt, pl.kc, g.in, g.in,
                                             pl.ldaS, pl.nt * ei))
                      .latency() +
                  pl.mb * ceilDiv(pl.nt, t.vector.lanes) + t.dram.latencyCycles;
  emitter.barrierAll(used);
  return true;
}

} // namespace nuri::npu
