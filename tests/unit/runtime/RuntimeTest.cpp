//===- RuntimeTest.cpp - The C API and the C++ wrapper --------------------===//

#include "TestPackages.h"

#include "nuri/isa/Numerics.h"
#include "nuri/runtime.h"
#include "nuri/runtime.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

using namespace nuri;

namespace {

bool kernelsMissing(const std::string &message) {
  return message.find("built without the CPU kernels") != std::string::npos;
}

#define SKIP_WITHOUT_KERNELS(expr)                                             \
  try {                                                                        \
    expr;                                                                      \
  } catch (const nuri::Exception &e) {                                         \
    if (kernelsMissing(e.what())) {                                            \
      GTEST_SKIP() << e.what();                                                \
    }                                                                          \
    throw;                                                                     \
  }

std::string writeTemp(const std::string &name,
                      const std::vector<uint8_t> &bytes) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  return path;
}

TEST(RuntimeC, VersionAndDevices) {
  EXPECT_EQ(nuri_version(), NURI_RUNTIME_VERSION);
  EXPECT_STREQ(nuri_version_string(), "1.3.0");
  std::vector<std::string> names;
  for (size_t i = 0; i < nuri_device_count(); ++i) {
    names.push_back(nuri_device_name(i));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"auto", "cpu", "sim"}));
  EXPECT_EQ(nuri_device_name(99), nullptr);
  // Release functions accept NULL.
  nuri_status_release(nullptr);
  nuri_model_release(nullptr);
  nuri_session_release(nullptr);
  nuri_run_release(nullptr);
  EXPECT_EQ(nuri_status_get_code(nullptr), NURI_OK);
  EXPECT_STREQ(nuri_status_message(nullptr), "");
}

TEST(RuntimeC, LoadErrors) {
  nuri_model *model = nullptr;
  nuri_status s = nuri_model_load_file("/nonexistent.nuri", nullptr, &model);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(nuri_status_get_code(s), NURI_IO_ERROR);
  EXPECT_NE(std::string(nuri_status_message(s)).find("/nonexistent.nuri"),
            std::string::npos);
  nuri_status_release(s);
  EXPECT_EQ(model, nullptr);

  std::vector<uint8_t> bytes = test::CpuModel().build();
  bytes[100] ^= 0x55;
  s = nuri_model_load_memory(bytes.data(), bytes.size(), nullptr, &model);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_PACKAGE);
  nuri_status_release(s);
  EXPECT_EQ(model, nullptr);

  s = nuri_model_load_memory(nullptr, 10, nullptr, &model);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT);
  nuri_status_release(s);
}

TEST(RuntimeC, ModelInfo) {
  std::vector<uint8_t> bytes = test::CpuModel().build();
  std::string path = writeTemp("info.nuri", bytes);
  nuri_model *model = nullptr;
  ASSERT_EQ(nuri_model_load_file(path.c_str(), nullptr, &model), nullptr);
  ASSERT_EQ(nuri_model_input_count(model), 1u);
  ASSERT_EQ(nuri_model_output_count(model), 2u);
  nuri_tensor_info info;
  ASSERT_EQ(nuri_model_input_info(model, 0, &info), nullptr);
  EXPECT_STREQ(info.name, "x");
  EXPECT_EQ(info.dtype, NURI_DTYPE_F32);
  ASSERT_EQ(info.rank, 2u);
  EXPECT_EQ(info.shape[1], 3);
  EXPECT_EQ(info.byte_size, 24u);
  nuri_status s = nuri_model_output_info(model, 2, &info);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT);
  nuri_status_release(s);
  EXPECT_STREQ(nuri_model_target(model), "cpu");
  EXPECT_EQ(nuri_model_npu_partition_count(model), 0u);

  nuri_session_options opts;
  nuri_session_options_initialize(&opts);
  EXPECT_STREQ(opts.device, "auto");
  opts.device = "gpu";
  nuri_session *session = nullptr;
  s = nuri_session_create(model, &opts, &session);
  EXPECT_EQ(nuri_status_get_code(s), NURI_NOT_FOUND);
  EXPECT_NE(std::string(nuri_status_message(s)).find("'gpu'"),
            std::string::npos);
  nuri_status_release(s);
  opts.device = "auto";
  ASSERT_EQ(nuri_session_create(model, &opts, &session), nullptr);
  EXPECT_STREQ(nuri_session_device(session), "cpu");
  // The session keeps the model alive.
  nuri_model_release(model);
  nuri_tensor_info out;
  nuri_run *run = nullptr;
  ASSERT_EQ(nuri_run_create(session, &run), nullptr);
  const void *data = nullptr;
  s = nuri_run_get_output(run, "y", &out, &data);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT); // not run yet
  nuri_status_release(s);
  nuri_run_release(run);
  nuri_session_release(session);
}

