//===- ImporterTest.cpp - The ONNX importer's API -------------------------===//
//
// Real exports import with static shapes; every kind of bad input is a
// diagnostic naming the file or node, never a crash.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Frontend/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

namespace fs = std::filesystem;
using namespace nuri;

namespace {

struct ImportResult {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string diagnostics;
};

class Importer : public ::testing::Test {
protected:
  Importer() : context(makeRegistry()) {}
  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry registry;
    registerOnnxImporterDialects(registry);
    return registry;
  }

  ImportResult importFile(const std::string &path,
                          const OnnxImportOptions &options = {}) {
    ImportResult result;
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      result.diagnostics += d.str() + "\n";
      return mlir::success();
    });
    result.module = importOnnxFile(context, path, options);
    return result;
  }

  ImportResult importModel(const onnx::ModelProto &model,
                           const OnnxImportOptions &options = {}) {
    std::string bytes;
    model.SerializeToString(&bytes);
    ImportResult result;
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      result.diagnostics += d.str() + "\n";
      return mlir::success();
    });
    result.module =
        importOnnxBuffer(context, bytes, "test.onnx", tempDir(), options);
    return result;
  }

  static std::string tempDir() {
    fs::path dir = fs::temp_directory_path() / "nuri-importer-test";
    fs::create_directories(dir);
    return dir.string();
  }

  mlir::MLIRContext context;
};

// A one-node model: y = OP(x, ...) with x: float[2, 3].
onnx::ModelProto makeModel(const std::string &opType, int64_t opset = 17,
                           std::vector<int64_t> xShape = {2, 3}) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto *opsetId = model.add_opset_import();
  opsetId->set_domain("");
  opsetId->set_version(opset);
  auto *graph = model.mutable_graph();
  graph->set_name("g");
  auto *x = graph->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::FLOAT);
  for (int64_t d : xShape) {
    x->mutable_type()
        ->mutable_tensor_type()
        ->mutable_shape()
        ->add_dim()
        ->set_dim_value(d);
  }
  auto *node = graph->add_node();
  node->set_name("the_node");
  node->set_op_type(opType);
  node->add_input("x");
  node->add_output("y");
  graph->add_output()->set_name("y");
  return model;
}

std::map<std::string, int> histogram(mlir::ModuleOp module) {
  std::map<std::string, int> ops;
  module.walk([&](mlir::Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "nuri") {
      ++ops[op->getName().getStringRef().str()];
    }
  });
  return ops;
}

// The shape of a .npy file, read from its header.
std::vector<int64_t> npyShape(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::string header(256, '\0');
  in.read(header.data(), header.size());
  std::smatch match;
  std::regex shapeRe("'shape': \\(([0-9, ]*)\\)");
  std::vector<int64_t> shape;
  if (std::regex_search(header, match, shapeRe)) {
    std::stringstream dims(match[1].str());
    std::string d;
    while (std::getline(dims, d, ',')) {
      if (d.find_first_not_of(' ') != std::string::npos) {
        shape.push_back(std::stoll(d));
      }
    }
  }
  return shape;
}

TEST_F(Importer, SharedModelsImportWithStaticShapes) {
  fs::path models = fs::path(NURI_SHARED_DIR) / "models";
  if (!fs::exists(models)) {
    GTEST_SKIP() << "no shared models at " << models;
  }
  int count = 0;
  for (const auto &dir : fs::directory_iterator(models)) {
    if (!fs::exists(dir.path() / "model.onnx")) {
      continue;
    }
    SCOPED_TRACE(dir.path().filename().string());
    OnnxImportOptions options;
    for (const auto &npy : fs::directory_iterator(dir.path() / "inputs")) {
      options.inputShapes[npy.path().stem().string()] = npyShape(npy.path());
    }
    ImportResult result =
        importFile((dir.path() / "model.onnx").string(), options);
    ASSERT_TRUE(result.module) << result.diagnostics;
    ++count;
    bool allStatic = true;
    result.module->walk([&](mlir::Operation *op) {
      for (mlir::Type type : op->getResultTypes()) {
        auto ranked = mlir::dyn_cast<mlir::RankedTensorType>(type);
        allStatic &= !ranked || ranked.hasStaticShape();
      }
    });
    EXPECT_TRUE(allStatic);
    std::map<std::string, int> ops = histogram(*result.module);
    EXPECT_EQ(ops.count("nuri.onnx_op"), 0u);
    std::cout << dir.path().filename().string() << ":";
    for (const auto &[name, n] : ops) {
      std::cout << " " << name.substr(5) << "=" << n;
    }
    std::cout << "\n";
  }
  EXPECT_GE(count, 10);
}

