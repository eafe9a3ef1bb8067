//===- ZooCommand.cpp - nuri zoo ------------------------------------------===//
//
// `nuri zoo NAME -o OUT.onnx` writes a model of a standard transformer shape
// with deterministic random weights; `nuri zoo --list` shows the catalogue.
// `--with-past` writes a decoder with its KV cache (optimum's
// decoder_with_past layout), `--shapes-only` the graph without weight data.
//
//===----------------------------------------------------------------------===//

#include "Command.h"

#include "nuri/Zoo/Zoo.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace nuri;

namespace {
llvm::cl::SubCommand cmd("zoo", "write an ONNX model of a standard "
                                "transformer shape with random weights");

llvm::cl::opt<std::string> modelName(llvm::cl::Positional,
                                     llvm::cl::desc("<model name>"),
                                     llvm::cl::sub(cmd));
llvm::cl::opt<std::string> outputPath("o", llvm::cl::desc("output .onnx file"),
                                      llvm::cl::value_desc("path"),
                                      llvm::cl::sub(cmd));
llvm::cl::opt<bool> list("list",
                         llvm::cl::desc("list the models with their parameter "
                                        "counts"),
                         llvm::cl::sub(cmd));
llvm::cl::opt<bool> externalData(
    "external-data",
    llvm::cl::desc("store the weights in OUT.onnx.data even when small "
                   "(large models always do)"),
    llvm::cl::sub(cmd));
llvm::cl::opt<bool> withPast(
    "with-past",
    llvm::cl::desc("write a decoder (gpt2-*, llama-*) with its KV cache, in "
                   "optimum's decoder_with_past layout: past_key_values.N.* "
                   "inputs, present.N.* outputs (what --generate compiles)"),
    llvm::cl::sub(cmd));
llvm::cl::opt<bool> shapesOnly(
    "shapes-only",
    llvm::cl::desc("write only the graph: weights become references into "
                   "OUT.onnx.data, which is not written (7B models at no "
                   "disk cost; for shape- and timing-only tools)"),
    llvm::cl::sub(cmd));
llvm::cl::opt<int> layers("layers",
                          llvm::cl::desc("number of layers (default: the "
                                         "model's own)"),
                          llvm::cl::init(0), llvm::cl::sub(cmd));
llvm::cl::opt<uint64_t> seed("seed",
                             llvm::cl::desc("weight seed; the same seed gives "
                                            "the same bytes"),
                             llvm::cl::init(0), llvm::cl::sub(cmd));

std::string humanCount(uint64_t count) {
  if (count >= 1000000000) {
    return llvm::formatv("{0:F2}B", double(count) / 1e9).str();
  }
  if (count >= 1000000) {
    return llvm::formatv("{0:F2}M", double(count) / 1e6).str();
  }
  return llvm::formatv("{0:F1}K", double(count) / 1e3).str();
}

int listModels() {
  for (const zoo::ModelInfo &info : zoo::catalogue()) {
    std::string error;
    // Building the graph is cheap: weights are only generated when written.
    std::unique_ptr<zoo::Model> model =
        zoo::buildModel(info.name, zoo::BuildOptions(), error);
    if (!model) {
      llvm::errs() << "nuri zoo: " << error << "\n";
      return 1;
    }
    llvm::outs() << llvm::formatv("{0,-22} {1,14} params  {2,8}  {3}\n",
                                  info.name, model->parameterCount(),
                                  humanCount(model->parameterCount()),
                                  info.description);
  }
  return 0;
}

int runZoo() {
  if (list) {
    return listModels();
  }
  if (modelName.empty() || outputPath.empty()) {
    llvm::errs() << "nuri zoo: expected a model name and -o OUT.onnx "
                    "(nuri zoo --list shows the models)\n";
    return 2;
  }
  zoo::BuildOptions options;
  options.layers = layers;
  options.seed = seed;
  options.withPast = withPast;
  std::string error;
  std::unique_ptr<zoo::Model> model =
      zoo::buildModel(modelName, options, error);
  if (!model) {
    llvm::errs() << "nuri zoo: " << error << "\n";
    return 1;
  }
  zoo::WriteOptions writeOptions;
  writeOptions.externalData = externalData;
  writeOptions.shapesOnly = shapesOnly;
  if (!zoo::writeModel(*model, outputPath, writeOptions, error)) {
    llvm::errs() << "nuri zoo: " << error << "\n";
    return 1;
  }
  llvm::outs() << "wrote " << outputPath << ": " << modelName << ", "
               << model->parameterCount() << " parameters, "
               << model->proto.graph().node_size() << " nodes"
               << (shapesOnly
                       ? " (shapes only: " + outputPath + ".data not written)"
                       : std::string())
               << "\n";
  return 0;
}

nuri::cli::CommandRegistration reg(cmd, runZoo);
} // namespace
