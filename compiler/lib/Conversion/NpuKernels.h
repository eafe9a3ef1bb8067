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
// Errors (SRAM too small for one tile, ...) throw nuri::Error.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CONVERSION_NPUKERNELS_H
#define NURI_CONVERSION_NPUKERNELS_H

#include "nuri/isa/Builder.h"
#include "nuri/target/Target.h"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace nuri::npu {

/// Tensor addresses given to the kernels are DRAM byte addresses, or shared
/// SRAM addresses with this bit set (intermediates the memory plan keeps
/// on chip).
constexpr uint64_t kSharedTag = 1ull << 62;

/// out[b][M x N] = act(A[b][M x K] x B[b][K x N] + bias) for b < batch.
/// Row strides in bytes; a zero batch stride broadcasts that operand.
struct GemmDesc {
  uint64_t batch = 1;
  uint64_t M = 0, N = 0, K = 0;
  uint64_t a = 0, b = 0, c = 0;
  uint64_t lda = 0, ldb = 0, ldc = 0;
  uint64_t aBatch = 0, bBatch = 0, cBatch = 0;
  isa::Dtype in = isa::Dtype::BF16;
  isa::Dtype out = isa::Dtype::BF16;
  bool hasBias = false;
  uint64_t bias = 0; ///< N values of biasType
  isa::Dtype biasType = isa::Dtype::F32;
  isa::Act act = isa::Act::None;
  /// Optional residual R[b][M x N] (dtype `out`, row stride ldc) added after
  /// the read-out: out = round(round(act(acc + bias)) + R), the same two
  /// roundings as the unfused graph.
  bool hasResidual = false;
  uint64_t residual = 0;
  uint64_t residualBatch = 0;
};

/// An operand of a row-wise kernel over a [rows x cols] view.
struct RowOperand {
  /// Periodic: a [rows x cols] operand whose row for output row r is
  /// (r / groupRows) * groupStride + r % period (cos/sin tables of rope
  /// shared by the heads).
  enum Kind { Full, Row, Scalar, Column, Periodic };
  Kind kind = Full;
  uint64_t addr = 0;
  isa::Dtype dtype = isa::Dtype::BF16;
  uint64_t period = 1, groupRows = 1, groupStride = 0;
};

/// SRAM addresses of one chunk of `rows` rows handed to a row-wise body.
/// `in[i]` is the chunk of Full/Column inputs in their own dtype (row stride
/// cols x size, 1 element for Column); Row operands are converted to f32
/// once (`in[i]` then points at one row of f32), Scalar operands too.
struct RowChunk {
  uint64_t rows = 0;
  std::vector<uint64_t> in;
  uint64_t out = 0;
  std::vector<uint64_t> f32;  ///< scratch: rows x cols f32 each
  std::vector<uint64_t> vecs; ///< scratch: rows f32 each
};

struct RowwiseDesc {
  uint64_t rows = 0, cols = 0;
  std::vector<RowOperand> ins;
  uint64_t out = 0;
  isa::Dtype outType = isa::Dtype::BF16;
  unsigned f32Scratch = 0; ///< rows x cols f32 buffers the body needs
  unsigned vecScratch = 0; ///< rows-long f32 vectors the body needs
  /// Row operands reach the body as f32 rows (converted once per core), so
  /// it can combine them with f32 tiles in one vector op.
  bool rowsAsF32 = false;
  std::function<void(isa::StreamBuilder &vec, const RowChunk &)> body;
};

/// Scaled dot-product attention on dense [B, H, S, D] tensors; a float
/// mask (any broadcast, given by its element strides over [B, H, Sq, Skv])
/// is added to the scores; causal hides j > i + Skv - Sq.
struct AttentionDesc {
  uint64_t B = 1, Hq = 1, Hkv = 1, Sq = 0, Skv = 0, D = 0, Dv = 0;
  uint64_t q = 0, k = 0, v = 0, o = 0;
  isa::Dtype dtype = isa::Dtype::BF16;
  float scale = 1.0f;
  bool causal = false;
  bool hasMask = false;
  uint64_t mask = 0;
  isa::Dtype maskType = isa::Dtype::BF16;
  uint64_t maskStride[4] = {0, 0, 0, 0}; ///< elements
  /// Byte strides of batch, head and sequence position (the head dim is
  /// contiguous): [B, H, S, D] dense by default, or the [B, S, H*D] layout
  /// of a projection when the head split is folded into the DMA.
  uint64_t qStride[3] = {0, 0, 0}, kStride[3] = {0, 0, 0},
           vStride[3] = {0, 0, 0}, oStride[3] = {0, 0, 0};
};

/// out[b] = in[b]^T for b < batch: dense row-major [rows x cols] matrices
/// in, [cols x rows] out (a transpose that moves the innermost dimension,
/// once its dims are grouped into batch, rows and cols).
struct TransposeDesc {
  uint64_t batch = 1, rows = 0, cols = 0;
  uint64_t in = 0, out = 0;
  isa::Dtype dtype = isa::Dtype::BF16;
};

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

  void gemm(const GemmDesc &g);
  void rowwise(const RowwiseDesc &r);
  void attention(const AttentionDesc &a);
  /// Tiles through SRAM, transposed by the vector engine.
  void transpose(const TransposeDesc &t);
  /// Strided DRAM -> DRAM copies (materialized transposes, outputs that
  /// alias an input), spread over the cores' DMA queues.
  void copies(const std::vector<isa::DmaDesc> &all);

  /// Cycles the cost model predicts for the last kernel.
  uint64_t lastEstimate() const { return estimate_; }
  /// Kernels emitted so far (each ends with one barrier).
  unsigned kernelCount() const { return phase_; }
  isa::Program finish();

private:
  using Footprint = KernelFootprint;

  isa::StreamBuilder q(unsigned core, isa::Engine e) {
    return pb_.queue(core, e);
  }
  /// Ends a kernel: the dma, matrix and vector queues of every core meet at
  /// one barrier (the fetch queues never do; see gemm()).
  void barrierAll(const Footprint &used = {});
  /// Where this kernel may put buffers the fetch queue fills while the
  /// previous kernel still runs: the largest stretch of SRAM above `used`
  /// (this kernel's own buffers so far) that the previous kernel leaves
  /// alone, as its end and size; {0, 0} when there is no previous kernel or
  /// it writes any of `reads` (tagged [lo, hi) ranges the loads read).
  std::pair<uint64_t, uint64_t> placeBesidePrevious(
      uint64_t used,
      const std::vector<std::pair<uint64_t, uint64_t>> &reads) const;
  /// Cycles the kernel being emitted leaves DRAM idle: its estimate less
  /// the time its own `dramBytes` take on the link.
  uint64_t dramIdleBeside(double dramBytes) const;
  /// Lets the fetch queue of every core go on once the previous kernel
  /// (`previous`) or the one being emitted has started: a token its
  /// matrix queue signals right after the barrier that starts it.
  void releaseFetch(bool previous);

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

/// Semaphores per core the kernels need: their own count up from 0 (at most
/// 11, the GEMM's), the fetch queue's weight stream takes the top three.
constexpr unsigned kMinSemaphoresPerCore = 14;

/// Bytes of one element of an ISA dtype.
unsigned elemBytes(isa::Dtype d);

} // namespace nuri::npu

#endif // NURI_CONVERSION_NPUKERNELS_H
