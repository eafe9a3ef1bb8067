//===- RoundTrip.h - isa::Program -> npu dialect -> isa::Program in tests -===//
//
// The npu dialect must stand for a program exactly: importing one, verifying
// it and emitting it back gives the same streams. The codegen tests check it
// on what the lowering emits, the dialect tests on hand-written programs.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_TESTS_UNIT_NPU_ROUNDTRIP_H
#define NURI_TESTS_UNIT_NPU_ROUNDTRIP_H

#include "nuri/Conversion/NpuProgram.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

namespace nuri::test {

/// Imports `program` as `npu.program @p` at the end of `module`.
inline npu::ProgramOp importForTest(mlir::ModuleOp module,
                                    const isa::Program &program,
                                    llvm::StringRef target = "tiny") {
  mlir::OpBuilder b = mlir::OpBuilder::atBlockEnd(module.getBody());
  npu::CompiledPartition part;
  part.program = program;
  return npu::importProgram(b, b.getUnknownLoc(), "p", part, target);
}

/// `prog` verifies and emits back to `program`, stream for stream.
inline ::testing::AssertionResult emitsBack(npu::ProgramOp prog,
                                            const isa::Program &program) {
  if (mlir::failed(mlir::verify(prog))) {
    return ::testing::AssertionFailure() << "the npu.program does not verify";
  }
  mlir::FailureOr<isa::Program> back = npu::emitProgram(prog);
  if (mlir::failed(back)) {
    return ::testing::AssertionFailure() << "emitProgram failed";
  }
  if (back->streams.size() != program.streams.size()) {
    return ::testing::AssertionFailure()
           << back->streams.size() << " streams back, "
           << program.streams.size() << " in";
  }
  for (size_t i = 0; i < back->streams.size(); ++i) {
    const isa::Stream &x = back->streams[i], &y = program.streams[i];
    if (x.core != y.core || x.engine != y.engine || !(x.insts == y.insts)) {
      return ::testing::AssertionFailure() << "stream " << i << " differs";
    }
  }
  return ::testing::AssertionSuccess();
}

} // namespace nuri::test

#endif // NURI_TESTS_UNIT_NPU_ROUNDTRIP_H
