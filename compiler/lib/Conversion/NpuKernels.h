//===- NpuKernels.h - Tiled, scheduled kernels for the NPU ------*- C++ -*-===//
//
// The part of the NPU lowering that knows the chip: given one op's operands
// as dense tensors in DRAM, it chooses tiles with the cost model, places
// SRAM and accumulator buffers, splits the work over all cores and writes
// the per-engine streams (DMA, matrix, vector) with their semaphores. It
// never includes MLIR: the MLIR side (NpuCodegen.cpp) plans DRAM and hands
// each op here, so this file compiles in seconds and can be unit tested.
//
// Every kernel runs on all cores and ends with a chip-wide barrier of the
// dma, matrix and vector queues, so kernels compose without sharing SRAM or
// semaphores; within a kernel the engines are decoupled through semaphore
// rings (double/multi buffering). The one stream that crosses kernels is
// the GEMM weights on each core's fetch queue: it starts a GEMM's loads as
// soon as the kernel before it has started, into SRAM that kernel leaves
// alone, with semaphores no kernel uses.
// Errors (SRAM too small for one tile, ...) are returned as Result
// failures; the MLIR side reports them at the op.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CONVERSION_NPUKERNELS_H
#define NURI_CONVERSION_NPUKERNELS_H

#include "nuri/isa/Builder.h"
#include "nuri/target/Target.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace nuri::npu {

/// Tensor addresses given to the kernels are DRAM byte addresses, or shared
/// SRAM addresses with this bit set (intermediates the memory plan keeps
/// on chip).
constexpr uint64_t kSharedTag = 1ull << 62;

/// What a kernel leaves alone for the next one's weight stream to use
/// while it runs: it used the per-core SRAM [0, low) and [highLo, highHi)
/// (the same on every core), wrote the tensor bytes [writeLo, writeHi)
/// (tagged addresses), and leaves DRAM idle for about `dramIdle` cycles
/// (cost model). The default claims everything.
struct KernelFootprint {
  uint64_t low = ~0ull, highLo = 0, highHi = 0;
  uint64_t writeLo = 0, writeHi = ~0ull;
  uint64_t dramIdle = 0;
};

class KernelEmitter {
public:
  explicit KernelEmitter(const target::Target &t);

  /// Strided DRAM -> DRAM copies (materialized transposes, outputs that
  /// alias an input), spread over the cores' DMA queues.
  void copies(const std::vector<isa::DmaDesc> &all);

  /// Cycles the cost model predicts for the last kernel.
  uint64_t lastEstimate() const { return estimate_; }
  /// Kernels emitted so far (each ends with one barrier).
  unsigned kernelCount() const { return phase_; }
  isa::Program finish();

  // The building blocks of a kernel core in its own file
  // (compiler/lib/Dialect/Npu/Kernels/*Core.cpp): its queues, its estimate
  // and the barrier that ends it.
  using Footprint = KernelFootprint;
  const target::Target &target() const { return t_; }
  isa::StreamBuilder q(unsigned core, isa::Engine e) {
    return pb_.queue(core, e);
  }
  /// Records the cost model's cycles for the kernel being emitted.
  void setEstimate(uint64_t cycles) { estimate_ = cycles; }
  /// Ends a kernel: the dma, matrix and vector queues of every core meet at
  /// one barrier (the fetch queues never do; see gemm()). `used` is what
  /// the kernel touched, for the next kernel's weight stream.
  void barrierAll(const Footprint &used = {});
  /// Cycles the kernel being emitted leaves DRAM idle: its estimate less
  /// the time its own `dramBytes` take on the link.
  uint64_t dramIdleBeside(double dramBytes) const;
  /// Where this kernel may put buffers the fetch queue fills while the
  /// previous kernel still runs: the largest stretch of SRAM above `used`
  /// (this kernel's own buffers so far) that the previous kernel leaves
  /// alone, as its end and size; {0, 0} when there is no previous kernel or
  /// it writes any of `reads` (tagged [lo, hi) ranges the loads read).
  std::pair<uint64_t, uint64_t> placeBesidePrevious(
      uint64_t used,
      const std::vector<std::pair<uint64_t, uint64_t>> &reads) const;
  /// Lets the fetch queue of every core go on once the previous kernel
  /// (`previous`) or the one being emitted has started: a token its
  /// matrix queue signals right after the barrier that starts it.
  void releaseFetch(bool previous);
  /// The semaphore the fetch queue signals when loads it made for the
  /// kernel being emitted have landed.
  unsigned fetchFullSemaphore() const { return fetchFull_; }
  /// The semaphore the kernel being emitted signals when it frees a
  /// buffer the fetch queue fills.
  unsigned fetchFreeSemaphore() const { return fetchFree_; }
  /// Cycles the previous kernel leaves DRAM idle (its footprint's
  /// dramIdle): what a weight stream may take while it runs.
  uint64_t previousDramIdle() const { return previous_.dramIdle; }

private:
  const target::Target &t_;
  isa::ProgramBuilder pb_;
  unsigned phase_ = 0;
  uint64_t estimate_ = 0;
  /// The kernel before the one being emitted, and where its matrix
  /// streams and the current kernel's start (per core).
  Footprint previous_;
  std::vector<size_t> previousMatStart_, currentMatStart_;
  /// Semaphores of the fetch queue's weight stream, at the top of every
  /// core's file: the stream crosses kernel boundaries, so they must not be
  /// any kernel's own (those count up from 0).
  unsigned fetchFull_, fetchFree_, kernelStarted_;
};

/// How copies() spreads DMA descriptors over the cores: the pieces in
/// issue order (core i % cores takes piece i), what they write and the
/// cycles the cost model predicts.
struct CopyPlan {
  std::vector<isa::DmaDesc> parts;
  KernelFootprint used;
  uint64_t estimate = 0;
};
CopyPlan planCopies(const target::Target &t,
                    const std::vector<isa::DmaDesc> &all);

/// Semaphores per core the kernels need: their own count up from 0 (at most
/// 11, the GEMM's), the fetch queue's weight stream takes the top three.
constexpr unsigned kMinSemaphoresPerCore = 14;

/// Bytes of one element of an ISA dtype.
unsigned elemBytes(isa::Dtype d);

} // namespace nuri::npu

#endif // NURI_CONVERSION_NPUKERNELS_H