TEST(RuntimeC, BindingErrorsNameTheInput) {
  std::vector<uint8_t> bytes = test::CpuModel().build();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "cpu");
  nuri::Run run = session.newRun();
  float x[6] = {};
  try {
    run.bindInput("z", TensorRef::of(x, {2, 3}));
    FAIL();
  } catch (const Exception &e) {
    EXPECT_EQ(e.code(), NURI_NOT_FOUND);
    EXPECT_NE(std::string(e.what()).find("unknown input 'z'"),
              std::string::npos);
    EXPECT_NE(std::string(e.what()).find("x [2,3] f32"), std::string::npos)
        << e.what();
  }
  try {
    run.bindInput("x", TensorRef::of(x, {3, 2}));
    FAIL();
  } catch (const Exception &e) {
    EXPECT_EQ(e.code(), NURI_INVALID_ARGUMENT);
    EXPECT_STREQ(e.what(), "input 'x': expected [2,3] f32, given [3,2] f32");
  }
  int32_t xi[6] = {};
  try {
    run.bindInput("x", TensorRef::of(xi, {2, 3}));
    FAIL();
  } catch (const Exception &e) {
    EXPECT_STREQ(e.what(), "input 'x': expected [2,3] f32, given [2,3] i32");
  }
  TensorRef shortRef = TensorRef::of(x, {2, 3});
  shortRef.byteSize = 20;
  try {
    run.bindInput("x", shortRef);
    FAIL();
  } catch (const Exception &e) {
    EXPECT_NE(std::string(e.what()).find("byte_size 20"), std::string::npos);
  }
  try {
    run.execute();
    FAIL();
  } catch (const Exception &e) {
    EXPECT_EQ(e.code(), NURI_INVALID_ARGUMENT);
    EXPECT_STREQ(e.what(), "missing input 'x' (expected [2,3] f32)");
  }
  float y[8];
  try {
    run.bindOutput("y", TensorRef::of(y, {8}));
    FAIL();
  } catch (const Exception &e) {
    EXPECT_STREQ(e.what(), "output 'y': expected [2,4] f32, given [8] f32");
  }
}

TEST(RuntimeCpp, LiveObjectsCountHandlesInAndOut) {
  std::vector<uint8_t> bytes = test::CpuModel().build();
  size_t before = nuri_live_object_count();
  {
    Model model = Model::loadMemory(bytes.data(), bytes.size());
    EXPECT_EQ(nuri_live_object_count(), before + 1);
    Session session(model, "cpu");
    nuri::Run a = session.newRun(), b = session.newRun();
    EXPECT_EQ(nuri_live_object_count(), before + 4);
  }
  // The session kept the model alive; all four are gone with the last owner.
  EXPECT_EQ(nuri_live_object_count(), before);
}

