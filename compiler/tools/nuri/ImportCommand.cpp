//===- ImportCommand.cpp - nuri import ------------------------------------===//
//
// nuri import MODEL.onnx [-o OUT.mlir] [--input-shape NAME=2x128 ...]
//             [--allow-unsupported] [--no-fuse] [--elide-weights]
//
//===----------------------------------------------------------------------===//

#include "CliSupport.h"
#include "Command.h"

#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Frontend/OnnxImporter.h"

#include "mlir/IR/OperationSupport.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::SubCommand importCommand("import",
                             "Import an ONNX model into the nuri dialect");
cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<model.onnx>"),
                               cl::sub(importCommand));
cl::opt<std::string> outputPath("o", cl::desc("Output .mlir file"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::sub(importCommand));
cl::list<std::string>
    inputShapes("input-shape",
                cl::desc("Pin an input's shape, e.g. input_ids=1x128"),
                cl::value_desc("NAME=DIMS"), cl::sub(importCommand));
cl::list<std::string> bindInputs(
    "bind-input",
    cl::desc("Freeze a graph input to the value in an ONNX TensorProto file "
             "(for inputs that feed shapes)"),
    cl::value_desc("NAME=FILE.pb"), cl::sub(importCommand));
cl::opt<bool> allowUnsupported(
    "allow-unsupported",
    cl::desc("Keep ops Nuri has no op for as nuri.onnx_op (for the CPU)"),
    cl::sub(importCommand));
cl::opt<bool> noFuse("no-fuse",
                     cl::desc("Skip the default graph passes (fusion, "
                              "cleanup)"),
                     cl::sub(importCommand));
cl::opt<bool> elideWeights(
    "elide-weights",
    cl::desc("Print weight blobs as elided placeholders (readable output; "
             "it does not parse back to the same weights)"),
    cl::sub(importCommand));

int runImport() {
  nuri::OnnxImportOptions options;
  options.allowUnsupported = allowUnsupported;
  if (!nuri::cli::parseImportOptions(inputShapes, bindInputs, options)) {
    return 2;
  }
  mlir::DialectRegistry registry;
  nuri::registerOnnxImporterDialects(registry);
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  nuri::cli::DiagnosticPrinter diagnostics(context);

  mlir::OwningOpRef<mlir::ModuleOp> module =
      nuri::importOnnxFile(context, inputPath, options);
  if (!module) {
    return 1;
  }
  if (!noFuse) {
    mlir::PassManager pm(&context);
    nuri::buildDefaultGraphPipeline(pm);
    if (mlir::failed(pm.run(*module))) {
      return 1;
    }
  }
  std::string text;
  raw_string_ostream os(text);
  mlir::OpPrintingFlags flags;
  if (elideWeights) {
    flags.elideLargeElementsAttrs(16);
    flags.elideLargeResourceString(64);
  }
  module->print(os, flags);
  os << "\n";
  return nuri::cli::writeOutput(outputPath, text) ? 0 : 1;
}

nuri::cli::CommandRegistration registration(importCommand, runImport);
} // namespace
