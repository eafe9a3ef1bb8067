//===- SweepCommand.cpp - nuri sweep --------------------------------------===//
//
// `nuri sweep SPEC.yaml -o DIR [-j N] [--backend slurm ...]`: a
// design-space sweep (docs/dse.md). Results go to DIR/results.jsonl and
// DIR/results.csv; rerunning the same command resumes an interrupted sweep.
//
//===----------------------------------------------------------------------===//

#include "Command.h"

#include "nuri/Dse/Sweep.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <sstream>

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
cl::opt<std::string> sweepBackend(
    "backend",
    cl::desc("where the points run: local (this machine's cores) or slurm "
             "(a SLURM job array; -j is then the CPUs per task)"),
    cl::value_desc("local|slurm"), cl::init("local"), cl::sub(sweepCmd));
cl::opt<std::string> sweepPartition("partition",
                                    cl::desc("SLURM partition (default: the "
                                             "cluster's)"),
                                    cl::value_desc("P"), cl::sub(sweepCmd));
cl::opt<unsigned> sweepTasks("tasks",
                             cl::desc("SLURM array tasks per batch (default "
                                      "16, never more than the points)"),
                             cl::init(16), cl::sub(sweepCmd));
cl::list<std::string>
    sweepSbatchArgs("sbatch-arg",
                    cl::desc("an option passed to sbatch as is (repeat it: "
                             "--sbatch-arg=--account=A "
                             "--sbatch-arg=--time=1:00:00)"),
                    cl::value_desc("OPT"), cl::sub(sweepCmd));
cl::opt<std::string> sweepTracePoints(
    "trace-points",
    cl::desc("after the sweep, write the Perfetto trace of these points to "
             "DIR/traces: pareto, best, or grid indices (3,17)"),
    cl::value_desc("pareto|best|I,J,..."), cl::sub(sweepCmd));
// What a SLURM task runs (the submitting `nuri sweep` writes both).
cl::opt<std::string>
    sweepWorkerPoints("worker-points",
                      cl::desc("evaluate the grid indices in FILE (a SLURM "
                               "task of --backend slurm)"),
                      cl::value_desc("FILE"), cl::Hidden, cl::sub(sweepCmd));
cl::opt<std::string> sweepCacheDir("cache-dir",
                                   cl::desc("compiled-program cache "
                                            "(default: DIR/cache)"),
                                   cl::value_desc("DIR"), cl::Hidden,
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
  options.cacheDir = sweepCacheDir;
  options.tracePoints = sweepTracePoints;
  if (!sweepTracePoints.empty() && sweepTracePoints != "pareto" &&
      sweepTracePoints != "best" &&
      (sweepTracePoints.find_first_not_of("0123456789,") != std::string::npos ||
       sweepTracePoints.front() == ',' || sweepTracePoints.back() == ',' ||
       sweepTracePoints.find(",,") != std::string::npos)) {
    // Said before the sweep runs, not after.
    llvm::errs() << "nuri sweep: --trace-points: `" << sweepTracePoints
                 << "` is not pareto, best or a list of point indices\n";
    return 1;
  }
  if (sweepBackend == "slurm") {
    options.backend = nuri::dse::Backend::Slurm;
    options.slurm.partition = sweepPartition;
    options.slurm.tasks = sweepTasks;
    options.slurm.sbatchArgs = sweepSbatchArgs;
    options.slurm.cpusPerTask = sweepJobs;
    if (sweepTasks == 0 || sweepTasks > 1000) {
      llvm::errs() << "nuri sweep: --tasks must be 1 to 1000 (SLURM's "
                      "default MaxArraySize is 1001)\n";
      return 1;
    }
    // The tasks run this very binary: same compiler, same commit in the
    // results' provenance.
    options.slurm.nuri = llvm::sys::fs::getMainExecutable(
        nullptr, reinterpret_cast<void *>(&runSweep));
  } else if (sweepBackend != "local") {
    llvm::errs() << "nuri sweep: --backend must be local or slurm, not `"
                 << sweepBackend << "`\n";
    return 1;
  }
  if (!sweepWorkerPoints.empty()) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buf =
        llvm::MemoryBuffer::getFile(sweepWorkerPoints);
    if (!buf) {
      llvm::errs() << "nuri sweep: " << sweepWorkerPoints << ": "
                   << buf.getError().message() << "\n";
      return 1;
    }
    std::istringstream in((*buf)->getBuffer().str());
    std::vector<uint64_t> points;
    std::string word;
    while (in >> word) {
      if (word.find_first_not_of("0123456789") != std::string::npos ||
          word.size() > 19) {
        llvm::errs() << "nuri sweep: " << sweepWorkerPoints
                     << ": not a point index: `" << word << "`\n";
        return 1;
      }
      points.push_back(std::stoull(word));
    }
    options.workerPoints = std::move(points);
  }
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
  if (s->traces) {
    llvm::outs() << fmt::format("  {} Perfetto traces in {}/traces\n",
                                s->traces, sweepOut.getValue());
  }
  return 0;
}
nuri::cli::CommandRegistration sweepReg(sweepCmd, runSweep);

} // namespace
