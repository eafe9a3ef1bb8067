//===- Nsga2.cpp - Multi-objective search over a sweep's grid -------------===//
//
// Validates the options and runs the search in libnuri_nsga2.so
// (Nsga2Pagmo.cpp), which this file loads the first time a sweep needs it, so
// that commands that never search do not load pagmo.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dse/Nsga2.h"

#include <fmt/format.h>

#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <string>

namespace nuri::dse {

namespace {

using SearchFn = bool (*)(const std::vector<uint64_t> &, unsigned,
                          const BatchEvaluator &, const Nsga2Options &,
                          std::vector<std::vector<uint64_t>> &, std::string &);

/// The module's search function, or why it could not be loaded. Loaded once
/// per process and never unloaded.
struct Module {
  SearchFn search = nullptr;
  std::string error;
};

const Module &module() {
  static const Module loaded = [] {
    Module m;
#ifdef NURI_NSGA2_MODULE
    // Beside the tools (<build>/bin/nuri -> <build>/lib), then where the
    // build put it.
    std::vector<std::string> candidates;
    std::error_code ec;
    std::filesystem::path exe =
        std::filesystem::read_symlink("/proc/self/exe", ec);
    std::string file =
        std::filesystem::path(NURI_NSGA2_MODULE).filename().string();
    if (!ec) {
      candidates.push_back(
          (exe.parent_path().parent_path() / "lib" / file).string());
    }
    candidates.push_back(NURI_NSGA2_MODULE);
    for (const std::string &path : candidates) {
      void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        m.error += fmt::format("\n  {}: {}", path, dlerror());
        continue;
      }
      m.search =
          reinterpret_cast<SearchFn>(dlsym(handle, "nuri_dse_nsga2_search"));
      if (m.search) {
        m.error.clear();
        break;
      }
      m.error += fmt::format("\n  {}: no nuri_dse_nsga2_search", path);
    }
    if (!m.search) {
      m.error = "nsga2: cannot load the NSGA-II module:" + m.error;
    }
#else
    m.error = "nsga2: this Nuri was built without pagmo (install libpagmo-dev, "
              "scripts/install-deps.sh, and reconfigure)";
#endif
    return m;
  }();
  return loaded;
}

} // namespace

bool haveNsga2() { return module().search != nullptr; }

Result<std::vector<std::vector<uint64_t>>>
nsga2Search(const std::vector<uint64_t> &radix, unsigned objectives,
            const BatchEvaluator &evaluate, const Nsga2Options &options) {
  using Out = std::vector<std::vector<uint64_t>>;
  if (options.population < 8 || options.population % 4) {
    return Result<Out>::failure(fmt::format(
        "nsga2: population {} must be a multiple of 4 and at least 8",
        options.population));
  }
  if (objectives < 2) {
    return Result<Out>::failure(
        "nsga2: a multi-objective search needs at least two objectives");
  }
  const Module &m = module();
  if (!m.search) {
    return Result<Out>::failure(m.error);
  }
  Out out;
  std::string error;
  if (!m.search(radix, objectives, evaluate, options, out, error)) {
    return Result<Out>::failure(error);
  }
  return out;
}

} // namespace nuri::dse
