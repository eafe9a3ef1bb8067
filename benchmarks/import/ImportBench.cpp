//===- ImportBench.cpp - Import plus default passes: time and memory ------===//
//
// nuri-bench-import [--dir DIR] [MODEL ...]   (default: bert-base gpt2-small)
//
// Writes each zoo model once, then imports it and runs the default graph
// pipeline in a fresh child process, so that each figure is that model's
// own peak resident memory. Prints wall time against the 3 s target and
// peak memory as a multiple of the weights' bytes (target: under 2x).
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Frontend/OnnxImporter.h"
#include "nuri/Zoo/Zoo.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {
struct Measurement {
  double seconds = 0;
  long peakKiB = 0;
  int ok = 0;
};

// The input shapes of the benchmark: batch 1, sequence 128.
nuri::OnnxImportOptions shapesFor(const std::string &name) {
  nuri::OnnxImportOptions options;
  options.inputShapes = nuri::zoo::inputShapes(name, 1, 128);
  return options;
}

Measurement measureInChild(const std::string &name, const std::string &path) {
  int fds[2];
  if (pipe(fds) != 0) {
    return {};
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Measurement m;
    auto start = std::chrono::steady_clock::now();
    mlir::DialectRegistry registry;
    nuri::registerOnnxImporterDialects(registry);
    mlir::MLIRContext context(registry);
    context.disableMultithreading();
    mlir::OwningOpRef<mlir::ModuleOp> module =
        nuri::importOnnxFile(context, path, shapesFor(name));
    if (module) {
      mlir::PassManager pm(&context);
      nuri::buildDefaultGraphPipeline(pm);
      m.ok = mlir::succeeded(pm.run(*module));
    }
    m.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    m.peakKiB = usage.ru_maxrss;
    ssize_t written = write(fds[1], &m, sizeof m);
    _exit(written == sizeof m ? 0 : 1);
  }
  close(fds[1]);
  Measurement m;
  if (read(fds[0], &m, sizeof m) != sizeof m) {
    m = {};
  }
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  return m;
}
} // namespace

int main(int argc, char **argv) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "nuri-bench-import";
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
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
    std::string error;
    std::unique_ptr<nuri::zoo::Model> model =
        nuri::zoo::buildModel(name, {}, error);
    if (!model) {
      std::fprintf(stderr, "nuri-bench-import: %s\n", error.c_str());
      return 2;
    }
    double weightBytes = static_cast<double>(model->initializerBytes());
    std::string path = (dir / (name + ".onnx")).string();
    if (!std::filesystem::exists(path) &&
        !nuri::zoo::writeModel(*model, path, {}, error)) {
      std::fprintf(stderr, "nuri-bench-import: %s\n", error.c_str());
      return 2;
    }
    model.reset();
    Measurement m = measureInChild(name, path);
    if (!m.ok) {
      std::printf("import+passes %s: FAILED\n", name.c_str());
      ++failures;
      continue;
    }
    double peakBytes = m.peakKiB * 1024.0;
    std::printf("import+passes %s seq128: %.2f s (%.2fx of the 3 s target), "
                "peak RSS %.0f MB = %.2fx the weights' %.0f MB "
                "(target < 2x)\n",
                name.c_str(), m.seconds, m.seconds / 3.0, peakBytes / 1e6,
                peakBytes / weightBytes, weightBytes / 1e6);
  }
  return failures ? 1 : 0;
}
