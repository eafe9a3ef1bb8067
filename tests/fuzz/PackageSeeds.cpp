//===- PackageSeeds.cpp - Seed corpus for nuri-fuzz-package ---------------===//
//
// nuri-fuzz-package-seeds DIR: writes the unit tests' packages (CPU-only,
// NPU-only, mixed, with weight uploads, with a state buffer, a program
// family) and a .npy file as starting points for the fuzzer.
//
//===----------------------------------------------------------------------===//

#include "../unit/runtime/TestPackages.h"

#include "nuri/npy/Npy.h"

#include <cstdio>
#include <fstream>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  auto write = [&](const char *name, const std::vector<uint8_t> &bytes) {
    std::ofstream out(std::string(argv[1]) + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(out);
  };
  float v[6] = {1, 2, 3, 4, 5, 6};
  bool ok =
      write("cpu.nuri", nuri::test::CpuModel().build()) &&
      write("softmax.nuri", nuri::test::buildSoftmaxPackage(false)) &&
      write("mixed.nuri", nuri::test::buildSoftmaxPackage(true)) &&
      write("weights.nuri", nuri::test::buildSoftmaxPackage(false, 256)) &&
      write("state.nuri", nuri::test::buildAccumulatePackage(true)) &&
      write("family.nuri", nuri::test::FamilyModel().build()) &&
      write("v.npy", nuri::npy::serialize(nuri::graph::DType::F32, {2, 3}, v,
                                          sizeof(v)));
  return ok ? 0 : 1;
}
