//===- GemmBench.cpp - CPU GEMM and attention GFLOP/s against peak --------===//
//
// Prints GFLOP/s for transformer-shaped products through the kernels' own
// entry point (runKernel), single-threaded and on all threads, next to the
// machine's fp32 peak. The peak is both measured (a loop of independent
// FMAs at the widest vector width the machine has) and computed from the
// clock in /proc/cpuinfo x FMA pipes x lanes x 2; the ratio uses the
// measured one, which includes the actual sustained clock.
//
//===----------------------------------------------------------------------===//

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* placeholders.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "nuri/cpu/Gemm.h"
#include "nuri/cpu/Kernels.h"

#include <immintrin.h>
#ifdef NURI_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace nuri;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// 16 independent FMA chains: enough to cover latency x pipes on any
/// current core, so the loop runs at the FMA throughput limit.
__attribute__((target("avx512f"), noinline)) double fmaLoop512(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) {
    acc[i] = _mm512_set1_ps(float(i));
  }
  __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
  }
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) {
    s = _mm512_add_ps(s, acc[i]);
  }
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"), noinline)) double fmaLoop256(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) {
    acc[i] = _mm256_set1_ps(float(i));
  }
  __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
  }
  float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) {
    s = _mm256_add_ps(s, acc[i]);
  }
  _mm256_storeu_ps(out, s);
  return out[0];
}

/// Measured fp32 peak of one core in GFLOP/s.
double measurePeak(bool avx512, volatile double *sink) {
  int64_t iters = 20'000'000;
  double flopsPerIter = avx512 ? 16.0 * 16 * 2 : 12.0 * 8 * 2;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = Clock::now();
    *sink += avx512 ? fmaLoop512(iters) : fmaLoop256(iters);
    double s = seconds(t0, Clock::now());
    best = std::max(best, flopsPerIter * iters / s / 1e9);
  }
  return best;
}

double cpuMhz() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      return std::stod(line.substr(line.find(':') + 1));
    }
  }
  return 0;
}

struct Buffer {
  std::vector<float> data;
  explicit Buffer(int64_t n, unsigned seed) : data(n) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1, 1);
    for (float &v : data) {
      v = d(rng);
    }
  }
};

/// Median time of `fn` over enough repetitions to fill ~0.3 s.
template <typename Fn> double timeIt(const Fn &fn) {
  fn(); // warm up (page faults, packing buffers)
  auto t0 = Clock::now();
  fn();
  double once = std::max(seconds(t0, Clock::now()), 1e-6);
  int reps = std::clamp(static_cast<int>(0.3 / once), 3, 200);
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    auto a = Clock::now();
    fn();
    times.push_back(seconds(a, Clock::now()));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

cpu::TensorView view(std::vector<int64_t> shape, Buffer &b) {
  return cpu::TensorView{graph::DType::F32, std::move(shape), b.data.data()};
}

} // namespace

