//===- GraphBuilder.cpp - Builds ONNX graphs the way torch names them -----===//

#include "GraphBuilder.h"

#include <cmath>
#include <cstring>

using namespace nuri::zoo;

onnx::AttributeProto nuri::zoo::attrInt(const std::string &name,
                                        int64_t value) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::INT);
  attr.set_i(value);
  return attr;
}

onnx::AttributeProto nuri::zoo::attrInts(const std::string &name,
                                         const std::vector<int64_t> &values) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::INTS);
  for (int64_t value : values) {
    attr.add_ints(value);
  }
  return attr;
}

onnx::AttributeProto nuri::zoo::attrFloat(const std::string &name,
                                          float value) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::FLOAT);
  attr.set_f(value);
  return attr;
}

namespace {
onnx::AttributeProto attrTensor(const std::string &name,
                                onnx::TensorProto tensor) {
  onnx::AttributeProto attr;
  attr.set_name(name);
  attr.set_type(onnx::AttributeProto::TENSOR);
  *attr.mutable_t() = std::move(tensor);
  return attr;
}

template <typename T>
onnx::TensorProto makeTensor(onnx::TensorProto::DataType type,
                             const std::vector<int64_t> &dims,
                             const std::vector<T> &values) {
  onnx::TensorProto tensor;
  tensor.set_data_type(type);
  for (int64_t d : dims) {
    tensor.add_dims(d);
  }
  std::string raw(values.size() * sizeof(T), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());
  tensor.set_raw_data(std::move(raw));
  return tensor;
}

void setType(onnx::ValueInfoProto &info, onnx::TensorProto::DataType type,
             const std::vector<Dim> &dims) {
  onnx::TypeProto::Tensor *tensorType =
      info.mutable_type()->mutable_tensor_type();
  tensorType->set_elem_type(type);
  onnx::TensorShapeProto *shape = tensorType->mutable_shape();
  for (const Dim &dim : dims) {
    onnx::TensorShapeProto::Dimension *d = shape->add_dim();
    if (const auto *fixed = std::get_if<int64_t>(&dim)) {
      d->set_dim_value(*fixed);
    } else {
      d->set_dim_param(std::get<std::string>(dim));
    }
  }
}
} // namespace

GraphBuilder::GraphBuilder(Model &model, const std::string &graphName)
    : model(model), graph(*model.proto.mutable_graph()) {
  // IR version 7 and opset 14 are what PyTorch 1.13 writes at opset 14.
  model.proto.set_ir_version(7);
  model.proto.set_producer_name("nuri-zoo");
  model.proto.set_producer_version("0.1");
  model.proto.set_doc_string(
      "Random weights; layout follows torch.onnx.export (PyTorch 1.13, "
      "opset 14) of the Hugging Face model");
  onnx::OperatorSetIdProto *opset = model.proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(14);
  graph.set_name(graphName);
}

GraphBuilder::Scope::Scope(GraphBuilder &builder, const std::string &name)
    : builder(builder) {
  builder.scopes.push_back(name);
}

GraphBuilder::Scope::~Scope() { builder.scopes.pop_back(); }

std::string GraphBuilder::scopePrefix() const {
  std::string prefix;
  for (const std::string &scope : scopes) {
    prefix += "/" + scope;
  }
  return prefix;
}

