//===- OnnxImporter.cpp - ONNX protobuf to the nuri dialect ---------------===//

#include "ImporterImpl.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include <cmath>
#include <cstring>

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <deque>

using namespace mlir;
using namespace nuri;
using namespace nuri::onnx_import;

//===----------------------------------------------------------------------===//
// Helpers shared with the converters
//===----------------------------------------------------------------------===//

const onnx::AttributeProto *NodeContext::attr(llvm::StringRef name) const {
  for (const onnx::AttributeProto &a : node.attribute()) {
    if (a.name() == name) {
      return &a;
    }
  }
  return nullptr;
}

int64_t NodeContext::intAttr(llvm::StringRef name, int64_t otherwise) const {
  const onnx::AttributeProto *a = attr(name);
  return a ? a->i() : otherwise;
}

float NodeContext::floatAttr(llvm::StringRef name, float otherwise) const {
  const onnx::AttributeProto *a = attr(name);
  return a ? a->f() : otherwise;
}

std::string NodeContext::stringAttr(llvm::StringRef name,
                                    llvm::StringRef otherwise) const {
  const onnx::AttributeProto *a = attr(name);
  return a ? a->s() : otherwise.str();
}

std::optional<std::vector<int64_t>>
NodeContext::intsAttr(llvm::StringRef name) const {
  const onnx::AttributeProto *a = attr(name);
  if (!a) {
    return std::nullopt;
  }
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

InFlightDiagnostic NodeContext::error() const {
  std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
  // The location names the node; the message names what kind of node.
  return mlir::emitError(loc)
         << node.op_type() << " (" << domain << " opset " << opset << "): ";
}

FailureOr<int64_t> onnx_import::normalizeAxis(NodeContext &n, int64_t axis,
                                              int64_t rank) {
  int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank) {
    n.error() << "axis " << axis << " is out of range for rank " << rank;
    return failure();
  }
  return normalized;
}

std::optional<std::vector<int64_t>> onnx_import::constantInts(Value value) {
  ElementsAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr))) {
    return std::nullopt;
  }
  if (isa<FloatType>(attr.getShapedType().getElementType())) {
    return std::nullopt;
  }
  FailureOr<std::vector<int64_t>> ints = readAsInt(attr);
  if (failed(ints)) {
    return std::nullopt;
  }
  return std::move(*ints);
}

std::optional<std::vector<double>> onnx_import::constantFloats(Value value) {
  ElementsAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr))) {
    return std::nullopt;
  }
  FailureOr<std::vector<double>> values = readAsDouble(attr);
  if (failed(values)) {
    return std::nullopt;
  }
  return std::move(*values);
}

RankedTensorType onnx_import::tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

ArrayRef<int64_t> onnx_import::shapeOf(Value value) {
  return tensorType(value).getShape();
}

//===----------------------------------------------------------------------===//
// Importer
//===----------------------------------------------------------------------===//

Importer::Importer(MLIRContext &context, StringRef sourceName,
                   StringRef baseDir, const OnnxImportOptions &options)
    : context(context), builder(&context), sourceName(sourceName.str()),
      baseDir(baseDir.str()), options(options) {}

Location Importer::nodeLoc(const onnx::NodeProto &node) {
  Location file = FileLineColLoc::get(&context, sourceName, 0, 0);
  std::string name =
      node.name().empty()
          ? node.op_type() + ":" + (node.output_size() ? node.output(0) : "")
          : node.name();
  return NameLoc::get(StringAttr::get(&context, name), file);
}

Type Importer::elementTypeOrNull(int32_t onnxType) {
  MLIRContext *ctx = &context;
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return Type(Float32Type::get(ctx));
  case onnx::TensorProto::DOUBLE:
    return Type(Float64Type::get(ctx));
  case onnx::TensorProto::FLOAT16:
    return Type(Float16Type::get(ctx));
  case onnx::TensorProto::BFLOAT16:
    return Type(BFloat16Type::get(ctx));
  case onnx::TensorProto::BOOL:
    return Type(IntegerType::get(ctx, 1));
  case onnx::TensorProto::INT8:
    return Type(IntegerType::get(ctx, 8));
  case onnx::TensorProto::INT16:
    return Type(IntegerType::get(ctx, 16));
  case onnx::TensorProto::INT32:
    return Type(IntegerType::get(ctx, 32));
  case onnx::TensorProto::INT64:
    return Type(IntegerType::get(ctx, 64));
  case onnx::TensorProto::UINT8:
    return Type(IntegerType::get(ctx, 8, IntegerType::Unsigned));
  case onnx::TensorProto::UINT16:
    return Type(IntegerType::get(ctx, 16, IntegerType::Unsigned));
  case onnx::TensorProto::UINT32:
    return Type(IntegerType::get(ctx, 32, IntegerType::Unsigned));
  case onnx::TensorProto::UINT64:
    return Type(IntegerType::get(ctx, 64, IntegerType::Unsigned));
  // ONNX 1.14's float8 types, by number: the installed 1.12 headers predate
  // them.
  case 17:
    return Type(Float8E4M3FNType::get(ctx));
  case 18:
    return Type(Float8E4M3FNUZType::get(ctx));
  case 19:
    return Type(Float8E5M2Type::get(ctx));
  case 20:
    return Type(Float8E5M2FNUZType::get(ctx));
  default:
    return Type();
  }
}

FailureOr<Type> Importer::elementType(int32_t onnxType, Location loc) {
  if (Type type = elementTypeOrNull(onnxType)) {
    return type;
  }
  return emitError(loc) << "unsupported ONNX element type "
                        << onnx::TensorProto::DataType_Name(
                               static_cast<onnx::TensorProto::DataType>(
                                   onnxType))
                        << " (" << onnxType << ")";
}

