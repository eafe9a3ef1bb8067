//===- DseBench.cpp - Speed of design-space sweeps ------------------------===//
//
// Issue 12's figures, on this machine, against a baseline measured in the
// same run (one point compiled and simulated on its own, as a shell loop
// over `nuri compile` + `nuri sim` would do it):
//   1. the 64-point grid of examples/sweeps/bert-base-grid.yaml (cores x
//      SRAM per core x DRAM bandwidth x array size on zoo bert-base seq
//      128): wall time (target < 2 min on 2 cores);
//   2. a DRAM bandwidth x clock sweep with `resimulate_only` (one compile,
//      the rest re-simulated): points per hour (target >= 20,000);
//   3. what `resimulate_only` costs in fidelity: the latency of the pinned
//      program against a recompile at the same DRAM bandwidth.
//
//   nuri-bench-dse [-j N] [--quick]
//
//===----------------------------------------------------------------------===//

#include "nuri/Dse/Sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace nuri;

struct Run {
  dse::SweepSummary summary;
  double seconds = 0;
};

Run sweep(const fs::path &dir, const std::string &name, const std::string &text,
          unsigned jobs, bool shareCompileStages = true) {
  fs::path spec = dir / (name + ".yaml");
  std::ofstream(spec) << text;
  Result<dse::Spec> s = dse::loadSpec(spec.string());
  if (!s) {
    fmt::print(stderr, "{}\n", s.error());
    std::exit(1);
  }
  dse::SweepOptions o;
  o.outDir = (dir / name).string();
  o.jobs = jobs;
  o.shareCompileStages = shareCompileStages;
  auto t0 = Clock::now();
  Result<dse::SweepSummary> r = dse::runSweep(*s, o);
  if (!r) {
    fmt::print(stderr, "{}\n", r.error());
    std::exit(1);
  }
  Run run;
  run.summary = *r;
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return run;
}

std::string readText(const fs::path &p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char *kWorkload = R"(workloads:
  - name: bert
    zoo: bert-base
    seq: 128
target: atom
)";

} // namespace

int main(int argc, char **argv) {
  unsigned jobs = 2;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-j") && i + 1 < argc) {
      jobs = unsigned(std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    }
  }
  fs::path dir = fs::temp_directory_path() /
                 ("nuri-bench-dse-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fmt::print(stdout, "nuri-bench-dse: {} threads, {} hardware threads\n", jobs,
             std::thread::hardware_concurrency());
  std::fflush(stdout);

  // Baseline: one point alone (frontend + compile + simulate).
  Run one =
      sweep(dir, "one",
            std::string("name: one\n") + kWorkload + "axes:\n  cores: [8]\n", 1,
            /*shareCompileStages=*/false);
  fmt::print(stdout,
             "baseline: one bert-base point alone (import, compile, "
             "simulate): {:.2f} s\n",
             one.seconds);
  std::fflush(stdout);

  // 1. The 64-point grid.
  std::string grid = readText(fs::path(NURI_SOURCE_DIR) /
                              "examples/sweeps/bert-base-grid.yaml");
  std::string quarter = grid;
  quarter.replace(quarter.find("cores: [2, 4, 8, 16]"), 20, "cores: [8]");
  if (quick) {
    grid = quarter;
  }
  Run g = sweep(dir, "grid", grid, jobs);
  std::map<std::string, int> status;
  for (const dse::Row &r : g.summary.rows) {
    ++status[r.status];
  }
  std::string st;
  for (auto &[k, n] : status) {
    st += fmt::format("{}{} {}", st.empty() ? "" : ", ", n, k);
  }
  fmt::print(stdout,
             "bert-base grid: {} points ({}), {} compiles, {} frontend runs "
             "in {:.1f} s ({:.2f}x of the 120 s target); {:.1f}x faster "
             "than {} points one by one ({:.1f} s)\n",
             g.summary.points, st, g.summary.compiled, g.summary.imports,
             g.seconds, g.seconds / 120.0,
             one.seconds * double(g.summary.points) / g.seconds,
             g.summary.points, one.seconds * double(g.summary.points));
  std::fflush(stdout);

  // 1a. The previous design in the same run: every point compiled the
  // whole way (graph passes, constants' bytes, package), as before the
  // shared compile stages. On a quarter of the grid (8 cores: 16 points)
  // to keep the run short; the rows must be the same.
  Run qs = sweep(dir, "quarter-shared", quarter, jobs);
  Run qw = sweep(dir, "quarter-whole", quarter, jobs,
                 /*shareCompileStages=*/false);
  auto sortedText = [](const fs::path &p) {
    std::vector<std::string> l;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) {
      l.push_back(line);
    }
    std::sort(l.begin(), l.end());
    return l;
  };
  bool same = true;
  for (const char *f : {"results.jsonl", "layers.jsonl"}) {
    same = same && sortedText(dir / "quarter-shared" / f) ==
                       sortedText(dir / "quarter-whole" / f);
  }
  fmt::print(stdout,
             "quarter grid (cores 8): {} points, shared compile stages {:.1f} "
             "s, whole compiles (previous design) {:.1f} s: {:.2f}x; rows "
             "{}\n",
             qs.summary.points, qs.seconds, qw.seconds, qw.seconds / qs.seconds,
             same ? "identical" : "DIFFER");
  std::fflush(stdout);
  if (!same) {
    return 1;
  }

  // 1b. The same grid with DRAM bandwidth compiled at the base value and
  // only re-simulated (half the compiles; see 3. for what it costs).
  Run gp = sweep(dir, "grid-pinned",
                 grid + "resimulate_only: [dram.bytes_per_s]\n", jobs);
  fmt::print(stdout,
             "bert-base grid, dram.bytes_per_s re-simulated only: {} points, "
             "{} compiles in {:.1f} s\n",
             gp.summary.points, gp.summary.compiled, gp.seconds);
  std::fflush(stdout);

  // 2. Re-simulation only: DRAM bandwidth x clock, 12 x 12.
  std::string resim = std::string("name: resim\n") + kWorkload + R"(axes:
  dram.bytes_per_s: {from: 64GB, to: 2TB, points: 12, scale: log}
  clock_hz: {from: 0.6GHz, to: 1.7GHz, step: 0.1GHz}
