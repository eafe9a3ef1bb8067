//===- DseTest.cpp - Energy, area, expressions and sweeps -----------------===//
//
// The energy and area model against published points, the expression
// evaluator of sweep specs, the spec's errors, and sweeps of bert-tiny end
// to end: results, reruns, resume, corrupt files and bad points.
//
//===----------------------------------------------------------------------===//

#include "nuri/Driver/Compile.h"
#include "nuri/Dse/Nsga2.h"
#include "nuri/Dse/Sweep.h"
#include "nuri/Frontend/OnnxImporter.h"
#include "nuri/isa/Assembler.h"
#include "nuri/sim/Energy.h"
#include "nuri/sim/Simulator.h"
#include "nuri/target/Target.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/JSON.h"

#include "TempDir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace nuri;

std::string readText(const fs::path &p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const fs::path &p) {
  std::vector<std::string> out;
  std::istringstream in(readText(p));
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}

using nuri::test::TempDir;

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

double eval(const std::string &text, std::map<std::string, double> vars = {}) {
  Result<dse::Expr> e = dse::Expr::parse(text);
  EXPECT_TRUE(e) << text << ": " << e.error();
  Result<double> v = e->evaluate([&](const std::string &n) {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional<double>(it->second);
  });
  EXPECT_TRUE(v) << text << ": " << v.error();
  return v ? *v : -12345;
}

TEST(DseExpr, PrecedenceUnitsFunctionsAndDottedNames) {
  EXPECT_EQ(eval("1 + 2 * 3"), 7);
  EXPECT_EQ(eval("(1 + 2) * 3"), 9);
  EXPECT_EQ(eval("2 ^ 3 ^ 2"), 512); // right-associative
  EXPECT_EQ(eval("-2 ^ 2"), -4);
  EXPECT_EQ(eval("4MiB"), 4194304);
  EXPECT_EQ(eval("1.5TB / 1GB"), 1500);
  EXPECT_EQ(eval("2e-3 * 1000"), 2);
  EXPECT_EQ(eval("min(3, max(1, 2), 5) + log2(1024)"), 12);
  EXPECT_EQ(eval("matrix.rows * matrix.cols",
                 {{"matrix.rows", 64}, {"matrix.cols", 32}}),
            2048);
  EXPECT_EQ(eval("area_mm2 <= 400 && x != 1", {{"area_mm2", 400}, {"x", 2}}),
            1);
  EXPECT_EQ(eval("area_mm2 < 400 || !(x > 1)", {{"area_mm2", 400}, {"x", 2}}),
            0);
  // && short-circuits: the unknown name on the right is never looked up.
  EXPECT_EQ(eval("0 && nothing > 1"), 0);
}