TEST_F(Importer, MissingFileIsAnError) {
  ImportResult r = importFile("/nonexistent/model.onnx");
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("cannot read the model"), std::string::npos)
      << r.diagnostics;
}

TEST_F(Importer, GarbageIsAnError) {
  std::string path = tempDir() + "/garbage.onnx";
  std::ofstream(path) << "this is not a protobuf \xff\xff\xff\xff\x01\x02";
  ImportResult r = importFile(path);
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("not a valid ONNX model"), std::string::npos)
      << r.diagnostics;
}

TEST_F(Importer, EveryTruncationIsAnErrorNotACrash) {
  onnx::ModelProto model = makeModel("Relu");
  std::string bytes;
  model.SerializeToString(&bytes);
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::string path = tempDir() + "/truncated.onnx";
    std::ofstream(path, std::ios::binary) << bytes.substr(0, size);
    ImportResult r = importFile(path);
    EXPECT_FALSE(r.module && r.diagnostics.empty() && size < bytes.size() / 2)
        << "truncated to " << size;
  }
}

TEST_F(Importer, UnsupportedOpNamesTypeDomainNodeAndOpset) {
  ImportResult r = importModel(makeModel("TopK"));
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("unsupported op 'TopK' (domain 'ai.onnx')"),
            std::string::npos)
      << r.diagnostics;
  EXPECT_NE(r.diagnostics.find("opset 17"), std::string::npos);
}

TEST_F(Importer, UnpinnedDynamicDimIsAnError) {
  onnx::ModelProto model = makeModel("Relu");
  auto *dim = model.mutable_graph()
                  ->mutable_input(0)
                  ->mutable_type()
                  ->mutable_tensor_type()
                  ->mutable_shape()
                  ->mutable_dim(0);
  dim->set_dim_param("batch");
  ImportResult r = importModel(model);
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("dynamic dimension 0 ('batch')"),
            std::string::npos)
      << r.diagnostics;

  OnnxImportOptions options;
  options.inputShapes["x"] = {4, 3};
  ImportResult pinned = importModel(model, options);
  ASSERT_TRUE(pinned.module) << pinned.diagnostics;
}

TEST_F(Importer, PinningContradictingAStaticDimIsAnError) {
  OnnxImportOptions options;
  options.inputShapes["x"] = {2, 5};
  ImportResult r = importModel(makeModel("Relu"), options);
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("the model fixes it to 3"), std::string::npos)
      << r.diagnostics;
}

TEST_F(Importer, UnknownOpsetIsAnError) {
  ImportResult r = importModel(makeModel("Relu", /*opset=*/99));
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("opset 99 is not supported"), std::string::npos)
      << r.diagnostics;
}

TEST_F(Importer, CycleIsAnError) {
  onnx::ModelProto model = makeModel("Add");
  auto *graph = model.mutable_graph();
  graph->mutable_node(0)->add_input("z");
  auto *back = graph->add_node();
  back->set_name("back_edge");
  back->set_op_type("Relu");
  back->add_input("y");
  back->add_output("z");
  ImportResult r = importModel(model);
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("cycle"), std::string::npos) << r.diagnostics;
}