namespace {
// A heap buffer that an AsmResourceBlob owns: moving a protobuf's raw_data
// string here hands the weights to MLIR without copying them.
AsmResourceBlob blobFromString(std::string &&bytes) {
  auto *owned = new std::string(std::move(bytes));
  ArrayRef<char> data(owned->data(), owned->size());
  return AsmResourceBlob(
      data, alignof(uint64_t),
      [owned](void *, size_t, size_t) { delete owned; },
      /*dataIsMutable=*/false);
}

std::string sanitizeResourceName(StringRef name) {
  std::string out;
  for (char c : name) {
    out += (llvm::isAlnum(c) || c == '_' || c == '.') ? c : '_';
  }
  if (out.empty() || llvm::isDigit(out[0])) {
    out = "w_" + out;
  }
  return out;
}
} // namespace

// ONNX 1.16's 4-bit types, by number (the installed 1.12 headers predate
// them).
constexpr int32_t kOnnxUint4 = 21, kOnnxInt4 = 22;

ElementsAttr Importer::placeholderAttr(RankedTensorType type) {
  // 2^-e * (1 + m/64): exact in bf16 (7 mantissa bits) and fp16, distinct
  // for the first 63 * 24 tensors (a 70B model has under 1,000), and far
  // from the 0, 1 and 0.5 that folds and fusion patterns look for.
  unsigned i = placeholders++;
  double value =
      std::ldexp(1.0 + double(i % 63 + 1) / 64.0, -3 - int((i / 63) % 24));
  Type element = type.getElementType();
  if (auto f = dyn_cast<FloatType>(element)) {
    return DenseElementsAttr::get(type, FloatAttr::get(f, value));
  }
  if (element.isInteger(1)) {
    return DenseElementsAttr::get(type, true);
  }
  // Integer tensors (indices, int8 weights): a small distinct value.
  return DenseElementsAttr::get(
      type, IntegerAttr::get(element, int64_t(i % 100 + 2)));
}

FailureOr<ElementsAttr> Importer::tensorAttr(onnx::TensorProto &tensor,
                                             Location loc) {
  // A 4-bit tensor (opset 21's int4/uint4, two values a byte, the first in
  // the low nibble) is widened to int8/uint8, one value a byte. Only
  // QuantizeLinear/DequantizeLinear take 4-bit tensors, and dequantizing the
  // widened values is exact; a QuantizeLinear to 4 bits is refused at its
  // node (isWidened4Bit).
  bool fourBit =
      tensor.data_type() == kOnnxUint4 || tensor.data_type() == kOnnxInt4;
  bool fourBitSigned = tensor.data_type() == kOnnxInt4;
  FailureOr<Type> element =
      fourBit
          ? FailureOr<Type>(IntegerType::get(
                &context, 8,
                fourBitSigned ? IntegerType::Signless : IntegerType::Unsigned))
          : elementType(tensor.data_type(), loc);
  if (failed(element)) {
    return failure();
  }
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  std::optional<int64_t> checked = checkedElementCount(shape);
  if (!checked) {
    return emitError(loc) << "tensor '" << tensor.name()
                          << "' has a negative or impossibly large shape";
  }
  int64_t count = *checked;
  auto type = RankedTensorType::get(shape, *element);
  unsigned bits = element->getIntOrFloatBitWidth();
  int64_t byteWidth = bits == 1 ? 1 : bits / 8;
  int64_t expectedBytes = fourBit ? (count + 1) / 2 : count * byteWidth;

  // Raw bytes, from the file or inline.
  std::optional<std::string> raw;
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &entry : tensor.external_data()) {
      if (entry.key() == "location") {
        location = entry.value();
      } else if (entry.key() == "offset") {
        offset = std::atoll(entry.value().c_str());
      } else if (entry.key() == "length") {
        length = std::atoll(entry.value().c_str());
      }
    }
    if (options.weightPlaceholders) {
      return placeholderAttr(type);
    }
    llvm::SmallString<256> path(baseDir);
    llvm::sys::path::append(path, location);
    if (location.empty() || llvm::sys::path::is_absolute(location) ||
        StringRef(location).contains("..")) {
      return emitError(loc) << "tensor '" << tensor.name()
                            << "' names an invalid external data location '"
                            << location << "'";
    }
    auto file = llvm::MemoryBuffer::getFileSlice(
        path, length < 0 ? expectedBytes : length, offset,
        /*IsVolatile=*/false);
    if (!file) {
      return emitError(loc)
             << "cannot read external data of tensor '" << tensor.name()
             << "' from '" << path << "' (offset " << offset
             << "): " << file.getError().message();
    }
    raw = (*file)->getBuffer().str();
  } else if (tensor.has_raw_data()) {
    raw = std::move(*tensor.mutable_raw_data());
    tensor.clear_raw_data();
  }

  if (raw) {
    if (static_cast<int64_t>(raw->size()) != expectedBytes) {
      InFlightDiagnostic d = emitError(loc)
                             << "tensor '" << tensor.name() << "' holds "
                             << raw->size() << " bytes, its ";
      if (fourBit) {
        d << count << " 4-bit values need " << expectedBytes;
      } else {
        d << "shape and type need " << expectedBytes;
      }
      return d;
    }
    if (fourBit) {
      std::string wide(size_t(count), '\0');
      for (int64_t i = 0; i < count; ++i) {
        int nibble = (uint8_t((*raw)[size_t(i / 2)]) >> (4 * (i % 2))) & 0xF;
        wide[size_t(i)] =
            char(fourBitSigned && nibble >= 8 ? nibble - 16 : nibble);
      }
      raw = std::move(wide);
    }
    if (bits == 1) {
      SmallVector<bool> bools;
      for (char c : *raw) {
        bools.push_back(c != 0);
      }
      return ElementsAttr(DenseElementsAttr::get(type, bools));
    }
    if (static_cast<int64_t>(raw->size()) <= kResourceThresholdBytes) {
      return ElementsAttr(DenseElementsAttr::getFromRawBuffer(
          type, ArrayRef<char>(raw->data(), raw->size())));
    }
    std::string name =
        sanitizeResourceName(tensor.name().empty() ? "tensor" : tensor.name());
    return ElementsAttr(DenseResourceElementsAttr::get(
        type, name, blobFromString(std::move(*raw))));
  }

  if (fourBit) {
    return emitError(loc) << (fourBitSigned ? "int4" : "uint4") << " tensor '"
                          << tensor.name()
                          << "' must hold its values in raw or external data";
  }
  // Typed fields. Which field holds the data depends on the element type.
  std::vector<double> floats;
  std::vector<int64_t> ints;
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT:
    floats.assign(tensor.float_data().begin(), tensor.float_data().end());
    break;
  case onnx::TensorProto::DOUBLE:
    floats.assign(tensor.double_data().begin(), tensor.double_data().end());
    break;
  case onnx::TensorProto::INT64:
    ints.assign(tensor.int64_data().begin(), tensor.int64_data().end());
    break;
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64:
    ints.assign(tensor.uint64_data().begin(), tensor.uint64_data().end());
    break;
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16: {
    // Stored as bit patterns in int32_data.
    std::string bytes;
    for (int32_t v : tensor.int32_data()) {
      uint16_t half = static_cast<uint16_t>(v);
      bytes.append(reinterpret_cast<const char *>(&half), 2);
    }
    if (static_cast<int64_t>(bytes.size()) != expectedBytes) {
      return emitError(loc)
             << "tensor '" << tensor.name() << "' holds " << bytes.size() / 2
             << " elements, its shape needs " << count;
    }
    return ElementsAttr(DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(bytes.data(), bytes.size())));
  }
  default:
    ints.assign(tensor.int32_data().begin(), tensor.int32_data().end());
    break;
  }
  int64_t have = floats.empty() ? ints.size() : floats.size();
  if (have != count) {
    return emitError(loc) << "tensor '" << tensor.name() << "' holds " << have
                          << " elements, its shape needs " << count;
  }
  return floats.empty() ? makeFromInt(type, ints)
                        : makeFromDouble(type, floats);
}