TEST(DseExpr, ErrorsNameTheColumnAndTheName) {
  Result<dse::Expr> e = dse::Expr::parse("1 + ");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("column 5"), std::string::npos) << e.error();
  e = dse::Expr::parse("cores * 2)");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("column 10"), std::string::npos) << e.error();
  e = dse::Expr::parse("4 parsecs");
  ASSERT_FALSE(e);
  e = dse::Expr::parse("frobnicate(2)");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("unknown function"), std::string::npos);
  e = dse::Expr::parse("latency_s * cores");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->names(), (std::set<std::string>{"latency_s", "cores"}));
  Result<double> v =
      e->evaluate([](const std::string &) { return std::nullopt; });
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().find("unknown name `latency_s`"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Energy and area against published points
//===----------------------------------------------------------------------===//

double peakW(const target::Target &t) {
  double w = 0;
  for (auto &[d, m] : t.matrix.macsPerCycle) {
    w = std::max(w, sim::peakPower(t, d).totalJoules());
  }
  return w;
}

TEST(DseEnergy, PeakPowerWithinOneAndAHalfOfPublished) {
  // RNGD: 150 W TDP (FuriosaAI, Hot Chips 2024). ATOM: an RBLN-CA12 card
  // at 98.7% utilization draws 43.9 W (docs.rbln.ai, rbln-stat), and 60 W
  // is its TDP. The model at peak must land within 1.5x of each
  // (docs/dse.md, "Checked against published points").
  Result<target::Target> rngd = target::findTarget("rngd");
  Result<target::Target> atom = target::findTarget("atom");
  ASSERT_TRUE(rngd && atom);
  double r = peakW(*rngd), a = peakW(*atom);
  std::printf("peak power: rngd %.1f W (published 150 W, ratio %.2f), atom "
              "%.1f W (measured 43.9 W, ratio %.2f; TDP 60 W, ratio %.2f)\n",
              r, r / 150, a, a / 43.9, a / 60);
  for (auto [model, published] :
       {std::pair{r, 150.0}, std::pair{a, 43.9}, std::pair{a, 60.0}}) {
    EXPECT_GT(model, published / 1.5) << published << " W";
    EXPECT_LT(model, published * 1.5) << published << " W";
  }
  // atom's static power is calibrated on its idle card (6.1 W at 25 C):
  // what stays powered plus a third of the hot leakage must not exceed it
  // by more than the measurement's rounding.
  double idle = atom->energy.staticW +
                atom->energy.staticWPerMm2 * target::areaOf(*atom).total / 3;
  EXPECT_NEAR(idle, 6.1, 0.2);
}

TEST(DseArea, RngdDieAgainstPublished) {
  // RNGD: 653 mm^2 (TSMC 5 nm; Hot Chips 2024). The model counts the
  // configured blocks only (no L2 beyond the 256 MB, no spare slices, no
  // NoC wiring): docs/dse.md gives the gap; it must stay within 2x.
  // ATOM's die size is not published; its area is checked for being
  // positive and for growing with SRAM by the configured density.
  Result<target::Target> rngd = target::findTarget("rngd");
  Result<target::Target> atom = target::findTarget("atom");
  ASSERT_TRUE(rngd && atom);
  target::AreaBreakdown r = target::areaOf(*rngd), a = target::areaOf(*atom);
  std::printf("area: rngd %.0f mm^2 (published 653, ratio %.2f), atom %.0f "
              "mm^2\n",
              r.total, r.total / 653, a.total);
  EXPECT_GT(r.total, 653 / 2.0);
  EXPECT_LT(r.total, 653 * 2.0);
  EXPECT_NEAR(r.total * rngd->area.utilization,
              r.matrix + r.sram + r.vector + r.cores + r.dramPhy + r.fixed,
              1e-6 * r.total);
  EXPECT_GT(a.total, 0);
  // More SRAM is more area, by the configured density.
  Result<target::Target> bigger =
      target::findTarget("atom", {"sram.bytes_per_core=8MiB"});
  ASSERT_TRUE(bigger);
  EXPECT_NEAR(target::areaOf(*bigger).total - a.total,
              4 * 8 * atom->area.sramMm2PerMiB / atom->area.utilization, 1e-6);
}

TEST(DseEnergy, ChargesTheReportsCountersByComponent) {
  Result<target::Target> t = target::findTarget("atom");
  ASSERT_TRUE(t);
  Result<isa::Program> p = isa::assembleFile(std::string(NURI_SOURCE_DIR) +
                                             "/examples/programs/gemm.nasm");
  ASSERT_TRUE(p) << p.error();
  sim::SimOptions o;
  o.functional = false;
  sim::Simulator s(*t, o);
  Result<sim::Report> r = s.run(*p);
  ASSERT_TRUE(r) << r.error();
  sim::EnergyReport e = sim::estimateEnergy(*r, *t, isa::Dtype::BF16);
  ASSERT_TRUE(e.modeled);
  ASSERT_EQ(e.joules.size(), 7u);
  std::map<std::string, double> j(e.joules.begin(), e.joules.end());
  EXPECT_DOUBLE_EQ(j["matrix"], double(r->macs) *
                                    t->energy.macPj.at(isa::Dtype::BF16) *
                                    1e-12);
  EXPECT_DOUBLE_EQ(j["dram"],
                   double(r->dramBytes()) * t->energy.dramPjPerByte * 1e-12);
  EXPECT_DOUBLE_EQ(
      j["static"],
      (t->energy.staticWPerMm2 * target::areaOf(*t).total + t->energy.staticW) *
          r->seconds.value());
  EXPECT_GT(j["matrix"], 0);
  EXPECT_GT(j["sram"], 0);
  double sum = 0;
  for (auto &[n, v] : e.joules) {
    EXPECT_GE(v, 0) << n;
    sum += v;
  }
  EXPECT_DOUBLE_EQ(e.totalJoules(), sum);
  EXPECT_DOUBLE_EQ(e.averagePowerW(), sum / r->seconds.value());
  // The inferred dtype of a bf16 GEMM is bf16.
  EXPECT_DOUBLE_EQ(sim::estimateEnergy(*r, *t).totalJoules(), sum);
  // Twice the DRAM energy per byte moves only the DRAM component.
  Result<target::Target> t2 =
      target::findTarget("atom", {"energy.dram_pj_per_byte=120"});
  ASSERT_TRUE(t2);
  sim::EnergyReport e2 = sim::estimateEnergy(*r, *t2, isa::Dtype::BF16);
  EXPECT_DOUBLE_EQ(e2.totalJoules() - sum, j["dram"]);
}

TEST(DseEnergy, SectionsAreOptionalAndCheckedWhenPresent) {
  Result<target::Target> t = target::findTarget("tiny");
  ASSERT_TRUE(t);
  std::string text = readText(t->path);
  std::string bare = text.substr(0, text.find("\n# Energy and area"));
  Result<target::Target> plain = target::loadTargetYaml(bare, "bare");
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_FALSE(plain->energy.present);
  EXPECT_FALSE(sim::peakPower(*plain, isa::Dtype::BF16).modeled);
  EXPECT_EQ(target::areaOf(*plain).total, 0);

  auto error = [&](const std::string &yaml) {
    Result<target::Target> r = target::loadTargetYaml(yaml, "t");
    return r ? std::string("(loaded)") : r.error();
  };
  // A dtype of the array without a figure, a figure for one it lacks, an
  // unknown key, leakage per mm^2 without an area model.
  std::string noBf16 = text;
  noBf16.replace(noBf16.find("    bf16: 0.66"), 14, "");
  EXPECT_NE(error(noBf16).find("energy.mac_pj.bf16: missing"),
            std::string::npos)
      << error(noBf16);
  EXPECT_NE(error(text + "").find("(loaded)"), std::string::npos);
  std::string extra = text;
  extra.replace(extra.find("  sram_pj_per_byte"), 0, "  flux_pj: 3\n");
  EXPECT_NE(error(extra).find("energy.flux_pj: unknown key"), std::string::npos)
      << error(extra);
  std::string noArea = text.substr(0, text.find("\narea:"));
  EXPECT_NE(error(noArea).find("needs an `area:` section"), std::string::npos)
      << error(noArea);
}

//===----------------------------------------------------------------------===//
// Specs
//===----------------------------------------------------------------------===//

fs::path writeSpec(const fs::path &dir, const std::string &name,
                   const std::string &text) {
  fs::path p = dir / name;
  std::ofstream(p) << text;
  return p;
}

const char *kTinySpec = R"(name: t
workloads:
  - name: bert
    zoo: bert-tiny
    seq: 16
target: atom
axes:
  cores: [2, 4]
  dram.bytes_per_s: [128GB, 256GB]
objectives:
  - minimize: latency_s
  - minimize: area_mm2
)";

