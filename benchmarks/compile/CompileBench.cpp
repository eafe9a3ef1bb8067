//===- CompileBench.cpp - nuri compile for a chip: wall time --------------===//
//
// nuri-bench-compile [--target atom] [--dir DIR] [MODEL ...]
//                    (default: bert-base gpt2-small, batch 1, seq 128)
//
// Writes each zoo model once, then runs the whole compile flow (import,
// graph passes, bf16, partitioning, NPU lowering, package in memory) as
// `nuri compile --target atom` does, and prints the wall time against the
// 10 s target of issue 5 with the stages' share, the partitions and the
// package size.
//
//===----------------------------------------------------------------------===//

#include "../common/DriverBench.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace {

nuri::OnnxImportOptions shapesFor(const std::string &name) {
  nuri::OnnxImportOptions options;
  options.inputShapes = nuri::zoo::inputShapes(name, 1, 128);
  return options;
}

using Clock = std::chrono::steady_clock;

} // namespace

int main(int argc, char **argv) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "nuri-bench-compile";
  std::string target = "atom";
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else if (!std::strcmp(argv[i], "--target") && i + 1 < argc) {
      target = argv[++i];
    } else {
      names.push_back(argv[i]);
    }
  }
  if (names.empty()) {
    names = {"bert-base", "gpt2-small"};
  }
  std::filesystem::create_directories(dir);
  int failures = 0;
  for (const std::string &name : names) {
    std::string path = (dir / (name + ".onnx")).string();
    if (!nuri::bench::ensureZooModel("nuri-bench-compile", name, path)) {
      return 2;
    }
    nuri::bench::DriverContext driver;
    mlir::MLIRContext &context = driver.context;

    // Stage times from the progress callback: each stage lasts until the
    // next one starts.
    std::map<std::string, double> stages;
    std::string stage;
    Clock::time_point mark = Clock::now(), start = mark;
    nuri::driver::CompileOptions options;
    options.target = target;
    options.progress = [&](const std::string &what) {
      Clock::time_point now = Clock::now();
      if (!stage.empty()) {
        stages[stage] += std::chrono::duration<double>(now - mark).count();
      }
      stage = what.rfind("lowering", 0) == 0    ? "NPU lowering"
              : what.rfind("importing", 0) == 0 ? "import"
                                                : what;
      mark = now;
    };
    mlir::FailureOr<nuri::driver::CompileResult> result =
        nuri::driver::compileOnnxFile(context, path, shapesFor(name), options);
    Clock::time_point end = Clock::now();
    stages[stage] += std::chrono::duration<double>(end - mark).count();
    double seconds = std::chrono::duration<double>(end - start).count();
    if (failed(result)) {
      std::printf("compile %s for %s: FAILED\n", name.c_str(), target.c_str());
      ++failures;
      continue;
    }
    int npu = 0;
    for (const nuri::driver::PartitionInfo &p : result->report.partitions) {
      npu += p.npu;
    }
    std::printf(
        "compile %s seq128 for %s (bf16): %.2f s (%.2fx of the 10 s "
        "target); %lld of %lld ops on the NPU, %zu partitions (%d NPU), "
        "package %.0f MB\n",
        name.c_str(), target.c_str(), seconds, seconds / 10.0,
        static_cast<long long>(result->report.npuOps),
        static_cast<long long>(result->report.npuOps + result->report.cpuOps),
        result->report.partitions.size(), npu, result->package.size() / 1e6);
    for (const auto &[what, s] : stages) {
      std::printf("  %-14s %6.2f s  %5.1f%%\n", what.c_str(), s,
                  100.0 * s / seconds);
    }
  }
  return failures ? 1 : 0;
}
