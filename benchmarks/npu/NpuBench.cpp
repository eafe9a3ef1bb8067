//===- NpuBench.cpp - Zoo transformers on the NPU against the roofline ----===//
//
// nuri-bench-npu [--target atom[,rngd,...] | --all-targets] [--dir DIR]
//                [--seq 128] [--ops] [--brief] [MODEL:BATCH ...]
//                (default: bert-base:1 bert-base:8 gpt2-small:1
//                 gpt2-small:8)
//
// Issue 14: every workload is imported once and compiled for each target
// named (--all-targets: atom, rngd, x220, x330) in the target's compute
// dtype (bf16, else fp16), so the closing tables, one per target, compare
// chips measured in the same run: simulated time, roofline, share of the
// roofline, MAC utilization and the cost model's predicted/simulated ratio.
//
// Issue 5: zoo bert-base (seq 128, batch 1 and 8) and gpt2-small prefill
// (seq 128) in bf16, compiled as `nuri compile --target atom` does, the NPU
// partitions simulated timing-only, against the roofline bound of the
// config: max(FLOPs / peak bf16 FLOP per cycle, (weight bytes + the
// partitions' input and output bytes) / DRAM bytes per cycle). FLOPs are
// the matrix work of the NPU ops (nuri::driver::flopsOf: linear and matmul
// 2*M*N*K, attention over the pairs a causal mask leaves; elementwise work
// is not counted, so the bound stays a lower bound).
//
// Prints per workload the simulated cycles against the bound and the goal
// (70% of the bound at batch 1, 80% at batch 8), then per transformer layer
// the predicted and simulated cycles against the layer's own bound (its
// ops' FLOPs and the bytes of the constants they read). The CPU partitions
// are listed with their share of the FLOPs; they are not simulated.
//
// The simulator must never beat a bound: if the whole run or a layer does,
// the line says so loudly and the exit status is 1.
//
//===----------------------------------------------------------------------===//

#include "../common/DriverBench.h"
#include "nuri/Frontend/OnnxImporter.h"
#include "nuri/target/Target.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Workload {
  std::string model;
  int64_t batch = 1;
};

struct Roofline {
  std::string dtype; ///< the compute dtype (bf16, else fp16)
  double peakFlopsPerCycle = 0, dramBytesPerCycle = 0;
  double compute(double flops) const { return flops / peakFlopsPerCycle; }
  double memory(double bytes) const { return bytes / dramBytesPerCycle; }
};

// The zoo model at `path`, written once (the models nuri-bench-compile
// writes are the same files).
std::string percent(double part, double whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole > 0 ? 100 * part / whole : 0);
  return buf;
}

/// One line of a target's closing table.
struct Row {
  Workload w;
  uint64_t cycles = 0, predicted = 0;
  double bound = 0, util = 0;
  bool computeBound = false;
  bool failed = false;
};

/// The share of the roofline issue 14 asks for (0: none asked).
double goalOf(const std::string &target, int64_t batch) {
  if (target == "atom") {
    return batch == 1 ? 0.85 : 0.90;
  }
  if (target == "rngd") {
    return batch == 1 ? 0.70 : 0.85;
  }
  if (target == "x220" || target == "x330") {
    return batch == 1 ? 0.70 : 0.0;
  }
  return batch == 1 ? 0.70 : 0.80;
}