TEST_F(Importer, OutOfOrderNodesAreSorted) {
  onnx::ModelProto model = makeModel("Relu");
  auto *graph = model.mutable_graph();
  auto *second = graph->add_node();
  second->set_op_type("Neg");
  second->add_input("y");
  second->add_output("w");
  graph->mutable_node()->SwapElements(0, 1);
  graph->mutable_output(0)->set_name("w");
  ImportResult r = importModel(model);
  ASSERT_TRUE(r.module) << r.diagnostics;
  EXPECT_EQ(histogram(*r.module)["nuri.neg"], 1);
}

TEST_F(Importer, InconsistentShapesNameTheNode) {
  onnx::ModelProto model = makeModel("Add");
  auto *graph = model.mutable_graph();
  auto *init = graph->add_initializer();
  init->set_name("b");
  init->set_data_type(onnx::TensorProto::FLOAT);
  init->add_dims(4);
  for (int i = 0; i < 4; ++i) {
    init->add_float_data(1.0f);
  }
  graph->mutable_node(0)->add_input("b");
  ImportResult r = importModel(model);
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("[2x3] and [4] do not broadcast"),
            std::string::npos)
      << r.diagnostics;
}

TEST_F(Importer, MissingExternalDataIsAnError) {
  onnx::ModelProto model = makeModel("Add");
  auto *graph = model.mutable_graph();
  auto *init = graph->add_initializer();
  init->set_name("b");
  init->set_data_type(onnx::TensorProto::FLOAT);
  init->add_dims(3);
  init->set_data_location(onnx::TensorProto::EXTERNAL);
  auto *entry = init->add_external_data();
  entry->set_key("location");
  entry->set_value("weights-that-are-not-there.bin");
  graph->mutable_node(0)->add_input("b");
  ImportResult r = importModel(model);
  EXPECT_FALSE(r.module);
  EXPECT_NE(r.diagnostics.find("cannot read external data of tensor 'b'"),
            std::string::npos)
      << r.diagnostics;

  // Present, the weights load.
  std::ofstream(tempDir() + "/weights-that-are-not-there.bin", std::ios::binary)
      .write("\0\0\x80?\0\0\0@\0\0@@", 12);
  ImportResult ok = importModel(model);
  ASSERT_TRUE(ok.module) << ok.diagnostics;
  std::remove((tempDir() + "/weights-that-are-not-there.bin").c_str());
}

TEST_F(Importer, ShapeArithmeticFoldsToConstants) {
  // y = Reshape(x, Concat(Gather(Shape(x), 0), [-1])): the usual exporter
  // chain; it must leave one reshape behind.
  onnx::ModelProto model = makeModel("Shape", 14, {2, 3, 4});
  auto *graph = model.mutable_graph();
  graph->mutable_node(0)->set_output(0, "s");
  auto addNode = [&](const std::string &op, std::vector<std::string> in,
                     const std::string &out) {
    auto *node = graph->add_node();
    node->set_op_type(op);
    for (auto &i : in) {
      node->add_input(i);
    }
    node->add_output(out);
    return node;
  };
  auto addInts = [&](const std::string &name, std::vector<int64_t> values,
                     bool scalar) {
    auto *t = graph->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    if (!scalar) {
      t->add_dims(values.size());
    }
    for (int64_t v : values) {
      t->add_int64_data(v);
    }
  };
  addInts("zero", {0}, true);
  addInts("minus1", {-1}, false);
  addInts("axes0", {0}, false);
  addNode("Gather", {"s", "zero"}, "d0");
  addNode("Unsqueeze", {"d0", "axes0"}, "d0v");
  addNode("Concat", {"d0v", "minus1"}, "shape")
      ->add_attribute()
      ->set_name("axis");
  graph->mutable_node(3)->mutable_attribute(0)->set_type(
      onnx::AttributeProto::INT);
  addNode("Reshape", {"x", "shape"}, "y");
  ImportResult r = importModel(model);
  ASSERT_TRUE(r.module) << r.diagnostics;
  auto ops = histogram(*r.module);
  EXPECT_EQ(ops["nuri.reshape"], 1);
  EXPECT_EQ(ops.size(), 1u) << "shape machinery left behind";
  auto func = *r.module->getOps<mlir::func::FuncOp>().begin();
  EXPECT_EQ(
      mlir::cast<mlir::RankedTensorType>(func.getResultTypes()[0]).getShape(),
      llvm::ArrayRef<int64_t>({2, 12}));
}

