//===- Report.h - The HTML report of a sweep ---------------------*- C++
//-*-===//
//
// `nuri report DIR -o report.html` (docs/dse.md, "How to read the report"):
// one self-contained HTML file (inline SVG and CSS, no script, nothing
// fetched) built from what `nuri sweep` wrote to DIR: sweep.json (the
// spec's axes and objectives), results.jsonl (one row per point) and
// layers.jsonl (per-layer cycles, FLOPs and bytes of each simulated point).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DSE_REPORT_H
#define NURI_DSE_REPORT_H

#include "nuri/isa/Result.h"

#include <string>

namespace nuri::dse {

/// The report's HTML. Fails, naming the file (and line), on a missing or
/// empty DIR, a missing sweep.json or results.jsonl, and a line of either
/// JSONL file that does not parse.
Result<std::string> renderReport(const std::string &dir);

} // namespace nuri::dse

#endif // NURI_DSE_REPORT_H
