//===- Npy.h - Reading and writing NumPy .npy files -------------*- C++ -*-===//
//
// Enough of the .npy format (versions 1.0-3.0, C order, little-endian or
// single-byte dtypes) for `nuri run` and the tests: arrays of the element
// types Nuri tensors have. Every header field is checked; an unreadable file
// is an error naming the file and the reason.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_NPY_NPY_H
#define NURI_NPY_NPY_H

#include "nuri/graph/Graph.h"
#include "nuri/isa/Result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nuri::npy {

struct Array {
  graph::DType dtype = graph::DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data; ///< dense, row-major, little-endian
};

/// The numpy descr ("<f4", "|b1", ...) of a dtype; empty when numpy has
/// none (bf16 and the fp8 types are written as "<u2" / "|u1").
std::string descrOf(graph::DType dtype);

Result<Array> parse(const uint8_t *bytes, size_t size,
                    const std::string &origin = "<memory>");
Result<Array> readFile(const std::string &path);

std::vector<uint8_t> serialize(graph::DType dtype,
                               const std::vector<int64_t> &shape,
                               const void *data, size_t bytes);
Result<bool> writeFile(const std::string &path, graph::DType dtype,
                       const std::vector<int64_t> &shape, const void *data,
                       size_t bytes);

} // namespace nuri::npy

#endif // NURI_NPY_NPY_H
