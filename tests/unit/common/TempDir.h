//===- TempDir.h - A scratch folder for one test binary ---------*- C++ -*-===//
//
// A folder under the system's temp directory, named by a tag and the
// process id (so parallel ctest runs never share one), emptied when made
// and removed with everything in it when destroyed.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_TESTS_COMMON_TEMPDIR_H
#define NURI_TESTS_COMMON_TEMPDIR_H

#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>

namespace nuri::test {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string &tag)
      : path(std::filesystem::temp_directory_path() /
             ("nuri-" + tag + "-" + std::to_string(::getpid()))) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

} // namespace nuri::test

#endif // NURI_TESTS_COMMON_TEMPDIR_H