// Returns the number of bounds the simulator beat (each one a bug).
int report(const Workload &w, int64_t seq, const nuri::driver::Report &r,
           const nuri::target::Target &t, const Roofline &roof, double seconds,
           bool opsToo, bool brief, Row &row) {
  int beaten = 0;
  uint64_t cycles = 0, tail = 0, flops = 0, bytes = 0, weightBytes = 0;
  uint64_t cpuFlops = 0, predicted = 0;
  double utilCycles = 0;
  int npuParts = 0, cpuParts = 0;
  for (const nuri::driver::PartitionInfo &p : r.partitions) {
    if (!p.npu) {
      ++cpuParts;
      cpuFlops += p.flops;
      continue;
    }
    ++npuParts;
    cycles += p.simulatedCycles;
    tail += p.tailCycles;
    predicted += p.predictedCycles;
    flops += p.flops;
    weightBytes += p.weightBytes;
    bytes += p.weightBytes + p.ioBytes;
    utilCycles += p.macUtilization * double(p.simulatedCycles);
  }
  double compute = roof.compute(double(flops));
  double memory = roof.memory(double(bytes));
  double bound = std::max(compute, memory);
  double goal = goalOf(t.name, w.batch);
  double ofBound = cycles ? bound / double(cycles) : 0;
  row.w = w;
  row.cycles = cycles;
  row.predicted = predicted;
  row.bound = bound;
  row.computeBound = compute >= memory;
  row.util = cycles ? utilCycles / double(cycles) : 0.0;

  std::printf("\n== %s batch %lld seq %lld on %s (%s), compiled and simulated "
              "in %.1f s ==\n",
              w.model.c_str(), static_cast<long long>(w.batch),
              static_cast<long long>(seq), t.name.c_str(), r.dtype.c_str(),
              seconds);
  std::printf("NPU: %d partitions, %lld ops; %.2f GFLOP (matrix), weights "
              "%.1f MB, partition inputs/outputs %.2f MB\n",
              npuParts, static_cast<long long>(r.npuOps), flops / 1e9,
              weightBytes / 1e6, (bytes - weightBytes) / 1e6);
  std::printf("simulated %llu cycles = %.1f us at %.2f GHz (predicted %llu, "
              "%.2fx)\n",
              static_cast<unsigned long long>(cycles),
              double(cycles) / t.clockHz * 1e6, t.clockHz / 1e9,
              static_cast<unsigned long long>(predicted),
              cycles ? double(predicted) / double(cycles) : 0.0);
  std::printf("roofline bound %.0f cycles (%s-bound: compute %.0f = FLOPs / "
              "%.0f FLOP/cycle, memory %.0f = bytes / %.0f B/cycle)\n",
              bound, compute >= memory ? "compute" : "memory", compute,
              roof.peakFlopsPerCycle, memory, roof.dramBytesPerCycle);
  char verdict[64] = "met";
  if (goal == 0) {
    std::snprintf(verdict, sizeof verdict, "none set");
  } else if (ofBound < goal) {
    std::snprintf(verdict, sizeof verdict, "NOT met (%.1f points short)",
                  100 * (goal - ofBound));
  }
  std::printf("%.1f%% of bound, MAC utilization %.1f%%; goal %s of bound: "
              "%s\n",
              100 * ofBound, cycles ? 100 * utilCycles / double(cycles) : 0.0,
              goal > 0 ? percent(goal, 1).c_str() : "-", verdict);
  if (double(cycles) < bound) {
    std::printf("!!! BOUND BEATEN: %llu simulated cycles < %.0f; the simulator "
                "must never beat the bound (a timing-model or FLOP/byte "
                "accounting bug)\n",
                static_cast<unsigned long long>(cycles), bound);
    ++beaten;
  }

  // --brief prints no layers, but still checks them against their bounds.
  auto print = [brief](const char *fmt, auto... args) {
    if (!brief) {
      std::printf(fmt, args...);
    }
  };
  print("per layer (bound: the layer's FLOPs / peak and its weights / "
        "DRAM bandwidth):\n");
  print("  %-22s %5s %11s %11s %9s %11s %8s %s\n", "layer", "ops", "predicted",
        "simulated", "pred/sim", "bound", "of bound", "limit");
  uint64_t layerSum = 0;
  for (const nuri::driver::LayerInfo &l : r.layers) {
    double c = roof.compute(double(l.flops));
    double m = roof.memory(double(l.weightBytes));
    double b = std::max(c, m);
    layerSum += l.simulatedCycles;
    print("  %-22s %5lld %11llu %11llu %8.2fx %11.0f %8s %s\n", l.name.c_str(),
          static_cast<long long>(l.ops),
          static_cast<unsigned long long>(l.predictedCycles),
          static_cast<unsigned long long>(l.simulatedCycles),
          l.simulatedCycles
              ? double(l.predictedCycles) / double(l.simulatedCycles)
              : 0.0,
          b, l.simulatedCycles ? percent(b, l.simulatedCycles).c_str() : "-",
          b == 0   ? ""
          : c >= m ? "compute"
                   : "memory");
    if (double(l.simulatedCycles) < b) {
      std::printf("  !!! BOUND BEATEN by layer %s: %llu simulated cycles < "
                  "%.0f; the simulator must never beat the bound\n",
                  l.name.c_str(),
                  static_cast<unsigned long long>(l.simulatedCycles), b);
      ++beaten;
    }
  }
  print("  layers sum to %llu simulated cycles; %llu more run after the "
        "partitions' last barriers\n",
        static_cast<unsigned long long>(layerSum),
        static_cast<unsigned long long>(tail));
  if (layerSum + tail != cycles) {
    std::printf("  !!! the layers (%llu) and tails (%llu) do not add up to "
                "the partitions' %llu cycles\n",
                static_cast<unsigned long long>(layerSum),
                static_cast<unsigned long long>(tail),
                static_cast<unsigned long long>(cycles));
    ++beaten;
  }
  if (opsToo && !brief) {
    std::printf("per op (partition, layer, location, kind, predicted, "
                "simulated):\n");
    for (const nuri::driver::OpEstimate &e : r.opEstimates) {
      std::printf("  %-7s %-22s %-48s %-16s %9llu %9llu\n", e.partition.c_str(),
                  e.layer.c_str(), e.location.c_str(), e.kind.c_str(),
                  static_cast<unsigned long long>(e.predictedCycles),
                  static_cast<unsigned long long>(e.simulatedCycles));
    }
  }

  if (brief) {
    return beaten;
  }
  std::printf("CPU partitions (not simulated; run on the host, not in the "
              "cycles above): %d, %.2f%% of the matrix FLOPs\n",
              cpuParts,
              flops + cpuFlops
                  ? 100.0 * double(cpuFlops) / double(flops + cpuFlops)
                  : 0.0);
  for (const nuri::driver::PartitionInfo &p : r.partitions) {
    if (!p.npu) {
      std::string outs;
      for (size_t i = 0; i < p.outputs.size() && i < 3; ++i) {
        outs += (i ? ", " : "") + p.outputs[i];
      }
      std::printf("  %-8s %4lld ops, %llu FLOPs  -> %s%s\n", p.name.c_str(),
                  static_cast<long long>(p.ops),
                  static_cast<unsigned long long>(p.flops), outs.c_str(),
                  p.outputs.size() > 3 ? ", ..." : "");
    }
  }
  if (!r.fallbacks.empty()) {
    std::printf("  because:");
    const char *sep = " ";
    for (const nuri::driver::Fallback &f : r.fallbacks) {
      std::printf("%s%s x%lld (%s)", sep, f.op.c_str(),
                  static_cast<long long>(f.count), f.reason.c_str());
      sep = "; ";
    }
    std::printf("\n");
  }
  return beaten;
}

} // namespace

