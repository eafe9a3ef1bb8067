//===- GraphEmitter.cpp - nuri dialect to the runtime's op graph ----------===//

#include "nuri/Package/GraphEmitter.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Frontend/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace nuri;

std::optional<graph::DType> nuri::toDType(Type type) {
  using graph::DType;
  if (type.isF32())
    return DType::F32;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  if (type.isF64())
    return DType::F64;
  if (type.isFloat8E4M3FN())
    return DType::F8E4M3;
  if (type.isFloat8E5M2())
    return DType::F8E5M2;
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer) {
    return std::nullopt;
  }
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 1:
    return DType::Bool;
  case 8:
    return isUnsigned ? DType::U8 : DType::I8;
  case 16:
    return isUnsigned ? DType::U16 : DType::I16;
  case 32:
    return isUnsigned ? DType::U32 : DType::I32;
  case 64:
    return isUnsigned ? DType::U64 : DType::I64;
  default:
    return std::nullopt;
  }
}

namespace {
// Operand counts of ops whose trailing operands are optional: absent ones
// become -1 so positions match the op's definition.
int64_t fullArity(Operation *op) {
  return TypeSwitch<Operation *, int64_t>(op)
      .Case<LinearOp, ConvOp, LayerNormOp, QuantizeOp, DequantizeOp>(
          [](Operation *) { return 3; })
      .Case<AttentionOp>([](Operation *) { return 4; })
      .Default([](Operation *o) { return o->getNumOperands(); });
}

// Converts one attribute; failure for kinds the graph cannot carry.
FailureOr<graph::AttrValue> convertAttr(Attribute attr) {
  if (isa<UnitAttr>(attr)) {
    return graph::AttrValue(int64_t(1));
  }
  if (auto i = dyn_cast<IntegerAttr>(attr)) {
    return graph::AttrValue(i.getValue().getSExtValue());
  }
  if (auto f = dyn_cast<FloatAttr>(attr)) {
    return graph::AttrValue(f.getValueAsDouble());
  }
  if (auto s = dyn_cast<StringAttr>(attr)) {
    return graph::AttrValue(s.str());
  }
  if (auto ints = dyn_cast<DenseI64ArrayAttr>(attr)) {
    return graph::AttrValue(std::vector<int64_t>(ints.asArrayRef().begin(),
                                                 ints.asArrayRef().end()));
  }
  // operandSegmentSizes of ops with several optional operands.
  if (auto ints = dyn_cast<DenseI32ArrayAttr>(attr)) {
    return graph::AttrValue(std::vector<int64_t>(ints.asArrayRef().begin(),
                                                 ints.asArrayRef().end()));
  }
  if (auto floats = dyn_cast<DenseF64ArrayAttr>(attr)) {
    return graph::AttrValue(std::vector<double>(floats.asArrayRef().begin(),
                                                floats.asArrayRef().end()));
  }
  if (auto gelu = dyn_cast<GeluApproximationAttr>(attr)) {
    return graph::AttrValue(stringifyGeluApproximation(gelu.getValue()).str());
  }
  if (auto predicate = dyn_cast<ComparePredicateAttr>(attr)) {
    return graph::AttrValue(
        stringifyComparePredicate(predicate.getValue()).str());
  }
  if (auto elements = dyn_cast<ElementsAttr>(attr)) {
    // Small tensor attributes of ONNX ops (ConstantOfShape's value, ...).
    if (isa<FloatType>(elements.getShapedType().getElementType())) {
      FailureOr<std::vector<double>> values = readAsDouble(elements);
      if (succeeded(values)) {
        return graph::AttrValue(std::move(*values));
      }
    } else {
      FailureOr<std::vector<int64_t>> values = readAsInt(elements);
      if (succeeded(values)) {
        return graph::AttrValue(std::move(*values));
      }
    }
  }
  return failure();
}

class Emitter {
public:
  FailureOr<EmittedGraph> run(func::FuncOp func);

private:
  FailureOr<int32_t> tensorFor(Value value);
  FailureOr<int32_t> addConstant(ConstantOp op);
  LogicalResult addOp(Operation *op);

