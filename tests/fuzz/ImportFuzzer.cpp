//===- ImportFuzzer.cpp - libFuzzer entry for the ONNX importer -----------===//
//
// Any byte string is a model the importer must survive: it imports or it
// reports an error. External data resolves against a directory that does
// not exist, so no input reads files.
//
//===----------------------------------------------------------------------===//

#include "nuri/Frontend/OnnxImporter.h"

#include "mlir/IR/Diagnostics.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::DialectRegistry registry;
  nuri::registerOnnxImporterDialects(registry);
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  nuri::OnnxImportOptions options;
  options.allowUnsupported = true;
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  (void)nuri::importOnnxBuffer(context, bytes, "fuzz.onnx",
                               "/nonexistent/nuri-fuzz", options);
  return 0;
}