FailureOr<Value> Importer::tensorConstant(onnx::TensorProto &tensor,
                                          Location loc) {
  bool is4Bit =
      tensor.data_type() == kOnnxUint4 || tensor.data_type() == kOnnxInt4;
  FailureOr<ElementsAttr> attr = tensorAttr(tensor, loc);
  if (failed(attr)) {
    return failure();
  }
  Value value = constant(*attr);
  if (is4Bit) {
    widened4Bit.insert(value);
  }
  return value;
}

Value Importer::constant(ElementsAttr attr) {
  return builder.create<ConstantOp>(builder.getUnknownLoc(), attr);
}

Value Importer::constantInts(ArrayRef<int64_t> values, ArrayRef<int64_t> shape,
                             Type type) {
  return constant(makeFromInt(RankedTensorType::get(shape, type), values));
}

Value Importer::scalar(double value, Type elementType) {
  return constant(
      makeFromDouble(RankedTensorType::get({}, elementType), {value}));
}

std::optional<int64_t>
onnx_import::checkedElementCount(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d && count > kMaxTensorElements / d)) {
      return std::nullopt;
    }
    count *= d;
  }
  return count;
}

FailureOr<SmallVector<Value>> Importer::finish(OperationState &state) {
  // Hostile models can ask for shapes whose element count overflows; refuse
  // them before any op computes with such a type.
  for (Type type : state.types) {
    auto ranked = dyn_cast<RankedTensorType>(type);
    if (ranked && !checkedElementCount(ranked.getShape())) {
      return emitError(state.location)
             << state.name << " would produce a tensor of shape with more than "
             << kMaxTensorElements << " elements";
    }
  }
  Operation *op = builder.create(state);
  if (failed(mlir::verify(op))) {
    op->erase();
    return failure();
  }
  // Fold as we go: shape arithmetic becomes constants right away, which the
  // converters downstream need (Reshape's target, Slice's bounds, ...).
  SmallVector<OpFoldResult> folded;
  if (succeeded(op->fold(folded)) && !folded.empty()) {
    SmallVector<Value> results;
    for (auto [result, fold] : llvm::zip(op->getResults(), folded)) {
      if (auto value = dyn_cast<Value>(fold)) {
        results.push_back(value);
        continue;
      }
      auto attr = cast<ElementsAttr>(cast<Attribute>(fold));
      results.push_back(constant(attr));
      (void)result;
    }
    op->erase();
    return results;
  }
  return SmallVector<Value>(op->getResults());
}

FailureOr<SmallVector<const onnx::NodeProto *>>
Importer::sortNodes(const onnx::GraphProto &graph) {
  // Old exporters write nodes out of order; Kahn's algorithm over the
  // producer relation restores a topological order, and what is left over
  // is a cycle.
  int size = graph.node_size();
  llvm::StringMap<int> producer;
  for (int i = 0; i < size; ++i) {
    for (const std::string &out : graph.node(i).output()) {
      if (!out.empty()) {
        producer[out] = i;
      }
    }
  }
  std::vector<int> pending(size, 0);
  std::vector<std::vector<int>> users(size);
  auto dependOn = [&](int node, const std::string &name) {
    auto it = producer.find(name);
    if (!name.empty() && it != producer.end() && it->second != node) {
      ++pending[node];
      users[it->second].push_back(node);
    }
  };
  for (int i = 0; i < size; ++i) {
    const onnx::NodeProto &node = graph.node(i);
    for (const std::string &in : node.input()) {
      dependOn(i, in);
    }
    // Subgraphs read outer values too; they must exist before the node.
    for (const onnx::AttributeProto &a : node.attribute()) {
      if (a.has_g()) {
        for (const onnx::NodeProto &inner : a.g().node()) {
          for (const std::string &in : inner.input()) {
            dependOn(i, in);
          }
        }
      }
    }
  }
  std::deque<int> ready;
  for (int i = 0; i < size; ++i) {
    if (pending[i] == 0) {
      ready.push_back(i);
    }
  }
  SmallVector<const onnx::NodeProto *> order;
  while (!ready.empty()) {
    int i = ready.front();
    ready.pop_front();
    order.push_back(&graph.node(i));
    for (int user : users[i]) {
      if (--pending[user] == 0) {
        ready.push_back(user);
      }
    }
  }
  if (static_cast<int>(order.size()) != size) {
    for (int i = 0; i < size; ++i) {
      if (pending[i]) {
        return emitError(nodeLoc(graph.node(i)))
               << "the graph has a cycle through node '" << graph.node(i).name()
               << "' (" << graph.node(i).op_type() << ")";
      }
    }
  }
  return order;
}