int main() {
  volatile double sink = 0;
  int threads = tbb::this_task_arena::max_concurrency();
  // The peak of the vector width the GEMM runs at (NURI_CPU_ISA may lower it).
  bool avx512 = std::string(cpu::gemmKernelName()) == "avx512";
  double mhz = cpuMhz();
  double peak1 = measurePeak(avx512, &sink);
  // Every core runs the same loop at once: the all-core peak.
  std::vector<double> perThread(threads);
  tbb::parallel_for(
      0, threads, [&](int t) { perThread[t] = measurePeak(avx512, &sink); },
      tbb::static_partitioner());
  double peakAll = 0;
  for (double p : perThread) {
    peakAll += p;
  }
  int lanes = avx512 ? 16 : 8;
  // Zen 4/5 and Intel server cores issue two vector FMAs per cycle; the
  // loop's rate over (lanes x 2 flop x 2 FMA) is the clock it really ran at.
  double impliedGhz = peak1 / (lanes * 2.0 * 2.0);
  std::printf("machine: %d threads, %s micro-kernel, /proc/cpuinfo %.0f MHz\n",
              threads, cpu::gemmKernelName(), mhz);
  std::printf("peak fp32 measured (16 independent %d-lane FMA chains): %.1f "
              "GFLOP/s on 1 thread, %.1f GFLOP/s on %d threads together (",
              lanes, peak1, peakAll, threads);
  for (int t = 0; t < threads; ++t) {
    std::printf("%s%.1f", t ? " + " : "", perThread[t]);
  }
  std::printf(")\n");
  std::printf("peak fp32 computed: %.2f GHz x 2 FMA pipes x %d lanes x 2 flop "
              "= %.1f GFLOP/s per core (%.2f GHz is the clock implied by the "
              "loop; the nominal %.0f MHz would give %.1f)\n",
              impliedGhz, lanes, impliedGhz * 2 * lanes * 2, impliedGhz, mhz,
              mhz / 1000.0 * 2 * lanes * 2);

  struct Shape {
    const char *what;
    int64_t batch, m, n, k;
    bool transposeRhs;
  };
  const Shape shapes[] = {
      {"linear q/k/v/o (bert)", 1, 128, 768, 768, false},
      {"linear ffn up", 1, 128, 3072, 768, false},
      {"linear ffn down", 1, 128, 768, 3072, false},
      {"scores q.k^T, batch 12", 12, 128, 128, 64, true},
      {"context p.v, batch 12", 12, 128, 64, 128, false},
      {"square 1024", 1, 1024, 1024, 1024, false},
      {"decode step ffn up (M=1)", 1, 1, 3072, 768, false},
  };
  std::printf("\n%-26s %-16s %12s %12s %8s %8s %14s\n", "gemm", "MxNxK",
              "1T GFLOP/s", "allT GFLOP/s", "1T %pk", "allT %pk",
              "OpenBLAS 1T/allT");
  for (const Shape &s : shapes) {
    Buffer a(s.batch * s.m * s.k, 1), b(s.batch * s.k * s.n, 2),
        c(s.batch * s.m * s.n, 3);
    graph::Op op;
    std::vector<cpu::TensorView> in, out;
    if (s.batch == 1 && !s.transposeRhs) {
      op.kind = "linear";
      in = {view({s.m, s.k}, a), view({s.k, s.n}, b), cpu::TensorView{}};
      out = {view({s.m, s.n}, c)};
    } else {
      op.kind = "matmul";
      if (s.transposeRhs) {
        op.attrs["transpose_rhs"] = int64_t(1);
      }
      in = {view({1, s.batch, s.m, s.k}, a),
            view(s.transposeRhs ? std::vector<int64_t>{1, s.batch, s.n, s.k}
                                : std::vector<int64_t>{1, s.batch, s.k, s.n},
                 b)};
      out = {view({1, s.batch, s.m, s.n}, c)};
    }
    double flops = 2.0 * s.batch * s.m * s.n * s.k;
    auto once = [&] {
      std::string e = cpu::runKernel(op, in, out);
      if (!e.empty()) {
        std::fprintf(stderr, "%s\n", e.c_str());
        std::exit(1);
      }
    };
    tbb::task_arena single(1);
    double t1 = 0;
    single.execute([&] { t1 = timeIt(once); });
    double tn = timeIt(once);
    char dims[64];
    std::snprintf(dims, sizeof dims, "%s%ldx%ldx%ld", s.batch > 1 ? "12x" : "",
                  long(s.m), long(s.n), long(s.k));
    std::string blas = "n/a";
#ifdef NURI_HAVE_OPENBLAS
    // The same products through OpenBLAS: one cblas_sgemm per batch entry.
    auto blasOnce = [&] {
      for (int64_t bi = 0; bi < s.batch; ++bi) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans,
                    s.transposeRhs ? CblasTrans : CblasNoTrans, s.m, s.n, s.k,
                    1.0f, a.data.data() + bi * s.m * s.k, s.k,
                    b.data.data() + bi * s.k * s.n, s.transposeRhs ? s.k : s.n,
                    0.0f, c.data.data() + bi * s.m * s.n, s.n);
      }
    };
    openblas_set_num_threads(1);
    double b1 = timeIt(blasOnce);
    openblas_set_num_threads(threads);
    double bn = timeIt(blasOnce);
    char blasText[32];
    std::snprintf(blasText, sizeof blasText, "%.1f/%.1f", flops / b1 / 1e9,
                  flops / bn / 1e9);
    blas = blasText;
