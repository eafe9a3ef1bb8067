//===- ContinuousBatching.cpp - nuri-bench-continuous-batching ------------===//
//
// 16 requests of mixed prompt lengths arriving over time (one every other
// step) on a package with 8 cache slots: the generator batching them
// continuously, against the same requests run one at a time, in one run.
// Prints tokens/s of both and their ratio: host wall time on the cpu device,
// and on sim also the simulated device time of the NPU partitions.
//
//   nuri-bench-continuous-batching PKG.nuri [cpu|sim]
//
// The package is `nuri compile --generate` of a byte-level decoder (the
// shared gpt2-bytes-trained); prompts are slices of a fixed English text.
//
//===----------------------------------------------------------------------===//

#include "nuri/runtime.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

constexpr int kRequests = 16;
constexpr uint32_t kNewTokens = 32;

const char *kText =
    "This program is free software; you can redistribute it and/or modify "
    "it under the terms of the GNU General Public License as published by "
    "the Free Software Foundation; either version 2 of the License, or (at "
    "your option) any later version.";

std::vector<int64_t> prompt(int i) {
  // Lengths 8..53, spread so that requests need different context buckets.
  size_t length = 8 + (i * 23) % 46, start = (i * 7) % 40;
  std::string s(kText + start, length);
  return std::vector<int64_t>(s.begin(), s.end());
}

struct Figures {
  double wall = 0, device = 0;
  size_t tokens = 0;
};

Figures continuous(const nuri::Session &session) {
  nuri::GeneratorOptions options;
  options.maxNewTokens = kNewTokens;
  nuri::Generator gen(session, options);
  Figures f;
  auto start = std::chrono::steady_clock::now();
  int added = 0;
  size_t pending = 0;
  for (int step = 0; added < kRequests || pending > 0; ++step) {
    if (added < kRequests && step % 2 == 0) {
      gen.addRequest(prompt(added++));
    }
    pending = gen.step([&](uint64_t, int64_t, bool) { ++f.tokens; });
  }
  f.wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  f.device = gen.counter("prefill", "device_seconds") +
             gen.counter("decode", "device_seconds");
  return f;
}

Figures oneAtATime(const nuri::Session &session) {
  Figures f;
  for (int i = 0; i < kRequests; ++i) {
    nuri::GeneratorOptions options;
    options.maxNewTokens = kNewTokens;
    nuri::Generator gen(session, options);
    auto start = std::chrono::steady_clock::now();
    gen.addRequest(prompt(i));
    gen.run([&](uint64_t, int64_t, bool) { ++f.tokens; });
    f.wall +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    f.device += gen.counter("prefill", "device_seconds") +
                gen.counter("decode", "device_seconds");
  }
  return f;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PKG.nuri [cpu|sim]\n", argv[0]);
    return 2;
  }
  try {
    nuri::Model model = nuri::Model::loadFile(argv[1]);
    nuri::Session session(model, argc > 2 ? argv[2] : "auto");
    oneAtATime(session); // warm: packed weights, simulators, pools
    Figures one = oneAtATime(session);
    Figures batched = continuous(session);
    std::printf("continuous batching, %d requests (prompts 8-53 tokens, one "
                "arriving every other step), %u new tokens each, %u slots, "
                "device %s:\n",
                kRequests, kNewTokens, model.generation().slots,
                session.device().c_str());
    std::printf("  wall: batched %.1f tokens/s, one at a time %.1f tokens/s, "
                "ratio %.2fx\n",
                batched.tokens / batched.wall, one.tokens / one.wall,
                (batched.tokens / batched.wall) / (one.tokens / one.wall));
    if (batched.device > 0 && one.device > 0) {
      std::printf("  simulated NPU time: batched %.0f tokens/s, one at a time "
                  "%.0f tokens/s, ratio %.2fx (NPU partitions only)\n",
                  batched.tokens / batched.device, one.tokens / one.device,
                  (batched.tokens / batched.device) /
                      (one.tokens / one.device));
    }
    if (batched.tokens != one.tokens) {
      std::fprintf(stderr, "token counts differ: %zu vs %zu\n", batched.tokens,
                   one.tokens);
      return 1;
    }
    return 0;
  } catch (const nuri::Exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
