//===- GraphBuilder.h - Builds ONNX graphs the way torch names them -*- C++
//-*-//
//
// torch.onnx.export (1.13) names every node after the module scope it came
// from and a per-scope counter ("/encoder/layer.0/attention/self/MatMul_1")
// and every value after its node ("..._output_0"). Nuri's diagnostics and the
// fusion passes' tests quote such names, so the zoo reproduces them. The
// builder also carries the idioms the exporter emits over and over: dims read
// with Shape+Gather, shapes rebuilt with Unsqueeze+Concat, decomposed
// LayerNorm and GELU, Linear as MatMul+Add.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_LIB_ZOO_GRAPHBUILDER_H
#define NURI_LIB_ZOO_GRAPHBUILDER_H

#include "nuri/Zoo/Zoo.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace nuri::zoo {

/// A dimension of a graph input or output: fixed, or a named dim_param.
using Dim = std::variant<int64_t, std::string>;

onnx::AttributeProto attrInt(const std::string &name, int64_t value);
onnx::AttributeProto attrInts(const std::string &name,
                              const std::vector<int64_t> &values);
onnx::AttributeProto attrFloat(const std::string &name, float value);

/// The little-endian bytes of `values`, for TensorProto::raw_data.
template <typename T> std::string rawData(const std::vector<T> &values) {
  std::string raw(values.size() * sizeof(T), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());
  return raw;
}

/// The init torch's Hugging Face models use for embeddings, N(0, 0.02),
/// as a uniform distribution with the same standard deviation.
constexpr float kEmbeddingBound = 0.034641016f;

class GraphBuilder {
public:
  /// Starts `model` as an opset-14 model with the given graph name.
  GraphBuilder(Model &model, const std::string &graphName);

  /// Enters a module scope for as long as it lives ("encoder", "layer.0").
  class Scope {
  public:
    Scope(GraphBuilder &builder, const std::string &name);
    ~Scope();
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;

  private:
    GraphBuilder &builder;
  };

  // Graph interface.
  void input(const std::string &name, onnx::TensorProto::DataType type,
             const std::vector<Dim> &dims);
  void output(const std::string &value, onnx::TensorProto::DataType type,
              const std::vector<Dim> &dims);

  /// Adds a node with one output and returns the output's name.
  std::string node(const std::string &opType,
                   const std::vector<std::string> &inputs,
                   const std::vector<onnx::AttributeProto> &attrs = {});
  /// Adds a node with `numOutputs` outputs.
  std::vector<std::string>
  nodeN(const std::string &opType, const std::vector<std::string> &inputs,
        int numOutputs, const std::vector<onnx::AttributeProto> &attrs = {});

  // Constant nodes, as the exporter writes them for Python scalars.
  std::string constInt(int64_t value);                       // 0-d int64
  std::string constInts(const std::vector<int64_t> &values); // 1-d int64
  std::string constFloat(float value);                       // 0-d float

  // Initializers.
  /// A random parameter drawn as center + bound * U(-1, 1).
  std::string param(const std::string &name, const std::vector<int64_t> &dims,
                    float bound, float center = 0.0f);
  /// The weight of an nn.Linear applied to a 3-D input: torch stores it
  /// [out, in], constant folding transposes it to [in, out] and renames it.
  std::string matmulWeight(int64_t in, int64_t out);
  /// A tied copy of `source` (a 2-D param) transposed, named like a folded
  /// constant; not counted as a parameter.
  std::string transposedCopy(const std::string &source);
  /// A registered buffer with explicit contents (position ids, rotary
  /// tables, causal masks): stored as given, not counted as a parameter.
  std::string buffer(const std::string &name, const std::vector<int64_t> &dims,
                     onnx::TensorProto::DataType type, std::string rawData);
  /// An fp32 buffer whose contents `compute` produces when the model is
  /// written (large tables); not counted as a parameter.
  std::string computedBuffer(const std::string &name,
                             const std::vector<int64_t> &dims,
                             std::function<std::vector<float>()> compute);

  // Exporter idioms.
  /// x.size(i): Shape, then Gather of a scalar index; a 0-d int64.
  std::string dim(const std::string &x, int64_t i);
  /// A 0-d value as a 1-element tensor, as Concat needs it.
  std::string unsqueeze0(const std::string &scalar);
  std::string concat(const std::vector<std::string> &parts, int64_t axis = 0);
  /// A shape vector built from parts that are either 1-d values (from
  /// unsqueeze0 or constInts) - just Concat along axis 0.
  std::string shapeOf(const std::vector<std::string> &parts);
  /// tensor.expand(dims) with dims that may hold -1: the exporter guards each
  /// dim with Where(Equal(dim, -1), 1, dim) before Expand.
  std::string expand(const std::string &x,
                     const std::vector<std::string> &dims);
  /// nn.Linear on a 3-D input: MatMul against the [in, out] weight, then
  /// Add(bias, ...). `paramPrefix` names the bias ("encoder.layer.0...query").
  std::string linear(const std::string &x, const std::string &scope,
                     const std::string &paramPrefix, int64_t in, int64_t out,
                     bool bias = true);
  /// nn.Linear on a 2-D input: one Gemm with the weight kept [out, in].
  std::string gemm(const std::string &x, const std::string &scope,
                   const std::string &paramPrefix, int64_t in, int64_t out);
  /// nn.LayerNorm at opset < 17: ReduceMean, Sub, Pow, ReduceMean, Add eps,
  /// Sqrt, Div, Mul weight, Add bias.
  std::string layerNorm(const std::string &x, const std::string &scope,
                        const std::string &paramPrefix, int64_t hidden,
                        float eps);
  /// Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))).
  std::string geluErf(const std::string &x);
  /// gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
  std::string geluTanh(const std::string &x);
  /// x.view(b, s, heads, headDim).permute(0, 2, 1, 3) with b and s read from
  /// `shapeSource`.
  std::string splitHeads(const std::string &x, const std::string &shapeSource,
                         int64_t heads, int64_t headDim);
  /// ctx.permute(0, 2, 1, 3).view(b, s, hidden).
  std::string mergeHeads(const std::string &ctx, int64_t hidden);
  /// Renames a value everywhere, as the exporter does when it gives a graph
  /// output its user-facing name ("last_hidden_state").
  void rename(const std::string &from, const std::string &to);

  Model &model;

private:
  std::string scopePrefix() const;
  std::string uniqueName(const std::string &opType);
  onnx::TensorProto &addInitializer(const std::string &name,
                                    const std::vector<int64_t> &dims,
                                    onnx::TensorProto::DataType type);

  onnx::GraphProto &graph;
  std::vector<std::string> scopes;
  std::map<std::string, int> counters;
  /// torch numbers folded constants ("onnx::MatMul_748") from one counter.
  int foldedCounter = 1000;
};

} // namespace nuri::zoo

#endif // NURI_LIB_ZOO_GRAPHBUILDER_H
