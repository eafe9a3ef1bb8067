//===- NoKernels.cpp - Stand-in while NuriCpuKernels is not built ---------===//
//
// Compiled only when the build has no NuriCpuKernels target, so that the
// runtime links; every CPU op then fails with a clear message.
//
//===----------------------------------------------------------------------===//

#include "nuri/cpu/Kernels.h"

namespace nuri::cpu {

bool hasKernel(const graph::Op &) { return false; }

std::string runKernel(const graph::Op &op, const std::vector<TensorView> &,
                      const std::vector<TensorView> &) {
  return op.kind + ": this runtime was built without the CPU kernels";
}

} // namespace nuri::cpu