TEST(DseSpec, SyntaxErrorNamesLineAndColumn) {
  TempDir d("spec");
  fs::path p = writeSpec(d.path, "bad.yaml",
                         "name: x\naxes:\n  cores: [2, 4\ntarget: atom\n");
  Result<dse::Spec> s = dse::loadSpec(p.string());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find(p.string() + ":4:"), std::string::npos) << s.error();
}

TEST(DseSpec, UnknownAxisKeyIsAnErrorAtItsLine) {
  TempDir d("spec2");
  std::string text = kTinySpec;
  text.replace(text.find("  cores:"), 8, "  matrix.rowz:");
  fs::path p = writeSpec(d.path, "s.yaml", text);
  Result<dse::Spec> s = dse::loadSpec(p.string());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find(":8:3: axis `matrix.rowz` is not a key of the "
                           "config"),
            std::string::npos)
      << s.error();
  text = kTinySpec;
  text.replace(text.find("  cores:"), 8, "  memory.size:");
  s = dse::loadSpec(writeSpec(d.path, "s2.yaml", text).string());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("not a key of the config"), std::string::npos)
      << s.error();
}

TEST(DseSpec, RangesExpandLinearAndLog) {
  TempDir d("spec3");
  std::string text = kTinySpec;
  text.replace(text.find("  cores: [2, 4]"), 15,
               "  cores: {from: 2, to: 8, step: 2}");
  text.replace(text.find("  dram.bytes_per_s: [128GB, 256GB]"), 34,
               "  dram.bytes_per_s: {from: 64GB, to: 1024GB, points: 5, "
               "scale: log}");
  Result<dse::Spec> s =
      dse::loadSpec(writeSpec(d.path, "r.yaml", text).string());
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->axes[0].values, (std::vector<std::string>{"2", "4", "6", "8"}));
  EXPECT_EQ(
      s->axes[1].values,
      (std::vector<std::string>{"64000000000", "128000000000", "256000000000",
                                "512000000000", "1024000000000"}));
  EXPECT_EQ(s->gridSize(), 20u);
}

//===----------------------------------------------------------------------===//
// Sweeps of bert-tiny
//===----------------------------------------------------------------------===//

dse::SweepSummary sweep(const fs::path &spec, const fs::path &out) {
  Result<dse::Spec> s = dse::loadSpec(spec.string());
  EXPECT_TRUE(s) << s.error();
  dse::SweepOptions o;
  o.outDir = out.string();
  o.progress = false;
  Result<dse::SweepSummary> r = dse::runSweep(*s, o);
  EXPECT_TRUE(r) << r.error();
  return r ? *r : dse::SweepSummary{};
}

std::vector<std::string> sortedLines(const fs::path &p) {
  std::vector<std::string> l = lines(p);
  std::sort(l.begin(), l.end());
  return l;
}

