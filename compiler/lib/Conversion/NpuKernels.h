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
// the GEMM weights on each core's fetch queue, with semaphores no kernel
// uses: where the SRAM can spare it, one ring at its top that the stream
// fills ahead across kernels (weightStreamBytes); else each GEMM's loads
// start as soon as the kernel before it has started, into SRAM that kernel
// leaves alone.
// Errors (SRAM too small for one tile, ...) are returned as Result
// failures; the MLIR side reports them at the op.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CONVERSION_NPUKERNELS_H
#define NURI_CONVERSION_NPUKERNELS_H

#include "nuri/isa/Builder.h"
#include "nuri/target/Target.h"

#include <cstdint>
#include <deque>
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
/// Or, on a chip without shared SRAM, addresses in the SRAM of one core
/// that every core reaches over the NoC as its `peer` (peerPoolBytes): this
/// bit, the owning core in the 8 bits from kPeerCoreShift, and the byte
/// offset in that core's SRAM below.
constexpr uint64_t kPeerTag = 1ull << 61;
constexpr unsigned kPeerCoreShift = 52;

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
  /// Cycles the kernel being emitted leaves DRAM idle: its estimate (or
  /// `estimate`) less the time its own `dramBytes` take on the link.
  uint64_t dramIdleBeside(double dramBytes) const {
    return dramIdleBeside(dramBytes, estimate_);
  }
  uint64_t dramIdleBeside(double dramBytes, uint64_t estimate) const;
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

  // The weight stream (weightStreamBytes): one ring at the top of every
  // core's SRAM, filled by the fetch queue in the order the GEMMs read their
  // weight chunks, across all kernels and their barriers; the matrix queue
  // frees each chunk after its multiply. The fetch queue runs as far ahead
  // as the ring holds, so the weights of the next kernels stream while
  // attention, norms and the current GEMM run.
  /// Whether the program streams weights through the ring.
  bool weightStream() const { return streamBytes_ != 0; }
  /// Bytes of the ring.
  uint64_t weightStreamRing() const { return streamBytes_; }
  /// Places the next weight chunk of `core` (`bytes`) in the ring and
  /// returns its SRAM address; `frees` is how many earlier chunks the fetch
  /// queue must see freed (fetchFreeSemaphore, in the order they were
  /// placed) before it may write it. Chunks larger than the ring fail the
  /// caller's check (fitsWeightStream).
  uint64_t placeStreamChunk(unsigned core, uint64_t bytes, unsigned &frees);
  /// Loads a chunk placed by placeStreamChunk on the fetch queue of
  /// `core`: after the `frees` it needs, and with at most a few loads in
  /// flight (enough to cover the DRAM latency at the core's share of the
  /// bandwidth): the link shares its bandwidth among the transfers in
  /// flight, and a stream with every slot of the queue in flight would
  /// leave the running kernel's loads and stores a sliver of it.
  /// `weightBound`: the GEMM has at most kWeightBoundRows rows (a decode
  /// step's GEMV), so the weights are all the traffic there is: the stream
  /// keeps kWeightBoundRoundTrips round trips in flight instead.
  void issueStreamLoad(unsigned core, const isa::DmaDesc &load, unsigned frees,
                       bool weightBound = false);
  static constexpr uint64_t kWeightBoundRows = 8;
  /// Whether a chunk of `bytes` fits the ring.
  bool fitsWeightStream(uint64_t bytes) const {
    return weightStream() && bytes <= streamBytes_;
  }
  /// Makes the fetch queue of `core` wait until every chunk placed in the
  /// ring has been freed: before it loads anything else the matrix or
  /// vector queue waits for on fetchFullSemaphore (their counts must be at
  /// zero) and at the end of the program (every free is waited for).
  void drainWeightStream(unsigned core);
  /// Whether a kernel emitted so far wrote any byte of the tagged range
  /// [lo, hi): a weight stream reading it must not start before the kernel
  /// that reads it does.
  bool writtenBefore(uint64_t lo, uint64_t hi) const;

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
  /// The weight-stream ring [streamBase_, streamBase_ + streamBytes_) of
  /// every core, and per core the chunks placed in it whose free the fetch
  /// queue has not waited for yet (offset in the ring, bytes), oldest first.
  uint64_t streamBase_ = 0, streamBytes_ = 0;
  std::vector<uint64_t> streamHead_;
  /// Per core: stream loads whose landing the fetch queue has not waited
  /// for on fetchChain_.
  std::vector<unsigned> streamInFlight_;
  unsigned fetchChain_;
  std::vector<std::deque<std::pair<uint64_t, uint64_t>>> streamLive_;
  /// The tensor bytes every kernel so far wrote (tagged [lo, hi)).
  std::vector<std::pair<uint64_t, uint64_t>> writes_;
};

/// Bytes of every core's SRAM the weight stream's ring takes (0: the
/// target streams each GEMM's weights in its own kernel): what the DRAM
/// delivers to one core in kStreamLatencies round trips (rngd: 1.5 TB/s over
/// 8 cores x 32 x 400 cycles = 2.4 MB), where that is at most a quarter of
/// the core's SRAM and holds the largest weight chunk a GEMM plans.
uint64_t weightStreamBytes(const target::Target &t);
/// Bytes of every core's SRAM kept for intermediates the memory plan places
/// there (0: none), just below the weight stream's ring: on a chip without
/// shared SRAM, where each kernel's output would otherwise make a DRAM round
/// trip to the next kernel (400 cycles each way on rngd, against 40 over
/// the NoC). A quarter of the SRAM, where that is at least 64 KiB; the
/// pool of core c holds the flat
/// `peer` buffer offsets [c * bytes, (c + 1) * bytes).
uint64_t peerPoolBytes(const target::Target &t);
/// Where the pool starts in each core's SRAM.
uint64_t peerPoolBase(const target::Target &t);
/// The tagged address of byte `offset` of the flat `peer` space (the
/// memory plan's #npu.buffer<"peer", offset>).
uint64_t peerAddress(const target::Target &t, uint64_t offset);
/// The per-core SRAM the kernels plan and place their own buffers in: all
/// of it less the weight stream's ring at the top and the peer pool below
/// it.
uint64_t kernelSramBytes(const target::Target &t);

/// How copies() spreads DMA descriptors over the cores: the pieces in
/// issue order (core i % cores takes piece i, except a copy between two
/// cores' peer pools, which the source's core issues), what they write and the
/// cycles the cost model predicts.
struct CopyPlan {
  std::vector<isa::DmaDesc> parts;
  /// The core whose DMA queue issues each part.
  std::vector<unsigned> cores;
  KernelFootprint used;
  uint64_t estimate = 0;
};
CopyPlan planCopies(const target::Target &t,
                    const std::vector<isa::DmaDesc> &all);

/// Semaphores per core the kernels need: their own count up from 0 (at most
/// 11, the GEMM's), the fetch queue's weight stream takes the top four.
constexpr unsigned kMinSemaphoresPerCore = 15;

/// Bytes of one element of an ISA dtype.
unsigned elemBytes(isa::Dtype d);

} // namespace nuri::npu

#endif // NURI_CONVERSION_NPUKERNELS_H
