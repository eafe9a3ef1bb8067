//===- KernelSupport.h - Building blocks of the kernel cores ----*- C++ -*-===//
//
// What the MLIR-free kernel cores (NpuKernels.cpp, Kernels/*Core.cpp) share:
// SRAM bump allocation, DMA descriptors between the tagged tensor addresses
// and a core's SRAM, and semaphore rings between two queues. Internal to
// NuriNpuCodegen; never includes MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_KERNELSUPPORT_H
#define NURI_DIALECT_NPU_KERNELS_KERNELSUPPORT_H

#include "NpuKernels.h"

#include "nuri/target/CostModel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace nuri::npu::kernel {

using namespace isa;

inline uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
inline uint64_t roundUp(uint64_t a, uint64_t b) { return ceilDiv(a, b) * b; }

/// Bump allocation of one core's scratchpad for one kernel; every core uses
/// the same map. Rows are 64-byte aligned (the widest bank).
class SramPlan {
public:
  explicit SramPlan(uint64_t size) : size_(size) {}
  /// Returns false when the request does not fit.
  bool tryAlloc(uint64_t bytes, uint64_t &at) {
    uint64_t a = (top_ + 63) & ~uint64_t(63);
    if (a + bytes > size_) {
      return false;
    }
    top_ = a + bytes;
    at = a;
    return true;
  }
  /// Allocates `bytes`; when they do not fit, records why (the first
  /// failure only), returns 0 and the kernel reports error() once its
  /// buffers are placed.
  uint64_t alloc(uint64_t bytes, const char *what) {
    uint64_t at = 0;
    if (!tryAlloc(bytes, at) && error_.empty()) {
      error_ = fmt::format("{} needs {} B of SRAM at offset {}, the core "
                           "has {} B",
                           what, bytes, top_, size_);
    }
    return at;
  }
  bool ok() const { return error_.empty(); }
  const std::string &error() const { return error_; }
  uint64_t used() const { return top_; }
  uint64_t size() const { return size_; }
  /// Keeps everything allocated from now on below `end`.
  void limit(uint64_t end) { size_ = std::min(size_, end); }

private:
  uint64_t size_;
  uint64_t top_ = 0;
  std::string error_;
};

inline DmaDesc copy2d(Space ss, uint64_t src, uint64_t srcLd, Space ds,
                      uint64_t dst, uint64_t dstLd, uint64_t rows,
                      uint64_t bytes) {
  DmaDesc d;
  d.srcSpace = ss;
  d.dstSpace = ds;
  d.src = src;
  d.dst = dst;
  d.srcStride = srcLd;
  d.dstStride = dstLd;
  d.rows = rows;
  d.bytes = bytes;
  return d;
}

/// A tensor address handed in by the partition plan: DRAM, the chip's
/// shared SRAM when tagged with kSharedTag, or a core's peer pool when
/// tagged with kPeerTag (the core in the bits from kPeerCoreShift).
inline Space spaceOf(uint64_t addr) {
  return (addr & kPeerTag)     ? Space::Peer
         : (addr & kSharedTag) ? Space::Shared
                               : Space::Dram;
}
/// The core whose SRAM a kPeerTag address is in.
inline unsigned peerOf(uint64_t addr) {
  return unsigned((addr >> kPeerCoreShift) & 0xff);
}
inline uint64_t untag(uint64_t addr) {
  return addr & ~(kSharedTag | kPeerTag | (uint64_t(0xff) << kPeerCoreShift));
}
/// Whether the tensor at `addr` is on chip (its bytes cross the NoC, not
/// the DRAM link).
inline bool onChip(uint64_t addr) {
  return (addr & (kSharedTag | kPeerTag)) != 0;
}
/// `bytes` of the tensor at `addr` if they cross the DRAM link, else 0.
inline double dramBytes(uint64_t addr, uint64_t bytes) {
  return spaceOf(addr) == Space::Dram ? double(bytes) : 0.0;
}

/// `d` with its tagged `src` and `dst` resolved to spaces, the peer core
/// and plain addresses. One descriptor names one peer core: a copy between
/// the pools of two different cores reads its source as the issuing core's
/// own SRAM, so `issuer` is then set to the source's core (else left).
inline DmaDesc resolveTagged(DmaDesc d, int &issuer) {
  const Space ss = spaceOf(d.src), ds = spaceOf(d.dst);
  d.srcSpace = ss;
  d.dstSpace = ds;
  if (ss == Space::Peer && ds == Space::Peer &&
      peerOf(d.src) != peerOf(d.dst)) {
    issuer = int(peerOf(d.src));
    d.srcSpace = Space::Sram;
  }
  if (ds == Space::Peer) {
    d.peerCore = peerOf(d.dst);
  } else if (ss == Space::Peer) {
    d.peerCore = peerOf(d.src);
  }
  d.src = untag(d.src);
  d.dst = untag(d.dst);
  return d;
}