TEST(DseSweep, GridWritesResultsRerunsIdenticallyAndResumes) {
  TempDir d("sweep");
  fs::path spec = writeSpec(d.path, "s.yaml", kTinySpec);
  dse::SweepSummary a = sweep(spec, d.path / "a");
  ASSERT_EQ(a.points, 4u);
  EXPECT_EQ(a.ok, 4u);
  EXPECT_EQ(a.evaluated, 4u);
  // The compiler reads DRAM bandwidth: 4 distinct compiler configs.
  EXPECT_EQ(a.compiled, 4u);
  std::vector<std::string> csv = lines(d.path / "a/results.csv");
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0].rfind("point,point_id,status,cores,dram.bytes_per_s,"
                         "area_mm2,cycles,latency_s,energy_j",
                         0),
            0u)
      << csv[0];
  EXPECT_NE(csv[0].find("config_hash,spec_hash,nuri_version,git_commit"),
            std::string::npos);
  for (const dse::Row &r : a.rows) {
    EXPECT_EQ(r.status, "ok");
    EXPECT_GT(std::get<double>(r.values.at("latency_s")), 0);
    EXPECT_GT(std::get<double>(r.values.at("energy_j")), 0);
    EXPECT_GT(std::get<double>(r.values.at("area_mm2")), 0);
  }
  // More cores: more area and (for this model) less latency. The front
  // keeps the trade-off.
  EXPECT_LT(std::get<double>(a.rows[0].values.at("area_mm2")),
            std::get<double>(a.rows[2].values.at("area_mm2")));
  EXPECT_FALSE(a.pareto.empty());

  // A rerun into another directory gives identical lines.
  dse::SweepSummary b = sweep(spec, d.path / "b");
  EXPECT_EQ(sortedLines(d.path / "a/results.jsonl"),
            sortedLines(d.path / "b/results.jsonl"));
  EXPECT_EQ(sortedLines(d.path / "a/results.csv"),
            sortedLines(d.path / "b/results.csv"));

  // A rerun into the same directory redoes nothing.
  dse::SweepSummary c = sweep(spec, d.path / "a");
  EXPECT_EQ(c.resumed, 4u);
  EXPECT_EQ(c.evaluated, 0u);

  // Interrupted: two lines lost and a torn third; the resume redoes
  // exactly those points and ends with the same results.
  std::vector<std::string> l = lines(d.path / "b/results.jsonl");
  {
    std::ofstream out(d.path / "b/results.jsonl", std::ios::trunc);
    out << l[0] << "\n" << l[1] << "\n" << l[2].substr(0, 40);
  }
  fs::remove_all(d.path / "b/cache/programs");
  dse::SweepSummary e = sweep(spec, d.path / "b");
  EXPECT_EQ(e.resumed, 2u);
  EXPECT_EQ(e.evaluated, 2u);
  EXPECT_EQ(sortedLines(d.path / "a/results.jsonl"),
            sortedLines(d.path / "b/results.jsonl"));
  EXPECT_EQ(sortedLines(d.path / "a/results.csv"),
            sortedLines(d.path / "b/results.csv"));
}

TEST(DseSweep, SharedCompileStagesGiveTheRowsOfWholeCompiles) {
  // The sweep's compiles share the graph stage per workload and skip the
  // constants' bytes (docs/dse.md, "What recompiles"); every figure must
  // be the one a whole `nuri compile` per point gives, on the example grid
  // (cores, array size and DRAM bandwidth: 12 compiles).
  TempDir d("shared");
  Result<dse::Spec> s = dse::loadSpec(std::string(NURI_SOURCE_DIR) +
                                      "/examples/sweeps/bert-tiny-grid.yaml");
  ASSERT_TRUE(s) << s.error();
  dse::SweepOptions o;
  o.progress = false;
  o.outDir = (d.path / "shared").string();
  Result<dse::SweepSummary> shared = dse::runSweep(*s, o);
  ASSERT_TRUE(shared) << shared.error();
  o.outDir = (d.path / "whole").string();
  o.shareCompileStages = false;
  Result<dse::SweepSummary> whole = dse::runSweep(*s, o);
  ASSERT_TRUE(whole) << whole.error();
  EXPECT_EQ(shared->compiled, 12u);
  EXPECT_EQ(whole->compiled, 12u);
  EXPECT_EQ(shared->ok, whole->ok);
  EXPECT_GT(shared->ok, 0u);
  for (const char *f : {"results.jsonl", "results.csv", "layers.jsonl"}) {
    EXPECT_EQ(sortedLines(d.path / "shared" / f),
              sortedLines(d.path / "whole" / f))
        << f;
  }
}

TEST(DseSweep, CorruptResultsFileIsAnErrorNamingTheLine) {
  TempDir d("corrupt");
  fs::path spec = writeSpec(d.path, "s.yaml", kTinySpec);
  sweep(spec, d.path / "a");
  std::vector<std::string> l = lines(d.path / "a/results.jsonl");
  {
    std::ofstream out(d.path / "a/results.jsonl", std::ios::trunc);
    out << l[0] << "\n{\"point\": 1, garbage\n" << l[2] << "\n";
  }
  Result<dse::Spec> s = dse::loadSpec(spec.string());
  dse::SweepOptions o;
  o.outDir = (d.path / "a").string();
  o.progress = false;
  Result<dse::SweepSummary> r = dse::runSweep(*s, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("results.jsonl:2: corrupt results record"),
            std::string::npos)
      << r.error();
  // Results of another spec are refused, not mixed in.
  {
    std::ofstream out(d.path / "a/results.jsonl", std::ios::trunc);
    out << l[0] << "\n";
  }
  std::string other = kTinySpec;
  other.replace(other.find("[2, 4]"), 6, "[2, 8]");
  Result<dse::Spec> s2 =
      dse::loadSpec(writeSpec(d.path, "other.yaml", other).string());
  r = dse::runSweep(*s2, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("written by a different spec"), std::string::npos)
      << r.error();
}

