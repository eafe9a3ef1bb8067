//===- GemmCore.h - The GEMM kernel -----------------------------*- C++ -*-===//
//
// The MLIR-free core of the GEMM kernel (Gemm.cpp is its MLIR side).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_GEMMCORE_H
#define NURI_DIALECT_NPU_KERNELS_GEMMCORE_H

#include "NpuKernels.h"

#include <limits>

namespace nuri::npu {

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
  /// The int8 read-out (npu.quantized_gemm): `in` is i8, the accumulator
  /// i32; per column an i32 zero-point correction added to it (`zpBias`)
  /// and an f32 scale (`scale`), then `bias` (f32) after the scale:
  /// out = cast(act(f32(acc + zpBias) * scale + bias)).
  bool quantized = false;
  uint64_t zpBias = 0, scale = 0;
  /// A weight stored compressed (w8a16, w4a16; npu.gemm's b_bits): B holds
  /// signed `wBits`-bit values, row pitch `ldb` bytes, and each weight
  /// chunk is loaded with dma.dq, which writes `in` into SRAM: fp32 scales
  /// at `wScale`, a row of N per `wGroup` rows of K. 0: B is `in` itself.
  unsigned wBits = 0;
  uint64_t wScale = 0, wGroup = 0;
  /// The transposed GEMV (docs/isa.md): the compressed weight is stored
  /// [N, K] (ldb bytes a row of K, scales [N, ceil(K / wGroup)]) and the
  /// kernel computes out^T = B^T A^T: the weight chunks stream through the
  /// array as its A operand (`matrix.rows` values a cycle where the
  /// stationary operand takes `matrix.cols`), the M <= `matrix.cols` rows
  /// of A, loaded transposed, are the stationary one, and the read-out is
  /// transposed back. Chosen by preferTransposedWeight; the plan's ldaS is
  /// then the SRAM pitch of a weight chunk's rows.
  bool wT = false;
};

/// The DRAM bytes of a kc x nt chunk of `g`'s weights: the compressed
/// values and their scale rows for a compressed weight.
inline uint64_t weightChunkBytes(const GemmDesc &g, uint64_t kc, uint64_t nt) {
  if (!g.wBits) {
    return kc * nt * isa::dtypeBytes(g.in);
  }
  uint64_t scaleRows = g.wGroup >= g.K ? 1 : (kc + g.wGroup - 1) / g.wGroup;
  return kc * nt * g.wBits / 8 + scaleRows * nt * 4;
}

/// Whether the cost model runs the compressed-weight GEMM `g` (wBits set;
/// addresses and wT ignored, operands in DRAM) faster as the transposed
/// GEMV: the weight is then stored [N, K] (GemmDesc::wT).
bool preferTransposedWeight(const target::Target &t, const GemmDesc &g);

/// The tiling and core split of one GEMM (#npu.gemm_plan in the IR, where
/// npu-plan-kernels records it): mS x nS slices of mr x nc per batch, dealt
/// round-robin to the cores, each walked in mb-row blocks of nt-column
/// tiles over kc-deep K chunks; nA A buffers at an SRAM pitch of ldaS, a
/// ring of nW weight slots (or the slice resident), nO output and nAcc
/// accumulator buffers.
struct GemmPlan {
  uint64_t mS = 1, nS = 1; // row and column slices of every batch
  uint64_t mr = 0, nc = 0; // rows and columns of a slice
  uint64_t mb = 0, nt = 0, kc = 0;
  unsigned nA = 1, nW = 2, nO = 2, nAcc = 2;
  uint64_t ldaS = 0; // SRAM row stride of A
  /// The nS cores of a row slice are neighbours (nS divides the core
  /// count); the first of them multicasts the A block to all, so A crosses
  /// its link once instead of once per column slice.
  bool mcastA = false;
  /// Every core keeps its whole weight slice (K x nc) in SRAM and loads it
  /// once, instead of once per row block.
  bool residentW = false;
  uint64_t estimate = std::numeric_limits<uint64_t>::max();
};

/// The plan with the lowest estimate for `g` on `t` (its operands' spaces
/// as tagged in `g`), or why none fits.
Result<GemmPlan> planGemm(const target::Target &t, const GemmDesc &g);
/// The per-core SRAM the GEMM's own buffers take under `plan` (the weight
/// slots in their own place; the emitter may put them beside the previous
/// kernel instead).
uint64_t gemmSramBytes(const GemmDesc &g, const GemmPlan &plan);

/// Emits `g` under `plan` as one kernel; fails when its buffers do not fit.
Result<bool> emitGemm(KernelEmitter &emitter, const GemmDesc &g,
                      const GemmPlan &plan);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_GEMMCORE_H
