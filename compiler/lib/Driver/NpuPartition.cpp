//===- NpuPartition.cpp - Compiling one NPU partition ---------------------===//

#include "NpuPartition.h"

#include "nuri/isa/Assembler.h"

using namespace mlir;

namespace nuri::driver {

FailureOr<npu::CompiledPartition>
compileNpuPartition(func::FuncOp callee, const target::Target &target,
                    const CompileOptions &options) {
  npu::CodegenOptions codegenOptions;
  codegenOptions.dumpIrAfterAll = options.dumpIrAfterAll;
  codegenOptions.constantBytes =
      options.emit != Emit::Programs && !options.timingOnly;
  return npu::compileNpuPartition(callee, target, codegenOptions);
}

std::string npuPartitionAsm(llvm::StringRef name, const target::Target &target,
                            const isa::Program &program) {
  return "// partition " + name.str() + " (target " + target.name + ")\n" +
         isa::disassemble(program);
}

} // namespace nuri::driver
