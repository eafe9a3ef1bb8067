//===- GraphEmitterTest.cpp - nuri dialect to the runtime's graph ---------===//

#include "nuri/Package/GraphEmitter.h"

#include "nuri/Frontend/OnnxImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace nuri;

namespace {

class Emitter : public ::testing::Test {
protected:
  Emitter() {
    mlir::DialectRegistry registry;
    registerOnnxImporterDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  mlir::FailureOr<EmittedGraph> emit(const char *text) {
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      diagnostics += d.str() + "\n";
      return mlir::success();
    });
    module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
    if (!module) {
      return mlir::failure();
    }
    return emitGraph(*module);
  }

  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string diagnostics;
};

TEST_F(Emitter, OpsAttributesAndWeights) {
  auto emitted = emit(R"mlir(
    func.func @main(%x: tensor<2x4xf32> {nuri.name = "x"}) -> (tensor<2x3xf32> {nuri.name = "y"}) {
      %w = nuri.constant dense<1.0> : tensor<4x3xf32>
      %b = nuri.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
      %g = nuri.constant dense<true> : tensor<2x3xi1>
      %l = nuri.linear %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
      %a = nuri.gelu %l {approximate = #nuri<gelu tanh>} : tensor<2x3xf32>
      %c = nuri.compare gt, %a, %b : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xi1>
      %k = nuri.and %c, %g : tensor<2x3xi1>, tensor<2x3xi1> -> tensor<2x3xi1>
      %y = nuri.where %k, %a, %b : tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
      %s = nuri.reduce_sum %y {axes = array<i64: 1>, keep_dims} : tensor<2x3xf32> -> tensor<2x1xf32>
      %z = nuri.sub %y, %s : tensor<2x3xf32>, tensor<2x1xf32> -> tensor<2x3xf32>
      return %z : tensor<2x3xf32>
    })mlir");
  ASSERT_TRUE(mlir::succeeded(emitted)) << diagnostics;
  const graph::Graph &g = emitted->graph;
  EXPECT_EQ(g.validate(emitted->weights.size()), "");
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.inputs[0]].name, "x");
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "y");
  ASSERT_EQ(g.ops.size(), 7u);
  const graph::Op &linear = g.ops[0];
  EXPECT_EQ(linear.kind, "linear");
  ASSERT_EQ(linear.inputs.size(), 3u);
  EXPECT_EQ(linear.inputs[2], -1) << "the absent bias keeps its position";
  EXPECT_EQ(g.ops[1].getString("approximate", ""), "tanh");
  EXPECT_EQ(g.ops[2].getString("predicate", ""), "gt");
  EXPECT_EQ(g.ops[5].getInts("axes"), std::vector<int64_t>{1});
  EXPECT_EQ(g.ops[5].getInt("keep_dims", 0), 1);
  // Weights: every constant 64-byte aligned, booleans one byte each.
  for (const graph::TensorDesc &t : g.tensors) {
    if (t.isConstant()) {
      EXPECT_EQ(t.dataOffset % kWeightAlignment, 0);
    }
  }
  const graph::TensorDesc &mask = g.tensors[g.ops[3].inputs[1]];
  ASSERT_TRUE(mask.isConstant());
  EXPECT_EQ(mask.dtype, graph::DType::Bool);
  EXPECT_EQ(emitted->weights[mask.dataOffset], 1);
}

TEST_F(Emitter, OnnxOpKeepsAttributesAndInputPositions) {
  auto emitted = emit(R"mlir(
    func.func @main(%x: tensor<2x4xf32>, %p: tensor<4xi64>) -> tensor<2x8xf32> {
      %y = nuri.onnx_op "Pad"(%x, %p) {domain = "", opset = 13 : i64, onnx_attributes = {mode = "reflect"}, input_positions = array<i64: 0, 1>} : (tensor<2x4xf32>, tensor<4xi64>) -> tensor<2x8xf32>
      return %y : tensor<2x8xf32>
    })mlir");
  ASSERT_TRUE(mlir::succeeded(emitted)) << diagnostics;
  const graph::Op &pad = emitted->graph.ops[0];
  EXPECT_EQ(pad.kind, "onnx_op");
  EXPECT_EQ(pad.getString("op_type", ""), "Pad");
  EXPECT_EQ(pad.getString("mode", ""), "reflect");
  EXPECT_EQ(pad.inputs.size(), 2u);
}

TEST_F(Emitter, OutputThatIsAnInputGetsItsOwnTensor) {
  auto emitted = emit(R"mlir(
    func.func @main(%x: tensor<2xf32> {nuri.name = "x"}) -> (tensor<2xf32> {nuri.name = "same"}) {
      return %x : tensor<2xf32>
    })mlir");
  ASSERT_TRUE(mlir::succeeded(emitted)) << diagnostics;
  const graph::Graph &g = emitted->graph;
  EXPECT_EQ(g.tensors[g.inputs[0]].name, "x");
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "same");
  EXPECT_EQ(g.validate(0), "");
}

TEST_F(Emitter, ForeignOpsAreDiagnosed) {
  context.allowUnregisteredDialects();
  auto emitted = emit(R"mlir(
    func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
      %y = "test.unknown"(%x) : (tensor<2xf32>) -> tensor<2xf32>
      return %y : tensor<2xf32>
    })mlir");
  ASSERT_TRUE(module) << "the IR must parse: the emitter is under test";
  EXPECT_TRUE(mlir::failed(emitted));
  EXPECT_NE(diagnostics.find("it is not a nuri op"), std::string::npos)
      << diagnostics;
}

} // namespace