TEST(DseSweep, ImpossibleChipsAndFailedCompilesAreRowsNotErrors) {
  TempDir d("bad");
  // rows=48 x cols=32 cannot carry atom's 2048 bf16 MACs/cycle (neither a
  // multiple nor a divisor): an invalid chip. 256 KiB of DRAM cannot hold
  // bert-tiny's weights: the compiler fails on that point.
  fs::path spec = writeSpec(d.path, "s.yaml", R"(name: bad
workloads:
  - name: bert
    zoo: bert-tiny
    seq: 16
target: atom
axes:
  matrix.rows: [64, 48]
  dram.bytes: [16GiB, 256KiB]
constraints:
  - area_mm2 <= 1000
)");
  dse::SweepSummary s = sweep(spec, d.path / "o");
  ASSERT_EQ(s.rows.size(), 4u);
  EXPECT_EQ(s.rows[0].status, "ok");
  EXPECT_EQ(s.rows[1].status, "compile_error");
  EXPECT_NE(std::get<std::string>(s.rows[1].values.at("reason")).find("bert:"),
            std::string::npos);
  EXPECT_EQ(s.rows[2].status, "invalid");
  EXPECT_NE(std::get<std::string>(s.rows[2].values.at("reason"))
                .find("macs_per_cycle"),
            std::string::npos)
      << std::get<std::string>(s.rows[2].values.at("reason"));
  EXPECT_EQ(s.rows[3].status, "invalid");
  EXPECT_EQ(lines(d.path / "o/results.jsonl").size(), 4u);

  // A constraint on the config alone skips the compile.
  fs::path spec2 = writeSpec(d.path, "s2.yaml", R"(name: c
workloads:
  - name: bert
    zoo: bert-tiny
    seq: 16
target: atom
axes:
  cores: [2, 8]
constraints:
  - cores <= 4
)");
  dse::SweepSummary c = sweep(spec2, d.path / "c");
  EXPECT_EQ(c.rows[0].status, "ok");
  EXPECT_EQ(c.rows[1].status, "infeasible");
  EXPECT_EQ(c.compiled, 1u);
}

TEST(DseSweep, ResimulateOnlyKeysShareOneCompileAndRandomIsSeeded) {
  TempDir d("resim");
  fs::path spec = writeSpec(d.path, "s.yaml", R"(name: r
workloads:
  - name: bert
    zoo: bert-tiny
    seq: 16
target: atom
axes:
  dram.bytes_per_s: [64GB, 128GB, 256GB, 512GB]
  clock_hz: [0.8GHz, 1GHz, 1.2GHz]
resimulate_only: [dram.bytes_per_s, clock_hz]
search: {random: 5, seed: 3}
)");
  dse::SweepSummary a = sweep(spec, d.path / "a");
  EXPECT_EQ(a.points, 5u);
  EXPECT_EQ(a.ok, 5u);
  EXPECT_EQ(a.compiled, 1u);
  dse::SweepSummary b = sweep(spec, d.path / "b");
  ASSERT_EQ(b.rows.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(a.rows[i].index, b.rows[i].index);
  }
  // Faster DRAM at the same clock never makes the same program slower.
  std::map<std::pair<double, double>, double> lat;
  for (const dse::Row &r : a.rows) {
    lat[{std::get<double>(r.values.at("clock_hz")),
         std::get<double>(r.values.at("dram.bytes_per_s"))}] =
        std::get<double>(r.values.at("latency_s"));
  }
  for (auto it = lat.begin(); std::next(it) != lat.end(); ++it) {
    auto n = std::next(it);
    if (n->first.first == it->first.first) {
      EXPECT_LE(n->second, it->second);
    }
  }
}

//===----------------------------------------------------------------------===//
// NSGA-II
//===----------------------------------------------------------------------===//

/// A synthetic trade-off over a 3-axis grid (like latency, energy, area
/// against cores, SRAM, array): cheap enough to enumerate.
std::vector<double> synthetic(const std::vector<uint64_t> &c) {
  double cores = double(c[0] + 1), sram = double(c[1] + 1),
         array = double(c[2] + 1);
  double latency = 100.0 / (cores * std::sqrt(array)) + 3.0 / sram;
  double area = cores * (array + 0.5 * sram);
  return {latency, area};
}

/// `synthetic` of each of `points`.
std::vector<std::vector<double>>
syntheticObjectives(const std::vector<std::vector<uint64_t>> &points) {
  std::vector<std::vector<double>> out;
  for (const auto &p : points) {
    out.push_back(synthetic(p));
  }
  return out;
}

/// The objective vectors of `objs` on its Pareto front, in front order.
std::vector<std::vector<double>>
frontOf(const std::vector<std::vector<double>> &objs) {
  std::vector<std::vector<double>> front;
  for (size_t i : dse::paretoFront(objs)) {
    front.push_back(objs[i]);
  }
  return front;
}