inline DmaDesc load(uint64_t dram, uint64_t dramLd, uint64_t sram,
                    uint64_t sramLd, uint64_t rows, uint64_t bytes) {
  DmaDesc d = copy2d(spaceOf(dram), untag(dram), dramLd, Space::Sram, sram,
                     sramLd, rows, bytes);
  d.peerCore = d.srcSpace == Space::Peer ? peerOf(dram) : 0;
  return d;
}

inline DmaDesc store(uint64_t sram, uint64_t sramLd, uint64_t dram,
                     uint64_t dramLd, uint64_t rows, uint64_t bytes) {
  DmaDesc d = copy2d(Space::Sram, sram, sramLd, spaceOf(dram), untag(dram),
                     dramLd, rows, bytes);
  d.peerCore = d.dstSpace == Space::Peer ? peerOf(dram) : 0;
  return d;
}

/// A producer/consumer ring of `depth` buffers between two queues, with a
/// counting semaphore each way. Uses are numbered 0..total-1 in the order
/// both sides see them; frees that nobody waits for are never signaled, so
/// every semaphore is back at zero when the kernel ends.
///
/// A ring can be filled by one core for several (a multicast): the producer
/// then waits for `consumers` frees per buffer, and each consumer signals
/// the free to `producer`'s core.
struct Ring {
  unsigned full, free, depth;
  uint64_t total;
  unsigned consumers = 1;
  int producer = -1; ///< core of the producing queue; -1: the consumer's own
  void produce(StreamBuilder &s, uint64_t use) const {
    if (use >= depth) {
      s.wait(free, consumers);
    }
  }
  void produced(StreamBuilder &s) const { s.signal(full); }
  void consume(StreamBuilder &s) const { s.wait(full); }
  void consumed(StreamBuilder &s, uint64_t use) const {
    if (use + depth < total) {
      s.signal(free, producer < 0 ? s.core() : unsigned(producer));
    }
  }
};

/// A rows x cols tile transposed on the vector engine: vec.transpose costs
/// a lanes x lanes block whatever the tile, so a tile with few columns is
/// cheaper as one copy per column (input column c, a rows x 1 tile, is
/// output row c): on rngd's 256 lanes a 7 x 4 K tile takes 4 x 7 cycles
/// instead of 256. transposeCycles is what transposeTile costs.
inline bool transposeByColumns(const target::Target &t, uint64_t rows,
                               uint64_t cols) {
  using target::VectorKind;
  return cols * target::vectorCost(t, VectorKind::Elementwise, rows, 1, 1, 4)
                    .occupancy <
         target::vectorCost(t, VectorKind::Transpose, rows, cols, 1, 4)
             .occupancy;
}
inline uint64_t transposeCycles(const target::Target &t, uint64_t rows,
                                uint64_t cols) {
  using target::VectorKind;
  if (transposeByColumns(t, rows, cols)) {
    return cols * target::vectorCost(t, VectorKind::Elementwise, rows, 1, 1, 4)
                      .occupancy +
           t.vector.pipelineDepth;
  }
  return target::vectorCost(t, VectorKind::Transpose, rows, cols, 1, 4)
      .latency();
}
inline void transposeTile(StreamBuilder &vec, const target::Target &t,
                          TileRef dst, TileRef src, uint64_t rows,
                          uint64_t cols, Dtype dtype) {
  if (!transposeByColumns(t, rows, cols)) {
    vec.transpose(dst, src, rows, cols, dtype);
    return;
  }
  const unsigned e = dtypeBytes(dtype);
  for (uint64_t c = 0; c < cols; ++c) {
    vec.unary(UnOp::Copy, {dst.addr + c * dst.ld, e},
              {src.addr + c * e, src.ld}, rows, 1, dtype, dtype);
  }
}

/// Loads `bytes` of a vector (bias, gamma, ...) that may exceed one DMA
/// row's 24-bit length.
inline void loadVector(StreamBuilder &dma, uint64_t dram, uint64_t sram,
                       uint64_t bytes) {
  const uint64_t kMaxRow = (1u << 23);
  for (uint64_t off = 0; off < bytes; off += kMaxRow) {
    dma.dma(
        load(dram + off, 0, sram + off, 0, 1, std::min(kMaxRow, bytes - off)));
  }
}

} // namespace nuri::npu::kernel

#endif // NURI_DIALECT_NPU_KERNELS_KERNELSUPPORT_H
