//===- Compare.h - Two simulation reports side by side ----------*- C++ -*-===//
//
// `nuri sim PROG --compare BASE.json` (docs/simulator.md, "Comparing against
// a baseline"): the run's report next to a saved `nuri sim --json` report,
// the way Nsight Compute shows a kernel against its baseline: totals
// (cycles, time, MAC and DRAM utilization, traffic, each engine's busy share,
// stalls, energy and power by component) and per kernel (the span between
// chip-wide barrier releases; the compiler ends every kernel with one), each
// with its change.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DSE_COMPARE_H
#define NURI_DSE_COMPARE_H

#include "nuri/isa/Result.h"

#include <string>

namespace nuri::dse {

/// Compares two `nuri sim --json` reports (their text; the names label the
/// columns). `json` selects a JSON object instead of the table. A report
/// that does not parse, or lacks `cycles`, is an error naming it.
Result<std::string> compareSimReports(const std::string &baseText,
                                      const std::string &baseName,
                                      const std::string &curText,
                                      const std::string &curName, bool json);

} // namespace nuri::dse

#endif // NURI_DSE_COMPARE_H
