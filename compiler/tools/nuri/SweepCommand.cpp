//===- SweepCommand.cpp - nuri sweep --------------------------------------===//
//
// `nuri sweep SPEC.yaml -o DIR [-j N]`: a design-space sweep (docs/dse.md).
// Results go to DIR/results.jsonl and DIR/results.csv; rerunning the same
// command resumes an interrupted sweep.
//
//===----------------------------------------------------------------------===//

#include "Command.h"

#include "nuri/Dse/Sweep.h"

#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

namespace {

namespace cl = llvm::cl;

cl::SubCommand sweepCmd("sweep", "Sweep chip configs over workloads "
                                 "(design-space exploration)");
cl::opt<std::string> sweepSpec(cl::Positional, cl::desc("<SPEC.yaml>"),
                               cl::Required, cl::sub(sweepCmd));
cl::opt<std::string> sweepOut("o", cl::desc("output directory"),
                              cl::value_desc("DIR"), cl::Required,
                              cl::sub(sweepCmd));
cl::opt<unsigned> sweepJobs("j", cl::desc("threads (default: every core)"),
                            cl::init(0), cl::sub(sweepCmd));
cl::opt<bool> sweepQuiet("quiet", cl::desc("no progress line"),
                         cl::sub(sweepCmd));

int runSweep() {
  nuri::Result<nuri::dse::Spec> spec = nuri::dse::loadSpec(sweepSpec);
  if (!spec) {
    llvm::errs() << "nuri sweep: " << spec.error() << "\n";
    return 1;
  }
  nuri::dse::SweepOptions options;
  options.outDir = sweepOut;
  options.jobs = sweepJobs;
  options.progress = !sweepQuiet;
  nuri::Result<nuri::dse::SweepSummary> s = nuri::dse::runSweep(*spec, options);
  if (!s) {
    llvm::errs() << "nuri sweep: " << s.error() << "\n";
    return 1;
  }
  std::map<std::string, uint64_t> byStatus;
  for (const nuri::dse::Row &r : s->rows) {
    ++byStatus[r.status];
  }
  std::string statuses;
  for (auto &[st, n] : byStatus) {
    statuses += fmt::format("{}{} {}", statuses.empty() ? "" : ", ", n, st);
  }
  llvm::outs() << fmt::format(
      "{}: {} points ({}), {} resumed, {} evaluated; {} compiles, {} from "
      "the cache, {} frontend runs; {} on the Pareto front; {:.1f} s\n  "
      "{}/results.csv\n",
      spec->name, s->points, statuses, s->resumed, s->evaluated, s->compiled,
      s->compileCacheHits, s->imports, s->pareto.size(), s->seconds,
      sweepOut.getValue());
  return 0;
}
nuri::cli::CommandRegistration sweepReg(sweepCmd, runSweep);

} // namespace
