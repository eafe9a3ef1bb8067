//===- HostileInputsTest.cpp - Malformed calls give messages, not crashes -===//
//
// Every kernel gets operands whose shapes, dtypes, counts and attributes
// were drawn at random: it must either succeed or return a message that
// names the op. Run under AddressSanitizer this also proves it never reads
// or writes outside the buffers it was given.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

namespace nuri::cpu::test {
namespace {

const char *kKinds[] = {
    "matmul",     "linear",      "conv",         "add",        "sub",
    "mul",        "div",         "pow",          "max",        "min",
    "mod",        "and",         "or",           "xor",        "compare",
    "where",      "neg",         "abs",          "sign",       "relu",
    "exp",        "log",         "sqrt",         "rsqrt",      "reciprocal",
    "tanh",       "erf",         "sigmoid",      "sin",        "cos",
    "ceil",       "floor",       "round",        "silu",       "not",
    "gelu",       "clip",        "softmax",      "layer_norm", "rms_norm",
    "reduce_sum", "reduce_mean", "reduce_max",   "reduce_min", "reduce_prod",
    "transpose",  "reshape",     "broadcast_to", "concat",     "slice",
    "split",      "gather",      "cast",         "rope",       "attention",
    "quantize",   "dequantize"};

const char *kOnnxTypes[] = {"ArgMax",
                            "TopK",
                            "CumSum",
                            "Pad",
                            "Einsum",
                            "GatherElements",
                            "GatherND",
                            "ScatterElements",
                            "OneHot",
                            "LeakyRelu",
                            "PRelu",
                            "IsNaN",
                            "IsInf",
                            "InstanceNormalization",
                            "BatchNormalization",
                            "LRN",
                            "ReduceL2",
                            "ReduceLogSumExp",
                            "MatMulInteger",
                            "QLinearMatMul",
                            "DynamicQuantizeLinear"};

const DType kTypes[] = {DType::F32, DType::F16, DType::BF16, DType::I64,
                        DType::I32, DType::I8,  DType::U8,   DType::Bool};

struct Fuzzer {
  std::mt19937 rng;
  explicit Fuzzer(unsigned seed) : rng(seed) {}
  int64_t pick(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  }
  std::vector<int64_t> shape() {
    std::vector<int64_t> s(pick(0, 4));
    for (int64_t &d : s)
      d = pick(0, 4);
    return s;
  }
  std::vector<int64_t> ints(int64_t lo, int64_t hi) {
    std::vector<int64_t> v(pick(0, 5));
    for (int64_t &x : v)
      x = pick(lo, hi);
    return v;
  }
  Tensor tensor() {
    Tensor t(kTypes[pick(0, 7)], shape());
    for (int64_t i = 0; i < t.size(); ++i)
      t.set(i, pick(-6, 6));
    return t;
  }
  std::map<std::string, graph::AttrValue> attrs() {
    std::map<std::string, graph::AttrValue> a;
    for (const char *name :
         {"axis", "group", "batch_dims", "keepdims", "keep_dims",
          "transpose_lhs", "transpose_rhs", "causal", "log",
          "select_last_index", "exclusive", "reverse", "largest", "size"}) {
      if (pick(0, 2) == 0)
        a[name] = pick(-5, 5);
    }
    for (const char *name : {"axes", "permutation", "starts", "limits", "steps",
                             "sizes", "strides", "pads", "dilations"}) {
      if (pick(0, 2) == 0)
        a[name] = ints(-5, 5);
    }
    for (const char *name :
         {"epsilon", "scale", "min", "max", "alpha", "beta"}) {
      if (pick(0, 2) == 0)
        a[name] = double(pick(-3, 3));
    }
    const char *preds[] = {"eq", "lt", "zz"};
    a["predicate"] = std::string(preds[pick(0, 2)]);
    const char *eqs[] = {"ij,jk->ik", "...ii->...i",  "i,i",
                         "ij->ji",    "bij,bjk->bik", "a,,b"};
    a["equation"] = std::string(eqs[pick(0, 5)]);
    const char *modes[] = {"constant", "reflect", "edge", "wrap", "x"};
    a["mode"] = std::string(modes[pick(0, 4)]);
    const char *approx[] = {"none", "tanh", "fast"};
    a["approximate"] = std::string(approx[pick(0, 2)]);
    return a;
  }
};

void fuzzOp(graph::Op op, unsigned seed) {
  Fuzzer f(seed);
  for (int trial = 0; trial < 300; ++trial) {
    graph::Op o = op;
    for (auto &[k, v] : f.attrs())
      o.attrs[k] = v;
    std::vector<Tensor> ins(f.pick(0, 5)), outs(f.pick(0, 3));
    for (Tensor &t : ins)
      t = f.tensor();
    for (Tensor &t : outs)
      t = f.tensor();
    std::vector<const Tensor *> in;
    for (Tensor &t : ins)
      in.push_back(f.pick(0, 9) == 0 ? nullptr : &t);
    std::vector<Tensor *> out;
    for (Tensor &t : outs)
      out.push_back(&t);
    std::string e = run(o, in, out);
    if (!e.empty()) {
      std::string name =
          o.kind == "onnx_op" ? o.getString("op_type", "") : o.kind;
      ASSERT_NE(e.find(name), std::string::npos) << e;
    }
  }
}

TEST(HostileInputs, NuriOpsReturnMessages) {
  unsigned seed = 1;
  for (const char *k : kKinds) {
    SCOPED_TRACE(k);
    fuzzOp(makeOp(k), seed++);
  }
}

TEST(HostileInputs, OnnxOpsReturnMessages) {
  unsigned seed = 1000;
  for (const char *t : kOnnxTypes) {
    SCOPED_TRACE(t);
    graph::Op op = makeOp("onnx_op");
    op.attrs["op_type"] = std::string(t);
    fuzzOp(op, seed++);
  }
}

TEST(HostileInputs, EmptyOperandLists) {
  for (const char *k : kKinds) {
    EXPECT_NE(run(makeOp(k), {}, {}), "") << k;
  }
  for (const char *t : kOnnxTypes) {
    graph::Op op = makeOp("onnx_op");
    op.attrs["op_type"] = std::string(t);
    EXPECT_NE(run(op, {}, {}), "") << t;
  }
}

} // namespace
} // namespace nuri::cpu::test
