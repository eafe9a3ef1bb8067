//===- AttentionCore.cpp - The flash-attention kernel ---------------------===//
//
// The MLIR-free core of the attention kernel (Attention.cpp is its MLIR
// side): per (batch, head, query block) unit, key blocks of S = Q K^T in
// the accumulator, the scaled read-out, the mask, an online softmax in
// SRAM and P V; the scores never reach DRAM.
//
//===----------------------------------------------------------------------===//

#include "AttentionCore.h"

#include "KernelSupport.h"

#include "nuri/target/CostModel.h"

#include <vector>

namespace nuri::npu {

using namespace isa;
using namespace kernel;

namespace {

/// One core's share: `rows` query rows from `i0` of head `h` of batch `b`;
/// with grouped heads, the query heads `h .. h + rows` at position 0. Its
/// keys are `kvn` from `kv0`: all of them, or with the context split across
/// cores chunk `chunk`, whose partial results go to core `reducer`.
struct Unit {
  uint64_t b, h, i0, rows;
  uint64_t kv0 = 0, kvn = 0, chunk = 0;
  unsigned reducer = 0;
};

/// Whether a unit's rows are the query heads of one kv head rather than
/// positions of one head: a decode step over a KV cache (one query row)
/// with grouped-query heads and a mask shared by the heads. Then the kv
/// head's keys and values stream through SRAM once for all its query heads
/// instead of once per query head.
bool groupsHeads(const AttentionDesc &a) {
  return a.slotBytes && a.Sq == 1 && a.Hq > a.Hkv &&
         (!a.hasMask || (a.maskStride[1] == 0 && a.maskStride[2] == 0));
}
/// Rows of Q and O a unit spans, and their byte strides.
uint64_t unitRows(const AttentionDesc &a) {
  return groupsHeads(a) ? a.Hq / a.Hkv : a.Sq;
}
uint64_t qRowStride(const AttentionDesc &a) {
  return groupsHeads(a) ? a.qStride[1] : a.qStride[2];
}
uint64_t oRowStride(const AttentionDesc &a) {
  return groupsHeads(a) ? a.oStride[1] : a.oStride[2];
}

/// Flash-decoding: into how many chunks a decode step over a KV cache
/// splits each unit's context when its units are fewer than the cores
/// (batch 1, few heads, a long context). Each chunk runs on its own core
/// and the unit's first core reduces the partial max, sum and output.
/// Chunks keep at least kMinChunk keys, below which the reduction costs
/// more than the split saves.
constexpr uint64_t kMinChunk = 64;
uint64_t contextSplit(const AttentionDesc &a, uint64_t qb, unsigned cores) {
  if (!a.slotBytes || a.Sq != 1) {
    return 1;
  }
  uint64_t units =
      a.B * (groupsHeads(a) ? a.Hkv : a.Hq) * ceilDiv(unitRows(a), qb);
  uint64_t s = std::min<uint64_t>(cores / std::max<uint64_t>(units, 1),
                                  a.Skv / kMinChunk);
  return s < 2 ? 1 : ceilDiv(a.Skv, ceilDiv(a.Skv, s));
}
/// Bytes of one chunk's partial result: output rows (f32), max, sum.
uint64_t partialBytes(const AttentionDesc &a, uint64_t qb) {
  return qb * a.Dv * 4 + 2 * qb * 4;
}

/// The units dealt round-robin to the cores, core 0 first; with a split
/// context, unit u's chunk c on core u * chunks + c (one each).
std::vector<std::vector<Unit>> dealUnits(const AttentionDesc &a, uint64_t qb,
                                         unsigned cores) {
  std::vector<std::vector<Unit>> work(cores);
  const bool grouped = groupsHeads(a);
  const uint64_t heads = grouped ? a.Hkv : a.Hq, rows = unitRows(a);
  const uint64_t split = contextSplit(a, qb, cores),
                 len = ceilDiv(a.Skv, split);
  uint64_t u = 0;
  for (uint64_t b = 0; b < a.B; ++b) {
    for (uint64_t h = 0; h < heads; ++h) {
      for (uint64_t i0 = 0; i0 < rows; i0 += qb, ++u) {
        uint64_t n = std::min(qb, rows - i0);
        Unit un = grouped ? Unit{b, h * rows + i0, 0, n} : Unit{b, h, i0, n};
        un.kvn = a.Skv;
        if (split == 1) {
          un.reducer = unsigned(u % cores);
          work[u % cores].push_back(un);
          continue;
        }
        for (uint64_t c = 0; c < split; ++c) {
          un.kv0 = c * len;
          un.kvn = std::min(len, a.Skv - un.kv0);
          un.chunk = c;
          un.reducer = unsigned(u * split);
          work[u * split + c].push_back(un);
        }
      }
    }
  }
  return work;
}

/// Key blocks a query block needs: causal blocks past the diagonal are
/// skipped entirely.
uint64_t kvBlocks(const AttentionDesc &a, uint64_t kb, const Unit &un) {
  uint64_t end = un.kv0 + un.kvn;
  if (a.causal) {
    end = std::min(end, un.i0 + un.rows + a.Skv - a.Sq);
  }
  return ceilDiv(std::max<uint64_t>(end > un.kv0 ? end - un.kv0 : 0, 1), kb);
}

/// Every SRAM buffer of the kernel, placed in one order: the planner sizes
/// the tiles with it and the emitter uses it, so the two cannot disagree.
struct AttentionBuffers {
  uint64_t scaleV = 0;
  uint64_t qS[2] = {0, 0}, kS[2] = {0, 0}, vS[2] = {0, 0}, mS[2] = {0, 0},
           oS[2] = {0, 0};
  uint64_t kt = 0, s = 0, mf = 0, pb = 0, o = 0, pv = 0;
  uint64_t mrow = 0, lrow = 0, alpha = 0, bmax = 0, mnew = 0, bsum = 0, rl = 0;
  /// With a split context: a chunk's partial result staged for its DMA,
  /// and the partials of every chunk of the unit this core reduces.
  uint64_t pS[2] = {0, 0}, parts = 0;
  /// With the products on the vector engine: the f32 products of one
  /// query row with a key block (tS) and of one key with P's column (tO),
  /// two each so consecutive rows do not wait on each other.
  uint64_t tS[2] = {0, 0}, tO[2] = {0, 0};
};

AttentionBuffers placeBuffers(const AttentionDesc &a, uint64_t qb, uint64_t kb,
                              uint64_t split, bool vectorProducts,
                              SramPlan &sram) {
  const unsigned e = dtypeBytes(a.dtype), em = dtypeBytes(a.maskType);
  AttentionBuffers x;
  x.scaleV = sram.alloc(kb * 4, "attention scale");
  for (int i = 0; i < 2; ++i) {
    x.qS[i] = sram.alloc(qb * a.D * e, "Q");
    x.kS[i] = sram.alloc(kb * a.D * e, "K");
    x.vS[i] = sram.alloc(kb * a.Dv * e, "V");
    x.mS[i] = a.hasMask ? sram.alloc(qb * kb * em, "mask") : 0;
    x.oS[i] = sram.alloc(qb * a.Dv * e, "attention out");
  }
  x.kt = sram.alloc(a.D * kb * e, "K^T");
  x.s = sram.alloc(qb * kb * 4, "scores");
  x.mf = sram.alloc(qb * kb * 4, "mask f32");
  x.pb = sram.alloc(qb * kb * e, "P");
  x.o = sram.alloc(qb * a.Dv * 4, "o");
  x.pv = sram.alloc(qb * a.Dv * 4, "pv");
  x.mrow = sram.alloc(qb * 4, "m");
  x.lrow = sram.alloc(qb * 4, "l");
  x.alpha = sram.alloc(qb * 4, "alpha");
  x.bmax = sram.alloc(qb * 4, "mb");
  x.mnew = sram.alloc(qb * 4, "mnew");
  x.bsum = sram.alloc(qb * 4, "ls");
  x.rl = sram.alloc(qb * 4, "1/l");
  if (split > 1) {
    for (int i = 0; i < 2; ++i) {
      x.pS[i] = sram.alloc(partialBytes(a, qb), "partial");
    }
    x.parts = sram.alloc(split * partialBytes(a, qb), "partials");
  }
  if (vectorProducts) {
    for (int i = 0; i < 2; ++i) {
      x.tS[i] = sram.alloc(kb * a.D * 4, "q.k rows");
      x.tO[i] = sram.alloc(qb * a.Dv * 4, "p.v terms");
    }
  }
  return x;
}

/// The SRAM the kernel's buffers take with `qb` x `kb` tiles.
uint64_t sramNeed(const AttentionDesc &a, uint64_t qb, uint64_t kb,
                  unsigned cores, bool vectorProducts = false) {
  SramPlan sram(~uint64_t(0) >> 1);
  placeBuffers(a, qb, kb, contextSplit(a, qb, cores), vectorProducts, sram);
  return sram.used();
}

/// The vector engine's cycles for one block's two products row by row (what
/// emitAttention writes with AttentionPlan::vectorProducts): per query row
/// a K x q product and its row sums, the scale; per key a P-column x V-row
/// product and its sum into the output.
uint64_t vectorProductCycles(const target::Target &t, const AttentionDesc &a,
                             uint64_t qb, uint64_t kb) {
  using target::VectorKind;
  auto occ = [&](VectorKind k, uint64_t rows, uint64_t cols) {
    return target::vectorCost(t, k, rows, cols, 1, 8).occupancy;
  };
  uint64_t scores = qb * (occ(VectorKind::Elementwise, kb, a.D) +
                          occ(VectorKind::Reduce, kb, a.D)) +
                    occ(VectorKind::Elementwise, qb, kb);
  uint64_t pv = (2 * kb - 1) * occ(VectorKind::Elementwise, qb, a.Dv);
  // Each chain ends on a dependent op.
  return scores + pv + 2 * uint64_t(t.vector.pipelineDepth);
}

} // namespace

Result<AttentionPlan> planAttention(const target::Target &t,
                                    const AttentionDesc &a) {
  const unsigned P = t.cores;
  const Dtype dt = a.dtype;
  const unsigned e = dtypeBytes(dt), em = dtypeBytes(a.maskType);
  if (!t.supports(dt)) {
    return Result<AttentionPlan>::failure(
        fmt::format("target {} has no {} matrix path", t.name, dtypeName(dt)));
  }
  const uint64_t accEntries = t.matrix.accBytes / 4;
  // The cost model's cycles for qb x kb tiles.
  auto estimateOf = [&](uint64_t qb, uint64_t kb, bool vectorProducts) {
    const std::vector<std::vector<Unit>> work = dealUnits(a, qb, P);
    uint64_t blocks = 0;
    for (const Unit &un : work[0]) {
      blocks += kvBlocks(a, kb, un);
    }
    target::MatmulCost m1 =
        target::matmulCost(t, qb, kb, a.D, dt, dt, a.D * e, kb * e);
    target::MatmulCost m2 =
        target::matmulCost(t, qb, a.Dv, kb, dt, dt, kb * e, a.Dv * e);
    target::VectorCost v =
        target::vectorCost(t, target::VectorKind::Elementwise, qb, kb,
                           t.vector.transcendentalPasses, 8);
    // Per key block the vector engine makes about 12 passes over the
    // qb x kb scores besides the exp (mask, max, sum, rescale, casts, the
    // transposed K and the read-outs), each paying its pipeline depth (the
    // ops of a block depend on each other); Q, K, V and O
    // cross their links once per (unit, block), the links shared by the
    // cores.
    target::VectorCost v1 =
        target::vectorCost(t, target::VectorKind::Elementwise, qb, kb, 1, 8);
    const uint64_t softmax =
        v1.occupancy * 12 + v.occupancy + 16 * uint64_t(t.vector.pipelineDepth);
    uint64_t perBlock =
        std::max<uint64_t>(m1.latency() + m2.latency(), softmax);
    // No second engine to overlap with: a block's products follow its
    // softmax on the vector engine, and no pipeline ramp is paid.
    uint64_t ramp = perBlock;
    if (vectorProducts) {
      perBlock = softmax + vectorProductCycles(t, a, qb, kb);
      ramp = 0;
    }
    double io = 0, ioDram = 0;
    for (const std::vector<Unit> &units : work) {
      for (const Unit &un : units) {
        double bytes =
            double(un.rows * (a.D + a.Dv) * e) +
            double(kvBlocks(a, kb, un) * kb * (a.D + a.Dv) * e) +
            (a.hasMask ? double(un.rows *
                                std::min(a.Skv, kb * kvBlocks(a, kb, un)) * em)
                       : 0.0);
        (onChip(a.k) ? io : ioDram) += bytes;
      }
    }
    double link = std::max(io / std::max(1.0, t.noc.bytesPerCycle),
                           ioDram / t.dramBytesPerCycle());
    // A K or V load at a run-time slot holds its queue for the round trip
    // of the index word (docs/isa.md, dma.idx).
    if (a.slotBytes) {
      link += double(2 * blocks * t.dram.latencyCycles);
    }
    uint64_t cycles = std::max<uint64_t>(blocks * perBlock, uint64_t(link)) +
                      t.dram.latencyCycles + ramp;
    // A split context's reduction: per chunk about six dependent vector
    // passes over the partials, then the store, after a chip-wide barrier.
    if (uint64_t split = contextSplit(a, qb, P); split > 1) {
      cycles += split * 6 * uint64_t(t.vector.pipelineDepth) +
                2 * t.dram.latencyCycles;
    }
    return cycles;
  };
  // Tiles: qb query rows, kb keys per block; both bounded by the
  // accumulator (S and PV tiles) and the SRAM, halved until they fit.
  auto fit = [&](uint64_t &qb, uint64_t &kb) {
    while ((qb * kb + qb * a.Dv > accEntries ||
            sramNeed(a, qb, kb, P) > kernelSramBytes(t)) &&
           (qb > 1 || kb > 1)) {
      if (kb >= qb && kb > 1) {
        kb = ceilDiv(kb, 2);
      } else {
        qb = ceilDiv(qb, 2);
      }
    }
    return qb * kb + qb * a.Dv <= accEntries &&
           sramNeed(a, qb, kb, P) <= kernelSramBytes(t);
  };
  // Query blocks: as tall as the array allows, but cut further when that
  // balances the (batch, head, block) units over the cores better (fewer
  // query rows on the busiest core; a tie keeps the taller block).
  auto balanced = [&](uint64_t floor) {
    const uint64_t top = std::min<uint64_t>(unitRows(a), 128);
    floor = std::min(top, floor);
    uint64_t qb = top, bestRows = ~uint64_t(0);
    for (uint64_t c = top; c >= floor && c >= 1; c = c / 2) {
      uint64_t units =
          a.B * (groupsHeads(a) ? a.Hkv : a.Hq) * ceilDiv(unitRows(a), c);
      uint64_t rows = ceilDiv(units, P) * c;
      if (rows < bestRows) {
        bestRows = rows;
        qb = c;
      }
      if (c == 1) {
        break;
      }
    }
    return qb;
  };
  uint64_t qb = balanced(t.matrix.rows), kb = std::min<uint64_t>(a.Skv, 256);
  if (!fit(qb, kb)) {
    qb = 0;
  }
  uint64_t best = qb ? estimateOf(qb, kb, false) : 0;
  // Blocks shorter than the array, down to kMinQueryBlock rows, where the
  // cost model finds them cheaper: on rngd (128-row arrays, eight cores)
  // bert-base's 12 heads are two rounds of 128 rows or three of 64, and
  // the vector-bound kernel takes 6853 cycles instead of 7167; on x330
  // (128 vector lanes) the shorter blocks cost more than they balance.
  constexpr uint64_t kMinQueryBlock = 32;
  if (qb) {
    uint64_t sq = balanced(std::min<uint64_t>(kMinQueryBlock, t.matrix.rows)),
             sk = std::min<uint64_t>(a.Skv, 256);
    if (sq < qb && fit(sq, sk)) {
      uint64_t est = estimateOf(sq, sk, false);
      if (est < best) {
        qb = sq;
        kb = sk;
        best = est;
      }
    }
  }
  if (qb == 0) {
    return Result<AttentionPlan>::failure(
        fmt::format("sram of {} B per core cannot hold one attention tile "
                    "(head dim {})",
                    kernelSramBytes(t), a.D));
  }
  AttentionPlan plan;
  plan.queryBlock = qb;
  plan.keyBlock = kb;
  // The same tiles with both products on the vector engine, where the cost
  // model finds that cheaper: tiny heads and sequences on a big array pay
  // its fill and drain (R + C - 2 cycles) and the transposed K per product
  // for a handful of MACs (on rngd bert-tiny-keras2onnx-qa's 7x7x4 heads:
  // 1,126 cycles per attention against atom's 556).
  if (sramNeed(a, qb, kb, P, true) <= kernelSramBytes(t)) {
    uint64_t est = estimateOf(qb, kb, true);
    if (est < best) {
      best = est;
      plan.vectorProducts = true;
    }
  }
  plan.sramBytesPerCore = sramNeed(a, qb, kb, P, plan.vectorProducts);
  plan.estimate = best;
  return plan;
}

Result<bool> emitAttention(KernelEmitter &emitter, const AttentionDesc &a,
                           const AttentionPlan &plan) {
  const target::Target &t = emitter.target();
  const unsigned P = t.cores;
  const Dtype dt = a.dtype;
  const unsigned e = dtypeBytes(dt), em = dtypeBytes(a.maskType);
  const uint64_t qb = plan.queryBlock, kb = plan.keyBlock;
  emitter.setEstimate(plan.estimate);
  SramPlan sram(kernelSramBytes(t));
  const uint64_t split = contextSplit(a, qb, P),
                 partBytes = partialBytes(a, qb);
  const bool vp = plan.vectorProducts;
  const AttentionBuffers bufs = placeBuffers(a, qb, kb, split, vp, sram);
  if (!sram.ok()) {
    return Result<bool>::failure(sram.error());
  }
  const uint64_t scaleV = bufs.scaleV;
  const uint64_t *qS = bufs.qS, *kS = bufs.kS, *vS = bufs.vS, *mS = bufs.mS,
                 *oS = bufs.oS;
  const uint64_t kt = bufs.kt, s = bufs.s, mf = bufs.mf, pb = bufs.pb,
                 o = bufs.o, pv = bufs.pv;
  const uint64_t mrow = bufs.mrow, lrow = bufs.lrow, alpha = bufs.alpha,
                 bmax = bufs.bmax, mnew = bufs.mnew, bsum = bufs.bsum,
                 rl = bufs.rl;
  const uint64_t accS = 0, accPV = qb * kb;
  const std::vector<std::vector<Unit>> work = dealUnits(a, qb, P);
  enum : unsigned {
    kQFull,
    kQFree,
    kKvFull,
    kKvFree,
    kTReady,
    kSFull,
    kPReady,
    kPvFull,
    kOFull,
    kOFree,
    kLoadChain
  };
  const uint64_t ldq = a.D * e, ldv = a.Dv * e;
  const bool maskRow = a.hasMask && a.maskStride[2] == 0;
  auto qAddr = [&](const Unit &un) {
    return a.q + un.b * a.qStride[0] + un.h * a.qStride[1] +
           un.i0 * a.qStride[2];
  };
  auto kvHead = [&](const Unit &un) { return un.h / (a.Hq / a.Hkv); };
  for (unsigned p = 0; p < P; ++p) {
    const std::vector<Unit> &units = work[p];
    StreamBuilder dma = emitter.q(p, Engine::Dma),
                  mat = emitter.q(p, Engine::Matrix),
                  vec = emitter.q(p, Engine::Vector);
    if (units.empty()) {
      continue;
    }
    uint64_t G = 0;
    for (const Unit &un : units) {
      G += kvBlocks(a, kb, un);
    }
    const uint64_t U = units.size();
    Ring ringQ{kQFull, kQFree, 2, U}, ringKv{kKvFull, kKvFree, 2, G},
        ringO{kOFull, kOFree, 2, U};

    // DMA.
    std::vector<uint64_t> pendingStores;
    auto storeUnit = [&](uint64_t ui) {
      const Unit &un = units[ui];
      ringO.consume(dma);
      if (split > 1) {
        // The chunk's partial result into its slot on the reducing core.
        DmaDesc d;
        d.srcSpace = Space::Sram;
        d.src = bufs.pS[ui % 2];
        d.dstSpace = un.reducer == p ? Space::Sram : Space::Peer;
        d.peerCore = un.reducer;
        d.dst = bufs.parts + un.chunk * partBytes;
        d.bytes = partBytes;
        dma.dma(d);
        ringO.consumed(dma, ui);
        return;
      }
      dma.dma(store(oS[ui % 2], ldv,
                    a.o + un.b * a.oStride[0] + un.h * a.oStride[1] +
                        un.i0 * a.oStride[2],
                    oRowStride(a), un.rows, ldv));
      ringO.consumed(dma, ui);
    };
    // kn rows of K or V from position j0 of kv head hk of batch row b: at
    // b's run-time cache slot when the keys are a cache.
    auto kvLoad = [&](uint64_t base, const uint64_t *stride, uint64_t hk,
                      uint64_t j0, uint64_t to, uint64_t ld, uint64_t kn,
                      uint64_t b) {
      uint64_t at = base + hk * stride[1] + j0 * stride[2];
      if (!a.slotBytes) {
        dma.dma(load(at + b * stride[0], stride[2], to, ld, kn, ld));
        return;
      }
      DmaIndex ix;
      ix.index0 = a.slots + b * a.slotBytes;
      ix.scale0 = stride[0];
      dma.dmaIndexed(load(at, stride[2], to, ld, kn, ld), ix);
    };
    uint64_t g = 0;
    for (uint64_t ui = 0; ui < U; ++ui) {
      const Unit &un = units[ui];
      // A unit's loads go out once the previous unit's have landed: issued
      // together they would share the link and all land late, while the
      // vector engine needs the first unit's K first (on rngd the first
      // unit's loads took 1,350 cycles beside the second's and the weight
      // stream).
      if (ui > 0) {
        dma.wait(kLoadChain);
      }
      ringQ.produce(dma, ui);
      dma.dma(load(qAddr(un), qRowStride(a), qS[ui % 2], ldq, un.rows, ldq));
      ringQ.produced(dma);
      uint64_t hk = kvHead(un);
      uint64_t nb = kvBlocks(a, kb, un);
      for (uint64_t j = 0; j < nb; ++j, ++g) {
        uint64_t j0 = un.kv0 + j * kb, kn = std::min(kb, un.kv0 + un.kvn - j0);
        ringKv.produce(dma, g);
        kvLoad(a.k, a.kStride, hk, j0, kS[g % 2], ldq, kn, un.b);
        kvLoad(a.v, a.vStride, hk, j0, vS[g % 2], ldv, kn, un.b);
        if (a.hasMask) {
          uint64_t base =
              a.mask + (un.b * a.maskStride[0] + un.h * a.maskStride[1] +
                        un.i0 * a.maskStride[2] + j0 * a.maskStride[3]) *
                           em;
          // A mask shared by every query row ([B, 1, 1, Skv] padding
          // masks) is one row, added by row broadcast.
          dma.dma(load(base, a.maskStride[2] * em, mS[g % 2], kn * em,
                       maskRow ? 1 : un.rows, kn * em));
        }
        ringKv.produced(dma);
        if (j == 0) {
          for (uint64_t st : pendingStores) {
            storeUnit(st);
          }
          pendingStores.clear();
        }
      }
      pendingStores.push_back(ui);
      dma.signal(kLoadChain);
    }
    dma.wait(kLoadChain);
    for (uint64_t st : pendingStores) {
      storeUnit(st);
    }

    // Matrix: S_g = Q K_g^T, then PV_g = P_g V_g.
    g = 0;
    for (uint64_t ui = 0; ui < U && !vp; ++ui) {
      const Unit &un = units[ui];
      uint64_t nb = kvBlocks(a, kb, un);
      ringQ.consume(mat);
      for (uint64_t j = 0; j < nb; ++j, ++g) {
        uint64_t kn = std::min(kb, un.kvn - j * kb);
        mat.wait(kTReady);
        mat.mm(accS, {qS[ui % 2], ldq}, {kt, kn * e}, un.rows, kn, a.D, dt, dt,
               false);
        if (j + 1 == nb) {
          ringQ.consumed(mat, ui);
        }
        mat.signal(kSFull);
        mat.wait(kPReady);
        mat.mm(accPV, {pb, kn * e}, {vS[g % 2], ldv}, un.rows, a.Dv, kn, dt, dt,
               false);
        mat.signal(kPvFull);
      }
    }

    // Vector: transpose K, online softmax, rescale and accumulate O.
    vec.fill({scaleV, kb * 4}, a.scale, 1, kb, Dtype::F32);
    struct Step {
      uint64_t ui, j, g, kn;
      bool first, last;
    };
    std::vector<Step> steps;
    g = 0;
    for (uint64_t ui = 0; ui < U; ++ui) {
      uint64_t nb = kvBlocks(a, kb, units[ui]);
      for (uint64_t j = 0; j < nb; ++j, ++g) {
        steps.push_back({ui, j, g, std::min(kb, units[ui].kvn - j * kb), j == 0,
                         j + 1 == nb});
      }
    }
    auto transposeK = [&](const Step &st) {
      if (vp) {
        return;
      }
      ringKv.consume(vec);
      transposeTile(vec, t, {kt, st.kn * e}, {kS[st.g % 2], ldq}, st.kn, a.D,
                    dt);
      vec.signal(kTReady);
    };
    auto softmax = [&](const Step &st) {
      const Unit &un = units[st.ui];
      uint64_t rows = un.rows, kn = st.kn;
      TileRef sc{s, kn * 4};
      if (vp) {
        // S row r = the row sums of K_g times Q's row r (broadcast over the
        // keys), then the scale.
        ringKv.consume(vec);
        if (st.first) {
          ringQ.consume(vec);
        }
        const uint64_t q = qS[st.ui % 2], k = kS[st.g % 2];
        for (uint64_t r = 0; r <= rows; ++r) {
          if (r < rows) {
            vec.binary(BinOp::Mul, Bcast::Row, {bufs.tS[r % 2], a.D * 4},
                       {k, ldq}, {q + r * ldq, 0}, kn, a.D, Dtype::F32, dt);
          }
          // The previous row's sums, so no op reads what the one before
          // it is still writing.
          if (r > 0) {
            vec.reduce(RedOp::Sum, s + (r - 1) * kn * 4,
                       {bufs.tS[(r - 1) % 2], a.D * 4}, kn, a.D, Dtype::F32,
                       Dtype::F32);
          }
        }
        if (st.last) {
          ringQ.consumed(vec, st.ui);
        }
        vec.scalar(BinOp::Mul, sc, sc, a.scale, rows, kn, Dtype::F32,
                   Dtype::F32);
      } else {
        vec.wait(kSFull);
        Epilogue ep;
        ep.out = Dtype::F32;
        ep.useScale = true;
        ep.scale = scaleV;
        vec.accRead(sc, accS, rows, kn, ep);
      }
      if (a.hasMask) {
        uint64_t mrows = maskRow ? 1 : rows;
        vec.unary(UnOp::Copy, {mf, kn * 4}, {mS[st.g % 2], kn * em}, mrows, kn,
                  Dtype::F32, a.maskType);
        vec.binary(BinOp::Add, maskRow ? Bcast::Row : Bcast::None, sc, sc,
                   {mf, maskRow ? 0 : kn * 4}, rows, kn, Dtype::F32,
                   Dtype::F32);
      }
      if (a.causal) {
        // Keys j > i + Skv - Sq get -1e30 (finite, so a fully hidden block
        // never makes NaN; its weight is rescaled to 0 by a later block).
        uint64_t j0 = un.kv0 + st.j * kb;
        for (uint64_t r = 0; r < rows; ++r) {
          uint64_t i = un.i0 + r;
          uint64_t firstHidden = i + a.Skv - a.Sq + 1;
          if (firstHidden < j0 + kn) {
            uint64_t c0 = firstHidden > j0 ? firstHidden - j0 : 0;
            // Rows with the same cut share one fill instruction.
            uint64_t r1 = r + 1;
            vec.fill({s + r * kn * 4 + c0 * 4, kn * 4}, -1e30f, r1 - r, kn - c0,
                     Dtype::F32);
          }
        }
      }
      // A unit's first block reduces straight into the running max and
      // sum: a copy of a rows x 1 column costs a cycle per row plus the
      // pipeline, for nothing.
      vec.reduce(RedOp::Max, st.first ? mrow : bmax, sc, rows, kn, Dtype::F32,
                 Dtype::F32);
      TileRef mr{mrow, 4}, mn{mnew, 4}, al{alpha, 4};
      if (!st.first) {
        vec.binary(BinOp::Max, Bcast::None, mn, mr, {bmax, 4}, rows, 1,
                   Dtype::F32, Dtype::F32);
        vec.binary(BinOp::Sub, Bcast::None, al, mr, mn, rows, 1, Dtype::F32,
                   Dtype::F32);
        vec.unary(UnOp::Exp, al, al, rows, 1, Dtype::F32, Dtype::F32);
        vec.unary(UnOp::Copy, mr, mn, rows, 1, Dtype::F32, Dtype::F32);
      }
      vec.binary(BinOp::Sub, Bcast::Col, sc, sc, mr, rows, kn, Dtype::F32,
                 Dtype::F32);
      vec.unary(UnOp::Exp, sc, sc, rows, kn, Dtype::F32, Dtype::F32);
      vec.reduce(RedOp::Sum, st.first ? lrow : bsum, sc, rows, kn, Dtype::F32,
                 Dtype::F32);
      TileRef lr{lrow, 4};
      if (!st.first) {
        vec.binary(BinOp::Mul, Bcast::None, lr, lr, al, rows, 1, Dtype::F32,
                   Dtype::F32);
        vec.binary(BinOp::Add, Bcast::None, lr, lr, {bsum, 4}, rows, 1,
                   Dtype::F32, Dtype::F32);
      }
      vec.unary(UnOp::Copy, {pb, kn * e}, sc, rows, kn, dt, Dtype::F32);
      if (!vp) {
        vec.signal(kPReady);
      }
    };
    auto update = [&](const Step &st) {
      const Unit &un = units[st.ui];
      uint64_t rows = un.rows;
      Epilogue ep;
      ep.out = Dtype::F32;
      TileRef ot{o, ldv * 4 / e};
      // P_g V_g into `to`: from the accumulator, or on the vector engine
      // as the sum over keys j of P's column j (broadcast over the output
      // columns) times V's row j (repeated over the rows: stride 0). Term
      // j + 1 is formed before term j is added, so no op reads what the
      // one before it is still writing.
      auto productPV = [&](TileRef to) {
        if (!vp) {
          vec.wait(kPvFull);
          vec.accRead(to, accPV, rows, a.Dv, ep);
          return;
        }
        const uint64_t kn = st.kn, v = vS[st.g % 2];
        auto term = [&](uint64_t j) {
          return TileRef{bufs.tO[j % 2], a.Dv * 4};
        };
        for (uint64_t j = 0; j <= kn; ++j) {
          if (j < kn) {
            vec.binary(BinOp::Mul, Bcast::Col, j == 0 ? to : term(j),
                       {v + j * ldv, 0}, {pb + j * e, kn * e}, rows, a.Dv,
                       Dtype::F32, dt);
          }
          if (j >= 2) {
            vec.binary(BinOp::Add, Bcast::None, to, to, term(j - 1), rows, a.Dv,
                       Dtype::F32, Dtype::F32);
          }
        }
      };
      if (st.first) {
        productPV(ot);
      } else {
        TileRef pt{pv, a.Dv * 4};
        productPV(pt);
        vec.binary(BinOp::Mul, Bcast::Col, ot, ot, {alpha, 4}, rows, a.Dv,
                   Dtype::F32, Dtype::F32);
        vec.binary(BinOp::Add, Bcast::None, ot, ot, pt, rows, a.Dv, Dtype::F32,
                   Dtype::F32);
      }
      ringKv.consumed(vec, st.g);
      if (st.last && split > 1) {
        // The unnormalized output, max and sum of this chunk, staged for
        // the DMA to the reducing core.
        uint64_t pm = bufs.pS[st.ui % 2] + qb * a.Dv * 4, pl = pm + qb * 4;
        ringO.produce(vec, st.ui);
        vec.unary(UnOp::Copy, {bufs.pS[st.ui % 2], a.Dv * 4}, ot, rows, a.Dv,
                  Dtype::F32, Dtype::F32);
        vec.unary(UnOp::Copy, {pm, 4}, {mrow, 4}, rows, 1, Dtype::F32,
                  Dtype::F32);
        vec.unary(UnOp::Copy, {pl, 4}, {lrow, 4}, rows, 1, Dtype::F32,
                  Dtype::F32);
        ringO.produced(vec);
      } else if (st.last) {
        ringO.produce(vec, st.ui);
        vec.unary(UnOp::Recip, {rl, 4}, {lrow, 4}, rows, 1, Dtype::F32,
                  Dtype::F32);
        vec.binary(BinOp::Mul, Bcast::Col, {oS[st.ui % 2], ldv}, ot, {rl, 4},
                   rows, a.Dv, dt, Dtype::F32);
        ringO.produced(vec);
      }
    };
    // T_0, SM_0, T_1, UPD_0, SM_1, T_2, UPD_1, ...: the array computes
    // PV_g and S_{g+1} while the vector engine transposes and rescales.
    transposeK(steps[0]);
    for (size_t i = 0; i < steps.size(); ++i) {
      softmax(steps[i]);
      if (i + 1 < steps.size()) {
        transposeK(steps[i + 1]);
      }
      update(steps[i]);
    }
  }
  KernelFootprint used;
  used.low = sram.used();
  if (split > 1) {
    // Every chunk's partial is on its reducing core once all cores meet.
    emitter.barrierAll(used);
    for (unsigned r = 0; r < P; ++r) {
      if (work[r].empty() || work[r][0].chunk != 0) {
        continue;
      }
      const Unit &un = work[r][0];
      StreamBuilder vec = emitter.q(r, Engine::Vector),
                    dma = emitter.q(r, Engine::Dma);
      const uint64_t R = un.rows;
      auto part = [&](uint64_t c) { return bufs.parts + c * partBytes; };
      TileRef M{mnew, 4}, L{lrow, 4}, al{alpha, 4}, O{o, a.Dv * 4};
      // M = max over chunks; O and L sum each chunk's output and sum
      // scaled by exp(m_c - M).
      vec.unary(UnOp::Copy, M, {part(0) + qb * a.Dv * 4, 4}, R, 1, Dtype::F32,
                Dtype::F32);
      for (uint64_t c = 1; c < split; ++c) {
        vec.binary(BinOp::Max, Bcast::None, M, M, {part(c) + qb * a.Dv * 4, 4},
                   R, 1, Dtype::F32, Dtype::F32);
      }
      for (uint64_t c = 0; c < split; ++c) {
        TileRef oc{part(c), a.Dv * 4}, mc{part(c) + qb * a.Dv * 4, 4},
            lc{part(c) + qb * a.Dv * 4 + qb * 4, 4};
        vec.binary(BinOp::Sub, Bcast::None, al, mc, M, R, 1, Dtype::F32,
                   Dtype::F32);
        vec.unary(UnOp::Exp, al, al, R, 1, Dtype::F32, Dtype::F32);
        if (c == 0) {
          vec.binary(BinOp::Mul, Bcast::Col, O, oc, al, R, a.Dv, Dtype::F32,
                     Dtype::F32);
          vec.binary(BinOp::Mul, Bcast::None, L, lc, al, R, 1, Dtype::F32,
                     Dtype::F32);
          continue;
        }
        vec.binary(BinOp::Mul, Bcast::Col, oc, oc, al, R, a.Dv, Dtype::F32,
                   Dtype::F32);
        vec.binary(BinOp::Add, Bcast::None, O, O, oc, R, a.Dv, Dtype::F32,
                   Dtype::F32);
        vec.binary(BinOp::Mul, Bcast::None, lc, lc, al, R, 1, Dtype::F32,
                   Dtype::F32);
        vec.binary(BinOp::Add, Bcast::None, L, L, lc, R, 1, Dtype::F32,
                   Dtype::F32);
      }
      vec.unary(UnOp::Recip, {rl, 4}, L, R, 1, Dtype::F32, Dtype::F32);
      vec.binary(BinOp::Mul, Bcast::Col, {oS[0], ldv}, O, {rl, 4}, R, a.Dv, dt,
                 Dtype::F32);
      vec.signal(kOFull);
      dma.wait(kOFull);
      dma.dma(store(oS[0], ldv,
                    a.o + un.b * a.oStride[0] + un.h * a.oStride[1] +
                        un.i0 * a.oStride[2],
                    oRowStride(a), R, ldv));
    }
  }
  used.writeLo = a.o;
  used.writeHi = a.o + (a.B - 1) * a.oStride[0] + (a.Hq - 1) * a.oStride[1] +
                 (a.Sq - 1) * a.oStride[2] + a.Dv * dtypeBytes(a.dtype);
  used.dramIdle =
      emitter.dramIdleBeside(dramBytes(a.q, a.B * a.Hq * a.Sq * a.D * e) +
                             dramBytes(a.k, a.B * a.Hkv * a.Skv * a.D * e) +
                             dramBytes(a.v, a.B * a.Hkv * a.Skv * a.Dv * e) +
                             dramBytes(a.o, a.B * a.Hq * a.Sq * a.Dv * e));
  emitter.barrierAll(used);
  return true;
}

std::string lowerAttention(const target::Target &t, KernelEmitter &emitter,
                           const AttentionDesc &a) {
  Result<AttentionPlan> plan = planAttention(t, a);
  if (!plan) {
    return plan.error();
  }
  Result<bool> emitted = emitAttention(emitter, a, *plan);
  return emitted ? "" : emitted.error();
}

} // namespace nuri::npu
