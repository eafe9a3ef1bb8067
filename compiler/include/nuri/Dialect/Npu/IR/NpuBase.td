//===- NpuBase.td - The npu hardware dialect ---------------*- tablegen -*-===//
//
// The dialect and the base classes of its ops. The `npu` dialect is the
// compiler's form of an NPU program: one op per ISA instruction, with the
// instruction's fields as attributes named exactly as in Isa.def, so that
// emission to the encoder is mechanical and the two can never disagree.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_IR_NPUBASE_TD
#define NURI_DIALECT_NPU_IR_NPUBASE_TD

include "mlir/IR/OpBase.td"

def Npu_Dialect : Dialect {
  let name = "npu";
  let cppNamespace = "::nuri::npu";
  let summary = "Per-core, per-engine instruction streams of the Nuri NPU";
  let description = [{
    An `npu.program` holds one `npu.stream` per (core, engine) queue; each
    stream is the in-order list of that queue's instructions. Addresses are
    byte addresses in the memory space the op names (DRAM, the core's SRAM,
    the shared SRAM, a peer's SRAM; the matrix and vector engines address
    the core's own SRAM and the accumulator buffer by entry). Engines order
    each other only through `npu.sem_signal`/`npu.sem_wait` and
    `npu.barrier`: the lowering places them (docs/npu-codegen.md), the
    `npu-verify-sync` pass checks that they balance.
  }];
  // Fields are inherent attributes in the op's dictionary, like the nuri
  // dialect: the importer and the emitter address them by ISA field name.
  let usePropertiesForAttributes = 0;
  // The lowering's planning passes record their decisions as discardable
  // `npu.*` attributes on nuri ops and on the partition's arguments and
  // results (docs/npu-codegen.md); the dialect checks them.
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
}

class Npu_Op<string mnemonic, list<Trait> traits = []>
    : Op<Npu_Dialect, mnemonic, traits>;

// An ISA instruction. `isaName` is its mnemonic in Isa.def; every attribute
// is one of its fields. The shared verifier (verifyInstruction) checks the
// queue, the field widths and the enumerators, then `extraChecks` runs.
class Npu_InstOp<string mnemonic, string isaName, list<Trait> traits = []>
    : Npu_Op<mnemonic, !listconcat(traits, [HasParent<"StreamOp">])> {
  string isaMnemonic = isaName;
  let hasVerifier = 1;
  let assemblyFormat = "attr-dict";
  let extraClassDeclaration = [{
    static constexpr ::llvm::StringLiteral getIsaMnemonic() {
      return ::llvm::StringLiteral("}] # isaName # [{");
    }
  }];
}

#endif // NURI_DIALECT_NPU_IR_NPUBASE_TD