resimulate_only: [dram.bytes_per_s, clock_hz]
)";
  Run rs = sweep(dir, "resim", resim, jobs);
  // The one compile is paid once per sweep; the rate that matters for a
  // large sweep is the re-simulation rate, so both are printed. The
  // compile's share is one point alone through the same shared stages.
  Run oneShared = sweep(
      dir, "one-shared",
      std::string("name: one\n") + kWorkload + "axes:\n  cores: [8]\n", 1);
  double compileShare = oneShared.seconds;
  // The other points re-simulate in what is left (if the machine's noise
  // leaves anything measurable).
  double simSeconds = rs.seconds - compileShare;
  std::string after =
      simSeconds > 0.2
          ? fmt::format("{:.0f} points/hour after the compile",
                        3600.0 * double(rs.summary.points - 1) / simSeconds)
          : std::string("the compile is all of it");
  fmt::print(stdout,
             "bandwidth x clock, re-simulation only: {} points, {} compile, "
             "{:.1f} s: {:.0f} points/hour overall, {} ({:.1f} s for one "
             "point alone) (target >= 20,000)\n",
             rs.summary.points, rs.summary.compiled, rs.seconds,
             3600.0 * double(rs.summary.points) / rs.seconds, after,
             compileShare);
  std::fflush(stdout);

  // 3. Fidelity of resimulate_only: the same four bandwidths recompiled.
  std::string bws = "[128GB, 512GB, 1TB, 2TB]";
  Run pinned = sweep(dir, "pinned",
                     std::string("name: pinned\n") + kWorkload +
                         "axes:\n  dram.bytes_per_s: " + bws +
                         "\nresimulate_only: [dram.bytes_per_s]\n",
                     jobs);
  Run recompiled = sweep(dir, "recompiled",
                         std::string("name: recompiled\n") + kWorkload +
                             "axes:\n  dram.bytes_per_s: " + bws + "\n",
                         jobs);
  for (size_t i = 0; i < pinned.summary.rows.size(); ++i) {
    const dse::Row &a = pinned.summary.rows[i];
    const dse::Row &b = recompiled.summary.rows[i];
    double la = std::get<double>(a.values.at("latency_s"));
    double lb = std::get<double>(b.values.at("latency_s"));
    fmt::print(stdout,
               "  dram {:>7.0f} GB/s: pinned program {:.1f} us, recompiled "
               "{:.1f} us ({:+.1f}%)\n",
               std::get<double>(a.values.at("dram.bytes_per_s")) / 1e9,
               la * 1e6, lb * 1e6, 100.0 * (la / lb - 1));
    std::fflush(stdout);
  }
  fs::remove_all(dir);
  return 0;
}
