//===- TransposeCore.cpp - The vector-engine transpose kernel -------------===//

#include "TransposeCore.h"

#include "KernelSupport.h"

#include "nuri/target/CostModel.h"

#include <vector>

namespace nuri::npu {

using namespace isa;
using namespace kernel;

namespace {

/// The SRAM of the four tiles, allocated as the emitter places them.
struct TileBuffers {
  uint64_t in[2] = {0, 0}, out[2] = {0, 0};
  uint64_t used = 0;
};

Result<TileBuffers> placeTiles(const target::Target &t, uint64_t tileBytes) {
  SramPlan sram(kernelSramBytes(t));
  TileBuffers b;
  for (int i = 0; i < 2; ++i) {
    if (!sram.tryAlloc(tileBytes, b.in[i]) ||
        !sram.tryAlloc(tileBytes, b.out[i])) {
      return Result<TileBuffers>::failure(fmt::format(
          "transpose tiles of {} B need 4 x {} B of SRAM, the core has {} B",
          tileBytes, tileBytes, kernelSramBytes(t)));
    }
  }
  b.used = sram.used();
  return b;
}

} // namespace

Result<TransposePlan> planTranspose(const target::Target &t,
                                    const TransposeDesc &d) {
  TransposePlan plan;
  if (d.batch == 0 || d.rows == 0 || d.cols == 0) {
    return plan; // nothing to move: the kernel is its barrier
  }
  const unsigned e = dtypeBytes(d.dtype);
  // Square-ish tiles up to 128 x 128, two of each (in, out) per core so
  // loads, transposes and stores of neighbouring tiles overlap.
  uint64_t tr = std::min<uint64_t>(d.rows, 128),
           tc = std::min<uint64_t>(d.cols, 128);
  while (4 * tr * tc * e + 64 * 8 > kernelSramBytes(t) && (tr > 1 || tc > 1)) {
    if (tr >= tc) {
      tr = ceilDiv(tr, 2);
    } else {
      tc = ceilDiv(tc, 2);
    }
  }
  Result<TileBuffers> bufs = placeTiles(t, tr * tc * e);
  if (!bufs) {
    return Result<TransposePlan>::failure(bufs.error());
  }
  plan.tileRows = tr;
  plan.tileCols = tc;
  plan.sramBytesPerCore = bufs->used;
  // Tiles go round-robin from core 0, which gets the most.
  const uint64_t tiles = d.batch * ceilDiv(d.rows, tr) * ceilDiv(d.cols, tc);
  double bytes = 2.0 * double(d.batch * d.rows * d.cols * e);
  bool viaDram = !onChip(d.in) || !onChip(d.out);
  double link =
      viaDram ? t.dramBytesPerCycle() : std::max(1.0, t.noc.bytesPerCycle);
  plan.estimate =
      std::max<uint64_t>(ceilDiv(tiles, t.cores) * transposeCycles(t, tr, tc),
                         uint64_t(bytes / link)) +
      2 * t.dram.latencyCycles;
  return plan;
}

void emitTranspose(KernelEmitter &emitter, const TransposeDesc &d,
                   const TransposePlan &plan) {
  const target::Target &t = emitter.target();
  emitter.setEstimate(plan.estimate);
  if (d.batch == 0 || d.rows == 0 || d.cols == 0) {
    emitter.barrierAll();
    return;
  }
  const unsigned P = t.cores, e = dtypeBytes(d.dtype);
  const uint64_t tr = plan.tileRows, tc = plan.tileCols;
  // planTranspose placed the same tiles.
  TileBuffers bufs = *placeTiles(t, tr * tc * e);
  struct Tile {
    uint64_t b, r0, c0, rows, cols;
  };
  std::vector<std::vector<Tile>> work(P);
  uint64_t u = 0;
  for (uint64_t b = 0; b < d.batch; ++b) {
    for (uint64_t r0 = 0; r0 < d.rows; r0 += tr) {
      for (uint64_t c0 = 0; c0 < d.cols; c0 += tc, ++u) {
        work[u % P].push_back(
            {b, r0, c0, std::min(tr, d.rows - r0), std::min(tc, d.cols - c0)});
      }
    }
  }
  enum : unsigned { kInFull, kInFree, kOutFull, kOutFree };
  const uint64_t matrix = d.rows * d.cols * e;
  for (unsigned p = 0; p < P; ++p) {
    StreamBuilder dma = emitter.q(p, Engine::Dma),
                  vec = emitter.q(p, Engine::Vector);
    emitter.q(p, Engine::Matrix);
    const std::vector<Tile> &tiles = work[p];
    const uint64_t n = tiles.size();
    Ring in{kInFull, kInFree, 2, n}, out{kOutFull, kOutFree, 2, n};
    auto storeTile = [&](uint64_t i) {
      const Tile &x = tiles[i];
      out.consume(dma);
      // Column c of the input tile is row c0 + c of the output.
      dma.dma(store(bufs.out[i % 2], x.rows * e,
                    d.out + x.b * matrix + (x.c0 * d.rows + x.r0) * e,
                    d.rows * e, x.cols, x.rows * e));
      out.consumed(dma, i);
    };
    for (uint64_t i = 0; i < n; ++i) {
      const Tile &x = tiles[i];
      in.produce(dma, i);
      dma.dma(load(d.in + x.b * matrix + (x.r0 * d.cols + x.c0) * e, d.cols * e,
                   bufs.in[i % 2], x.cols * e, x.rows, x.cols * e));
      in.produced(dma);
      if (i > 0) {
        storeTile(i - 1);
      }
    }
    if (n > 0) {
      storeTile(n - 1);
    }
    for (uint64_t i = 0; i < n; ++i) {
      const Tile &x = tiles[i];
      in.consume(vec);
      out.produce(vec, i);
      transposeTile(vec, t, {bufs.out[i % 2], x.rows * e},
                    {bufs.in[i % 2], x.cols * e}, x.rows, x.cols, d.dtype);
      in.consumed(vec, i);
      out.produced(vec);
    }
  }
  KernelFootprint used;
  used.low = bufs.used;
  used.writeLo = d.out;
  used.writeHi = d.out + d.batch * matrix;
  emitter.barrierAll(used);
}

} // namespace nuri::npu