std::string GraphBuilder::uniqueName(const std::string &opType) {
  std::string base = scopePrefix() + "/" + opType;
  int n = counters[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

void GraphBuilder::input(const std::string &name,
                         onnx::TensorProto::DataType type,
                         const std::vector<Dim> &dims) {
  onnx::ValueInfoProto *info = graph.add_input();
  info->set_name(name);
  setType(*info, type, dims);
}

void GraphBuilder::output(const std::string &value,
                          onnx::TensorProto::DataType type,
                          const std::vector<Dim> &dims) {
  onnx::ValueInfoProto *info = graph.add_output();
  info->set_name(value);
  setType(*info, type, dims);
}

std::vector<std::string>
GraphBuilder::nodeN(const std::string &opType,
                    const std::vector<std::string> &inputs, int numOutputs,
                    const std::vector<onnx::AttributeProto> &attrs) {
  onnx::NodeProto *node = graph.add_node();
  std::string name = uniqueName(opType);
  node->set_name(name);
  node->set_op_type(opType);
  for (const std::string &in : inputs) {
    node->add_input(in);
  }
  std::vector<std::string> outputs;
  for (int i = 0; i < numOutputs; ++i) {
    outputs.push_back(name + "_output_" + std::to_string(i));
    node->add_output(outputs.back());
  }
  for (const onnx::AttributeProto &attr : attrs) {
    *node->add_attribute() = attr;
  }
  return outputs;
}

std::string GraphBuilder::node(const std::string &opType,
                               const std::vector<std::string> &inputs,
                               const std::vector<onnx::AttributeProto> &attrs) {
  return nodeN(opType, inputs, 1, attrs).front();
}

std::string GraphBuilder::constInt(int64_t value) {
  return node("Constant", {},
              {attrTensor("value", makeTensor<int64_t>(onnx::TensorProto::INT64,
                                                       {}, {value}))});
}

std::string GraphBuilder::constInts(const std::vector<int64_t> &values) {
  return node("Constant", {},
              {attrTensor("value", makeTensor<int64_t>(onnx::TensorProto::INT64,
                                                       {int64_t(values.size())},
                                                       values))});
}

std::string GraphBuilder::constFloat(float value) {
  return node("Constant", {},
              {attrTensor("value", makeTensor<float>(onnx::TensorProto::FLOAT,
                                                     {}, {value}))});
}

onnx::TensorProto &
GraphBuilder::addInitializer(const std::string &name,
                             const std::vector<int64_t> &dims,
                             onnx::TensorProto::DataType type) {
  onnx::TensorProto *tensor = graph.add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(type);
  for (int64_t d : dims) {
    tensor->add_dims(d);
  }
  return *tensor;
}

std::string GraphBuilder::param(const std::string &name,
                                const std::vector<int64_t> &dims, float bound,
                                float center) {
  addInitializer(name, dims, onnx::TensorProto::FLOAT);
  WeightSpec spec;
  spec.initializer = graph.initializer_size() - 1;
  spec.kind = WeightSpec::Kind::Uniform;
  spec.center = center;
  spec.bound = bound;
  model.weights.push_back(spec);
  return name;
}

std::string GraphBuilder::matmulWeight(int64_t in, int64_t out) {
  std::string name = "onnx::MatMul_" + std::to_string(foldedCounter++);
  // torch's default nn.Linear init: kaiming_uniform(a=sqrt(5)), which is
  // U(-1/sqrt(in), 1/sqrt(in)).
  return param(name, {in, out}, 1.0f / std::sqrt(float(in)));
}

std::string GraphBuilder::transposedCopy(const std::string &source) {
  int sourceSpec = -1;
  for (size_t i = 0; i < model.weights.size(); ++i) {
    if (graph.initializer(model.weights[i].initializer).name() == source) {
      sourceSpec = int(i);
    }
  }
  const onnx::TensorProto &src =
      graph.initializer(model.weights.at(sourceSpec).initializer);
  std::vector<int64_t> dims = {src.dims(1), src.dims(0)};
  std::string name = "onnx::MatMul_" + std::to_string(foldedCounter++);
  addInitializer(name, dims, onnx::TensorProto::FLOAT);
  WeightSpec spec;
  spec.initializer = graph.initializer_size() - 1;
  spec.kind = WeightSpec::Kind::TransposeOf;
  spec.source = sourceSpec;
  spec.isParameter = false;
  model.weights.push_back(spec);
  return name;
}

std::string GraphBuilder::buffer(const std::string &name,
                                 const std::vector<int64_t> &dims,
                                 onnx::TensorProto::DataType type,
                                 std::string rawData) {
  addInitializer(name, dims, type).set_raw_data(std::move(rawData));
  return name;
}

std::string
GraphBuilder::computedBuffer(const std::string &name,
                             const std::vector<int64_t> &dims,
                             std::function<std::vector<float>()> compute) {
  addInitializer(name, dims, onnx::TensorProto::FLOAT);
  WeightSpec spec;
  spec.initializer = graph.initializer_size() - 1;
  spec.kind = WeightSpec::Kind::Computed;
  spec.isParameter = false;
  spec.compute = std::move(compute);
  model.weights.push_back(spec);
  return name;
}

std::string GraphBuilder::dim(const std::string &x, int64_t i) {
  std::string shape = node("Shape", {x});
  return node("Gather", {shape, constInt(i)}, {attrInt("axis", 0)});
}

std::string GraphBuilder::unsqueeze0(const std::string &scalar) {
  return node("Unsqueeze", {scalar, constInts({0})});
}

std::string GraphBuilder::concat(const std::vector<std::string> &parts,
                                 int64_t axis) {
  return node("Concat", parts, {attrInt("axis", axis)});
}

std::string GraphBuilder::shapeOf(const std::vector<std::string> &parts) {
  return concat(parts, 0);
}

std::string GraphBuilder::expand(const std::string &x,
                                 const std::vector<std::string> &dims) {
  std::string shape = node("Reshape", {shapeOf(dims), constInts({-1})});
  std::string ones =
      node("ConstantOfShape", {node("Shape", {shape})},
           {attrTensor("value", makeTensor<int64_t>(onnx::TensorProto::INT64,
                                                    {1}, {1}))});
  std::string minusOnes = node("Mul", {ones, constInt(-1)});
  std::string isMinusOne = node("Equal", {shape, minusOnes});
  std::string target = node("Where", {isMinusOne, ones, shape});
  return node("Expand", {x, target});
}

std::string GraphBuilder::linear(const std::string &x, const std::string &scope,
                                 const std::string &paramPrefix, int64_t in,
                                 int64_t out, bool bias) {
  Scope s(*this, scope);
  std::string weight = matmulWeight(in, out);
  std::string y = node("MatMul", {x, weight});
  if (!bias) {
    return y;
  }
  std::string b =
      param(paramPrefix + ".bias", {out}, 1.0f / std::sqrt(float(in)));
  return node("Add", {b, y});
}

std::string GraphBuilder::gemm(const std::string &x, const std::string &scope,
                               const std::string &paramPrefix, int64_t in,
                               int64_t out) {
  Scope s(*this, scope);
  float bound = 1.0f / std::sqrt(float(in));
  std::string w = param(paramPrefix + ".weight", {out, in}, bound);
  std::string b = param(paramPrefix + ".bias", {out}, bound);
  return node("Gemm", {x, w, b},
              {attrFloat("alpha", 1.0f), attrFloat("beta", 1.0f),
               attrInt("transB", 1)});
}

std::string GraphBuilder::layerNorm(const std::string &x,
                                    const std::string &scope,
                                    const std::string &paramPrefix,
                                    int64_t hidden, float eps) {
  Scope s(*this, scope);
  // torch initializes gamma to 1 and beta to 0; we perturb them so that a
  // fusion that drops or swaps them changes the numbers.
  std::string weight = param(paramPrefix + ".weight", {hidden}, 0.1f, 1.0f);
  std::string bias = param(paramPrefix + ".bias", {hidden}, 0.1f);
  std::vector<onnx::AttributeProto> reduce = {attrInts("axes", {-1}),
                                              attrInt("keepdims", 1)};
  std::string mean = node("ReduceMean", {x}, reduce);
  std::string centered = node("Sub", {x, mean});
  std::string squared = node("Pow", {centered, constFloat(2.0f)});
  std::string variance = node("ReduceMean", {squared}, reduce);
  std::string shifted = node("Add", {variance, constFloat(eps)});
  std::string stddev = node("Sqrt", {shifted});
  std::string normalized = node("Div", {centered, stddev});
  std::string scaled = node("Mul", {normalized, weight});
  return node("Add", {scaled, bias});
}

std::string GraphBuilder::geluErf(const std::string &x) {
  std::string scaled = node("Div", {x, constFloat(1.4142135381698608f)});
  std::string erf = node("Erf", {scaled});
  std::string plusOne = node("Add", {erf, constFloat(1.0f)});
  std::string product = node("Mul", {x, plusOne});
  return node("Mul", {product, constFloat(0.5f)});
}

std::string GraphBuilder::geluTanh(const std::string &x) {
  std::string half = node("Mul", {x, constFloat(0.5f)});
  std::string cube = node("Pow", {x, constFloat(3.0f)});
  std::string cubeScaled = node("Mul", {cube, constFloat(0.044715f)});
  std::string inner = node("Add", {x, cubeScaled});
  std::string scaled =
      node("Mul", {inner, constFloat(0.7978845834732056f)}); // sqrt(2/pi)
  std::string t = node("Tanh", {scaled});
  std::string plusOne = node("Add", {t, constFloat(1.0f)});
  return node("Mul", {half, plusOne});
}

std::string GraphBuilder::splitHeads(const std::string &x,
                                     const std::string &shapeSource,
                                     int64_t heads, int64_t headDim) {
  std::string batch = dim(shapeSource, 0);
  std::string seq = dim(shapeSource, 1);
  std::string shape = shapeOf({unsqueeze0(batch), unsqueeze0(seq),
                               constInts({heads}), constInts({headDim})});
  std::string split = node("Reshape", {x, shape});
  return node("Transpose", {split}, {attrInts("perm", {0, 2, 1, 3})});
}

std::string GraphBuilder::mergeHeads(const std::string &ctx, int64_t hidden) {
  std::string merged =
      node("Transpose", {ctx}, {attrInts("perm", {0, 2, 1, 3})});
  std::string batch = dim(merged, 0);
  std::string seq = dim(merged, 1);
  std::string shape =
      shapeOf({unsqueeze0(batch), unsqueeze0(seq), constInts({hidden})});
  return node("Reshape", {merged, shape});
}

void GraphBuilder::rename(const std::string &from, const std::string &to) {
  for (onnx::NodeProto &node : *graph.mutable_node()) {
    for (std::string &in : *node.mutable_input()) {
      if (in == from) {
        in = to;
      }
    }
    for (std::string &out : *node.mutable_output()) {
      if (out == from) {
        out = to;
      }
    }
  }
}
