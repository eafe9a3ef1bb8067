//===- TargetBackend.cpp - The registry of target backends ---------------===//

#include "nuri/Dialect/Nuri/IR/TargetBackend.h"

#include <mutex>
#include <vector>

namespace nuri {
namespace {

struct Registry {
  std::mutex mutex;
  // Never shrinks: callers keep raw pointers to the backends.
  std::vector<std::unique_ptr<TargetBackend>> backends;
};

Registry &registry() {
  static Registry r;
  return r;
}

} // namespace

void registerTargetBackend(std::unique_ptr<TargetBackend> backend) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const std::unique_ptr<TargetBackend> &b : r.backends) {
    if (b->name() == backend->name()) {
      return;
    }
  }
  r.backends.push_back(std::move(backend));
}

const TargetBackend *findTargetBackend(const target::Target &target) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const std::unique_ptr<TargetBackend> &b : r.backends) {
    if (b->accepts(target)) {
      return b.get();
    }
  }
  return nullptr;
}

} // namespace nuri
