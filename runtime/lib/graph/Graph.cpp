//===- Graph.cpp - Nuri's serializable op graph ---------------------------===//

#include "nuri/graph/Graph.h"

#include <string>

namespace nuri::graph {

namespace {
struct DTypeInfo {
  DType type;
  const char *name;
  size_t size;
  bool isFloat;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "f32", 4, true},       {DType::F16, "f16", 2, true},
    {DType::BF16, "bf16", 2, true},     {DType::F64, "f64", 8, true},
    {DType::I8, "i8", 1, false},        {DType::I16, "i16", 2, false},
    {DType::I32, "i32", 4, false},      {DType::I64, "i64", 8, false},
    {DType::U8, "u8", 1, false},        {DType::U16, "u16", 2, false},
    {DType::U32, "u32", 4, false},      {DType::U64, "u64", 8, false},
    {DType::Bool, "bool", 1, false},    {DType::F8E4M3, "f8e4m3", 1, true},
    {DType::F8E5M2, "f8e5m2", 1, true},
};

const DTypeInfo *info(DType type) {
  for (const DTypeInfo &i : kDTypes) {
    if (i.type == type) {
      return &i;
    }
  }
  return nullptr;
}
} // namespace

size_t dtypeSize(DType type) {
  const DTypeInfo *i = info(type);
  return i ? i->size : 0;
}

const char *dtypeName(DType type) {
  const DTypeInfo *i = info(type);
  return i ? i->name : "?";
}

std::optional<DType> parseDType(const std::string &name) {
  for (const DTypeInfo &i : kDTypes) {
    if (name == i.name) {
      return i.type;
    }
  }
  return std::nullopt;
}

bool isFloat(DType type) {
  const DTypeInfo *i = info(type);
  return i && i->isFloat;
}

int64_t elementCount(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    count *= d;
  }
  return count;
}

int64_t Op::getInt(const std::string &name, int64_t otherwise) const {
  auto it = attrs.find(name);
  if (it == attrs.end()) {
    return otherwise;
  }
  if (auto *v = std::get_if<int64_t>(&it->second)) {
    return *v;
  }
  if (auto *v = std::get_if<double>(&it->second)) {
    return static_cast<int64_t>(*v);
  }
  return otherwise;
}

double Op::getFloat(const std::string &name, double otherwise) const {
  auto it = attrs.find(name);
  if (it == attrs.end()) {
    return otherwise;
  }
  if (auto *v = std::get_if<double>(&it->second)) {
    return *v;
  }
  if (auto *v = std::get_if<int64_t>(&it->second)) {
    return static_cast<double>(*v);
  }
  return otherwise;
}

std::string Op::getString(const std::string &name,
                          const std::string &otherwise) const {
  auto it = attrs.find(name);
  if (it == attrs.end()) {
    return otherwise;
  }
  if (auto *v = std::get_if<std::string>(&it->second)) {
    return *v;
  }
  return otherwise;
}

std::vector<int64_t> Op::getInts(const std::string &name) const {
  auto it = attrs.find(name);
  if (it == attrs.end()) {
    return {};
  }
  if (auto *v = std::get_if<std::vector<int64_t>>(&it->second)) {
    return *v;
  }
  if (auto *v = std::get_if<int64_t>(&it->second)) {
    return {*v};
  }
  return {};
}

std::vector<double> Op::getFloats(const std::string &name) const {
  auto it = attrs.find(name);
  if (it == attrs.end()) {
    return {};
  }
  if (auto *v = std::get_if<std::vector<double>>(&it->second)) {
    return *v;
  }
  if (auto *v = std::get_if<double>(&it->second)) {
    return {*v};
  }
  return {};
}

std::string Graph::validate(int64_t weightBytes) const {
  const int64_t count = static_cast<int64_t>(tensors.size());
  auto describe = [](const Op &op, size_t index) {
    return "op " + std::to_string(index) + " (" + op.kind +
           (op.location.empty() ? "" : ", '" + op.location + "'") + ")";
  };
  for (size_t t = 0; t < tensors.size(); ++t) {
    const TensorDesc &tensor = tensors[t];
    if (dtypeSize(tensor.dtype) == 0) {
      return "tensor " + std::to_string(t) + " has an unknown element type";
    }
    int64_t elements = 1;
    for (int64_t d : tensor.shape) {
      if (d < 0 || (d && elements > (int64_t(1) << 40) / d)) {
        return "tensor " + std::to_string(t) +
               " has a negative or impossibly large shape";
      }
      elements *= d;
    }
    if (tensor.isConstant() &&
        (tensor.dataOffset > weightBytes ||
         tensor.byteSize() > weightBytes - tensor.dataOffset)) {
      return "constant tensor " + std::to_string(t) + " ('" + tensor.name +
             "') lies outside the weight section";
    }
  }
  std::vector<bool> ready(tensors.size(), false);
  for (size_t t = 0; t < tensors.size(); ++t) {
    ready[t] = tensors[t].isConstant();
  }
  for (int32_t id : inputs) {
    if (id < 0 || id >= count) {
      return "graph input id " + std::to_string(id) + " is out of range";
    }
    ready[id] = true;
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op &op = ops[i];
    if (op.kind.empty()) {
      return describe(op, i) + " has no kind";
    }
    for (int32_t id : op.inputs) {
      if (id == -1) {
        continue;
      }
      if (id < -1 || id >= count) {
        return describe(op, i) + " reads tensor id " + std::to_string(id) +
               ", out of range";
      }
      if (!ready[id]) {
        return describe(op, i) + " reads tensor " + std::to_string(id) +
               " before anything writes it";
      }
    }
    for (int32_t id : op.outputs) {
      if (id < 0 || id >= count) {
        return describe(op, i) + " writes tensor id " + std::to_string(id) +
               ", out of range";
      }
      if (ready[id]) {
        return describe(op, i) + " writes tensor " + std::to_string(id) +
               ", which is already defined";
      }
      ready[id] = true;
    }
  }
  for (int32_t id : outputs) {
    if (id < 0 || id >= count || !ready[id]) {
      return "graph output id " + std::to_string(id) +
             " is out of range or never written";
    }
  }
  return "";
}

} // namespace nuri::graph
