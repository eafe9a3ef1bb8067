//===- InspectCommand.cpp - nuri inspect ----------------------------------===//
//
// nuri inspect MODEL.onnx [--input-shape NAME=DIMS ...] [--json]
//
// What a model holds: ONNX op histogram, parameter count, what Nuri does not
// support, and, when the model imports (shapes pinned), the nuri op
// histogram after the default passes and the FLOPs by op class.
//
//===----------------------------------------------------------------------===//

#include "CliSupport.h"
#include "Command.h"

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Frontend/OnnxImporter.h"
#include "nuri/package/Package.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <onnx/onnx_pb.h>

#include <fstream>
#include <map>

using namespace llvm;
using namespace mlir;
using namespace nuri;

namespace {
cl::SubCommand inspectCommand("inspect",
                              "Describe a model: ops, parameters, FLOPs, "
                              "what is unsupported");
cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<model.onnx>"),
                               cl::sub(inspectCommand));
cl::list<std::string> inputShapes("input-shape",
                                  cl::desc("Pin an input's shape"),
                                  cl::value_desc("NAME=DIMS"),
                                  cl::sub(inspectCommand));
cl::opt<bool> asJson("json", cl::desc("Print one JSON object"),
                     cl::sub(inspectCommand));

int64_t elements(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  return ranked && ranked.hasStaticShape() ? ranked.getNumElements() : 0;
}

// FLOPs of one op (a multiply-add counts two) and the class it is billed to.
std::pair<StringRef, int64_t> flopsOf(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::pair<StringRef, int64_t>>(op)
      .Case([](MatmulOp m) {
        auto lhs = m.getLhs().getType();
        int64_t k =
            lhs.getShape()[lhs.getRank() - (m.getTransposeLhs() ? 2 : 1)];
        return std::make_pair(StringRef("matmul"),
                              2 * elements(m.getType()) * k);
      })
      .Case([](LinearOp l) {
        int64_t k = l.getWeight().getType().getShape()[0];
        return std::make_pair(StringRef("matmul"),
                              2 * elements(l.getType()) * k);
      })
      .Case([](ConvOp c) {
        auto w = c.getWeight().getType();
        int64_t perOutput = w.getNumElements() / w.getShape()[0];
        return std::make_pair(StringRef("conv"),
                              2 * elements(c.getType()) * perOutput);
      })
      .Case([](AttentionOp a) {
        auto q = a.getQuery().getType(), k = a.getKey().getType();
        int64_t scores = q.getShape()[0] * q.getShape()[1] * q.getShape()[2] *
                         k.getShape()[2];
        int64_t dv = a.getValue().getType().getShape()[3];
        return std::make_pair(StringRef("attention"),
                              2 * scores * q.getShape()[3] + 2 * scores * dv +
                                  5 * scores);
      })
      .Case<LayerNormOp, RmsNormOp, SoftmaxOp>([](Operation *o) {
        return std::make_pair(StringRef("normalization"),
                              5 * elements(o->getResult(0).getType()));
      })
      .Case<ConstantOp, ReshapeOp, TransposeOp, BroadcastToOp, ConcatOp,
            SliceOp, SplitOp, GatherOp, CastOp>([](Operation *) {
        return std::make_pair(StringRef("data movement"), int64_t(0));
      })
      .Default([](Operation *o) {
        int64_t n =
            o->getNumResults() ? elements(o->getResult(0).getType()) : 0;
        return std::make_pair(StringRef("elementwise"), n);
      });
}

