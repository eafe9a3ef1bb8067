//===- RunBench.cpp - Latency of a package on a runtime device ------------===//
//
// nuri-bench-run PKG.nuri [--device cpu] [--threads N] [--iters 20]
//                [--warmup 3]
//
// Feeds the same deterministic inputs as benchmarks/ort/ort_latency.js
// (masks 1, type ids 0, positions counting up, token ids (i*7919)%1000+1,
// floats sin(0.37 i)/2) and prints one JSON line with the median latency
// and the session's first run (which uploads the weights to the device)
// beside it, through the public C++ API as an application would call it.
//
//===----------------------------------------------------------------------===//

#include "nuri/runtime.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  std::string path, device = "cpu";
  int threads = 0, iters = 20, warmup = 3;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : ""; };
    if (arg == "--device") {
      device = next();
    } else if (arg == "--threads") {
      threads = std::stoi(next());
    } else if (arg == "--iters") {
      iters = std::stoi(next());
    } else if (arg == "--warmup") {
      warmup = std::stoi(next());
    } else {
      path = arg;
    }
  }
  if (path.empty() || iters < 1) {
    std::fprintf(stderr, "usage: nuri-bench-run PKG.nuri [--device D] "
                         "[--threads N] [--iters K] [--warmup W]\n");
    return 2;
  }
  try {
    nuri::Model model = nuri::Model::loadFile(path);
    nuri::Session session(model, device, threads);
    nuri::Run run = session.newRun();
    std::vector<std::vector<char>> buffers;
    for (const nuri::TensorInfo &input : model.inputs()) {
      buffers.emplace_back(input.byteSize);
      int64_t n = input.elements();
      int64_t last = input.shape.empty() ? 1 : input.shape.back();
      if (input.dtype == NURI_DTYPE_I64) {
        auto *data = reinterpret_cast<int64_t *>(buffers.back().data());
        for (int64_t i = 0; i < n; ++i) {
          int64_t v = (i * 7919) % 1000 + 1;
          if (input.name.find("mask") != std::string::npos) {
            v = 1;
          } else if (input.name.find("type") != std::string::npos) {
            v = 0;
          } else if (input.name.find("position") != std::string::npos) {
            v = i % last;
          }
          data[i] = v;
        }
      } else if (input.dtype == NURI_DTYPE_F32) {
        auto *data = reinterpret_cast<float *>(buffers.back().data());
        for (int64_t i = 0; i < n; ++i) {
          data[i] = static_cast<float>(std::sin(i * 0.37) * 0.5);
        }
      }
      run.bindInput(input.name, {input.dtype, input.shape,
                                 buffers.back().data(), input.byteSize});
    }
    // The session's first run prepares the device (the sim device loads the
    // weights into its memory then): timed on its own, beside the steady
    // state that the median measures.
    auto firstStart = std::chrono::steady_clock::now();
    run.execute();
    double firstMs = std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - firstStart)
                         .count();
    double firstWeightBytes = run.counters().get("device_weight_bytes_written");
    double firstPrepareMs = run.counters().get("device_prepare_seconds") * 1e3;
    for (int i = 1; i < warmup; ++i) {
      run.execute();
    }
    std::vector<double> ms;
    for (int i = 0; i < iters; ++i) {
      auto start = std::chrono::steady_clock::now();
      run.execute();
      ms.push_back(std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - start)
                       .count());
    }
    double steadyWeightBytes =
        run.counters().get("device_weight_bytes_written");
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    std::printf("{\"package\":\"%s\",\"device\":\"%s\",\"threads\":%d,"
                "\"iters\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,"
                "\"first_ms\":%.3f,\"first_over_median\":%.2f,"
                "\"first_prepare_ms\":%.3f,\"first_weight_bytes\":%.0f,"
                "\"steady_weight_bytes\":%.0f}\n",
                path.c_str(), device.c_str(), threads, iters, median,
                ms.front(), firstMs, median > 0 ? firstMs / median : 0.0,
                firstPrepareMs, firstWeightBytes, steadyWeightBytes);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "nuri-bench-run: %s\n", e.what());
    return 1;
  }
  return 0;
}