TEST(RuntimeCpp, CpuRunMatchesReference) {
  test::CpuModel m;
  std::vector<uint8_t> bytes = m.build();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "cpu");
  nuri::Run run = session.newRun();
  float x[6] = {1, -2, 0.5f, 3, 0.25f, -1};
  float h[8], y[8];
  m.reference(x, h, y);
  run.bindInput("x", TensorRef::of(x, {2, 3}));
  SKIP_WITHOUT_KERNELS(run.execute());
  OutputView hv = run.output("h"), yv = run.output("y");
  EXPECT_EQ(yv.info.shape, (std::vector<int64_t>{2, 4}));
  for (int i = 0; i < 8; ++i) {
    EXPECT_FLOAT_EQ(hv.as<float>()[i], h[i]) << i;
    EXPECT_FLOAT_EQ(yv.as<float>()[i], y[i]) << i;
  }
  Counters stats = run.counters();
  EXPECT_EQ(stats.get("partitions_run"), 1.0);
  EXPECT_EQ(stats.get("npu_partitions_run"), 0.0);
  // The cpu device reports no simulator figures, not zeros.
  EXPECT_FALSE(stats.has("cycles"));
  EXPECT_GT(stats.get("wall_seconds"), 0.0);
  std::vector<PartitionStats> parts = run.partitionStats();
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].name, "main");
  EXPECT_EQ(parts[0].device, "cpu");
  EXPECT_GT(parts[0].wallSeconds(), 0.0);
  EXPECT_TRUE(parts[0].traceJson.empty());

  // Zero copy: a bound output is written in place.
  float yOut[8] = {};
  run.bindOutput("y", TensorRef::of(yOut, {2, 4}));
  run.execute();
  EXPECT_EQ(run.output("y").data, static_cast<const void *>(yOut));
  for (int i = 0; i < 8; ++i) {
    EXPECT_FLOAT_EQ(yOut[i], y[i]);
  }
  // The same run again with new input data.
  x[0] = 7;
  m.reference(x, h, y);
  run.execute();
  EXPECT_FLOAT_EQ(yOut[0], y[0]);
}

TEST(RuntimeCpp, SimPackageWithoutNpuPartitionsReportsZeroCycles) {
  test::CpuModel m;
  std::vector<uint8_t> bytes = m.build();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "sim");
  EXPECT_EQ(session.device(), "sim");
  nuri::Run run = session.newRun();
  float x[6] = {1, 2, 3, 4, 5, 6};
  run.bindInput("x", TensorRef::of(x, {2, 3}));
  SKIP_WITHOUT_KERNELS(run.execute());
  Counters stats = run.counters();
  EXPECT_EQ(stats.get("npu_partitions_run"), 0.0);
  EXPECT_EQ(stats.get("cycles"), 0.0);
  EXPECT_EQ(stats.get("dram_bytes"), 0.0);
  // The CPU partition went to the session's cpu device.
  ASSERT_EQ(run.partitionStats().size(), 1u);
  EXPECT_EQ(run.partitionStats()[0].device, "cpu");
}

std::vector<uint16_t> randomBf16(size_t n, uint32_t seed) {
  std::vector<uint16_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = isa::f32ToBf16(float(int(seed >> 9) % 2000 - 1000) / 250.0f);
  }
  return v;
}

TEST(RuntimeCpp, SimRunsNpuPartition) {
  std::vector<uint8_t> bytes = test::buildSoftmaxPackage(false);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  EXPECT_EQ(model.npuPartitions(), 1u);
  try {
    Session cpuOnly(model, "cpu");
    FAIL();
  } catch (const Exception &e) {
    EXPECT_EQ(e.code(), NURI_UNSUPPORTED);
    EXPECT_NE(std::string(e.what()).find("NPU program"), std::string::npos);
  }
  Session session(model, "auto");
  EXPECT_EQ(session.device(), "sim");
  std::vector<uint16_t> x = randomBf16(128 * 512, 1);
  nuri::Run run = session.newRun();
  TensorRef ref{NURI_DTYPE_BF16, {128, 512}, x.data(), x.size() * 2};
  run.bindInput("x_bf16", ref);
  run.execute();
  OutputView p = run.output("p_bf16");
  std::vector<float> xf(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    xf[i] = isa::bf16ToF32(x[i]);
  }
  std::vector<float> expect = test::softmaxRows(xf, 128, 512);
  for (size_t i = 0; i < x.size(); ++i) {
    float got = isa::bf16ToF32(p.as<uint16_t>()[i]);
    ASSERT_NEAR(got, expect[i], 1e-2 * expect[i] + 1e-6) << i;
  }
  Counters stats = run.counters();
  EXPECT_EQ(stats.get("npu_partitions_run"), 1.0);
  EXPECT_GT(stats.get("cycles"), 0.0);
  EXPECT_GT(stats.get("device_seconds"), 0.0);
  // The program reads X and writes Y once: 2 x 128 KiB.
  EXPECT_EQ(stats.get("dram_bytes"), 2.0 * 128 * 512 * 2);
  EXPECT_GE(stats.get("mac_utilization"), 0.0);
  EXPECT_EQ(stats.get("host_to_device_bytes"), 128.0 * 512 * 2);
  EXPECT_EQ(stats.get("device_to_host_bytes"), 128.0 * 512 * 2);
  std::vector<PartitionStats> parts = run.partitionStats();
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].device, "sim");
  for (const char *name : {"cycles", "dram_bytes", "device_seconds",
                           "mac_utilization", "host_to_device_bytes"}) {
    EXPECT_DOUBLE_EQ(parts[0].counters.get(name), stats.get(name)) << name;
  }
  // Through the C API too.
  double cycles = 0;
  nuri_status s = nuri_run_find_counter(run.get(), "cycles", &cycles);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(cycles, stats.get("cycles"));
  s = nuri_run_find_counter(run.get(), "no_such_counter", &cycles);
  EXPECT_EQ(nuri_status_get_code(s), NURI_NOT_FOUND);
  nuri_status_release(s);
  nuri_counter c;
  s = nuri_run_get_counter(run.get(), 999, &c);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT);
  nuri_status_release(s);
}

