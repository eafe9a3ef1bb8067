//===- MemoryLink.cpp - The registry of memory-link models ----------------===//

#include "MemoryLink.h"

#include "SharedBandwidthLink.h"

#include "nuri/isa/Result.h"

#include <fmt/format.h>

namespace nuri::sim::detail {

LinkRegistry::LinkRegistry() {
  // Built-in models; a new DRAM or NoC model adds its line here.
  add(sharedBandwidthLinkModel());
}

LinkRegistry &LinkRegistry::instance() {
  static LinkRegistry registry;
  return registry;
}

void LinkRegistry::add(LinkModel model) {
  if (find(model.name)) {
    throw Error(
        fmt::format("memory-link model `{}` registered twice", model.name));
  }
  models_.push_back(std::move(model));
}

const LinkModel *LinkRegistry::find(const std::string &name) const {
  for (const LinkModel &m : models_) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

std::unique_ptr<MemoryLink> LinkRegistry::make(const LinkParams &params,
                                               EventQueue &events) const {
  const LinkModel *m = find(params.model);
  if (!m) {
    std::string known;
    for (const LinkModel &k : models_) {
      known += (known.empty() ? "" : ", ") + k.name;
    }
    throw Error(fmt::format("{}: {}.model: unknown memory-link model `{}` "
                            "(known: {})",
                            params.target ? params.target->name : "target",
                            params.name, params.model, known));
  }
  return m->make(params, events);
}

} // namespace nuri::sim::detail
