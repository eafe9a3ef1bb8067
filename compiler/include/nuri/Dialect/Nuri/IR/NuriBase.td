//===- NuriBase.td - The nuri graph dialect ----------------*- tablegen -*-===//
//
// The dialect, its base op class and shared type constraints.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NURI_IR_NURIBASE_TD
#define NURI_DIALECT_NURI_IR_NURIBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Nuri_Dialect : Dialect {
  let name = "nuri";
  let cppNamespace = "::nuri";
  let summary = "Tensor-level graph of a transformer model";
  let description = [{
    The `nuri` dialect is the graph-level IR of the Nuri compiler. ONNX models
    are imported into it with every shape static; pattern-recognition passes
    then fuse decomposed subgraphs (LayerNorm, GELU, attention, ...) into the
    dialect's fused ops, which the NPU backend lowers and the CPU runtime
    executes.

    Ops follow numpy broadcasting where they say so, take axes as
    non-negative integers (the importer normalizes ONNX's negative axes), and
    carry their result types explicitly so that every value has a static
    shape.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  // Attributes live in the op's attribute dictionary, not in properties:
  // the importer builds ops generically by name and runs type inference on
  // that dictionary before the op exists.
  let usePropertiesForAttributes = 0;
  // `nuri.target` on a module must name a chip config that loads.
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Parsed chip configs by #nuri.target attribute (NuriTarget.h): one
    /// parse per attribute for the context's lifetime.
    detail::TargetCache &getTargetCache() { return *targetCache; }

  private:
    std::shared_ptr<detail::TargetCache> targetCache;

  public:
  }];
}

class Nuri_Op<string mnemonic, list<Trait> traits = []>
    : Op<Nuri_Dialect, mnemonic, traits>;

// Values of the graph: ranked tensors with static shapes.
def Nuri_Tensor : StaticShapeTensorOf<[AnyType]>;
def Nuri_FloatTensor : StaticShapeTensorOf<[AnyFloat]>;
def Nuri_IntTensor : StaticShapeTensorOf<[AnyInteger]>;
def Nuri_BoolTensor : StaticShapeTensorOf<[I1]>;
def Nuri_IndexTensor : StaticShapeTensorOf<[I32, I64]>;
def Nuri_QuantTensor : StaticShapeTensorOf<[I8, UI8, SI8, I32]>;
// What quantize produces and dequantize reads: the integer types and fp8
// e4m3 (OCP "FN", max 448), whose scale maps amax to 448 and has no zero point.
def Nuri_QdqTensor : StaticShapeTensorOf<[I8, UI8, SI8, I32, F8E4M3FN]>;

#endif // NURI_DIALECT_NURI_IR_NURIBASE_TD