LogicalResult Importer::importNodes(ArrayRef<const onnx::NodeProto *> nodes) {
  for (const onnx::NodeProto *node : nodes) {
    if (failed(importNode(*node))) {
      return failure();
    }
  }
  return success();
}

std::optional<int32_t> Importer::onnxTypeOf(Type type) {
  for (int32_t code : {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE,
                       onnx::TensorProto::FLOAT16, onnx::TensorProto::BFLOAT16,
                       onnx::TensorProto::BOOL, onnx::TensorProto::INT8,
                       onnx::TensorProto::INT16, onnx::TensorProto::INT32,
                       onnx::TensorProto::INT64, onnx::TensorProto::UINT8,
                       onnx::TensorProto::UINT16, onnx::TensorProto::UINT32,
                       onnx::TensorProto::UINT64}) {
    if (elementTypeOrNull(code) == type) {
      return code;
    }
  }
  return std::nullopt;
}

FailureOr<SmallVector<Type>> Importer::inferOpaqueTypes(NodeContext &n) {
  const onnx::NodeProto &node = n.node;
  // A one-node model with the node's inputs typed (constants as
  // initializers, so shape-dependent outputs like TopK's resolve) goes
  // through ONNX's shape inference.
  onnx::ModelProto model;
  model.set_ir_version(8);
  for (const auto &entry : opsets) {
    auto *opset = model.add_opset_import();
    opset->set_domain(entry.first().str());
    opset->set_version(entry.second);
  }
  onnx::GraphProto *graph = model.mutable_graph();
  *graph->add_node() = node;
  bool typed = true;
  for (auto [i, value] : llvm::enumerate(n.inputs)) {
    if (!value) {
      continue;
    }
    auto type = cast<RankedTensorType>(value.getType());
    std::optional<int32_t> code = onnxTypeOf(type.getElementType());
    if (!code) {
      typed = false;
      break;
    }
    ElementsAttr constant;
    std::optional<std::vector<int64_t>> ints = onnx_import::constantInts(value);
    if (ints && matchPattern(value, m_Constant(&constant)) &&
        constant.getNumElements() <= 1024) {
      onnx::TensorProto *init = graph->add_initializer();
      init->set_name(node.input(i));
      init->set_data_type(*code);
      for (int64_t d : type.getShape()) {
        init->add_dims(d);
      }
      if (type.getElementType().isInteger(1)) {
        for (int64_t v : *ints) {
          init->mutable_raw_data()->push_back(static_cast<char>(v != 0));
        }
      } else {
        FailureOr<std::vector<char>> bytes = readRawBytes(constant);
        if (succeeded(bytes)) {
          init->set_raw_data(bytes->data(), bytes->size());
        }
      }
    }
    onnx::ValueInfoProto *info = graph->add_input();
    info->set_name(node.input(i));
    auto *tensor = info->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(*code);
    auto *shape = tensor->mutable_shape();
    for (int64_t d : type.getShape()) {
      shape->add_dim()->set_dim_value(d);
    }
  }
  if (typed) {
    try {
      onnx::shape_inference::InferShapes(
          model, onnx::OpSchemaRegistry::Instance(),
          onnx::ShapeInferenceOptions(false, 0, true));
    } catch (const std::exception &) {
      // Unknown to ONNX's schemas: fall back to the graph's value_info.
    }
  }
  llvm::StringMap<Type> inferred;
  for (const onnx::ValueInfoProto &info : graph->value_info()) {
    const auto &t = info.type().tensor_type();
    if (!t.has_shape()) {
      continue;
    }
    SmallVector<int64_t> shape;
    bool isStatic = true;
    for (const auto &dim : t.shape().dim()) {
      isStatic &= dim.has_dim_value();
      shape.push_back(dim.dim_value());
    }
    Type element = elementTypeOrNull(t.elem_type());
    if (isStatic && element) {
      inferred[info.name()] = RankedTensorType::get(shape, element);
    }
  }
  SmallVector<Type> types;
  for (const std::string &out : node.output()) {
    if (auto it = inferred.find(out); it != inferred.end()) {
      types.push_back(it->second);
    } else if (auto known = valueInfoTypes.find(out);
               known != valueInfoTypes.end()) {
      types.push_back(known->second);
    } else {
      return n.error() << "unsupported op '" << node.op_type()
                       << "' kept opaque, but neither ONNX shape inference "
                          "nor the graph gives a static type for its output '"
                       << out << "'";
    }
  }
  return types;
}

