//===- Nsga2.h - Multi-objective search over a sweep's grid -----*- C++ -*-===//
//
// NSGA-II (Deb et al., 2002) from pagmo2 (Debian's libpagmo-dev), over the
// grid of a sweep spec: one integer decision variable per axis, the index
// of its value. Each generation's offspring are evaluated as one batch, so
// the sweep compiles and simulates them in parallel.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DSE_NSGA2_H
#define NURI_DSE_NSGA2_H

#include "nuri/isa/Result.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace nuri::dse {

/// Objective vectors (minimized) for a batch of grid points, each given as
/// one value index per axis.
using BatchEvaluator = std::function<std::vector<std::vector<double>>(
    const std::vector<std::vector<uint64_t>> &points)>;

struct Nsga2Options {
  unsigned population = 24; ///< a multiple of 4, >= 8
  unsigned generations = 10;
  uint64_t seed = 1;
};

/// True when Nuri was built with pagmo.
bool haveNsga2();

/// Runs NSGA-II over the grid with `radix[a]` values on axis a; returns
/// every distinct point it evaluated, in the order first evaluated. Fails
/// without pagmo or on a bad option.
Result<std::vector<std::vector<uint64_t>>>
nsga2Search(const std::vector<uint64_t> &radix, unsigned objectives,
            const BatchEvaluator &evaluate, const Nsga2Options &options);

} // namespace nuri::dse

#endif // NURI_DSE_NSGA2_H
