//===- StressTest.cpp - One session, 8 threads, hundreds of runs ----------===//
//
// Every output of every concurrent run must equal, byte for byte, what a
// single-threaded run computes for the same input. Built with
// ThreadSanitizer by scripts/tsan.sh.
//
//===----------------------------------------------------------------------===//

#include "TestPackages.h"

#include "nuri/runtime.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <atomic>
#include <thread>

using namespace nuri;

namespace {

constexpr int kThreads = 8;

/// x[m,k] -> t1 = x W1[k,n] -> t2 = t1*t1 -> t3 = t2 + t1 ->
/// t4 = t3 W2[n,k] -> y = t4 + x: intermediates that share the scratch
/// block.
std::vector<uint8_t> buildChain(int64_t m, int64_t k, int64_t n) {
  using graph::DType;
  std::vector<float> w1(k * n), w2(n * k);
  for (size_t i = 0; i < w1.size(); ++i) {
    w1[i] = float(int(i * 7 % 13) - 6) / 32.0f;
  }
  for (size_t i = 0; i < w2.size(); ++i) {
    w2[i] = float(int(i * 5 % 11) - 5) / 64.0f;
  }
  std::vector<uint8_t> weights(w1.size() * 4 + w2.size() * 4);
  std::memcpy(weights.data(), w1.data(), w1.size() * 4);
  std::memcpy(weights.data() + w1.size() * 4, w2.data(), w2.size() * 4);
  graph::Graph g;
  g.tensors = {test::tensor("x", DType::F32, {m, k}),
               test::tensor("W1", DType::F32, {k, n}, 0),
               test::tensor("t1", DType::F32, {m, n}),
               test::tensor("t2", DType::F32, {m, n}),
               test::tensor("t3", DType::F32, {m, n}),
               test::tensor("W2", DType::F32, {n, k}, int64_t(w1.size() * 4)),
               test::tensor("t4", DType::F32, {m, k}),
               test::tensor("y", DType::F32, {m, k})};
  g.ops = {test::op("matmul", {0, 1}, {2}), test::op("mul", {2, 2}, {3}),
           test::op("add", {3, 2}, {4}), test::op("matmul", {4, 5}, {6}),
           test::op("add", {6, 0}, {7})};
  g.inputs = {0};
  g.outputs = {7};
  package::PackageBuilder b;
  b.setWeights(weights);
  b.addCpuPartition(g, "chain");
  return b.build().value();
}

/// Runs `inputs` once each on one thread, then kThreads x runsPerThread
/// times concurrently (sync and async alternating), comparing bytes.
void stress(const std::vector<uint8_t> &package, const std::string &device,
            const std::string &inputName, const std::string &outputName,
            nuri_dtype dtype, std::vector<int64_t> shape,
            const std::vector<std::vector<uint8_t>> &inputs,
            int runsPerThread) {
  // scripts/tsan.sh sets 1: oneTBB's own hand-offs between its workers are
  // invisible to ThreadSanitizer (libtbb is not instrumented), so the
  // kernels' loops run on the calling threads and TSAN checks the runtime.
  static std::unique_ptr<tbb::global_control> limit = [] {
    const char *n = std::getenv("NURI_TBB_MAX_PARALLELISM");
    return n ? std::make_unique<tbb::global_control>(
                   tbb::global_control::max_allowed_parallelism,
                   size_t(std::atoi(n)))
             : nullptr;
  }();
  Model model = Model::loadMemory(package.data(), package.size());
  Session session(model, device);
  auto bind = [&](Run &run, const std::vector<uint8_t> &data) {
    run.bindInput(inputName,
                  TensorRef{dtype, shape, const_cast<uint8_t *>(data.data()),
                            data.size()});
  };
  std::vector<std::vector<uint8_t>> expected;
  {
    nuri::Run run = session.newRun();
    for (const auto &in : inputs) {
      bind(run, in);
      try {
        run.execute();
      } catch (const Exception &e) {
        if (std::string(e.what()).find("built without the CPU kernels") !=
            std::string::npos) {
          GTEST_SKIP() << e.what();
        }
        throw;
      }
      OutputView out = run.output(outputName);
      const uint8_t *p = static_cast<const uint8_t *>(out.data);
      expected.emplace_back(p, p + out.info.byteSize);
    }
  }
  std::atomic<int> runs{0}, mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      nuri::Run run = session.newRun();
      for (int i = 0; i < runsPerThread; ++i) {
        size_t k = size_t(t * 31 + i * 7) % inputs.size();
        try {
          bind(run, inputs[k]);
          if (i % 2) {
            run.executeAsync().get();
          } else {
            run.execute();
          }
          OutputView out = run.output(outputName);
          if (out.info.byteSize != expected[k].size() ||
              std::memcmp(out.data, expected[k].data(), expected[k].size()) !=
                  0) {
            ++mismatches;
          }
        } catch (const std::exception &e) {
          ++failures;
        }
        ++runs;
      }
    });
  }
  for (std::thread &t : threads) {
    t.join();
  }
  EXPECT_EQ(runs.load(), kThreads * runsPerThread);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

std::vector<std::vector<uint8_t>> chainInputs(int64_t m, int64_t k, int count) {
  std::vector<std::vector<uint8_t>> inputs;
  for (int c = 0; c < count; ++c) {
    std::vector<float> x(size_t(m * k));
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = float(int((i + 3) * (c + 1) % 17) - 8) / 8.0f;
    }
    std::vector<uint8_t> bytes(x.size() * 4);
    std::memcpy(bytes.data(), x.data(), bytes.size());
    inputs.push_back(std::move(bytes));
  }
  return inputs;
}

TEST(RuntimeStress, CpuEightThreads) {
  stress(buildChain(16, 32, 64), "cpu", "x", "y", NURI_DTYPE_F32, {16, 32},
         chainInputs(16, 32, 16), 100);
}

// Large enough that the GEMMs fan out on oneTBB workers while other runs
// execute: the kernels' own scratch must be per call, too.
TEST(RuntimeStress, CpuEightThreadsParallelKernels) {
  stress(buildChain(64, 256, 512), "cpu", "x", "y", NURI_DTYPE_F32, {64, 256},
         chainInputs(64, 256, 8), 12);
}

TEST(RuntimeStress, SimEightThreads) {
  std::vector<std::vector<uint8_t>> inputs;
  for (int k = 0; k < 4; ++k) {
    std::vector<uint8_t> bytes(128 * 512 * 2);
    for (size_t i = 0; i < bytes.size() / 2; ++i) {
      uint16_t v = isa::f32ToBf16(float(int((i + k) % 29) - 14) / 7.0f);
      std::memcpy(bytes.data() + 2 * i, &v, 2);
    }
    inputs.push_back(std::move(bytes));
  }
  stress(test::buildSoftmaxPackage(false), "sim", "x_bf16", "p_bf16",
         NURI_DTYPE_BF16, {128, 512}, inputs, 25);
}

} // namespace
