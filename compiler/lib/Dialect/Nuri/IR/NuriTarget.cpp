//===- NuriTarget.cpp - The chip config a module is compiled for ---------===//

#include "nuri/Dialect/Nuri/IR/NuriTarget.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <mutex>

using namespace mlir;

namespace nuri {
namespace detail {

// Attributes are uniqued and immortal within their context, so the
// attribute itself is the key. Passes on different functions ask at the
// same time, hence the lock; entries are never erased, so the references
// handed out stay valid.
class TargetCache {
public:
  const Result<target::Target> &get(TargetAttr attr) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = parsed_.find(attr);
    if (it != parsed_.end()) {
      return *it->second;
    }
    auto entry = std::make_unique<Result<target::Target>>(load(attr));
    return *parsed_.try_emplace(attr, std::move(entry)).first->second;
  }

  void set(TargetAttr attr, const target::Target &t) {
    std::lock_guard<std::mutex> lock(mutex_);
    // A second attach of an equal attribute keeps the first parse: the
    // references already handed out must not change under their holders.
    parsed_.try_emplace(attr, std::make_unique<Result<target::Target>>(t));
  }

private:
  static Result<target::Target> load(TargetAttr attr) {
    if (attr.getConfig().empty()) {
      return target::findTarget(attr.getName().str());
    }
    std::string origin = "#nuri.target<\"" + attr.getName().str() + "\">";
    Result<target::Target> t =
        target::loadTargetYaml(attr.getConfig().str(), origin);
    if (t && t->name != attr.getName()) {
      return Result<target::Target>::failure(
          origin + ": the config names the chip '" + t->name + "'");
    }
    return t;
  }

  std::mutex mutex_;
  llvm::DenseMap<Attribute, std::unique_ptr<Result<target::Target>>> parsed_;
};

std::shared_ptr<TargetCache> makeTargetCache() {
  return std::make_shared<TargetCache>();
}

} // namespace detail

static detail::TargetCache &cacheOf(MLIRContext *ctx) {
  // A #nuri.target exists only once the dialect is loaded, and loading one
  // here could race with passes running on other threads.
  return ctx->getLoadedDialect<NuriDialect>()->getTargetCache();
}

const Result<target::Target> &getParsedTarget(TargetAttr attr) {
  return cacheOf(attr.getContext()).get(attr);
}

const target::Target *lookupTarget(Operation *op) {
  for (Operation *at = op; at; at = at->getParentOp()) {
    Attribute attr = at->getDiscardableAttr(kTargetAttrName);
    if (!attr) {
      continue;
    }
    auto targetAttr = dyn_cast<TargetAttr>(attr);
    if (!targetAttr) {
      op->emitError("'") << kTargetAttrName
                         << "' must be a #nuri.target attribute, got " << attr;
      return nullptr;
    }
    const Result<target::Target> &t = getParsedTarget(targetAttr);
    if (!t) {
      op->emitError("cannot load target '")
          << targetAttr.getName() << "': " << t.error();
      return nullptr;
    }
    return &*t;
  }
  op->emitError("no target: no enclosing op has a '")
      << kTargetAttrName
      << "' attribute (the driver attaches it; in tests run "
         "nuri-attach-target)";
  return nullptr;
}

TargetAttr attachTarget(ModuleOp module, const target::Target &t,
                        bool embedConfig) {
  MLIRContext *ctx = module.getContext();
  ctx->getOrLoadDialect<NuriDialect>();
  auto attr =
      TargetAttr::get(ctx, t.name, embedConfig ? target::targetToYaml(t) : "");
  cacheOf(ctx).set(attr, t);
  module->setAttr(kTargetAttrName, attr);
  return attr;
}

Result<target::Target> loadNamedTarget(llvm::StringRef nameOrPath) {
  return nameOrPath.ends_with(".yaml")
             ? target::loadTargetFile(nameOrPath.str())
             : target::findTarget(nameOrPath.str());
}

LogicalResult TargetOption::load(MLIRContext *ctx, StringRef nameOrPath) {
  named_.reset();
  if (nameOrPath.empty()) {
    return success();
  }
  Result<target::Target> t = loadNamedTarget(nameOrPath);
  if (!t) {
    return emitError(UnknownLoc::get(ctx), "cannot load target '")
           << nameOrPath << "': " << t.error();
  }
  named_ = std::move(*t);
  return success();
}

LogicalResult TargetAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef name, StringRef config) {
  (void)config; // whether it parses is the module's check (NuriDialect.cpp)
  if (name.empty()) {
    return emitError() << "#nuri.target needs a chip name";
  }
  return success();
}

} // namespace nuri
