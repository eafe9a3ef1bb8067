//===- SimBench.cpp - How fast the simulator runs a BERT-base layer -------===//
//
//   nuri-sim-bench [--target NAME] [--reps N]
//
// Simulates the BERT-base encoder layer of examples/programs (generated with
// the builder API for the target), timing-only and with data, and prints
// simulated instructions and cycles per host second, how the time grows with
// program length (1..12 layers), and the ratios to the targets
// (0.15 s timing-only and 1 s with data per layer) measured in the same run.
//
//===----------------------------------------------------------------------===//

#include "BertLayer.h"

#include "nuri/isa/Numerics.h"
#include "nuri/sim/Simulator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace nuri;
using Clock = std::chrono::steady_clock;

namespace {

struct Run {
  double seconds;
  sim::Report report;
};

void fillWeights(sim::Simulator &s, const examples::BertLayout &lay) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<uint16_t> v((lay.end - lay.x) / 2);
  for (auto &x : v) {
    x = isa::f32ToBf16(nd(rng));
  }
  s.writeDram(lay.x, v.data(), v.size() * 2);
}

Run runOnce(const target::Target &t, const isa::Program &p,
            const examples::BertLayout &lay, bool functional) {
  sim::SimOptions o;
  o.functional = functional;
  sim::Simulator s(t, o);
  if (functional) {
    fillWeights(s, lay);
  }
  auto t0 = Clock::now();
  Result<sim::Report> r = s.run(p);
  double sec = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r) {
    std::fprintf(stderr, "nuri-sim-bench: %s\n", r.error().c_str());
    std::exit(1);
  }
  return {sec, *r};
}

Run best(const target::Target &t, const isa::Program &p,
         const examples::BertLayout &lay, bool functional, int reps) {
  Run b = runOnce(t, p, lay, functional);
  for (int i = 1; i < reps; ++i) {
    Run r = runOnce(t, p, lay, functional);
    if (r.seconds < b.seconds) {
      b = r;
    }
  }
  return b;
}

} // namespace

int main(int argc, char **argv) {
  std::string name = "atom";
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--target") && i + 1 < argc) {
      name = argv[++i];
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "usage: nuri-sim-bench [--target NAME] [--reps N]\n");
      return 2;
    }
  }
  Result<target::Target> t = target::findTarget(name);
  if (!t) {
    std::fprintf(stderr, "nuri-sim-bench: %s\n", t.error().c_str());
    return 1;
  }
  examples::BertLayout lay;
  auto g0 = Clock::now();
  isa::Program p = examples::buildBertLayer(*t, {}, &lay);
  double genSec = std::chrono::duration<double>(Clock::now() - g0).count();

  Run timing = best(*t, p, lay, false, reps);
  Run data = best(*t, p, lay, true, std::max(1, reps / 2));
  const sim::Report &r = timing.report;
  double inst = double(r.instructions), cyc = double(r.cycles.count());
  double computeBound =
      lay.flops / t->peakOpsPerSecond(isa::Dtype::BF16) * t->clockHz;
  double memoryBound = lay.minDramBytes / t->dramBytesPerCycle();

  std::printf("sim-bench: BERT-base layer (seq 128, bf16) on %s: %zu static / "
              "%.0f dynamic instructions, generated in %.4f s\n",
              name.c_str(), p.numInstructions(), inst, genSec);
  std::printf("sim-bench: simulated %llu cycles (%.1f us), MAC utilization "
              "%.1f%%; roofline %.0f cycles (compute %.0f, memory %.0f): "
              "%.2fx the bound\n",
              (unsigned long long)r.cycles.count(), r.seconds.value() * 1e6,
              100 * r.macUtilization, std::max(computeBound, memoryBound),
              computeBound, memoryBound,
              cyc / std::max(computeBound, memoryBound));
  std::printf("sim-bench: timing-only %.4f s per layer (target 0.15 s: %.0fx "
              "under), %.2f M instructions/s, %.1f M simulated cycles/s\n",
              timing.seconds, 0.15 / timing.seconds,
              inst / timing.seconds / 1e6, cyc / timing.seconds / 1e6);
  std::printf("sim-bench: with data   %.4f s per layer (target 1 s: %.1fx "
              "under), %.2f M instructions/s, %.1f M simulated cycles/s, %.2f "
              "G simulated MACs/s\n",
              data.seconds, 1.0 / data.seconds, inst / data.seconds / 1e6,
              cyc / data.seconds / 1e6, double(r.macs) / data.seconds / 1e9);

  // Scaling with program length: L layers back to back.
  std::printf("sim-bench: scaling (timing-only): layers  instructions  "
              "seconds  s/layer\n");
  double perLayer1 = 0, perLayerN = 0;
  for (unsigned layers : {1u, 2u, 4u, 8u, 12u}) {
    examples::BertConfig cfg;
    cfg.layers = layers;
    examples::BertLayout l;
    isa::Program pl = examples::buildBertLayer(*t, cfg, &l);
    Run rl = best(*t, pl, l, false, reps);
    double per = rl.seconds / layers;
    if (layers == 1) {
      perLayer1 = per;
    }
    perLayerN = per;
    std::printf("sim-bench:   %2u  %8.0f  %.4f  %.5f\n", layers,
                double(rl.report.instructions), rl.seconds, per);
  }
  std::printf("sim-bench: 12 layers cost %.2fx the per-layer time of 1 layer "
              "(1.00 = linear)\n",
              perLayerN / perLayer1);
  {
    examples::BertConfig cfg;
    cfg.layers = 12;
    examples::BertLayout l;
    isa::Program pl = examples::buildBertLayer(*t, cfg, &l);
    Run rd = runOnce(*t, pl, l, true);
    std::printf("sim-bench: 12-layer BERT-base with data %.3f s (target 10 s), "
                "%llu cycles\n",
                rd.seconds, (unsigned long long)rd.report.cycles.count());
  }
  return 0;
}
