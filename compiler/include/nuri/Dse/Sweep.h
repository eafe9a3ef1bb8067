//===- Sweep.h - Design-space sweeps over chip configs ----------*- C++ -*-===//
//
// `nuri sweep SPEC.yaml -o DIR` (docs/dse.md): a spec names workloads, a
// base chip config, axes over config keys, derived keys, constraints,
// objectives and a search. Every point compiles each workload with the real
// compiler (the frontend runs once per workload; compiled programs are
// cached by workload and the config the compiler sees) and simulates it
// timing-only; energy and area come from the config's `energy:`/`area:`.
// Results are appended to DIR/results.jsonl and DIR/results.csv, one line
// per point, so an interrupted sweep resumes where it stopped.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DSE_SWEEP_H
#define NURI_DSE_SWEEP_H

#include "nuri/Dse/Expr.h"
#include "nuri/isa/Result.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nuri::dse {

/// A decode (generation) scenario (docs/dse.md, "Decode workloads"): the
/// workload is a decoder with its KV cache, compiled as a program family
/// (`nuri compile --generate`) and run through the runtime's generator on
/// the sim device with `batch` concurrent requests of `promptLen` synthetic
/// tokens each, generating `newTokens` tokens each.
struct GenerationScenario {
  int64_t promptLen = 32, newTokens = 16, batch = 1;
};

struct Workload {
  std::string name; ///< an identifier: results columns are `NAME.latency_s`
  std::string zoo;  ///< a zoo model, or
  std::string onnx; ///< an ONNX file (absolute, or relative to the spec)
  int layers = 0;   ///< zoo: 0 keeps the default
  int64_t batch = 1, seq = 128;
  std::map<std::string, std::vector<int64_t>> inputShapes;
  std::string dtype = "bf16"; ///< bf16 or fp16 (the compiler's dtypes)
  /// Set: a decode workload (batch and seq do not apply).
  std::optional<GenerationScenario> generation;
};

struct Axis {
  std::string key;
  std::vector<std::string> values; ///< as `--set key=value` text
};

struct Derived {
  std::string key;
  Expr expr;
};

struct Objective {
  Expr expr;
  bool maximize = false;
};

enum class SearchKind { Grid, Random, Nsga2 };

struct Search {
  SearchKind kind = SearchKind::Grid;
  uint64_t count = 0; ///< random: points to draw
  uint64_t seed = 1;
  unsigned population = 24, generations = 10; ///< nsga2
};

struct Spec {
  std::string path, text, hash;
  std::string name;
  std::vector<Workload> workloads;
  std::string target;     ///< as written (a name or a .yaml path)
  std::string targetPath; ///< the resolved file
  std::string targetText; ///< its contents
  std::vector<Axis> axes;
  std::vector<Derived> derived;
  std::vector<Expr> constraints;
  std::vector<Objective> objectives;
  Search search;
  /// Keys compiled at the base config's value and only simulated at the
  /// point's (docs/dse.md, "What recompiles").
  std::vector<std::string> resimulateOnly;

  uint64_t gridSize() const;
};

/// Reads and checks a spec. YAML syntax errors and bad fields name
/// FILE:LINE:COLUMN.
Result<Spec> loadSpec(const std::string &path);

/// One cell of a results row: a number, a string, or missing (null).
using Value = std::variant<std::monostate, double, std::string>;

struct Row {
  uint64_t index = 0; ///< the point's index in the grid
  std::string status; ///< ok, infeasible, invalid, compile_error, sim_error
  std::map<std::string, Value> values; ///< by column name
  /// Objective values (minimization sense) when status is ok.
  std::vector<double> objectives;
};

/// `--backend slurm` (docs/dse.md, "Running on SLURM"): the pending points
/// of each batch (the whole grid or random draw; one NSGA-II generation)
/// are split into a job array, one `nuri sweep` worker per task.
struct SlurmOptions {
  unsigned tasks = 16;   ///< array tasks per batch (fewer if fewer points)
  std::string partition; ///< empty: the cluster's default
  /// Passed to sbatch before the script (`--account=A`, `--time=1:00:00`).
  std::vector<std::string> sbatchArgs;
  unsigned cpusPerTask = 0; ///< 0: the cluster's default; a task uses them all
  std::string nuri;         ///< the binary the tasks run (absolute)
  double pollSeconds = 1.0; ///< the first squeue interval; it grows to 10 s
};

enum class Backend { Local, Slurm };

struct SweepOptions {
  std::string outDir;
  unsigned jobs = 0;    ///< 0: every core
  bool progress = true; ///< the progress line on stderr
  /// Called for each finished row (tests).
  std::function<void(const Row &)> onRow;
  Backend backend = Backend::Local;
  SlurmOptions slurm;
  /// A SLURM task: evaluate only these grid indices (no search), writing
  /// results to outDir and compiled programs to `cacheDir`.
  std::optional<std::vector<uint64_t>> workerPoints;
  std::string cacheDir; ///< empty: outDir/cache
  /// After the sweep, the Perfetto traces of these points into
  /// outDir/traces: `pareto`, `best` (the best ok point by the first
  /// objective) or grid indices `3,17`. Empty: none.
  std::string tracePoints;
  /// Share between compiles what no axis changes (docs/dse.md, "What
  /// recompiles"): each workload's graph passes and dtype conversion run
  /// once per compile context, and a compile makes the NPU programs only,
  /// without the constants' bytes or a package. False compiles every point
  /// the whole way, as `nuri compile` does: the benchmark's baseline and
  /// the test that both give the same rows.
  bool shareCompileStages = true;
};

/// Splits points into at most `shards` contiguous, equal-sized shards after
/// ordering them so that points sharing a compile (any of `keys[i]`, the
/// compile keys of point i) sit together: a compile is then done by one
/// shard, or by two where a group straddles a boundary.
std::vector<std::vector<uint64_t>>
shardPoints(const std::vector<uint64_t> &points,
            const std::vector<std::vector<std::string>> &keys, unsigned shards);

struct SweepSummary {
  uint64_t points = 0;  ///< in the search
  uint64_t resumed = 0; ///< already in DIR/results.jsonl
  uint64_t evaluated = 0, ok = 0, compiled = 0, compileCacheHits = 0;
  /// Frontend runs (workload imports): one per workload per compile
  /// context; a context serves a few compiles (MLIR keeps every attribute
  /// a context made, so contexts are recycled to bound memory).
  uint64_t imports = 0;
  double seconds = 0;
  unsigned traces = 0;     ///< Perfetto traces written (--trace-points)
  std::vector<Row> rows;   ///< every row of the search, by index
  std::vector<Row> pareto; ///< non-dominated ok rows over the objectives
};

/// Runs the sweep. Fails on a bad spec, an unreadable workload, an axis
/// naming a key the config does not have, or a corrupt results file;
/// a point that makes an impossible chip or fails to compile is a row.
Result<SweepSummary> runSweep(const Spec &spec, const SweepOptions &options);

/// Indices of the rows not dominated by another (all objectives minimized).
std::vector<size_t> paretoFront(const std::vector<std::vector<double>> &objs);

/// The Nuri version and the git commit it was built from.
std::string nuriVersion();
std::string nuriGitCommit();

} // namespace nuri::dse

#endif // NURI_DSE_SWEEP_H