TEST(DseNsga2, FindsTheExhaustiveFrontOfAnEnumerableSpace) {
  if (!dse::haveNsga2()) {
    GTEST_SKIP() << "built without pagmo (libpagmo-dev)";
  }
  const std::vector<uint64_t> radix = {8, 8, 4};
  std::vector<std::vector<uint64_t>> all;
  std::vector<std::vector<double>> objs;
  for (uint64_t a = 0; a < radix[0]; ++a) {
    for (uint64_t b = 0; b < radix[1]; ++b) {
      for (uint64_t c = 0; c < radix[2]; ++c) {
        all.push_back({a, b, c});
        objs.push_back(synthetic(all.back()));
      }
    }
  }
  std::vector<std::vector<double>> exhaustiveFront = frontOf(objs);
  std::set<std::vector<double>> exhaustive(exhaustiveFront.begin(),
                                           exhaustiveFront.end());
  size_t evaluations = 0;
  dse::BatchEvaluator eval = [&](const std::vector<std::vector<uint64_t>> &ps) {
    std::vector<std::vector<double>> out;
    for (const auto &p : ps) {
      EXPECT_EQ(p.size(), 3u);
      for (size_t a = 0; a < 3; ++a) {
        EXPECT_LT(p[a], radix[a]);
      }
      out.push_back(synthetic(p));
      ++evaluations;
    }
    return out;
  };
  dse::Nsga2Options o;
  o.population = 32;
  o.generations = 40;
  o.seed = 5;
  Result<std::vector<std::vector<uint64_t>>> seen =
      dse::nsga2Search(radix, 2, eval, o);
  ASSERT_TRUE(seen) << seen.error();
  std::vector<std::vector<double>> foundFront =
      frontOf(syntheticObjectives(*seen));
  std::set<std::vector<double>> front(foundFront.begin(), foundFront.end());
  std::printf("nsga2: %zu distinct of %zu points evaluated, front %zu "
              "(exhaustive %zu)\n",
              seen->size(), all.size(), front.size(), exhaustive.size());
  EXPECT_EQ(front, exhaustive);
  // Each point is evaluated once however often the search revisits it.
  EXPECT_EQ(evaluations, seen->size());
  // The same seed walks the same way.
  Result<std::vector<std::vector<uint64_t>>> again =
      dse::nsga2Search(radix, 2, eval, o);
  ASSERT_TRUE(again);
  EXPECT_EQ(*seen, *again);
  // Bad options are errors.
  o.population = 10;
  EXPECT_FALSE(dse::nsga2Search(radix, 2, eval, o));
}

/// Hypervolume of a 2-objective front (both minimized) against `ref`.
double hypervolume(std::vector<std::vector<double>> front,
                   const std::vector<double> &ref) {
  std::sort(front.begin(), front.end());
  double hv = 0, lastY = ref[1];
  for (const auto &p : front) {
    if (p[0] < ref[0] && p[1] < lastY) {
      hv += (ref[0] - p[0]) * (lastY - p[1]);
      lastY = p[1];
    }
  }
  return hv;
}

TEST(DseNsga2, ReachesTheFrontOfAMillionPointSpace) {
  if (!dse::haveNsga2()) {
    GTEST_SKIP() << "built without pagmo (libpagmo-dev)";
  }
  // 100 x 100 x 100 = 10^6 points, enumerable here only because the
  // objectives are synthetic; the search sees 0.2% of them.
  const std::vector<uint64_t> radix = {100, 100, 100};
  std::vector<std::vector<double>> all;
  all.reserve(1000000);
  for (uint64_t a = 0; a < 100; ++a) {
    for (uint64_t b = 0; b < 100; ++b) {
      for (uint64_t c = 0; c < 100; ++c) {
        all.push_back(synthetic({a, b, c}));
      }
    }
  }
  // The exhaustive front by a sweep over the first objective.
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return all[x] < all[y]; });
  std::vector<std::vector<double>> exhaustive;
  double best = std::numeric_limits<double>::infinity();
  for (size_t i : order) {
    if (all[i][1] < best) {
      exhaustive.push_back(all[i]);
      best = all[i][1];
    }
  }
  dse::BatchEvaluator eval = syntheticObjectives;
  dse::Nsga2Options o;
  o.population = 40;
  o.generations = 50;
  o.seed = 11;
  Result<std::vector<std::vector<uint64_t>>> seen =
      dse::nsga2Search(radix, 2, eval, o);
  ASSERT_TRUE(seen) << seen.error();
  std::vector<std::vector<double>> front = frontOf(syntheticObjectives(*seen));
  // Reference point: the worst of each objective over the space.
  std::vector<double> ref = {0, 0};
  for (const auto &p : all) {
    ref[0] = std::max(ref[0], p[0]);
    ref[1] = std::max(ref[1], p[1]);
  }
  double ratio = hypervolume(front, ref) / hypervolume(exhaustive, ref);
  std::printf("nsga2 on 10^6 points: %zu evaluated, front %zu (exhaustive "
              "%zu), hypervolume %.4f of the exhaustive front's\n",
              seen->size(), front.size(), exhaustive.size(), ratio);
  EXPECT_LT(seen->size(), 5000u);
  EXPECT_GT(ratio, 0.9);
  EXPECT_LE(ratio, 1.0 + 1e-12);
}