TEST(RuntimeCpp, SimLoadsWeightsOncePerSession) {
  std::vector<uint8_t> bytes = test::buildSoftmaxPackage(false, 4096);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "sim");
  std::vector<uint16_t> x = randomBf16(128 * 512, 3);
  nuri::Run run = session.newRun();
  run.bindInput("x_bf16",
                TensorRef{NURI_DTYPE_BF16, {128, 512}, x.data(), x.size() * 2});
  std::vector<uint16_t> first;
  double firstCycles = 0;
  for (int i = 0; i < 3; ++i) {
    run.execute();
    Counters c = run.counters();
    // Only the session's first run uploads the weights.
    EXPECT_EQ(c.get("device_weight_bytes_written"), i == 0 ? 4096.0 : 0.0)
        << "run " << i;
    EXPECT_EQ(c.get("device_prepare_seconds") > 0, i == 0) << "run " << i;
    const uint16_t *p = run.output("p_bf16").as<uint16_t>();
    if (i == 0) {
      first.assign(p, p + x.size());
      firstCycles = c.get("cycles");
    } else {
      // The device state carried over changes nothing a run computes.
      EXPECT_EQ(std::vector<uint16_t>(p, p + x.size()), first) << "run " << i;
      EXPECT_EQ(c.get("cycles"), firstCycles) << "run " << i;
    }
  }
  // A new session prepares its own device memory.
  Session other(model, "sim");
  nuri::Run again = other.newRun();
  again.bindInput(
      "x_bf16", TensorRef{NURI_DTYPE_BF16, {128, 512}, x.data(), x.size() * 2});
  again.execute();
  EXPECT_EQ(again.counters().get("device_weight_bytes_written"), 4096.0);
}

TEST(RuntimeCpp, TraceIsASessionOption) {
  std::vector<uint8_t> bytes = test::buildSoftmaxPackage(false);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  SessionOptions options;
  options.trace = true;
  Session session(model, "sim", options);
  std::vector<uint16_t> x = randomBf16(128 * 512, 5);
  nuri::Run run = session.newRun();
  run.bindInput("x_bf16",
                TensorRef{NURI_DTYPE_BF16, {128, 512}, x.data(), x.size() * 2});
  run.execute();
  std::vector<PartitionStats> parts = run.partitionStats();
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_NE(parts[0].traceJson.find("traceEvents"), std::string::npos);
  // Without the option nothing is recorded.
  Session plain(model, "sim");
  nuri::Run quiet = plain.newRun();
  quiet.bindInput(
      "x_bf16", TensorRef{NURI_DTYPE_BF16, {128, 512}, x.data(), x.size() * 2});
  quiet.execute();
  EXPECT_TRUE(quiet.partitionStats()[0].traceJson.empty());
  EXPECT_EQ(quiet.counters().get("cycles"), run.counters().get("cycles"));
}

