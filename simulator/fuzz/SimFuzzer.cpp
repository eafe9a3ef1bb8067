//===- SimFuzzer.cpp - libFuzzer entry point for the ISA and simulator ----===//
//
// Feeds arbitrary bytes to the binary decoder (first byte even) or to the
// assembler (first byte odd), and runs whatever decodes on the `tiny` chip,
// functionally and with a small instruction budget. Any crash, sanitizer
// report or hang is a bug: bad input must end in an error.
//
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
//         -DCMAKE_C_COMPILER=clang-14 -DNURI_BUILD_FUZZERS=ON \
//         -DNURI_BUILD_COMPILER=OFF -DNURI_BUILD_TESTS=OFF
//   cmake --build build-fuzz --target nuri-sim-fuzzer
//   build-fuzz/bin/nuri-sim-fuzzer -max_total_time=60 examples/programs
//
//===----------------------------------------------------------------------===//

#include "nuri/isa/Assembler.h"
#include "nuri/sim/Simulator.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
const nuri::target::Target &tiny() {
  static const nuri::target::Target t = [] {
    nuri::Result<nuri::target::Target> r = nuri::target::findTarget("tiny");
    if (!r) {
      std::abort(); // the fuzzer cannot run without its config
    }
    return *r;
  }();
  return t;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) {
    return 0;
  }
  nuri::Result<nuri::isa::Program> p =
      data[0] % 2 == 0
          ? nuri::isa::decodeProgram(data + 1, size - 1)
          : nuri::isa::assemble(std::string_view(
                reinterpret_cast<const char *>(data + 1), size - 1));
  if (!p) {
    return 0;
  }
  // Text must survive the round trip too.
  nuri::Result<nuri::isa::Program> again =
      nuri::isa::assemble(nuri::isa::disassemble(*p));
  if (!again) {
    std::abort();
  }
  nuri::sim::SimOptions o;
  o.maxInstructions = 100000;
  o.trace = size % 3 == 0;
  nuri::sim::Simulator sim(tiny(), o);
  (void)sim.run(*p);
  return 0;
}
