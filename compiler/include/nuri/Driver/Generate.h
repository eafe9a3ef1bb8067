//===- Generate.h - Compiling a decoder for generation ----------*- C++ -*-===//
//
// `nuri compile --generate`: one decoder exported with its KV cache becomes
// a program family — prefill programs by prompt-length bucket, decode
// programs by batch and context-length bucket — sharing one weight blob and
// one set of KV-cache state buffers (docs/generation.md).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DRIVER_GENERATE_H
#define NURI_DRIVER_GENERATE_H

#include "nuri/Driver/Compile.h"

namespace nuri::driver {

struct GenerateOptions {
  /// Cache length: prompt plus generated tokens of one sequence.
  int64_t maxSeq = 256;
  /// Prompt lengths a prefill program is compiled for (batch 1 each).
  /// Empty: 32, 128 and 512 where they fit, and max_seq.
  std::vector<int64_t> prefillBuckets;
  /// Batch sizes of the decode programs; the largest is the cache's slots.
  std::vector<int64_t> decodeBatch = {1, 4, 8};
  /// Context lengths of the decode programs (attention reads that many
  /// cache positions). Empty: 64, 128, ... doubling, and max_seq.
  std::vector<int64_t> contextBuckets;
};

/// The buckets `options` asks for, defaults filled in and checked; the
/// error says which list is wrong and why.
llvm::Expected<GenerateOptions> resolveBuckets(GenerateOptions options);

/// Compiles the decoder at `path` into a family package (CompileResult's
/// package; `text` lists the programs). Fails after a diagnostic.
mlir::FailureOr<CompileResult>
compileGenerationFamily(mlir::MLIRContext &context, const std::string &path,
                        OnnxImportOptions importOptions,
                        const CompileOptions &options,
                        const GenerateOptions &generate);

/// One program of a family compiled for timing only.
struct GenerationProgram {
  std::string name; ///< prefill.b1.t128, decode.b8.c512, ...
  bool prefill = false;
  int64_t batch = 1, tokens = 1, context = 1;
  /// Emit::Programs: the NPU programs and the report, no constant bytes.
  CompileResult result;
};

/// The programs of the family compileGenerationFamily would package, with
/// `options.emit` Emit::Programs: what a timing-only benchmark or sweep of
/// a model bigger than the host simulates (import it with
/// OnnxImportOptions::weightPlaceholders). Fails after a diagnostic.
mlir::FailureOr<std::vector<GenerationProgram>>
compileGenerationPrograms(mlir::MLIRContext &context, const std::string &path,
                          OnnxImportOptions importOptions,
                          const CompileOptions &options,
                          const GenerateOptions &generate);

} // namespace nuri::driver

#endif // NURI_DRIVER_GENERATE_H