int runInspect() {
  // A compiled package (.nuri) is described by the runtime's package library.
  if (nuri::package::isPackageFile(inputPath)) {
    Result<std::string> text = nuri::package::describePackageFile(inputPath);
    if (!text) {
      WithColor::error(errs(), "nuri inspect") << text.error() << "\n";
      return 1;
    }
    outs() << *text;
    return 0;
  }
  // The raw message is read first and dropped before the import, so the
  // weights are never held twice.
  std::map<std::string, int> onnxOps, unsupported;
  int64_t parameters = 0;
  int nodeCount = 0;
  {
    std::ifstream in(inputPath, std::ios::binary);
    onnx::ModelProto model;
    if (!in || !model.ParseFromIstream(&in)) {
      WithColor::error() << inputPath << ": cannot read an ONNX model\n";
      return 1;
    }
    nodeCount = model.graph().node_size();
    for (const onnx::NodeProto &node : model.graph().node()) {
      std::string key =
          (node.domain().empty() ? "" : node.domain() + "::") + node.op_type();
      ++onnxOps[key];
      if (!nuri::isSupportedOnnxOp(node.domain(), node.op_type())) {
        ++unsupported[key];
      }
    }
    for (const onnx::TensorProto &init : model.graph().initializer()) {
      int64_t n = 1;
      for (int64_t d : init.dims()) {
        n *= d;
      }
      parameters += n;
    }
  }

  nuri::OnnxImportOptions options;
  for (const std::string &text : inputShapes) {
    std::string error = nuri::parseInputShapeOption(text, options);
    if (!error.empty()) {
      WithColor::error() << "--input-shape: " << error << "\n";
      return 2;
    }
  }
  DialectRegistry registry;
  nuri::registerOnnxImporterDialects(registry);
  MLIRContext context(registry);
  context.disableMultithreading();
  std::string importError;
  std::map<std::string, int> nuriOps;
  std::map<std::string, int64_t> flops;
  OwningOpRef<ModuleOp> module;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
      if (importError.empty()) {
        importError = d.str();
      }
      return success();
    });
    module = nuri::importOnnxFile(context, inputPath, options);
    if (module) {
      PassManager pm(&context);
      nuri::buildDefaultGraphPipeline(pm);
      if (failed(pm.run(*module))) {
        module = nullptr;
      }
    }
  }
  if (module) {
    module->walk([&](Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == "nuri") {
        ++nuriOps[op->getName().getStringRef().str()];
        auto [kind, count] = flopsOf(op);
        flops[kind.str()] += count;
      }
    });
  }

  if (asJson) {
    json::Object out;
    json::Object ops, missing, fused, byClass;
    for (auto &[k, v] : onnxOps)
      ops[k] = v;
    for (auto &[k, v] : unsupported)
      missing[k] = v;
    for (auto &[k, v] : nuriOps)
      fused[k] = v;
    for (auto &[k, v] : flops)
      byClass[k] = v;
    out["model"] = inputPath.getValue();
    out["onnx_ops"] = std::move(ops);
    out["parameters"] = parameters;
    out["unsupported"] = std::move(missing);
    out["imported"] = bool(module);
    if (module) {
      out["nuri_ops"] = std::move(fused);
      out["flops"] = std::move(byClass);
    } else {
      out["import_error"] = importError;
    }
    outs() << formatv("{0:2}", json::Value(std::move(out))) << "\n";
    return 0;
  }
  outs() << inputPath << ": " << nodeCount << " ONNX nodes, " << parameters
         << " parameters (" << format("%.1f", parameters * 4.0 / (1 << 20))
         << " MiB as fp32)\n";
  outs() << "ONNX ops:";
  for (auto &[k, v] : onnxOps)
    outs() << " " << k << "=" << v;
  outs() << "\nunsupported:";
  if (unsupported.empty())
    outs() << " none";
  for (auto &[k, v] : unsupported)
    outs() << " " << k << "=" << v;
  outs() << "\n";
  if (!module) {
    outs() << "not imported: " << importError << "\n";
    return 0;
  }
  outs() << "nuri ops after the default passes:";
  for (auto &[k, v] : nuriOps)
    outs() << " " << StringRef(k).drop_front(5) << "=" << v;
  int64_t total = 0;
  for (auto &[k, v] : flops)
    total += v;
  outs() << "\nFLOPs: " << format("%.4g", total / 1e6) << " M (";
  bool first = true;
  for (auto &[k, v] : flops) {
    outs() << (first ? "" : ", ") << k << " " << format("%.4g", v / 1e6);
    first = false;
  }
  outs() << ")\n";
  return 0;
}

nuri::cli::CommandRegistration registration(inspectCommand, runInspect);
} // namespace