#endif
    std::printf("%-26s %-16s %12.1f %12.1f %7.0f%% %7.0f%% %14s\n", s.what,
                dims, flops / t1 / 1e9, flops / tn / 1e9,
                100 * flops / t1 / 1e9 / peak1,
                100 * flops / tn / 1e9 / peakAll, blas.c_str());
  }

  // The linear layers again with the weight marked constant and a
  // KernelCache: packed once, as a loaded model runs them.
  std::printf("\n%-26s %-16s %12s %12s\n", "linear, cached weights", "MxNxK",
              "1T GFLOP/s", "allT GFLOP/s");
  for (const Shape &s : shapes) {
    if (s.batch != 1 || s.transposeRhs) {
      continue;
    }
    Buffer a(s.m * s.k, 1), b(s.k * s.n, 2), c(s.m * s.n, 3);
    graph::Op op;
    op.kind = "linear";
    std::vector<cpu::TensorView> in = {view({s.m, s.k}, a), view({s.k, s.n}, b),
                                       cpu::TensorView{}};
    in[1].constant = true;
    std::vector<cpu::TensorView> out = {view({s.m, s.n}, c)};
    cpu::KernelCache cache;
    auto once = [&] { cpu::runKernel(op, in, out, &cache); };
    tbb::task_arena single(1);
    double t1 = 0;
    single.execute([&] { t1 = timeIt(once); });
    double tn = timeIt(once);
    double flops = 2.0 * s.m * s.n * s.k;
    char dims[64];
    std::snprintf(dims, sizeof dims, "%ldx%ldx%ld", long(s.m), long(s.n),
                  long(s.k));
    std::printf("%-26s %-16s %12.1f %12.1f\n", s.what, dims, flops / t1 / 1e9,
                flops / tn / 1e9);
  }

  // The same layer products with bf16 and int8 operands: bf16 stages to
  // fp32 (vector conversions) and rounds once on store; int8 accumulates in
  // int32 (the NPU's numerics, used to check the simulator).
  std::printf("\n%-26s %-16s %12s %12s\n", "low precision linear", "MxNxK",
              "1T GFLOP/s", "allT GFLOP/s");
  for (graph::DType t : {graph::DType::BF16, graph::DType::I8}) {
    int64_t m = 128, n = 3072, k = 768;
    size_t es = graph::dtypeSize(t);
    std::vector<uint8_t> x(m * k * es, 1), w(k * n * es, 1);
    std::vector<uint8_t> y(m * n * (t == graph::DType::I8 ? 4 : es));
    graph::Op op;
    op.kind = "linear";
    graph::DType outType = t == graph::DType::I8 ? graph::DType::I32 : t;
    std::vector<cpu::TensorView> in = {cpu::TensorView{t, {m, k}, x.data()},
                                       cpu::TensorView{t, {k, n}, w.data()},
                                       cpu::TensorView{}};
    std::vector<cpu::TensorView> out = {
        cpu::TensorView{outType, {m, n}, y.data()}};
    auto once = [&] { cpu::runKernel(op, in, out); };
    tbb::task_arena single(1);
    double t1 = 0;
    single.execute([&] { t1 = timeIt(once); });
    double tn = timeIt(once);
    double flops = 2.0 * m * n * k;
    std::printf("%-26s %-16s %12.1f %12.1f\n",
                t == graph::DType::I8 ? "linear ffn up i8->i32"
                                      : "linear ffn up bf16",
                "128x3072x768", flops / t1 / 1e9, flops / tn / 1e9);
  }

  struct Attn {
    const char *what;
    int64_t b, h, s, d;
    bool causal;
  };
  const Attn attns[] = {{"bert-base seq 128", 1, 12, 128, 64, false},
                        {"gpt2 seq 1024 causal", 1, 12, 1024, 64, true},
                        {"seq 4096 (online softmax)", 1, 8, 4096, 64, false}};
  std::printf("\n%-26s %-16s %12s %12s %8s %8s\n", "attention", "BxHxSxD",
              "1T GFLOP/s", "allT GFLOP/s", "1T ms", "allT ms");
  for (const Attn &a : attns) {
    int64_t n = a.b * a.h * a.s * a.d;
    Buffer q(n, 4), k(n, 5), v(n, 6), o(n, 7);
    std::vector<int64_t> shape = {a.b, a.h, a.s, a.d};
    graph::Op op;
    op.kind = "attention";
    op.attrs["scale"] = 0.125;
    if (a.causal) {
      op.attrs["causal"] = int64_t(1);
    }
    std::vector<cpu::TensorView> in = {view(shape, q), view(shape, k),
                                       view(shape, v), cpu::TensorView{}};
    std::vector<cpu::TensorView> out = {view(shape, o)};
    // Useful work: two products over the visible (causal: ~half) scores.
    double flops = 4.0 * a.b * a.h * a.s * a.s * a.d * (a.causal ? 0.5 : 1.0);
    auto once = [&] { cpu::runKernel(op, in, out); };
    tbb::task_arena single(1);
    double t1 = 0;
    single.execute([&] { t1 = timeIt(once); });
    double tn = timeIt(once);
    char dims[64];
    std::snprintf(dims, sizeof dims, "%ldx%ldx%ldx%ld", long(a.b), long(a.h),
                  long(a.s), long(a.d));
    std::printf("%-26s %-16s %12.1f %12.1f %8.2f %8.2f\n", a.what, dims,
                flops / t1 / 1e9, flops / tn / 1e9, t1 * 1e3, tn * 1e3);
  }

  // The non-GEMM ops of one bert-base/gpt2 layer at sequence 128: these
  // decide whether the whole model keeps up with the GEMMs.
  struct Other {
    const char *what;
    graph::Op op;
    std::vector<std::vector<int64_t>> inShapes;
    std::vector<int64_t> outShape;
  };
  auto mk = [](const char *kind, std::map<std::string, graph::AttrValue> a) {
    graph::Op op;
    op.kind = kind;
    op.attrs = std::move(a);
    return op;
  };
  std::vector<Other> others = {
      {"gelu erf",
       mk("gelu", {{"approximate", std::string("none")}}),
       {{128, 3072}},
       {128, 3072}},
      {"gelu tanh",
       mk("gelu", {{"approximate", std::string("tanh")}}),
       {{128, 3072}},
       {128, 3072}},
      {"add bias", mk("add", {}), {{128, 3072}, {3072}}, {128, 3072}},
      {"add residual", mk("add", {}), {{128, 768}, {128, 768}}, {128, 768}},
      {"layer_norm",
       mk("layer_norm", {{"axis", int64_t(1)}, {"epsilon", 1e-12}}),
       {{128, 768}, {768}, {768}},
       {128, 768}},
      {"softmax",
       mk("softmax", {{"axis", int64_t(-1)}}),
       {{12, 128, 128}},
       {12, 128, 128}},
      {"transpose heads",
       mk("transpose", {{"permutation", std::vector<int64_t>{0, 2, 1, 3}}}),
       {{1, 128, 12, 64}},
       {1, 12, 128, 64}},
  };
  std::printf("\n%-26s %-16s %12s %12s\n", "other op", "shape", "1T us",
              "allT us");
  for (Other &o : others) {
    std::vector<Buffer> bufs;
    std::vector<cpu::TensorView> in, out;
    for (auto &s : o.inShapes) {
      bufs.emplace_back(graph::elementCount(s), 8);
    }
    for (size_t i = 0; i < o.inShapes.size(); ++i) {
      in.push_back(view(o.inShapes[i], bufs[i]));
    }
    Buffer ob(graph::elementCount(o.outShape), 9);
    out.push_back(view(o.outShape, ob));
    auto once = [&] { cpu::runKernel(o.op, in, out); };
    tbb::task_arena single(1);
    double t1 = 0;
    single.execute([&] { t1 = timeIt(once); });
    double tn = timeIt(once);
    std::string dims;
    for (int64_t d : o.inShapes[0]) {
      dims += (dims.empty() ? "" : "x") + std::to_string(d);
    }
    std::printf("%-26s %-16s %12.1f %12.1f\n", o.what, dims.c_str(), t1 * 1e6,
                tn * 1e6);
  }
  return sink == 12345.0 ? 1 : 0;
}