TEST(DseNsga2, SweepFrontMatchesTheGridFront) {
  if (!dse::haveNsga2()) {
    GTEST_SKIP() << "built without pagmo (libpagmo-dev)";
  }
  TempDir d("nsga");
  std::string grid = R"(name: n
workloads:
  - name: bert
    zoo: bert-tiny
    seq: 16
target: atom
axes:
  cores: [1, 2, 4, 8]
  dram.bytes_per_s: [64GB, 128GB, 256GB]
resimulate_only: [dram.bytes_per_s]
objectives:
  - minimize: latency_s
  - minimize: area_mm2
)";
  dse::SweepSummary g =
      sweep(writeSpec(d.path, "g.yaml", grid + "search: grid\n"), d.path / "g");
  dse::SweepSummary n = sweep(
      writeSpec(d.path, "n.yaml",
                grid + "search: {nsga2: true, population: 8, generations: 6, "
                       "seed: 2}\n"),
      d.path / "n");
  auto indices = [](const std::vector<dse::Row> &rows) {
    std::set<uint64_t> s;
    for (const dse::Row &r : rows) {
      s.insert(r.index);
    }
    return s;
  };
  EXPECT_FALSE(g.pareto.empty());
  EXPECT_EQ(indices(n.pareto), indices(g.pareto));
  EXPECT_LE(n.points, g.points);
}

} // namespace

