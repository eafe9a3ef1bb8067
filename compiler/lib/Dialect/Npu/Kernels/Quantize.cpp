//===- Quantize.cpp - npu.quantize as an NPU kernel -----------------------===//
//
// Per-tensor activation quantization on the vector engine, the row-wise
// core's loop with a two-instruction body: the quotient x / scale rounded
// half to even into i32 (vec.scalar div, cast to i32), then the offset
// added and saturated to i8 (vec.scalar add, cast to i8). Rounding before
// the offset is what the CPU's quantize does (round, then the zero point);
// adding the offset to the fp32 quotient first would move ties. To fp8
// (e4m3) the body is the one division, its result rounded and saturated
// by the cast, as the CPU's quantize to e4m3.
//
//===----------------------------------------------------------------------===//

#include "KernelContext.h"
#include "NpuPlan.h"
#include "RowwiseCore.h"
#include "RowwiseKernel.h"

#include "nuri/Dialect/Npu/IR/NpuOps.h"

#include <fmt/format.h>

#include <optional>

using namespace mlir;

namespace nuri::npu {

namespace {

FailureOr<RowwiseDesc>
describeQuantize(QuantizeOp op,
                 function_ref<FailureOr<uint64_t>(Value)> addressOf) {
  auto it = tensorOf(op.getInput());
  RowwiseDesc r;
  r.cols = it.getRank() ? it.getShape().back() : 1;
  r.rows = it.getNumElements() / r.cols;
  r.outType = quantizedTileType(tensorOf(op.getOutput()).getElementType());
  const bool fp8 = r.outType == isa::Dtype::E4M3;
  RowOperand o;
  o.dtype = *isaType(it.getElementType());
  FailureOr<uint64_t> in = addressOf(op.getInput());
  FailureOr<uint64_t> out = addressOf(op.getOutput());
  if (failed(in) || failed(out)) {
    return failure();
  }
  o.addr = *in;
  r.ins.push_back(o);
  r.out = *out;
  // The i32 quotients (4 bytes, as f32), and the activation's results.
  std::optional<isa::UnOp> act;
  if (op.getAct() == "gelu") {
    act = isa::UnOp::Gelu;
  } else if (op.getAct() == "gelu_tanh") {
    act = isa::UnOp::GeluTanh;
  } else if (op.getAct() == "relu") {
    act = isa::UnOp::Relu;
  }
  // Scratch rows: int8's i32 quotient, and the activation's result.
  r.f32Scratch = (fp8 ? 0 : 1) + (act ? 1 : 0);
  const uint64_t cols = r.cols;
  const isa::Dtype inT = o.dtype;
  const uint64_t ei = elemBytes(inT);
  const float scale = op.getScale().convertToFloat();
  const float offset = float(int64_t(op.getOffset())); // I64Attr: unsigned
  r.body = [=](isa::StreamBuilder &vec, const RowChunk &ch) {
    isa::TileRef x{ch.in[0], cols * ei};
    if (act) {
      // Rounded to the input's type, as the activation's own kernel
      // stores it.
      isa::TileRef y{ch.f32[fp8 ? 0 : 1], cols * ei};
      vec.unary(*act, y, x, ch.rows, cols, inT, inT);
      x = y;
    }
    if (fp8) {
      vec.scalar(isa::BinOp::Div, {ch.out, cols}, x, scale, ch.rows, cols,
                 isa::Dtype::E4M3, inT);
      return;
    }
    isa::TileRef q{ch.f32[0], cols * 4};
    vec.scalar(isa::BinOp::Div, q, x, scale, ch.rows, cols, isa::Dtype::I32,
               inT);
    vec.scalar(isa::BinOp::Add, {ch.out, cols}, q, offset, ch.rows, cols,
               isa::Dtype::I8, isa::Dtype::I32);
  };
  return r;
}

struct QuantizeKernel : RowwiseKernelModel<QuantizeKernel, QuantizeOp> {
  static FailureOr<RowwiseDesc>
  describe(QuantizeOp op, function_ref<FailureOr<uint64_t>(Value)> addressOf) {
    return describeQuantize(op, addressOf);
  }
  std::string getNpuIllegalReason(Operation *op,
                                  const target::Target &t) const {
    auto q = cast<QuantizeOp>(op);
    if (!isaType(tensorOf(q.getInput()).getElementType())) {
      return fmt::format("input has element type {} (the NPU path takes "
                         "bf16, f16, f32)",
                         typeStr(tensorOf(q.getInput()).getElementType()));
    }
    isa::Dtype tiles =
        quantizedTileType(tensorOf(q.getOutput()).getElementType());
    if (!t.supports(tiles)) {
      return fmt::format("the {} matrix engine has no {} path", t.name,
                         isa::dtypeName(tiles));
    }
    return "";
  }
};

} // namespace

void registerQuantizeKernel(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, NpuDialect *) {
    QuantizeOp::attachInterface<QuantizeKernel>(*ctx);
  });
}

} // namespace nuri::npu
