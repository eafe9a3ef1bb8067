//===- Onnx.cpp - Kernels for ONNX ops that Nuri keeps opaque -------------===//

#include "Internal.h"

namespace nuri::cpu::detail {

bool hasOnnxKernel(const std::string &opType) { return false; }

std::string runOnnxOp(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  return fail(op, "no CPU kernel for ONNX op '" + op.getString("op_type", "?") +
                      "'");
}

} // namespace nuri::cpu::detail