LogicalResult Importer::importNode(const onnx::NodeProto &node) {
  StringRef domain = node.domain();
  if (domain == "ai.onnx") {
    domain = "";
  }
  auto opsetIt = opsets.find(domain);
  int64_t opset = opsetIt == opsets.end() ? -1 : opsetIt->second;
  NodeContext n{node, {}, nodeLoc(node), opset, *this};
  if (opset < 0) {
    return n.error() << "the model imports no opset for domain '"
                     << (domain.empty() ? "ai.onnx" : domain) << "'";
  }
  for (const std::string &name : node.input()) {
    if (name.empty()) {
      n.inputs.push_back(Value());
      continue;
    }
    auto it = values.find(name);
    if (it == values.end()) {
      return n.error() << "input '" << name
                       << "' is produced by no node, initializer or graph "
                          "input";
    }
    n.inputs.push_back(it->second);
  }

  const llvm::StringMap<Converter> *table = nullptr;
  if (domain.empty()) {
    table = &defaultDomainConverters();
  } else if (domain == "com.microsoft") {
    table = &microsoftDomainConverters();
  }
  Converter converter = nullptr;
  if (table) {
    auto it = table->find(node.op_type());
    converter = it == table->end() ? nullptr : it->second;
  }
  bool supported = converter != nullptr;
  if (supported && (opset < 1 || (domain.empty() && opset > 21))) {
    return n.error() << "opset " << opset
                     << " is not supported (Nuri reads opsets 11 to 21)";
  }
  if (!supported) {
    if (!options.allowUnsupported) {
      return n.error() << "unsupported op '" << node.op_type() << "' (domain '"
                       << (domain.empty() ? "ai.onnx" : domain)
                       << "'); pass --allow-unsupported to keep it for the "
                          "CPU";
    }
    // Kept opaque for the CPU. Result types come from ONNX's own shape
    // inference on the node, or else from the graph's value_info.
    FailureOr<SmallVector<Type>> types = inferOpaqueTypes(n);
    if (failed(types)) {
      return failure();
    }
    SmallVector<NamedAttribute> onnxAttrs;
    for (const onnx::AttributeProto &a : node.attribute()) {
      Attribute value;
      switch (a.type()) {
      case onnx::AttributeProto::INT:
        value = builder.getI64IntegerAttr(a.i());
        break;
      case onnx::AttributeProto::FLOAT:
        value = builder.getF64FloatAttr(a.f());
        break;
      case onnx::AttributeProto::STRING:
        value = builder.getStringAttr(a.s());
        break;
      case onnx::AttributeProto::INTS:
        value = builder.getDenseI64ArrayAttr(
            SmallVector<int64_t>(a.ints().begin(), a.ints().end()));
        break;
      case onnx::AttributeProto::FLOATS:
        value = builder.getDenseF64ArrayAttr(
            SmallVector<double>(a.floats().begin(), a.floats().end()));
        break;
      case onnx::AttributeProto::TENSOR: {
        onnx::TensorProto copy = a.t();
        FailureOr<ElementsAttr> tensor = tensorAttr(copy, n.loc);
        if (failed(tensor)) {
          return failure();
        }
        value = *tensor;
        break;
      }
      default:
        return n.error() << "unsupported op '" << node.op_type()
                         << "': attribute '" << a.name()
                         << "' is a graph or sparse tensor";
      }
      onnxAttrs.push_back(builder.getNamedAttr(a.name(), value));
    }
    // Absent optional inputs are dropped from the operands; the positions
    // of the present ones keep ONNX's input numbering for the CPU kernel.
    SmallVector<Value> operands;
    SmallVector<int64_t> positions;
    for (auto [i, v] : llvm::enumerate(n.inputs)) {
      if (v) {
        operands.push_back(v);
        positions.push_back(i);
      }
    }
    SmallVector<NamedAttribute> attrs = {
        builder.getNamedAttr("op_type", builder.getStringAttr(node.op_type())),
        builder.getNamedAttr("domain", builder.getStringAttr(node.domain())),
        builder.getNamedAttr("opset", builder.getI64IntegerAttr(opset)),
        builder.getNamedAttr("onnx_attributes",
                             builder.getDictionaryAttr(onnxAttrs)),
        builder.getNamedAttr("input_positions",
                             builder.getDenseI64ArrayAttr(positions))};
    auto results = createAll<OnnxOp>(n, operands, attrs, *types);
    if (failed(results)) {
      return failure();
    }
    for (auto [name, value] : llvm::zip(node.output(), *results)) {
      values[name] = value;
    }
    return success();
  }

  FailureOr<SmallVector<Value>> outputs = converter(n);
  if (failed(outputs)) {
    return failure();
  }
  for (int i = 0; i < node.output_size(); ++i) {
    const std::string &name = node.output(i);
    if (name.empty()) {
      continue;
    }
    if (i >= static_cast<int>(outputs->size()) || !(*outputs)[i]) {
      return n.error() << "output " << i << " ('" << name
                       << "') is not supported";
    }
    values[name] = (*outputs)[i];
  }
  return success();
}

FailureOr<SmallVector<Value>>
Importer::importSubgraph(const onnx::GraphProto &graph) {
  // Subgraph initializers and nodes join the outer scope: If branches are
  // inlined once their condition is known.
  for (const onnx::TensorProto &init : graph.initializer()) {
    onnx::TensorProto copy = init;
    FailureOr<Value> value =
        tensorConstant(copy, FileLineColLoc::get(&context, sourceName, 0, 0));
    if (failed(value)) {
      return failure();
    }
    values[init.name()] = *value;
  }
  auto order = sortNodes(graph);
  if (failed(order) || failed(importNodes(*order))) {
    return failure();
  }
  SmallVector<Value> outputs;
  for (const onnx::ValueInfoProto &out : graph.output()) {
    auto it = values.find(out.name());
    if (it == values.end()) {
      return emitError(FileLineColLoc::get(&context, sourceName, 0, 0))
             << "subgraph '" << graph.name() << "' output '" << out.name()
             << "' is never produced";
    }
    outputs.push_back(it->second);
  }
  return outputs;
}