namespace {

// The sweep times each layer from its own simulation (layers.jsonl, for
// `nuri report`); at the base config that must be what the compiler's own
// simulated report says per layer, the tail after the last kernel aside.
TEST(DseSweep, LayerCyclesEqualTheCompileReportsAtTheBaseConfig) {
  TempDir d("layers");
  fs::path spec = writeSpec(d.path, "s.yaml", R"(name: layers
workloads:
  - name: bert
    zoo: bert-tiny
    seq: 32
target: atom
axes:
  cores: [8]   # atom's own: the point is the base config
)");
  dse::SweepSummary s = sweep(spec, d.path / "o");
  ASSERT_EQ(s.rows.size(), 1u);
  ASSERT_EQ(s.rows[0].status, "ok");
  std::vector<std::string> detail = lines(d.path / "o/layers.jsonl");
  ASSERT_EQ(detail.size(), 1u);
  llvm::Expected<llvm::json::Value> v = llvm::json::parse(detail[0]);
  ASSERT_TRUE(bool(v));
  const llvm::json::Array *layers = v->getAsObject()->getArray("layers");
  ASSERT_NE(layers, nullptr);
  std::map<std::string, std::vector<double>> swept; // cycles, flops, bytes
  for (const llvm::json::Value &l : *layers) {
    const llvm::json::Object *o = l.getAsObject();
    swept[o->getString("name")->str()] = {*o->getNumber("cycles"),
                                          *o->getNumber("flops"),
                                          *o->getNumber("weight_bytes")};
  }

  mlir::DialectRegistry registry;
  driver::registerDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  OnnxImportOptions io;
  io.allowUnsupported = true;
  Result<dse::Spec> loaded = dse::loadSpec(spec.string());
  ASSERT_TRUE(loaded);
  io.inputShapes = loaded->workloads[0].inputShapes; // the zoo's (batch, seq)
  mlir::OwningOpRef<mlir::ModuleOp> m = importOnnxFile(
      context, (d.path / "o/cache/workloads/bert.onnx").string(), io);
  ASSERT_TRUE(m);
  driver::CompileOptions o;
  o.target = "atom";
  o.simulate = true;
  mlir::FailureOr<driver::CompileResult> r = driver::compileModule(*m, o);
  ASSERT_TRUE(mlir::succeeded(r));
  uint64_t tails = 0;
  for (const driver::PartitionInfo &p : r->report.partitions) {
    tails += p.npu ? p.tailCycles : 0;
  }
  ASSERT_EQ(r->report.layers.size() + (tails ? 1 : 0), swept.size());
  for (const driver::LayerInfo &l : r->report.layers) {
    ASSERT_TRUE(swept.count(l.name)) << l.name;
    EXPECT_EQ(swept[l.name][0], double(l.simulatedCycles)) << l.name;
    EXPECT_EQ(swept[l.name][1], double(l.flops)) << l.name;
    EXPECT_EQ(swept[l.name][2], double(l.weightBytes)) << l.name;
  }
  if (tails) {
    EXPECT_EQ(swept["(unattributed)"][0], double(tails));
  }
}

// The SLURM backend's split (docs/dse.md, "Running on SLURM"): points that
// share a compile stay together, shards are equal to within one point, and
// every point is in exactly one shard.
TEST(DseSlurm, ShardsKeepCompilesTogetherAndBalance) {
  // Points 0..8; compile keys: {a} for 0,3,6, {b} for 1,4,7, {c} for 2,5,8,
  // and point 8 also needs `a` (a second workload), which joins c's group
  // to a's.
  std::vector<uint64_t> points = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<std::vector<std::string>> keys = {
      {"a"}, {"b"}, {"c"}, {"a"}, {"b"}, {"c"}, {"a"}, {"b"}, {"c", "a"}};
  auto shards = dse::shardPoints(points, keys, 3);
  ASSERT_EQ(shards.size(), 3u);
  // Group {a, c} (points 0 2 3 5 6 8) first, by its first point, then b.
  EXPECT_EQ(shards[0], (std::vector<uint64_t>{0, 2, 3}));
  EXPECT_EQ(shards[1], (std::vector<uint64_t>{5, 6, 8}));
  EXPECT_EQ(shards[2], (std::vector<uint64_t>{1, 4, 7}));
  // More shards than points: one point each; no shards for no points.
  EXPECT_EQ(dse::shardPoints({4, 9}, {{"x"}, {"y"}}, 16).size(), 2u);
  EXPECT_TRUE(dse::shardPoints({}, {}, 4).empty());
  // Uneven: 10 points in 4 shards of 3, 3, 2, 2.
  std::vector<uint64_t> ten(10);
  std::vector<std::vector<std::string>> tenKeys(10, {"k"});
  for (uint64_t i = 0; i < 10; ++i) {
    ten[i] = 100 + i;
  }
  auto uneven = dse::shardPoints(ten, tenKeys, 4);
  ASSERT_EQ(uneven.size(), 4u);
  EXPECT_EQ(uneven[0].size(), 3u);
  EXPECT_EQ(uneven[3].size(), 2u);
  std::vector<uint64_t> all;
  for (auto &s : uneven) {
    all.insert(all.end(), s.begin(), s.end());
  }
  EXPECT_EQ(all, ten);
}

// Per-layer engine busy, stall and traffic counters (layers.jsonl): the
// layers' add up to the chip's, and recording them changes no timing.
TEST(DseSweep, LayerCountersAddUpToTheChipsAndChangeNoTiming) {
  TempDir d("layercounters");
  fs::path spec = writeSpec(d.path, "s.yaml", R"(name: layercounters
workloads:
  - name: bert
    zoo: bert-tiny
    seq: 32
target: atom
axes:
  cores: [2, 8]
)");
  dse::SweepSummary s = sweep(spec, d.path / "o");
  ASSERT_EQ(s.ok, 2u);
  std::vector<std::string> detail = lines(d.path / "o/layers.jsonl");
  ASSERT_EQ(detail.size(), 2u);
  for (const std::string &line : detail) {
    llvm::Expected<llvm::json::Value> v = llvm::json::parse(line);
    ASSERT_TRUE(bool(v));
    const llvm::json::Object &top = *v->getAsObject();
    std::map<std::string, double> busy, stalls;
    double dram = 0, noc = 0, vecBusy = 0;
    for (const llvm::json::Value &l : *top.getArray("layers")) {
      const llvm::json::Object *o = l.getAsObject();
      for (const auto &[k, n] : *o->getObject("engine_busy_cycles")) {
        busy[k.str()] += *n.getAsNumber();
      }
      for (const auto &[k, n] : *o->getObject("stall_cycles")) {
        stalls[k.str()] += *n.getAsNumber();
      }
      dram += *o->getNumber("dram_bytes");
      noc += *o->getNumber("noc_bytes");
      vecBusy += *o->getObject("engine_busy_cycles")->getNumber("vec");
    }
    for (const auto &[k, n] : *top.getObject("engine_busy_cycles")) {
      EXPECT_EQ(busy[k.str()], *n.getAsNumber()) << k.str();
    }
    for (const auto &[k, n] : *top.getObject("stall_cycles")) {
      EXPECT_EQ(stalls[k.str()], *n.getAsNumber()) << k.str();
    }
    EXPECT_EQ(dram, *top.getNumber("dram_bytes"));
    EXPECT_EQ(noc, *top.getNumber("noc_bytes"));
    EXPECT_GT(vecBusy, 0);
    EXPECT_GT(stalls["barrier"], 0);
  }

  // The same program with and without the counters: the same report.
  Result<isa::Program> p = isa::assembleFile(
      std::string(NURI_SOURCE_DIR) + "/examples/programs/bert_layer.nasm");
  ASSERT_TRUE(p) << p.error();
  Result<target::Target> t = target::findTarget("atom");
  ASSERT_TRUE(t) << t.error();
  sim::SimOptions o;
  o.functional = false;
  sim::Simulator plain(*t, o);
  o.kernelStats = true;
  sim::Simulator counted(*t, o);
  Result<sim::Report> a = plain.run(*p), b = counted.run(*p);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->toJson(), b->toJson());
  EXPECT_TRUE(a->kernelStats.empty());
  ASSERT_EQ(b->kernelStats.size(), b->barrierReleases.size());
  for (size_t k = 0; k < b->kernelStats.size(); ++k) {
    EXPECT_EQ(b->kernelStats[k].cycle, b->barrierReleases[k]);
    if (k) {
      EXPECT_GE(b->kernelStats[k].dramBytes, b->kernelStats[k - 1].dramBytes);
    }
  }
  EXPECT_LE(b->kernelStats.back().dramBytes, b->dramBytes());
}

} // namespace