void checkAccumulate(bool inPlace) {
  std::vector<uint8_t> bytes = test::buildAccumulatePackage(inPlace);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  std::vector<TensorInfo> states = model.states();
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].name, "acc");
  EXPECT_EQ(states[0].shape, (std::vector<int64_t>{2, 3}));
  // The state's values are not model I/O.
  ASSERT_EQ(model.inputs().size(), 1u);
  EXPECT_EQ(model.inputs()[0].name, "x");
  ASSERT_EQ(model.outputs().size(), 1u);
  EXPECT_EQ(model.outputs()[0].name, "y");

  for (const char *device : {"cpu", "sim"}) {
    SCOPED_TRACE(device);
    Session session(model, device);
    EXPECT_EQ(session.readState<float>("acc"), std::vector<float>(6, 0.0f));
    nuri::Run run = session.newRun();
    float x[6] = {1, -2, 0.5f, 3, 0.25f, -1};
    run.bindInput("x", TensorRef::of(x, {2, 3}));
    for (int k = 1; k <= 3; ++k) {
      SKIP_WITHOUT_KERNELS(run.execute());
      const float *y = run.output("y").as<float>();
      std::vector<float> acc = session.readState<float>("acc");
      for (int i = 0; i < 6; ++i) {
        EXPECT_FLOAT_EQ(acc[i], float(k) * x[i]) << "run " << k << " " << i;
        EXPECT_FLOAT_EQ(y[i], 2.0f * float(k) * x[i])
            << "run " << k << " " << i;
      }
    }
    session.resetState("acc");
    EXPECT_EQ(session.readState<float>("acc"), std::vector<float>(6, 0.0f));
    run.execute();
    EXPECT_FLOAT_EQ(run.output("y").as<float>()[0], 2.0f * x[0]);
    // Written by the caller, e.g. a cache restored from elsewhere.
    std::vector<float> seed(6, 10.0f);
    session.writeState("acc", seed.data(), seed.size() * 4);
    run.execute();
    EXPECT_FLOAT_EQ(session.readState<float>("acc")[1], 10.0f + x[1]);
    session.resetState(); // all states
    EXPECT_EQ(session.readState<float>("acc"), std::vector<float>(6, 0.0f));
    // Sessions do not share state.
    Session other(model, device);
    EXPECT_EQ(other.readState<float>("acc"), std::vector<float>(6, 0.0f));
  }
}

TEST(RuntimeCpp, StateAccumulatesInPlaceAcrossRuns) { checkAccumulate(true); }

TEST(RuntimeCpp, StateAccumulatesByCopyAcrossRuns) { checkAccumulate(false); }

TEST(RuntimeCpp, StateInitialValueAndErrors) {
  std::vector<uint8_t> bytes = test::buildAccumulatePackage(true, true);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "cpu");
  std::vector<float> acc = session.readState<float>("acc");
  EXPECT_EQ(acc, (std::vector<float>{100, 200, 300, 400, 500, 600}));
  std::vector<float> zeros(6, 0.0f);
  session.writeState("acc", zeros.data(), 24);
  session.resetState("acc");
  EXPECT_EQ(session.readState<float>("acc")[5], 600.0f);

  float small[2];
  try {
    session.readState("acc", small, sizeof(small));
    FAIL();
  } catch (const Exception &e) {
    EXPECT_EQ(e.code(), NURI_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("byte_size 8 does not match"),
              std::string::npos)
        << e.what();
  }
  try {
    session.resetState("kv");
    FAIL();
  } catch (const Exception &e) {
    EXPECT_EQ(e.code(), NURI_NOT_FOUND);
    EXPECT_NE(std::string(e.what()).find("states are: acc"), std::string::npos)
        << e.what();
  }
}

TEST(RuntimeCpp, StateRunsTakeTurnsAcrossThreads) {
  std::vector<uint8_t> bytes = test::buildAccumulatePackage(true);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "cpu");
  constexpr int kThreads = 4, kRuns = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      try {
        nuri::Run run = session.newRun();
        float x[6] = {1, 1, 1, 1, 1, 1};
        run.bindInput("x", TensorRef::of(x, {2, 3}));
        for (int i = 0; i < kRuns; ++i) {
          run.execute();
        }
      } catch (const std::exception &) {
        ++failures;
      }
    });
  }
  for (std::thread &t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  // Every run added 1 to every element: none was lost to a race.
  EXPECT_EQ(session.readState<float>("acc"),
            std::vector<float>(6, float(kThreads * kRuns)));
}