OwningOpRef<ModuleOp> Importer::importModel(onnx::ModelProto &model) {
  Location fileLoc = FileLineColLoc::get(&context, sourceName, 0, 0);
  for (const onnx::OperatorSetIdProto &opset : model.opset_import()) {
    std::string domain = opset.domain() == "ai.onnx" ? "" : opset.domain();
    opsets[domain] = opset.version();
  }
  if (!model.has_graph()) {
    emitError(fileLoc) << "the file holds no graph: is it an ONNX model?";
    return nullptr;
  }
  auto defaultOpset = opsets.find("");
  if (defaultOpset == opsets.end()) {
    emitError(fileLoc) << "the model imports no default-domain opset";
    return nullptr;
  }
  if (defaultOpset->second < 1 || defaultOpset->second > 21) {
    emitError(fileLoc) << "opset " << defaultOpset->second
                       << " is not supported (Nuri reads opsets 11 to 21)";
    return nullptr;
  }
  onnx::GraphProto &graph = *model.mutable_graph();

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  builder.setInsertionPointToEnd(module->getBody());
  (*module)->setAttr(onnx_attrs::kSource, builder.getStringAttr(sourceName));
  (*module)->setAttr(onnx_attrs::kProducer,
                     builder.getStringAttr(model.producer_name() + " " +
                                           model.producer_version()));
  (*module)->setAttr(onnx_attrs::kOpset,
                     builder.getI64IntegerAttr(defaultOpset->second));

  // Graph inputs, less those that are initializers (old exporters list
  // weights as inputs too).
  llvm::StringSet<> initializerNames;
  for (const onnx::TensorProto &init : graph.initializer()) {
    initializerNames.insert(init.name());
  }
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  for (const auto &entry : options.constantInputs) {
    const std::string &name = entry.first;
    bool isInput = llvm::any_of(
        graph.input(), [&](const auto &input) { return input.name() == name; });
    if (!isInput) {
      emitError(fileLoc) << "cannot bind '" << name
                         << "': the model has no such input";
      return nullptr;
    }
  }
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializerNames.contains(input.name()) ||
        options.constantInputs.count(input.name())) {
      continue;
    }
    if (!input.type().has_tensor_type()) {
      emitError(fileLoc) << "unsupported input type: graph input '"
                         << input.name()
                         << "' is not a tensor (sequences, maps and optionals "
                            "are not supported)";
      return nullptr;
    }
    const onnx::TypeProto::Tensor &t = input.type().tensor_type();
    FailureOr<Type> element = elementType(t.elem_type(), fileLoc);
    if (failed(element)) {
      return nullptr;
    }
    SmallVector<int64_t> shape;
    auto pinned = options.inputShapes.find(input.name());
    if (!t.has_shape() && pinned == options.inputShapes.end()) {
      emitError(fileLoc) << "graph input '" << input.name()
                         << "' has no shape; give one with --input-shape "
                         << input.name() << "=...";
      return nullptr;
    }
    if (pinned != options.inputShapes.end()) {
      shape.assign(pinned->second.begin(), pinned->second.end());
      if (t.has_shape() &&
          t.shape().dim_size() != static_cast<int>(shape.size())) {
        emitError(fileLoc) << "--input-shape gives input '" << input.name()
                           << "' rank " << shape.size() << ", the model says "
                           << t.shape().dim_size();
        return nullptr;
      }
      for (int d = 0; t.has_shape() && d < t.shape().dim_size(); ++d) {
        const auto &dim = t.shape().dim(d);
        if (dim.has_dim_value() && dim.dim_value() != shape[d]) {
          emitError(fileLoc) << "--input-shape gives input '" << input.name()
                             << "' size " << shape[d] << " in dimension " << d
                             << ", the model fixes it to " << dim.dim_value();
          return nullptr;
        }
      }
    } else {
      for (int d = 0; d < t.shape().dim_size(); ++d) {
        const auto &dim = t.shape().dim(d);
        if (!dim.has_dim_value() || dim.dim_value() < 0) {
          emitError(fileLoc)
              << "graph input '" << input.name() << "' has a dynamic dimension "
              << d
              << (dim.has_dim_param() ? " ('" + dim.dim_param() + "')" : "")
              << "; pin it with --input-shape " << input.name() << "=...";
          return nullptr;
        }
        shape.push_back(dim.dim_value());
      }
    }
    if (!checkedElementCount(shape)) {
      emitError(fileLoc) << "graph input '" << input.name()
                         << "' has a negative or impossibly large shape";
      return nullptr;
    }
    argTypes.push_back(RankedTensorType::get(shape, *element));
    argNames.push_back(input.name());
  }
  for (const auto &pinned : options.inputShapes) {
    if (!llvm::is_contained(argNames, pinned.first)) {
      emitError(fileLoc) << "--input-shape names '" << pinned.first
                         << "', which is not a graph input";
      return nullptr;
    }
  }

  // Static value_info types, for ops kept opaque.
  std::vector<const onnx::ValueInfoProto *> infos;
  for (const onnx::ValueInfoProto &info : graph.value_info()) {
    infos.push_back(&info);
  }
  for (const onnx::ValueInfoProto &info : graph.output()) {
    infos.push_back(&info);
  }
  for (const onnx::ValueInfoProto *infoPtr : infos) {
    const onnx::ValueInfoProto &info = *infoPtr;
    const auto &t = info.type().tensor_type();
    if (!info.type().has_tensor_type() || !t.has_shape()) {
      continue;
    }
    SmallVector<int64_t> shape;
    bool isStatic = true;
    for (const auto &dim : t.shape().dim()) {
      isStatic &= dim.has_dim_value();
      shape.push_back(dim.dim_value());
    }
    auto element = elementType(t.elem_type(), fileLoc);
    if (isStatic && succeeded(element)) {
      valueInfoTypes[info.name()] = RankedTensorType::get(shape, *element);
    }
  }

  auto func = builder.create<func::FuncOp>(
      fileLoc, "main", builder.getFunctionType(argTypes, {}));
  Block *body = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(argNames)) {
    func.setArgAttr(i, onnx_attrs::kName, builder.getStringAttr(name));
    values[name] = body->getArgument(i);
  }
  builder.setInsertionPointToStart(body);
  for (const auto &[name, bytes] : options.constantInputs) {
    onnx::TensorProto tensor;
    if (!tensor.ParseFromString(bytes)) {
      emitError(fileLoc) << "the value bound to input '" << name
                         << "' is not a valid serialized onnx.TensorProto";
      return nullptr;
    }
    FailureOr<Value> value = tensorConstant(tensor, fileLoc);
    if (failed(value)) {
      return nullptr;
    }
    values[name] = *value;
  }

  for (onnx::TensorProto &init : *graph.mutable_initializer()) {
    if (values.count(init.name())) {
      continue; // A graph input with a default: the input wins.
    }
    FailureOr<Value> value = tensorConstant(init, fileLoc);
    if (failed(value)) {
      return nullptr;
    }
    values[init.name()] = *value;
  }

  auto order = sortNodes(graph);
  if (failed(order) || failed(importNodes(*order))) {
    return nullptr;
  }

  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  for (const onnx::ValueInfoProto &out : graph.output()) {
    auto it = values.find(out.name());
    if (it == values.end()) {
      emitError(fileLoc) << "graph output '" << out.name()
                         << "' is never produced";
      return nullptr;
    }
    results.push_back(it->second);
    resultTypes.push_back(it->second.getType());
  }
  builder.create<func::ReturnOp>(fileLoc, results);
  // Initializers and folded shape arithmetic that nothing reads any more:
  // dropping them here frees their weights before any pass runs.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*body))) {
    if (isa<ConstantOp>(op) && op.use_empty()) {
      op.erase();
    }
  }
  func.setFunctionType(builder.getFunctionType(argTypes, resultTypes));
  for (auto [i, out] : llvm::enumerate(graph.output())) {
    func.setResultAttr(i, onnx_attrs::kName, builder.getStringAttr(out.name()));
  }
  if (failed(mlir::verify(*module))) {
    return nullptr;
  }
  return module;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

