//===- TestFiles.h - Source-tree files for unit tests -----------*- C++ -*-===//
//
// Chip configs, example programs and docs of the source tree, and assembling
// a test program, for the tests of every component that reads them (ISA,
// target, simulator). Needs NURI_SOURCE_DIR and links NuriTarget.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_TESTS_COMMON_TESTFILES_H
#define NURI_TESTS_COMMON_TESTFILES_H

#include "nuri/isa/Assembler.h"
#include "nuri/isa/Builder.h"
#include "nuri/target/Target.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

#endif // NURI_TESTS_COMMON_TESTFILES_H
