//===- ImportConformance.cpp - ONNX backend node tests through import -----===//
//
// For every test named in the conformance list, imports its model.onnx and
// sorts the outcome: imported, or refused with the unsupported-op
// diagnostic. Anything else (a crash is impossible here, an error of any
// other kind is a bug) fails the run. Prints one line per non-import and the
// counts.
//
//===----------------------------------------------------------------------===//

#include "nuri/Frontend/OnnxImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/raw_ostream.h"
#include <onnx/onnx_pb.h>

#include <fstream>
#include <iostream>
#include <map>
#include <string>

int main(int argc, char **argv) {
  if (argc != 3) {
    std::cerr << "usage: nuri-import-conformance LIST.txt NODE_TEST_DIR\n";
    return 2;
  }
  std::ifstream list(argv[1]);
  if (!list) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 2;
  }
  std::string dataDir = argv[2];
  int imported = 0, unsupported = 0, errors = 0, missing = 0;
  std::map<std::string, int> unsupportedOps;
  std::string line;
  while (std::getline(list, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::string path = dataDir + "/" + line + "/model.onnx";
    if (!std::ifstream(path)) {
      std::cout << "MISSING " << line << "\n";
      ++missing;
      continue;
    }
    // Bind the inputs that a static-shape compiler needs as values (shapes,
    // axes, bounds: int64 tensors and scalars) from the test's first data
    // set, as a user would with `nuri import --bind-input`.
    nuri::OnnxImportOptions options;
    onnx::ModelProto model;
    {
      std::ifstream in(path, std::ios::binary);
      model.ParseFromIstream(&in);
    }
    int index = 0;
    for (const onnx::ValueInfoProto &input : model.graph().input()) {
      std::string pb = dataDir + "/" + line + "/test_data_set_0/input_" +
                       std::to_string(index++) + ".pb";
      const auto &type = input.type().tensor_type();
      bool shapeLike = type.elem_type() == onnx::TensorProto::INT64 ||
                       (type.has_shape() && type.shape().dim_size() == 0);
      std::ifstream data(pb, std::ios::binary);
      if (shapeLike && data) {
        options.constantInputs[input.name()] =
            std::string(std::istreambuf_iterator<char>(data), {});
      }
    }
    mlir::DialectRegistry registry;
    nuri::registerOnnxImporterDialects(registry);
    mlir::MLIRContext context(registry);
    std::string message;
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      if (message.empty()) {
        message = d.str();
      }
      return mlir::success();
    });
    if (nuri::importOnnxFile(context, path, options)) {
      ++imported;
      continue;
    }
    if (message.find("unsupported ") != std::string::npos) {
      ++unsupported;
      std::string op = "(input type)";
      auto at = message.find("unsupported op '");
      if (at != std::string::npos) {
        op = message.substr(at + 16);
        op = op.substr(0, op.find('\''));
      }
      ++unsupportedOps[op];
      std::cout << "UNSUPPORTED " << line << ": " << op << "\n";
    } else {
      ++errors;
      std::cout << "ERROR " << line << ": " << message << "\n";
    }
  }
  std::cout << "\nunsupported op types:";
  for (const auto &[op, count] : unsupportedOps) {
    std::cout << " " << op << "(" << count << ")";
  }
  std::cout << "\nimport conformance: " << imported << " imported, "
            << unsupported << " refused as unsupported, " << errors
            << " other errors, " << missing << " missing\n";
  return errors || missing ? 1 : 0;
}