  EmittedGraph out;
  llvm::DenseMap<Value, int32_t> ids;
};

FailureOr<int32_t> Emitter::tensorFor(Value value) {
  auto it = ids.find(value);
  if (it != ids.end()) {
    return it->second;
  }
  auto type = dyn_cast<RankedTensorType>(value.getType());
  std::optional<graph::DType> dtype = type && type.hasStaticShape()
                                          ? toDType(type.getElementType())
                                          : std::nullopt;
  if (!dtype) {
    return emitError(value.getLoc())
           << "the runtime cannot hold a value of type " << value.getType();
  }
  graph::TensorDesc desc;
  desc.dtype = *dtype;
  desc.shape.assign(type.getShape().begin(), type.getShape().end());
  int32_t id = static_cast<int32_t>(out.graph.tensors.size());
  out.graph.tensors.push_back(std::move(desc));
  ids[value] = id;
  return id;
}

FailureOr<int32_t> Emitter::addConstant(ConstantOp op) {
  FailureOr<int32_t> id = tensorFor(op.getResult());
  if (failed(id)) {
    return failure();
  }
  ElementsAttr value = op.getValue();
  std::vector<char> bytes;
  if (value.getShapedType().getElementType().isInteger(1)) {
    FailureOr<std::vector<int64_t>> bools = readAsInt(value);
    if (failed(bools)) {
      return op.emitOpError("has a boolean payload the emitter cannot read");
    }
    for (int64_t b : *bools) {
      bytes.push_back(static_cast<char>(b != 0));
    }
  } else {
    FailureOr<std::vector<char>> raw = readRawBytes(value);
    if (failed(raw)) {
      return op.emitOpError("has a payload the emitter cannot read");
    }
    bytes = std::move(*raw);
  }
  size_t offset = (out.weights.size() + kWeightAlignment - 1) /
                  kWeightAlignment * kWeightAlignment;
  out.weights.resize(offset);
  out.weights.insert(out.weights.end(), bytes.begin(), bytes.end());
  out.graph.tensors[*id].dataOffset = static_cast<int64_t>(offset);
  return id;
}

LogicalResult Emitter::addOp(Operation *op) {
  if (auto constant = dyn_cast<ConstantOp>(op)) {
    return addConstant(constant);
  }
  if (!isa_and_nonnull<NuriDialect>(op->getDialect())) {
    return op->emitOpError("cannot be emitted for the runtime: it is not a "
                           "nuri op");
  }
  graph::Op node;
  node.kind = op->getName().stripDialect().str();
  if (auto name = dyn_cast<NameLoc>(op->getLoc())) {
    node.location = name.getName().str();
  }
  SmallVector<int64_t> positions;
  for (NamedAttribute attr : op->getAttrs()) {
    if (attr.getName() == "onnx_attributes") {
      for (NamedAttribute inner : cast<DictionaryAttr>(attr.getValue())) {
        FailureOr<graph::AttrValue> value = convertAttr(inner.getValue());
        if (failed(value)) {
          return op->emitOpError("has ONNX attribute '")
                 << inner.getName().str()
                 << "' of a kind the runtime cannot carry";
        }
        node.attrs[inner.getName().str()] = std::move(*value);
      }
      continue;
    }
    if (attr.getName() == "input_positions") {
      auto array = cast<DenseI64ArrayAttr>(attr.getValue()).asArrayRef();
      positions.assign(array.begin(), array.end());
      continue;
    }
    FailureOr<graph::AttrValue> value = convertAttr(attr.getValue());
    if (failed(value)) {
      return op->emitOpError("has attribute '")
             << attr.getName().str() << "' of a kind the runtime cannot carry";
    }
    node.attrs[attr.getName().str()] = std::move(*value);
  }
  int64_t arity = positions.empty() ? fullArity(op) : positions.back() + 1;
  node.inputs.assign(arity, -1);
  for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
    FailureOr<int32_t> id = tensorFor(operand);
    if (failed(id)) {
      return failure();
    }
    size_t slot = positions.empty() ? i : positions[i];
    node.inputs[slot] = *id;
  }
  for (Value result : op->getResults()) {
    FailureOr<int32_t> id = tensorFor(result);
    if (failed(id)) {
      return failure();
    }
    node.outputs.push_back(*id);
  }
  out.graph.ops.push_back(std::move(node));
  return success();
}

FailureOr<EmittedGraph> Emitter::run(func::FuncOp func) {
  // The blob's final size, reserved: grown by doubling, a model's weights
  // would take up to twice their size while the package is written.
  size_t total = 0;
  for (auto constant : func.getBody().front().getOps<ConstantOp>()) {
    auto type = llvm::cast<ShapedType>(constant.getValue().getType());
    Type element = type.getElementType();
    unsigned bits =
        element.isIntOrFloat() ? element.getIntOrFloatBitWidth() : 8;
    total =
        (total + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment +
        size_t(type.getNumElements()) * std::max(1u, bits / 8);
  }
  out.weights.reserve(total);
  for (BlockArgument arg : func.getArguments()) {
    FailureOr<int32_t> id = tensorFor(arg);
    if (failed(id)) {
      return failure();
    }
    if (auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                      onnx_attrs::kName)) {
      out.graph.tensors[*id].name = name.str();
    }
    out.graph.inputs.push_back(*id);
  }
  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
        FailureOr<int32_t> id = tensorFor(value);
        if (failed(id)) {
          return failure();
        }
        auto name = func.getResultAttrOfType<StringAttr>(i, onnx_attrs::kName);
        std::string outName = name ? name.str() : "output_" + std::to_string(i);
        // An output that is also an input or another output keeps its own
        // name by way of a copy (a reshape to the same shape).
        graph::TensorDesc &desc = out.graph.tensors[*id];
        bool taken = !desc.name.empty() && desc.name != outName;
        if (taken) {
          graph::TensorDesc copy = desc;
          copy.name = outName;
          copy.dataOffset = -1;
          int32_t copyId = static_cast<int32_t>(out.graph.tensors.size());
          out.graph.tensors.push_back(copy);
          graph::Op reshape;
          reshape.kind = "reshape";
          reshape.inputs = {*id};
          reshape.outputs = {copyId};
          out.graph.ops.push_back(std::move(reshape));
          id = copyId;
        } else {
          desc.name = outName;
        }
        out.graph.outputs.push_back(*id);
      }
      continue;
    }
    if (failed(addOp(&op))) {
      return failure();
    }
  }
  std::string problem =
      out.graph.validate(static_cast<int64_t>(out.weights.size()));
  if (!problem.empty()) {
    return func.emitError("emitted graph is malformed: ") << problem;
  }
  return std::move(out);
}
} // namespace

FailureOr<EmittedGraph> nuri::emitGraph(ModuleOp module) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  if (!func || func.getBody().getBlocks().size() != 1) {
    return module.emitError("expects a single-block function @main");
  }
  Emitter emitter;
  return emitter.run(func);
}
