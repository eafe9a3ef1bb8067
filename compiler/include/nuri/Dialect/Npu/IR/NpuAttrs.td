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
    `space` is `dram` (the chip's DRAM, byte address `offset`) or `shared`
    (the SRAM every core reaches over the NoC). Offsets are multiples of
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

#endif // NURI_DIALECT_NPU_IR_NPUATTRS_TD