TEST(RuntimeCpp, SimMovesTensorsBetweenCpuAndNpu) {
  std::vector<uint8_t> bytes = test::buildSoftmaxPackage(true);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "sim");
  std::vector<float> x(128 * 512);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = isa::bf16ToF32(isa::f32ToBf16(float(i % 37) / 9.0f - 2.0f));
  }
  nuri::Run run = session.newRun();
  run.bindInput("x", TensorRef::of(x.data(), {128, 512}));
  SKIP_WITHOUT_KERNELS(run.execute());
  std::vector<float> expect = test::softmaxRows(x, 128, 512);
  const float *probs = run.output("probs").as<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(probs[i], expect[i], 1e-2 * expect[i] + 1e-6) << i;
  }
  std::vector<PartitionStats> parts = run.partitionStats();
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].device, "cpu");
  EXPECT_EQ(parts[1].device, "sim");
  EXPECT_EQ(parts[2].device, "cpu");
}

TEST(RuntimeCpp, AsyncFutureAndCallback) {
  std::vector<uint8_t> bytes = test::buildSoftmaxPackage(false);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "sim", 2);
  std::vector<uint16_t> x = randomBf16(128 * 512, 7);
  TensorRef ref{NURI_DTYPE_BF16, {128, 512}, x.data(), x.size() * 2};
  nuri::Run a = session.newRun(), b = session.newRun();
  a.bindInput("x_bf16", ref);
  b.bindInput("x_bf16", ref);
  std::future<void> fa = a.executeAsync();
  std::promise<std::exception_ptr> done;
  b.executeAsync([&](std::exception_ptr e) { done.set_value(e); });
  fa.get();
  EXPECT_EQ(done.get_future().get(), nullptr);
  b.wait();
  OutputView pa = a.output("p_bf16"), pb = b.output("p_bf16");
  EXPECT_EQ(0, std::memcmp(pa.data, pb.data, pa.info.byteSize));

  // An async binding error is returned at once.
  nuri::Run c = session.newRun();
  try {
    c.executeAsync();
    FAIL();
  } catch (const Exception &e) {
    EXPECT_STREQ(e.what(), "missing input 'x_bf16' (expected [128,512] bf16)");
  }
}

TEST(RuntimeC, AsyncErrorArrivesThroughCallback) {
  // A program that fails at run time: the DMA reads past the end of DRAM is
  // refused at load, so use a CPU op the kernels reject instead.
  graph::Graph g;
  g.tensors = {test::tensor("a", graph::DType::F32, {2}),
               test::tensor("b", graph::DType::F32, {2})};
  g.ops = {test::op("no_such_op", {0}, {1})};
  g.inputs = {0};
  g.outputs = {1};
  package::PackageBuilder builder;
  builder.addCpuPartition(g, "bad");
  std::vector<uint8_t> bytes = builder.build().value();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "cpu");
  nuri::Run run = session.newRun();
  float a[2] = {1, 2};
  run.bindInput("a", TensorRef::of(a, {2}));
  std::future<void> f = run.executeAsync();
  try {
    f.get();
    FAIL();
  } catch (const Exception &e) {
    EXPECT_EQ(e.code(), NURI_EXECUTION_ERROR);
    EXPECT_NE(std::string(e.what()).find("op 0 (no_such_op, "
                                         "'no_such_op_node')"),
              std::string::npos)
        << e.what();
  }
}

} // namespace

namespace {

// An NPU partition that reads a constant: the sim device must write the
// package's weight loads into DRAM before the program starts.
TEST(RuntimeCpp, SimWritesWeightLoadsIntoDram) {
  const char *text = R"(
.stream core=0 engine=dma
  dma.copy src_space=dram, dst_space=sram, src=0x80000, dst=0, bytes=64, rows=1, planes=1, src_stride=64, dst_stride=64
  sem.signal sem=0, core=0, count=1
  sem.wait sem=0, count=1
  dma.copy src_space=sram, dst_space=dram, src=0, dst=0x40000, bytes=64, rows=1, planes=1, src_stride=64, dst_stride=64
  end
)";
  Result<isa::Program> prog = isa::assemble(text);
  ASSERT_TRUE(prog) << prog.error();
  package::PackageBuilder b;
  b.setTarget("atom",
              test::readText(NURI_SOURCE_DIR "/backends/configs/atom.yaml"));
  std::vector<float> table(16);
  for (int i = 0; i < 16; ++i) {
    table[i] = float(i) * 1.5f;
  }
  uint64_t offset = b.appendWeights(table.data(), 64);
  package::ValueDesc x{"x", graph::DType::F32, {16}, {}};
  package::ValueDesc y{"y", graph::DType::F32, {16}, {}};
  b.addNpuPartition(*prog, {{x, 0x0}}, {{y, 0x40000}}, {{offset, 64, 0x80000}},
                    "copy_constant");
  std::vector<uint8_t> bytes = b.build().value();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "sim");
  nuri::Run run = session.newRun();
  float in[16] = {};
  run.bindInput("x", TensorRef::of(in, {16}));
  run.execute();
  const float *out = run.output("y").as<float>();
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(out[i], table[i]) << i;
  }
}

} // namespace