int main(int argc, char **argv) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "nuri-bench-compile";
  std::vector<std::string> targetNames;
  int64_t seq = 128;
  bool opsToo = false, brief = false;
  std::vector<Workload> workloads;
  auto addTargets = [&](const std::string &list) {
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = std::min(list.find(',', pos), list.size());
      if (comma > pos) {
        targetNames.push_back(list.substr(pos, comma - pos));
      }
      pos = comma + 1;
    }
  };
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else if (!std::strcmp(argv[i], "--target") && i + 1 < argc) {
      addTargets(argv[++i]);
    } else if (!std::strcmp(argv[i], "--all-targets")) {
      addTargets("atom,rngd,x220,x330");
    } else if (!std::strcmp(argv[i], "--seq") && i + 1 < argc) {
      seq = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--ops")) {
      opsToo = true;
    } else if (!std::strcmp(argv[i], "--brief")) {
      brief = true;
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr,
                   "usage: nuri-bench-npu [--target NAME[,NAME...] | "
                   "--all-targets] [--dir DIR] [--seq N] [--ops] [--brief] "
                   "[MODEL:BATCH ...]\n");
      return 2;
    } else {
      std::string arg = argv[i];
      size_t colon = arg.find(':');
      Workload w;
      w.model = arg.substr(0, colon);
      w.batch =
          colon == std::string::npos ? 1 : std::atoll(arg.c_str() + colon + 1);
      workloads.push_back(w);
    }
  }
  if (targetNames.empty()) {
    targetNames = {"atom"};
  }
  if (workloads.empty()) {
    workloads = {{"bert-base", 1},
                 {"bert-base", 8},
                 {"gpt2-small", 1},
                 {"gpt2-small", 8}};
  }
  std::vector<nuri::target::Target> targets;
  std::vector<Roofline> roofs;
  for (const std::string &name : targetNames) {
    nuri::Result<nuri::target::Target> target = nuri::target::findTarget(name);
    if (!target) {
      std::fprintf(stderr, "nuri-bench-npu: %s\n", target.error().c_str());
      return 2;
    }
    // The chip's compute dtype, as `nuri compile` picks it: bf16 where the
    // matrix engine has it, else fp16 (x220).
    Roofline roof;
    nuri::isa::Dtype d = nuri::isa::Dtype::BF16;
    roof.dtype = "bf16";
    if (!target->supports(d)) {
      d = nuri::isa::Dtype::F16;
      roof.dtype = "fp16";
    }
    roof.peakFlopsPerCycle = target->peakOpsPerSecond(d) / target->clockHz;
    roof.dramBytesPerCycle = target->dramBytesPerCycle();
    std::printf("nuri-bench-npu: %s, %s peak %.0f FLOP/cycle, DRAM %.0f "
                "B/cycle (ridge %.0f FLOP/B), %u cores at %.2f GHz\n",
                target->name.c_str(), roof.dtype.c_str(),
                roof.peakFlopsPerCycle, roof.dramBytesPerCycle,
                roof.peakFlopsPerCycle / roof.dramBytesPerCycle, target->cores,
                target->clockHz / 1e9);
    targets.push_back(*target);
    roofs.push_back(roof);
  }
  std::filesystem::create_directories(dir);
  int beaten = 0, failures = 0;
  std::vector<std::vector<Row>> rows(targets.size());
  for (const Workload &w : workloads) {
    std::string path = (dir / (w.model + ".onnx")).string();
    if (!nuri::bench::ensureZooModel("nuri-bench-npu", w.model, path)) {
      return 2;
    }
    // Imported once; each target compiles its own copy.
    nuri::OnnxImportOptions import;
    import.inputShapes = nuri::zoo::inputShapes(w.model, w.batch, seq);
    import.allowUnsupported = true; // as compileOnnxFile imports
    nuri::bench::DriverContext driver;
    Clock::time_point importStart = Clock::now();
    mlir::OwningOpRef<mlir::ModuleOp> imported =
        nuri::importOnnxFile(driver.context, path, import);
    double importSeconds =
        std::chrono::duration<double>(Clock::now() - importStart).count();
    for (size_t ti = 0; ti < targets.size(); ++ti) {
      Row &row = rows[ti].emplace_back();
      row.w = w;
      if (!imported) {
        row.failed = true;
        ++failures;
        continue;
      }
      mlir::OwningOpRef<mlir::ModuleOp> module = imported->clone();
      nuri::driver::CompileOptions options;
      options.target = targets[ti].name;
      options.dtype = roofs[ti].dtype;
      options.simulate = true;
      Clock::time_point start = Clock::now();
      mlir::FailureOr<nuri::driver::CompileResult> result =
          nuri::driver::compileModule(*module, options);
      double seconds =
          std::chrono::duration<double>(Clock::now() - start).count();
      if (failed(result)) {
        std::printf("\n== %s batch %lld on %s: compile or simulation FAILED "
                    "==\n",
                    w.model.c_str(), static_cast<long long>(w.batch),
                    targets[ti].name.c_str());
        row.failed = true;
        ++failures;
        continue;
      }
      beaten += report(w, seq, result->report, targets[ti], roofs[ti],
                       seconds + importSeconds, opsToo, brief, row);
    }
  }

  // One table per target; every line comes from this run.
  for (size_t ti = 0; ti < targets.size(); ++ti) {
    const nuri::target::Target &t = targets[ti];
    std::printf("\n== %s (%s): simulated against the roofline, seq %lld ==\n",
                t.name.c_str(), roofs[ti].dtype.c_str(),
                static_cast<long long>(seq));
    std::printf("  %-14s %11s %10s %11s %-7s %7s %5s %8s %8s\n", "workload",
                "simulated", "us", "roofline", "limit", "share", "goal",
                "MAC util", "pred/sim");
    for (const Row &r : rows[ti]) {
      std::string name = r.w.model + " b" + std::to_string(r.w.batch);
      if (r.failed) {
        std::printf("  %-14s FAILED\n", name.c_str());
        continue;
      }
      double goal = goalOf(t.name, r.w.batch);
      std::printf("  %-14s %11llu %10.1f %11.0f %-7s %6.1f%% %5s %7.1f%% "
                  "%7.2fx\n",
                  name.c_str(), static_cast<unsigned long long>(r.cycles),
                  double(r.cycles) / t.clockHz * 1e6, r.bound,
                  r.computeBound ? "compute" : "memory",
                  r.cycles ? 100.0 * r.bound / double(r.cycles) : 0.0,
                  goal > 0 ? percent(goal, 1).c_str() : "-", 100.0 * r.util,
                  r.cycles ? double(r.predicted) / double(r.cycles) : 0.0);
    }
  }
  if (beaten) {
    std::printf("\n!!! %d bound(s) beaten: the simulator must never beat the "
                "roofline bound\n",
                beaten);
    return 1;
  }
  return failures ? 1 : 0;
}
