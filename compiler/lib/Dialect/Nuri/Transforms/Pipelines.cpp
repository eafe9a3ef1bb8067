//===- Pipelines.cpp - Pass pipelines and registration --------------------===//

#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void nuri::buildDefaultGraphPipeline(OpPassManager &pm) {
  pm.addPass(createNuriFoldConstants());
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
