//===- MakeTestPackages.cpp - Writes the test packages to a directory -----===//
//
// nuri-make-test-packages DIR: cpu.nuri (a matmul/mul/add graph),
// softmax.nuri (one NPU partition), mixed.nuri (CPU -> NPU -> CPU),
// weights.nuri (softmax with a weight upload), state.nuri (a CPU partition
// accumulating into a state buffer), family.nuri (two programs sharing
// weights and a state) and two broken copies of cpu.nuri (corrupt.nuri,
// truncated.nuri), for the CLI and install tests, which cannot build packages
// themselves.
//
//===----------------------------------------------------------------------===//

#include "TestPackages.h"

#include <cstdio>
#include <fstream>

namespace {
bool writeBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}
} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  std::vector<uint8_t> cpu = nuri::test::CpuModel().build();
  std::vector<uint8_t> corrupt = cpu, truncated(cpu.begin(), cpu.begin() + 300);
  corrupt[corrupt.size() / 2] ^= 0x10;
  bool ok =
      writeBytes(dir + "/cpu.nuri", cpu) &&
      writeBytes(dir + "/corrupt.nuri", corrupt) &&
      writeBytes(dir + "/truncated.nuri", truncated) &&
      writeBytes(dir + "/softmax.nuri",
                 nuri::test::buildSoftmaxPackage(false)) &&
      writeBytes(dir + "/mixed.nuri", nuri::test::buildSoftmaxPackage(true)) &&
      writeBytes(dir + "/weights.nuri",
                 nuri::test::buildSoftmaxPackage(false, 4096)) &&
      writeBytes(dir + "/state.nuri",
                 nuri::test::buildAccumulatePackage(true)) &&
      writeBytes(dir + "/family.nuri", nuri::test::FamilyModel().build());
  if (!ok) {
    std::fprintf(stderr, "cannot write into %s\n", dir.c_str());
    return 1;
  }
  return 0;
}