TEST_F(Importer, AllowUnsupportedKeepsOpaqueOpWithValueInfoTypes) {
  onnx::ModelProto model = makeModel("Softplus");
  auto *info = model.mutable_graph()->add_value_info();
  info->set_name("y");
  info->mutable_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::FLOAT);
  for (int64_t d : {2, 3}) {
    info->mutable_type()
        ->mutable_tensor_type()
        ->mutable_shape()
        ->add_dim()
        ->set_dim_value(d);
  }
  OnnxImportOptions options;
  options.allowUnsupported = true;
  ImportResult r = importModel(model, options);
  ASSERT_TRUE(r.module) << r.diagnostics;
  EXPECT_EQ(histogram(*r.module)["nuri.onnx_op"], 1);
}

TEST_F(Importer, InputShapeOptionParsing) {
  OnnxImportOptions options;
  EXPECT_EQ(parseInputShapeOption("input_ids=1x128", options), "");
  EXPECT_EQ(options.inputShapes["input_ids"], (std::vector<int64_t>{1, 128}));
  EXPECT_EQ(parseInputShapeOption("scalar=", options), "");
  EXPECT_TRUE(options.inputShapes["scalar"].empty());
  EXPECT_NE(parseInputShapeOption("nodims", options), "");
  EXPECT_NE(parseInputShapeOption("x=1xq", options), "");
}

} // namespace

namespace {
// Byte flips anywhere in a real export: each import either succeeds or
// reports an error, and never crashes, hangs or allocates without bound.
TEST_F(Importer, RandomByteFlipsNeverCrash) {
  fs::path model = fs::path(NURI_SHARED_DIR) / "models" /
                   "distilbert-tiny-optimum" / "model.onnx";
  if (!fs::exists(model)) {
    GTEST_SKIP() << "no shared model at " << model;
  }
  std::ifstream in(model, std::ios::binary);
  std::string original((std::istreambuf_iterator<char>(in)), {});
  OnnxImportOptions options;
  options.inputShapes["input_ids"] = {1, 8};
  options.inputShapes["attention_mask"] = {1, 8};
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int imported = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes = original;
    int flips = 1 + next() % 8;
    for (int i = 0; i < flips; ++i) {
      bytes[next() % bytes.size()] ^= static_cast<char>(1 + next() % 255);
    }
    std::string path = tempDir() + "/mutated.onnx";
    std::ofstream(path, std::ios::binary) << bytes;
    ImportResult r = importFile(path, options);
    EXPECT_TRUE(r.module || !r.diagnostics.empty()) << "trial " << trial;
    imported += bool(r.module);
  }
  // Most flips land in weights and leave a valid model: the test reaches
  // the importer, not just the protobuf parser.
  EXPECT_GT(imported, 0);
}
} // namespace

namespace {

// A one-node model over initializers: `opType` named "qnode" reads the
// given tensors in order and writes y.
onnx::ModelProto quantModel(const std::string &opType,
                            const std::vector<onnx::TensorProto> &inputs,
                            int64_t opset = 13) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto *opsetId = model.add_opset_import();
  opsetId->set_domain("");
  opsetId->set_version(opset);
  auto *graph = model.mutable_graph();
  graph->set_name("g");
  auto *node = graph->add_node();
  node->set_name("qnode");
  node->set_op_type(opType);
  for (const onnx::TensorProto &t : inputs) {
    *graph->add_initializer() = t;
    node->add_input(t.name());
  }
  node->add_output("y");
  graph->add_output()->set_name("y");
  return model;
}

