//===- Pipelines.cpp - Pass pipelines and registration --------------------===//

#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void nuri::buildDefaultGraphPipeline(OpPassManager &pm) {
  // Shape arithmetic folds away first, and CSE merges the subexpressions old
  // exporters duplicate (two `x - mean` in one LayerNorm), so the patterns
  // see one value where there is one.
  pm.addPass(createNuriFoldConstants());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Norms before activations and attention: their patterns do not overlap,
  // but RMSNorm must not claim a centered input LayerNorm owns.
  pm.addPass(createNuriFuseLayerNorm());
  pm.addPass(createNuriFuseRmsNorm());
  pm.addPass(createNuriFuseActivations());
  // RoPE feeds the query and key, so it fuses before attention reads them.
  pm.addPass(createNuriFuseRope());
  // Before attention: a quantized projection is then one op whose float
  // result the attention pattern reads like any other value.
  pm.addPass(createNuriFuseQuantizedMatmul());
  pm.addPass(createNuriFuseAttention());
  // Last: the attention pattern tells score matmuls from weight matmuls by
  // their constant operand, which linear fusion would hide.
  pm.addPass(createNuriFuseLinear());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createSymbolDCEPass());
}

void nuri::registerAllNuriPasses() {
  registerNuriPasses();
  PassPipelineRegistration<>(
      "nuri-default-pipeline",
      "What `nuri import` runs: cleanup, pattern recognition, cleanup",
      buildDefaultGraphPipeline);
}