bool nuri::isSupportedOnnxOp(StringRef domain, StringRef opType) {
  if (domain.empty() || domain == "ai.onnx") {
    return defaultDomainConverters().count(opType);
  }
  return domain == "com.microsoft" && microsoftDomainConverters().count(opType);
}

void nuri::registerOnnxImporterDialects(DialectRegistry &registry) {
  registry.insert<NuriDialect, func::FuncDialect>();
}

namespace {
// Parses from a zero-copy stream with protobuf's 2 GB message limit lifted
// to the format's maximum; fails on truncation and trailing garbage.
bool parseModel(google::protobuf::io::ZeroCopyInputStream &stream,
                onnx::ModelProto &model) {
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(INT32_MAX);
  return model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

OwningOpRef<ModuleOp> importParsed(MLIRContext &context, bool parsed,
                                   onnx::ModelProto &model,
                                   StringRef sourceName, StringRef baseDir,
                                   const OnnxImportOptions &options) {
  if (!parsed) {
    emitError(FileLineColLoc::get(&context, sourceName, 0, 0))
        << "not a valid ONNX model: the protobuf does not parse (truncated "
           "or not an .onnx file)";
    return nullptr;
  }
  Importer importer(context, sourceName, baseDir, options);
  return importer.importModel(model);
}
} // namespace

OwningOpRef<ModuleOp> nuri::importOnnxBuffer(MLIRContext &context,
                                             StringRef bytes,
                                             StringRef sourceName,
                                             StringRef baseDir,
                                             const OnnxImportOptions &options) {
  context.loadDialect<NuriDialect, func::FuncDialect>();
  onnx::ModelProto model;
  bool parsed = false;
  if (bytes.size() <= static_cast<size_t>(INT32_MAX)) {
    google::protobuf::io::ArrayInputStream stream(
        bytes.data(), static_cast<int>(bytes.size()));
    parsed = parseModel(stream, model);
  }
  return importParsed(context, parsed, model, sourceName, baseDir, options);
}

OwningOpRef<ModuleOp> nuri::importOnnxFile(MLIRContext &context, StringRef path,
                                           const OnnxImportOptions &options) {
  context.loadDialect<NuriDialect, func::FuncDialect>();
  // Streamed from the file descriptor, not read into a buffer first: the
  // weights then exist once (in the parsed message, then moved into MLIR
  // blobs), which keeps peak memory near the weights' size.
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::openFileForRead(path, fd)) {
    emitError(FileLineColLoc::get(&context, path, 0, 0))
        << "cannot read the model: " << ec.message();
    return nullptr;
  }
  onnx::ModelProto model;
  bool parsed;
  {
    google::protobuf::io::FileInputStream stream(fd);
    stream.SetCloseOnDelete(true);
    parsed = parseModel(stream, model);
  }
  StringRef dir = llvm::sys::path::parent_path(path);
  return importParsed(context, parsed, model, path, dir.empty() ? "." : dir,
                      options);
}

std::string nuri::serializeOnnxBoolTensor(const std::vector<int64_t> &dims,
                                          bool value) {
  onnx::TensorProto tensor;
  tensor.set_data_type(onnx::TensorProto::BOOL);
  int64_t count = 1;
  for (int64_t d : dims) {
    tensor.add_dims(d);
    count *= d;
  }
  tensor.set_raw_data(std::string(size_t(count), value ? '\1' : '\0'));
  return tensor.SerializeAsString();
}

/// The model at `path` parsed for a question about its graph (inputs,
/// tables), or the reason it cannot be read, naming the file.
static llvm::Expected<onnx::ModelProto> readModelProto(StringRef path) {
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::openFileForRead(path, fd)) {
    return llvm::createStringError(ec, "%s: cannot read the model: %s",
                                   path.str().c_str(), ec.message().c_str());
  }
  onnx::ModelProto model;
  bool parsed;
  {
    google::protobuf::io::FileInputStream stream(fd);
    stream.SetCloseOnDelete(true);
    parsed = parseModel(stream, model);
  }
  if (!parsed) {
    return llvm::createStringError(
        std::errc::invalid_argument,
        "%s: not a valid ONNX model: the protobuf does not parse",
        path.str().c_str());
  }
  return model;
}