onnx::TensorProto tensor(const std::string &name, int32_t type,
                         std::vector<int64_t> dims) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  int64_t count = 1;
  for (int64_t d : dims) {
    t.add_dims(d);
    count *= d;
  }
  size_t bytes = type == onnx::TensorProto::FLOAT   ? 4
                 : type == onnx::TensorProto::INT16 ? 2
                                                    : 1;
  t.set_raw_data(std::string(static_cast<size_t>(count) * bytes, '\0'));
  return t;
}

// Imports `model` and returns every diagnostic with its location, so a test
// can check that the error names the node.
std::string importErrors(mlir::MLIRContext &context,
                         const onnx::ModelProto &model) {
  std::string bytes, errors;
  model.SerializeToString(&bytes);
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    llvm::raw_string_ostream os(errors);
    os << d.getLocation() << ": " << d.str() << "\n";
    return mlir::success();
  });
  auto module = importOnnxBuffer(context, bytes, "q.onnx",
                                 fs::temp_directory_path().string(), {});
  EXPECT_FALSE(module) << "the model should be refused";
  return errors;
}

constexpr int32_t kInt8 = onnx::TensorProto::INT8;
constexpr int32_t kUint8 = onnx::TensorProto::UINT8;
constexpr int32_t kFloat = onnx::TensorProto::FLOAT;

TEST_F(Importer, PerAxisScaleOfTheWrongLengthNamesTheNode) {
  onnx::ModelProto model =
      quantModel("DequantizeLinear",
                 {tensor("w", kInt8, {4, 3}), tensor("s", kFloat, {4})});
  auto *axis = model.mutable_graph()->mutable_node(0)->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(1);
  std::string e = importErrors(context, model);
  EXPECT_NE(e.find("qnode"), std::string::npos) << e;
  EXPECT_NE(e.find("per-channel scale of size 4 does not match axis 1 of "
                   "[4x3]"),
            std::string::npos)
      << e;
}

TEST_F(Importer, MatMulIntegerPerColumnZeroPointOfTheWrongLength) {
  std::string e = importErrors(
      context,
      quantModel("MatMulInteger",
                 {tensor("a", kUint8, {2, 8}), tensor("b", kInt8, {8, 4}),
                  tensor("az", kUint8, {}), tensor("bz", kInt8, {8})}));
  EXPECT_NE(e.find("qnode"), std::string::npos) << e;
  EXPECT_NE(e.find("rhs zero point of shape [8] is neither a scalar nor one "
                   "value per output column (4 in [8x4])"),
            std::string::npos)
      << e;
}

TEST_F(Importer, ZeroPointOfAnotherTypeIsAnError) {
  std::string e = importErrors(
      context, quantModel("DequantizeLinear",
                          {tensor("w", kInt8, {4, 3}), tensor("s", kFloat, {}),
                           tensor("z", kUint8, {})}));
  EXPECT_NE(e.find("qnode"), std::string::npos) << e;
  EXPECT_NE(e.find("the zero point has type 'ui8', its operand 'i8'"),
            std::string::npos)
      << e;
  e = importErrors(context,
                   quantModel("MatMulInteger", {tensor("a", kUint8, {2, 8}),
                                                tensor("b", kInt8, {8, 4}),
                                                tensor("az", kInt8, {})}));
  EXPECT_NE(e.find("A's zero point has type 'i8', its operand 'ui8'"),
            std::string::npos)
      << e;
}

