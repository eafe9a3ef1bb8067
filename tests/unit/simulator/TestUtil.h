//===- TestUtil.h - Helpers shared by the simulator tests -------*- C++ -*-===//

#ifndef NURI_TESTS_SIMULATOR_TESTUTIL_H
#define NURI_TESTS_SIMULATOR_TESTUTIL_H

#include "nuri/isa/Assembler.h"
#include "nuri/isa/Builder.h"
#include "nuri/sim/Simulator.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nuri::test {

inline target::Target loadTarget(const std::string &name) {
  Result<target::Target> t = target::loadTargetFile(
      std::string(NURI_SOURCE_DIR) + "/backends/configs/" + name + ".yaml");
  if (!t) {
    throw Error(t.error());
  }
  return *t;
}

inline std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> examplePrograms() {
  std::vector<std::string> out;
  for (const auto &e : std::filesystem::directory_iterator(
           std::string(NURI_SOURCE_DIR) + "/examples/programs")) {
    if (e.path().extension() == ".nasm") {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline isa::Program assembleOrDie(const std::string &text) {
  Result<isa::Program> p = isa::assemble(text, "test.nasm");
  if (!p) {
    throw Error(p.error());
  }
  return *p;
}

} // namespace nuri::test

#endif // NURI_TESTS_SIMULATOR_TESTUTIL_H
