//===- Kernels.h - Functional semantics of the instructions -----*- C++ -*-===//
//
// The arithmetic every instruction performs, written once so the unit tests'
// scalar references can be compared with it (they are written independently
// in the tests). All vector math is fp32; see docs/isa.md for the rules.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_KERNELS_H
#define NURI_SIM_LIB_KERNELS_H

#include "nuri/isa/Isa.h"

#include <cstddef>
#include <cstdint>

namespace nuri::sim::detail {

void loadRow(isa::Dtype dtype, const uint8_t *src, size_t n, float *out);
void storeRow(isa::Dtype dtype, uint8_t *dst, size_t n, const float *in);

/// dma.dq's expansion of one row: `n` signed `bits`-bit values (8: a byte
/// each; 4: two a byte, the even index in the low nibble) times their
/// column's fp32 scale, each product rounded once to `out`.
void dequantizeRow(unsigned bits, const uint8_t *packed, const float *scales,
                   size_t n, isa::Dtype out, uint8_t *dst);

float applyBinary(isa::BinOp op, float x, float y);
float applyUnary(isa::UnOp op, float x);
float applyAct(isa::Act act, float x);

/// acc (m x n int32, row-major) (+)= A(m x k int8) * B(k x n int8).
void matmulInt8(const uint8_t *a, uint64_t lda, const uint8_t *b, uint64_t ldb,
                uint64_t m, uint64_t n, uint64_t k, int32_t *acc,
                bool accumulate);
/// acc (m x n fp32) (+)= A * B with float inputs, products exact, sums in
/// fp32 in ascending k (each add rounded to nearest even).
void matmulFloat(const uint8_t *a, uint64_t lda, isa::Dtype at,
                 const uint8_t *b, uint64_t ldb, isa::Dtype bt, uint64_t m,
                 uint64_t n, uint64_t k, float *acc, bool accumulate);

/// The effect of a vector-engine instruction (any opcode of the vector
/// queue) on the SRAM at `sram` of a tile of `rows` x `cols` (for
/// vec.accrd: m x n). Sources are read before the destination is written,
/// so in-place operations are well defined. vec.accrd reads the
/// accumulator entries at `acc` (i32 if `accIsInt`, else f32 bits); the
/// caller has checked that they are of one kind.
void vectorOp(const isa::Instruction &in, uint8_t *sram, uint64_t rows,
              uint64_t cols, const uint32_t *acc, bool accIsInt);

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_KERNELS_H