llvm::Expected<std::vector<OnnxGraphInput>>
nuri::readOnnxGraphInputs(StringRef path) {
  llvm::Expected<onnx::ModelProto> read = readModelProto(path);
  if (!read) {
    return read.takeError();
  }
  const onnx::ModelProto &model = *read;
  llvm::StringSet<> initializers;
  for (const onnx::TensorProto &t : model.graph().initializer()) {
    initializers.insert(t.name());
  }
  std::vector<OnnxGraphInput> inputs;
  for (const onnx::ValueInfoProto &input : model.graph().input()) {
    if (initializers.contains(input.name())) {
      continue;
    }
    OnnxGraphInput info;
    info.name = input.name();
    const onnx::TypeProto::Tensor &t = input.type().tensor_type();
    info.elementType = t.elem_type();
    for (int d = 0; t.has_shape() && d < t.shape().dim_size(); ++d) {
      const auto &dim = t.shape().dim(d);
      info.dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
      info.dimParams.push_back(dim.has_dim_param() ? dim.dim_param() : "");
    }
    inputs.push_back(std::move(info));
  }
  return inputs;
}

std::string nuri::parseInputShapeOption(StringRef text,
                                        OnnxImportOptions &options) {
  auto [name, dims] = text.rsplit('=');
  if (name.empty() || !text.contains('=')) {
    return "expected NAME=DIMS (e.g. input_ids=1x128), got '" + text.str() +
           "'";
  }
  std::vector<int64_t> shape;
  if (!dims.empty()) {
    SmallVector<StringRef> parts;
    dims.split(parts, 'x');
    for (StringRef part : parts) {
      int64_t d;
      if (part.getAsInteger(10, d) || d < 0) {
        return "bad dimension '" + part.str() + "' in '" + text.str() + "'";
      }
      shape.push_back(d);
    }
  }
  options.inputShapes[name.str()] = shape;
  return "";
}

llvm::Expected<int64_t> nuri::readOnnxMaxPositions(StringRef path) {
  llvm::Expected<onnx::ModelProto> read = readModelProto(path);
  if (!read) {
    return read.takeError();
  }
  const onnx::ModelProto &model = *read;
  // Shapes of the tables (initializers, and what casts, slices and
  // squeezes make of them: LLaMA's rotary tables are [1, 1, P, D], sliced
  // to the context and squeezed before the gather). A slice keeps the
  // table's size here: it bounds the positions from above.
  llvm::StringMap<std::vector<int64_t>> tables;
  for (const onnx::TensorProto &t : model.graph().initializer()) {
    tables[t.name()] = {t.dims().begin(), t.dims().end()};
  }
  // Small int64 constants (Squeeze axes), from initializers or Constant.
  llvm::StringMap<std::vector<int64_t>> ints;
  auto readInts = [](const onnx::TensorProto &t) {
    std::vector<int64_t> v(t.int64_data().begin(), t.int64_data().end());
    if (v.empty() && t.data_type() == onnx::TensorProto::INT64 &&
        t.raw_data().size() % 8 == 0) {
      v.resize(t.raw_data().size() / 8);
      std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
    }
    return v;
  };
  for (const onnx::TensorProto &t : model.graph().initializer()) {
    if (t.data_type() == onnx::TensorProto::INT64 && t.dims_size() <= 1) {
      ints[t.name()] = readInts(t);
    }
  }
  // Values that are position ids in another shape or type: what exporters
  // put between `position_ids` and the tables it indexes. Nodes are in
  // topological order (the ONNX spec requires it).
  llvm::StringSet<> positions = {"position_ids"};
  int64_t found = 0;
  for (const onnx::NodeProto &node : model.graph().node()) {
    const std::string &op = node.op_type();
    if (op == "Constant" && node.output_size() == 1) {
      for (const onnx::AttributeProto &a : node.attribute()) {
        if (a.name() == "value" && a.has_t() &&
            a.t().data_type() == onnx::TensorProto::INT64) {
          ints[node.output(0)] = readInts(a.t());
        }
      }
      continue;
    }
    if (node.input_size() == 0 || node.output_size() == 0) {
      continue;
    }
    if (op == "Gather" && node.input_size() == 2 &&
        positions.contains(node.input(1)) && tables.count(node.input(0))) {
      const std::vector<int64_t> &shape = tables[node.input(0)];
      int64_t axis = 0;
      for (const onnx::AttributeProto &a : node.attribute()) {
        if (a.name() == "axis") {
          axis = a.i();
        }
      }
      if (axis < 0) {
        axis += int64_t(shape.size());
      }
      if (axis >= 0 && axis < int64_t(shape.size()) && shape[axis] > 0) {
        found = found == 0 ? shape[axis] : std::min(found, shape[axis]);
      }
      continue;
    }
    bool fromPositions = positions.contains(node.input(0));
    if ((op == "Cast" || op == "Unsqueeze" || op == "Squeeze" ||
         op == "Reshape" || op == "Expand" || op == "Identity" ||
         op == "Flatten") &&
        fromPositions) {
      for (const std::string &out : node.output()) {
        positions.insert(out);
      }
      continue;
    }
    auto table = tables.find(node.input(0));
    if (table == tables.end()) {
      continue;
    }
    std::vector<int64_t> shape = table->second;
    if (op == "Squeeze") {
      std::vector<int64_t> axes;
      for (const onnx::AttributeProto &a : node.attribute()) {
        if (a.name() == "axes") {
          axes.assign(a.ints().begin(), a.ints().end());
        }
      }
      if (node.input_size() > 1) {
        auto it = ints.find(node.input(1));
        if (it == ints.end()) {
          continue; // axes computed at run time: lose the table
        }
        axes = it->second;
      }
      std::vector<int64_t> out;
      for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
        bool dropped =
            axes.empty()
                ? shape[d] == 1
                : llvm::is_contained(axes, d) ||
                      llvm::is_contained(axes, d - int64_t(shape.size()));
        if (!dropped) {
          out.push_back(shape[d]);
        }
      }
      tables[node.output(0)] = out;
    } else if (op == "Cast" || op == "Identity" || op == "Slice") {
      tables[node.output(0)] = shape;
    }
  }
  return found;
}
