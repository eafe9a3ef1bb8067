//===- Passes.td - Graph passes of the nuri dialect --------*- tablegen -*-===//

#ifndef NURI_DIALECT_NURI_TRANSFORMS_PASSES_TD
#define NURI_DIALECT_NURI_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NuriFoldConstants : Pass<"nuri-fold-constants"> {
  let summary = "Evaluate every op whose operands are all constants";
  let description = [{
    Runs the ops' folders to a fixed point, without any other rewrite. After
    import this leaves no shape arithmetic behind (Shape, Gather, Concat,
    Unsqueeze chains were folded into constants) and it turns transposes of
    weights into transposed weight constants, so the NPU backend sees weights
    in the layout the matmul consumes.
  }];
  let dependentDialects = ["::nuri::NuriDialect"];
}

#endif // NURI_DIALECT_NURI_TRANSFORMS_PASSES_TD