// com.microsoft MatMulNBits: the layout's rules, each refused at the node.
TEST_F(Importer, MatMulNBitsLayoutErrorsNameTheNode) {
  auto nbits = [&](std::vector<int64_t> bDims, int64_t bits, int64_t k,
                   int64_t scales) {
    onnx::ModelProto model = quantModel(
        "MatMulNBits", {tensor("a", kFloat, {2, k}), tensor("b", kUint8, bDims),
                        tensor("s", kFloat, {scales})});
    auto *opset = model.add_opset_import();
    opset->set_domain("com.microsoft");
    opset->set_version(1);
    auto *node = model.mutable_graph()->mutable_node(0);
    node->set_domain("com.microsoft");
    for (auto [name, value] : std::vector<std::pair<const char *, int64_t>>{
             {"K", k}, {"N", 4}, {"bits", bits}, {"block_size", 32}}) {
      auto *attr = node->add_attribute();
      attr->set_name(name);
      attr->set_type(onnx::AttributeProto::INT);
      attr->set_i(value);
    }
    return importErrors(context, model);
  };
  // (A valid one runs against ONNX Runtime in models-ort-quantized.)
  std::string e = nbits({4, 2, 8}, 4, 64, 8);
  EXPECT_NE(e.find("qnode"), std::string::npos) << e;
  EXPECT_NE(e.find("B must be uint8 [N, ceil(K / block_size), block_size * "
                   "bits / 8] = [4, 2, 16] for K 64 and N 4"),
            std::string::npos)
      << e;
  e = nbits({4, 2, 12}, 3, 64, 8);
  EXPECT_NE(e.find("bits 3 is not supported (4 or 8)"), std::string::npos) << e;
  e = nbits({4, 2, 16}, 4, 64, 6);
  EXPECT_NE(e.find("scales must hold N * ceil(K / block_size) = 8 values"),
            std::string::npos)
      << e;
}

TEST_F(Importer, UnsupportedQuantizedTypesAreRefusedByName) {
  // int16 (opset 21) and float8 e5m2 (opset 19) are valid ONNX that Nuri
  // does not quantize.
  std::string e = importErrors(
      context, quantModel("DequantizeLinear",
                          {tensor("w", onnx::TensorProto::INT16, {4, 3}),
                           tensor("s", kFloat, {})},
                          21));
  EXPECT_NE(e.find("qnode"), std::string::npos) << e;
  EXPECT_NE(e.find("the input has quantized type 'i16', which is not "
                   "supported (int8, uint8, int4, uint4, float8e4m3fn, int32)"),
            std::string::npos)
      << e;
  e = importErrors(
      context,
      quantModel("DequantizeLinear",
                 {tensor("w", 19, {4, 3}), tensor("s", kFloat, {})}, 19));
  EXPECT_NE(e.find("quantized type 'f8E5M2', which is not supported"),
            std::string::npos)
      << e;
  e = importErrors(context,
                   quantModel("MatMulInteger",
                              {tensor("a", onnx::TensorProto::INT16, {2, 8}),
                               tensor("b", kInt8, {8, 4})}));
  EXPECT_NE(e.find("A has quantized type 'i16', which is not supported "
                   "(int8, uint8"),
            std::string::npos)
      << e;
}

// Opset 21's 4-bit tensors: two values a byte, the first in the low nibble.
onnx::TensorProto int4Tensor(const std::string &name, bool isSigned,
                             std::vector<int64_t> dims, size_t bytes) {
  onnx::TensorProto t = tensor(name, kInt8, dims);
  t.set_data_type(isSigned ? 22 : 21);
  t.set_raw_data(std::string(bytes, '\x21'));
  return t;
}

void setInt(onnx::ModelProto &model, const char *name, int64_t value) {
  auto *attr = model.mutable_graph()->mutable_node(0)->add_attribute();
  attr->set_name(name);
  attr->set_type(onnx::AttributeProto::INT);
  attr->set_i(value);
}

