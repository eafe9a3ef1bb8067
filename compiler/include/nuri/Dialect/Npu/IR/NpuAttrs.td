//===- NpuAttrs.td - Attributes of the npu dialect ---------*- tablegen -*-===//
//
// The attributes the planning passes of the NPU lowering write into the IR
// of a partition, so that their decisions are visible and testable.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_IR_NPUATTRS_TD
#define NURI_DIALECT_NPU_IR_NPUATTRS_TD

include "nuri/Dialect/Npu/IR/NpuBase.td"
include "mlir/IR/AttrTypeBase.td"

def Npu_BufferAttr : AttrDef<Npu_Dialect, "Buffer"> {
  let mnemonic = "buffer";
  let summary = "where the memory plan puts a tensor: a space and an offset";
  let description = [{
    `space` is `dram` (the chip's DRAM, byte address `offset`), `shared`
    (the SRAM every core reaches over the NoC) or `peer` (on a chip without
    shared SRAM: the pools kept in every core's SRAM, one after the other,
    so `offset` names a core, `offset / pool bytes`, and a place in its
    pool; every core reaches them over the NoC). Offsets are multiples of
    256. `npu-plan-memory` writes one per op result as `npu.buffers`, one
    per partition argument and result as `npu.buffer` (the DRAM binding the
    runtime uses) and `npu.staged` for an input copied once into the shared
    SRAM.

    ```mlir
    %y = nuri.relu %x {npu.buffers = [#npu.buffer<"shared", 0>]} : tensor<4x8xbf16>
    ```
  }];
  let parameters = (ins StringRefParameter<"memory space">:$space,
                        "int64_t":$offset);
  let assemblyFormat = "`<` $space `,` $offset `>`";
  let genVerifyDecl = 1;
}

def Npu_GemmPlanAttr : AttrDef<Npu_Dialect, "GemmPlan"> {
  let mnemonic = "gemm_plan";
  let summary = "the tiling and core split of one npu.gemm kernel";
  let description = [{
    What `npu-plan-kernels` chose for an `npu.gemm` (attribute `npu.plan`)
    with the cost model, once `npu-plan-memory` placed its operands: every
    batch of the `M x N` output is cut into `row_slices x col_slices`
    slices of `slice_rows x slice_cols`, dealt round-robin to the cores;
    a core walks its slice in blocks of `block_rows` rows, each in tiles of
    `tile_cols` columns, accumulating over `k_chunk`-deep chunks of K. A
    blocks are `a_buffers`-buffered at an SRAM row pitch of `a_pitch` bytes
    (padded to spread the array's row reads over the banks); the weights
    stream through a ring of `w_buffers` slots, or stay resident (the whole
    `K x slice_cols` slice, loaded once) when `w_buffers` is 0. With
    `multicast_a` the first core of a row slice sends its A blocks to the
    others. For an `npu.gemm` with `b_transposed` (the transposed GEMV) the
    weight chunks are the array's streaming operand and `a_pitch` is the
    SRAM pitch of their rows (`k_chunk` values). `cycles` is the cost
    model's estimate. A plan written into the
    input is kept: a test, or an experiment, pins the tiling with it.

    ```mlir
    %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 2, slice_rows = 8, slice_cols = 16, block_rows = 8, tile_cols = 16, k_chunk = 16, a_buffers = 2, w_buffers = 2, a_pitch = 128, multicast_a = true, cycles = 400>} : (tensor<8x16xbf16>, tensor<16x32xbf16>) -> tensor<8x32xbf16>
    ```
  }];
  let parameters = (ins "int64_t":$row_slices, "int64_t":$col_slices,
                        "int64_t":$slice_rows, "int64_t":$slice_cols,
                        "int64_t":$block_rows, "int64_t":$tile_cols,
                        "int64_t":$k_chunk, "int64_t":$a_buffers,
                        "int64_t":$w_buffers, "int64_t":$a_pitch,
                        "bool":$multicast_a, "int64_t":$cycles);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // NURI_DIALECT_NPU_IR_NPUATTRS_TD