namespace {

// Packages that pass every structural check but carry changed bytes
// (checksums recomputed) must still run or fail cleanly: the executor and
// the kernels see shapes, attributes and ids an honest compiler never
// writes.
void runEveryResealedMutation(const std::vector<uint8_t> &file,
                              const char *input, nuri_dtype dtype,
                              std::vector<int64_t> shape, size_t bytes,
                              std::vector<uint8_t> patterns) {
  std::vector<uint8_t> data(bytes, 0x3c);
  size_t loaded = 0, ran = 0;
  for (size_t i = 0; i < file.size(); ++i) {
    for (uint8_t x : patterns) {
      std::vector<uint8_t> bad = file;
      bad[i] ^= x;
      test::reseal(bad);
      nuri_model *model = nullptr;
      nuri_model_options options;
      nuri_model_options_initialize(&options);
      options.max_run_bytes = 64 << 20; // mutated shapes can be huge
      nuri_status s =
          nuri_model_load_memory(bad.data(), bad.size(), &options, &model);
      if (s) {
        nuri_status_release(s);
        continue;
      }
      ++loaded;
      nuri_session *session = nullptr;
      nuri_run *run = nullptr;
      s = nuri_session_create(model, nullptr, &session);
      if (!s) {
        s = nuri_run_create(session, &run);
      }
      if (!s) {
        s = nuri_run_bind_input(run, input, dtype, shape.data(), shape.size(),
                                data.data(), data.size());
      }
      if (!s) {
        s = nuri_run_execute(run);
        ran += s == nullptr;
      }
      nuri_status_release(s);
      nuri_run_release(run);
      nuri_session_release(session);
      nuri_model_release(model);
    }
  }
  EXPECT_GT(loaded, 0u);
  ::testing::Test::RecordProperty("loaded", int(loaded));
  std::printf("%zu mutations loaded, %zu ran\n", loaded, ran);
  ::testing::Test::RecordProperty("ran", int(ran));
}

TEST(RuntimeHostile, ResealedCpuPackagesRunOrFailCleanly) {
  runEveryResealedMutation(test::CpuModel().build(), "x", NURI_DTYPE_F32,
                           {2, 3}, 24, {0x01, 0x80, 0xFF});
}

TEST(RuntimeHostile, ResealedMixedPackagesRunOrFailCleanly) {
  runEveryResealedMutation(test::buildSoftmaxPackage(true), "x", NURI_DTYPE_F32,
                           {128, 512}, 128 * 512 * 4, {0xFF});
}

} // namespace

namespace {

TEST(RuntimeC, ModelsNeedingTooMuchMemoryAreRefusedAtLoad) {
  std::vector<uint8_t> bytes = test::buildSoftmaxPackage(true);
  nuri_model_options options;
  nuri_model_options_initialize(&options);
  EXPECT_EQ(options.max_run_bytes, 0u);
  options.max_run_bytes = 100000; // the mixed package needs ~512 KiB
  nuri_model *model = nullptr;
  nuri_status s =
      nuri_model_load_memory(bytes.data(), bytes.size(), &options, &model);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_PACKAGE);
  EXPECT_NE(
      std::string(nuri_status_message(s)).find("more than the limit of 100000"),
      std::string::npos)
      << nuri_status_message(s);
  nuri_status_release(s);
  options.max_run_bytes = 0;
  ASSERT_EQ(
      nuri_model_load_memory(bytes.data(), bytes.size(), &options, &model),
      nullptr);
  nuri_model_release(model);
}

} // namespace