TEST_F(Importer, BlockedInt4DequantizeImportsAsDequantizeBlocked) {
  // (The arithmetic runs against ONNX Runtime and numpy in
  // models-quantized-opset21.)
  onnx::ModelProto model = quantModel("DequantizeLinear",
                                      {int4Tensor("w", true, {64, 4}, 128),
                                       tensor("s", kFloat, {2, 4}),
                                       int4Tensor("z", true, {2, 4}, 4)},
                                      21);
  setInt(model, "axis", 0);
  setInt(model, "block_size", 32);
  ImportResult r = importModel(model);
  ASSERT_TRUE(r.module) << r.diagnostics;
  std::map<std::string, int> ops = histogram(*r.module);
  EXPECT_EQ(ops["nuri.dequantize_blocked"], 1);
  EXPECT_EQ(ops["nuri.dequantize"], 0);
}

TEST_F(Importer, Opset19And21QuantizationErrorsNameTheNode) {
  auto blocked = [&](int64_t block, std::vector<int64_t> scaleDims) {
    onnx::ModelProto model = quantModel(
        "DequantizeLinear",
        {tensor("w", kInt8, {4, 64}), tensor("s", kFloat, scaleDims)}, 21);
    setInt(model, "block_size", block);
    return importErrors(context, model);
  };
  std::string e = blocked(24, {4, 3});
  EXPECT_NE(e.find("qnode"), std::string::npos) << e;
  EXPECT_NE(e.find("block_size 24 is not supported (a power of two of at "
                   "least 16)"),
            std::string::npos)
      << e;
  e = blocked(32, {4, 3});
  EXPECT_NE(e.find("the scale must be a constant float32 tensor of shape "
                   "[4, 2] (the input's, with ceil(64 / 32) along axis 1)"),
            std::string::npos)
      << e;

  e = importErrors(
      context, quantModel("QuantizeLinear",
                          {tensor("x", kFloat, {4}), tensor("s", kFloat, {}),
                           int4Tensor("z", true, {}, 1)},
                          21));
  EXPECT_NE(e.find("quantizing to int4/uint4 is not supported"),
            std::string::npos)
      << e;
  e = importErrors(context, quantModel("DequantizeLinear",
                                       {int4Tensor("w", false, {3, 3}, 4),
                                        tensor("s", kFloat, {})},
                                       21));
  EXPECT_NE(e.find("tensor 'w' holds 4 bytes, its 9 4-bit values need 5"),
            std::string::npos)
      << e;

  onnx::ModelProto fp8 = quantModel(
      "QuantizeLinear",
      {tensor("x", kFloat, {4}), tensor("s", kFloat, {}), tensor("z", 17, {})},
      19);
  setInt(fp8, "saturate", 0);
  e = importErrors(context, fp8);
  EXPECT_NE(e.find("saturate=0 is not supported"), std::string::npos) << e;
  onnx::TensorProto one = tensor("z", 17, {});
  one.set_raw_data(std::string(1, '\x38')); // 1.0 in e4m3fn
  e = importErrors(
      context,
      quantModel("DequantizeLinear",
                 {tensor("w", 17, {4}), tensor("s", kFloat, {}), one}, 19));
  EXPECT_NE(e.find("a float8e4m3fn zero point must be a constant 0"),
            std::string::npos)
      << e;
}

TEST_F(Importer, QuantizedOpsImportAsNuriOps) {
  ImportResult r = importModel(quantModel(
      "QLinearMatMul", {tensor("a", kUint8, {2, 8}), tensor("as", kFloat, {}),
                        tensor("az", kUint8, {}), tensor("b", kInt8, {8, 4}),
                        tensor("bs", kFloat, {4}), tensor("bz", kInt8, {4}),
                        tensor("ys", kFloat, {}), tensor("yz", kInt8, {})}));
  ASSERT_TRUE(r.module) << r.diagnostics;
  std::map<std::string, int> ops = histogram(*r.module);
  EXPECT_EQ(ops["nuri.quantized_matmul"], 1);
  EXPECT_EQ(ops["nuri.onnx_op"], 0);
}

} // namespace
