//===- GraphEmitter.h - nuri dialect to the runtime's op graph --*- C++ -*-===//
//
// Translates the `main` function of an imported module into the
// serializable graph the runtime executes (runtime/include/nuri/graph/
// Graph.h): one tensor per SSA value, constants laid out in a weight blob.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_PACKAGE_GRAPHEMITTER_H
#define NURI_PACKAGE_GRAPHEMITTER_H

#include "nuri/graph/Graph.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <vector>

namespace nuri {

/// Alignment of every constant in the weight blob: a cache line, so the
/// runtime can mmap the blob and hand kernels aligned pointers.
constexpr int64_t kWeightAlignment = 64;

struct EmittedGraph {
  graph::Graph graph;
  /// The constants' bytes (the package's weight section type, so a writer
  /// can move it in rather than copy a model-sized blob).
  std::vector<uint8_t> weights;
};

/// Emits `module`'s `main` function. Fails, after a diagnostic at the op,
/// for anything the runtime cannot represent.
mlir::FailureOr<EmittedGraph> emitGraph(mlir::ModuleOp module);

/// The graph element type of an MLIR element type, if there is one.
std::optional<graph::DType> toDType(mlir::Type elementType);

} // namespace nuri

#endif // NURI_PACKAGE_GRAPHEMITTER_H
