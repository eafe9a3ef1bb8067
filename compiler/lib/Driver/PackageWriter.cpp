//===- PackageWriter.cpp - Writing the package of `nuri compile` ----------===//

#include "PackageWriter.h"

#include "NpuPartition.h"

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/OpGroup.h"
#include "nuri/Package/GraphEmitter.h"
#include "nuri/cpu/Kernels.h"
#include "nuri/package/Package.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace nuri::driver {
namespace {

// Unique names for the tensors that cross partition boundaries.
class Namer {
public:
  void reserve(Value value, StringRef name) {
    names[value] = name.str();
    used.insert(name);
  }
  bool has(Value value) const { return names.count(value); }
  std::string get(Value value) {
    auto it = names.find(value);
    if (it != names.end()) {
      return it->second;
    }
    std::string base = "t";
    if (Operation *def = value.getDefiningOp()) {
      base = locationName(def->getLoc());
      if (base.empty()) {
        base = def->getName().stripDialect().str();
      }
      if (def->getNumResults() > 1) {
        base += ":" + std::to_string(cast<OpResult>(value).getResultNumber());
      }
    }
    std::string name = base;
    for (int k = 2; used.contains(name); ++k) {
      name = base + "_" + std::to_string(k);
    }
    reserve(value, name);
    return name;
  }

private:
  llvm::DenseMap<Value, std::string> names;
  llvm::StringSet<> used;
};

class PackageWriter {
public:
  PackageWriter(ModuleOp module, const CompileOptions &options,
                const target::Target *target, ReportBuilder &report,
                std::vector<isa::Program> &programs)
      : module(module), options(options), target(target), report(report),
        programs(programs) {}

  FailureOr<std::vector<uint8_t>> run(std::string &asmText);

private:
  uint64_t appendWeights(const char *data, size_t size) {
    if (options.weightStore) {
      return options.weightStore->intern(data, size);
    }
    uint64_t offset = (weights.size() + kWeightAlignment - 1) /
                      kWeightAlignment * kWeightAlignment;
    weights.resize(offset);
    weights.insert(weights.end(), data, data + size);
    return offset;
  }
  /// Moves a graph's constants from the emitter's blob into the package's:
  /// per tensor, so that a family's programs share identical weights.
  void placeConstants(graph::Graph &graph, const std::vector<uint8_t> &blob) {
    const char *bytes = reinterpret_cast<const char *>(blob.data());
    if (!options.weightStore) {
      uint64_t base = appendWeights(bytes, blob.size());
      for (graph::TensorDesc &t : graph.tensors) {
        if (t.dataOffset >= 0) {
          t.dataOffset += static_cast<int64_t>(base);
        }
      }
      return;
    }
    for (graph::TensorDesc &t : graph.tensors) {
      if (t.dataOffset >= 0) {
        t.dataOffset = static_cast<int64_t>(appendWeights(
            bytes + t.dataOffset, static_cast<size_t>(t.byteSize())));
      }
    }
  }
  /// Where a timing-only package's NPU constant of `size` bytes would be:
  /// a range of the absent blob (CompileOptions::timingOnly).
  uint64_t reserveAbsent(uint64_t size) {
    return options.weightStore ? options.weightStore->reserveAbsent(size)
                               : ownAbsent.reserveAbsent(size);
  }
  void setWeights() {
    if (options.weightStore) {
      const std::vector<uint8_t> &shared = options.weightStore->bytes();
      builder.setExternalWeights(shared.data(), shared.size());
    } else {
      builder.setWeights(std::move(weights)); // the last use: no copy
    }
    if (options.timingOnly) {
      builder.setAbsentWeights(options.weightStore
                                   ? options.weightStore->absentBytes()
                                   : ownAbsent.absentBytes());
    }
  }
  LogicalResult emitCpuSegment(ArrayRef<Operation *> ops, bool allArgs);
  LogicalResult emitNpuCall(func::CallOp call, std::string &asmText);
  LogicalResult checkKernels(const graph::Graph &graph,
                             ArrayRef<Operation *> ops);
  void setTarget();
  LogicalResult addStates(std::vector<std::string> *inputNames,
                          std::vector<std::string> *outputNames);

  ModuleOp module;
  const CompileOptions &options;
  const target::Target *target;
  ReportBuilder &report;
  std::vector<isa::Program> &programs; ///< Emit::Programs
  func::FuncOp main;
  Namer namer;
  std::vector<uint8_t> weights;
  WeightStore ownAbsent; ///< the absent blob without a shared store
  package::PackageBuilder builder;
  llvm::StringSet<> partitionInputs;
  int cpuCount = 0, npuCount = 0, npuTotal = 0;
};

LogicalResult PackageWriter::checkKernels(const graph::Graph &graph,
                                          ArrayRef<Operation *> ops) {
  // The emitter writes the ops in order, constants aside.
  for (auto [i, op] : llvm::enumerate(graph.ops)) {
    if (cpu::hasKernel(op)) {
      continue;
    }
    Location loc = i < ops.size() ? ops[i]->getLoc() : main.getLoc();
    std::string what = op.kind == "onnx_op"
                           ? "ONNX op '" + op.getString("op_type", "?") + "'"
                           : "op '" + op.kind + "'";
    return emitError(loc) << "the CPU has no kernel for " << what;
  }
  return success();
}

void PackageWriter::setTarget() {
  // The config the compiler used, serialized from the parsed target, not the
  // file re-read: overrides and all, and nothing else.
  if (target) {
    builder.setTarget(target->name, target::targetToYaml(*target));
  }
}

LogicalResult PackageWriter::addStates(std::vector<std::string> *inputNames,
                                       std::vector<std::string> *outputNames) {
  auto nameOf = [](DictionaryAttr attrs, StringRef fallback) {
    auto name = attrs ? attrs.getAs<StringAttr>(onnx_attrs::kName) : nullptr;
    return name ? name.str() : fallback.str();
  };
  for (unsigned a = 0; a < main.getNumArguments(); ++a) {
    auto state = main.getArgAttrOfType<StringAttr>(a, kStateAttrName);
    if (!state) {
      continue;
    }
    std::optional<unsigned> result;
    for (unsigned r = 0; r < main.getNumResults(); ++r) {
      if (main.getResultAttrOfType<StringAttr>(r, kStateAttrName) == state) {
        result = r;
      }
    }
    auto type = llvm::dyn_cast<RankedTensorType>(main.getArgument(a).getType());
    std::optional<graph::DType> dtype =
        type ? toDType(type.getElementType()) : std::nullopt;
    if (!result || !dtype) {
      return main.emitError("state '")
             << state.getValue()
             << "' needs one result that keeps it and a type the runtime holds";
    }
    package::PackageBuilder::StateSpec spec;
    spec.name = state.str();
    spec.dtype = *dtype;
    spec.shape.assign(type.getShape().begin(), type.getShape().end());
    spec.input = nameOf(main.getArgAttrDict(a), spec.name);
    spec.output = nameOf(main.getResultAttrDict(*result), spec.name + ".out");
    spec.inPlace = true;
    if (inputNames) {
      llvm::erase(*inputNames, spec.input);
    }
    if (outputNames) {
      llvm::erase(*outputNames, spec.output);
    }
    builder.addState(std::move(spec));
  }
  return success();
}

LogicalResult PackageWriter::emitCpuSegment(ArrayRef<Operation *> ops,
                                            bool allArgs) {
  // Model inputs nothing reads still belong to the model's interface.
  SmallVector<Value> leading;
  if (allArgs) {
    leading.assign(main.getArguments().begin(), main.getArguments().end());
  }
  GroupBoundary boundary = groupBoundary(ops, leading);
  const llvm::SetVector<Value> &inputs = boundary.inputs;
  const SmallVector<Value> &outputs = boundary.outputs;
  if (outputs.empty()) {
    return success(); // dead code the cleanup left behind
  }

  // The segment as a module of its own, for the graph emitter.
  OpBuilder b(module.getContext());
  OwningOpRef<ModuleOp> segment = ModuleOp::create(main.getLoc());
  b.setInsertionPointToEnd(segment->getBody());
  auto func = b.create<func::FuncOp>(main.getLoc(), "main",
                                     boundary.type(b.getContext()));
  for (auto [i, v] : llvm::enumerate(inputs)) {
    std::string name = namer.get(v);
    partitionInputs.insert(name);
    func.setArgAttr(i, onnx_attrs::kName, b.getStringAttr(name));
  }
  for (auto [i, v] : llvm::enumerate(outputs)) {
    func.setResultAttr(i, onnx_attrs::kName, b.getStringAttr(namer.get(v)));
  }
  IRMapping mapping = cloneGroupInto(b, func, boundary, ops, main.getLoc());
  // A segment runs on the CPU as a whole: its ops keep no placement marks.
  for (Operation *op : ops) {
    Operation *copy = mapping.lookup(op);
    copy->removeAttr("nuri.device");
    copy->removeAttr("nuri.fallback");
  }

  FailureOr<EmittedGraph> emitted = emitGraph(*segment);
  if (failed(emitted)) {
    return failure();
  }
  if (failed(checkKernels(emitted->graph, ops))) {
    return failure();
  }
  placeConstants(emitted->graph, emitted->weights);
  PartitionInfo info;
  info.name = "cpu_" + std::to_string(cpuCount++);
  info.ops = static_cast<int64_t>(ops.size());
  for (Operation *op : ops) {
    info.flops += flopsOf(op);
  }
  for (Value v : inputs) {
    info.inputs.push_back(namer.get(v));
  }
  for (Value v : outputs) {
    info.outputs.push_back(namer.get(v));
  }
  report.addCpuPartition(info);
  builder.addCpuPartition(std::move(emitted->graph), info.name);
  return success();
}

LogicalResult PackageWriter::emitNpuCall(func::CallOp call,
                                         std::string &asmText) {
  auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
  if (!callee) {
    return call.emitOpError("calls an unknown partition");
  }
  ++npuCount;
  if (options.progress) {
    options.progress(llvm::formatv("lowering NPU partition {0}/{1} (@{2})",
                                   npuCount, npuTotal, callee.getSymName())
                         .str());
  }
  FailureOr<npu::CompiledPartition> compiled =
      compileNpuPartition(callee, *target, options);
  if (failed(compiled) || failed(report.addNpuPartition(callee, *compiled))) {
    return failure();
  }
  std::string name = callee.getSymName().str();
  if (options.emit == Emit::Asm) {
    asmText += npuPartitionAsm(name, *target, compiled->program);
  }
  auto tensors = [&](const std::vector<npu::DramTensor> &in) {
    std::vector<package::PackageBuilder::NpuTensor> out;
    for (const npu::DramTensor &t : in) {
      package::PackageBuilder::NpuTensor n;
      n.value.name = t.name;
      n.value.dtype = t.dtype;
      n.value.shape = t.shape;
      n.address = t.address;
      out.push_back(std::move(n));
    }
    return out;
  };
  for (const npu::DramTensor &t : compiled->inputs) {
    partitionInputs.insert(t.name);
  }
  if (options.emit == Emit::Programs) {
    // No package: the program is all the caller takes (its constants have
    // no bytes to load).
    programs.push_back(std::move(compiled->program));
    return success();
  }
  std::vector<package::WeightLoad> loads;
  for (const npu::DramConstant &c : compiled->constants) {
    package::WeightLoad load;
    load.weightOffset = options.timingOnly
                            ? reserveAbsent(c.size)
                            : appendWeights(c.bytes.data(), c.bytes.size());
    load.bytes = options.timingOnly ? c.size : c.bytes.size();
    load.address = c.address;
    loads.push_back(load);
  }
  builder.addNpuPartition(std::move(compiled->program),
                          tensors(compiled->inputs), tensors(compiled->outputs),
                          std::move(loads), name);
  return success();
}

FailureOr<std::vector<uint8_t>> PackageWriter::run(std::string &asmText) {
  main = module.lookupSymbol<func::FuncOp>("main");
  if (!main || !llvm::hasSingleElement(main.getBody())) {
    return module.emitError("expects a single-block function @main");
  }
  Block &body = main.getBody().front();
  if (body.getOps<func::CallOp>().empty()) {
    // No NPU partition: the whole of @main is one CPU partition, emitted as
    // `--target cpu` always was (outputs that alias inputs included).
    main.walk([](Operation *op) {
      op->removeAttr("nuri.device");
      op->removeAttr("nuri.fallback");
    });
    std::vector<Operation *> ops;
    for (Operation &op : body.without_terminator()) {
      if (!llvm::isa<ConstantOp>(op)) {
        ops.push_back(&op);
      }
    }
    FailureOr<EmittedGraph> emitted = emitGraph(module);
    if (failed(emitted) || failed(checkKernels(emitted->graph, ops))) {
      return failure();
    }
    PartitionInfo info;
    info.name = "cpu";
    info.ops = static_cast<int64_t>(ops.size());
    for (Operation *op : ops) {
      info.flops += flopsOf(op);
    }
    for (int32_t id : emitted->graph.inputs) {
      info.inputs.push_back(emitted->graph.tensors[id].name);
    }
    for (int32_t id : emitted->graph.outputs) {
      info.outputs.push_back(emitted->graph.tensors[id].name);
    }
    report.addCpuPartition(info);
    builder.setProducer(options.producer);
    setTarget();
    if (options.weightStore) {
      placeConstants(emitted->graph, emitted->weights);
      setWeights();
    } else {
      builder.setWeights(std::move(emitted->weights));
    }
    builder.addCpuPartition(std::move(emitted->graph), info.name);
    if (failed(addStates(nullptr, nullptr))) {
      return failure();
    }
    Result<std::vector<uint8_t>> bytes = builder.build();
    if (!bytes) {
      return module.emitError("cannot build the package: ") << bytes.error();
    }
    return std::move(*bytes);
  }
  // An output that is a model input, a constant or another output gets a
  // copy of its own (a reshape to the same shape, as the graph emitter does),
  // so each model-level tensor has exactly one name.
  {
    Operation *ret = body.getTerminator();
    llvm::SmallPtrSet<Value, 8> seen;
    OpBuilder b(ret);
    for (OpOperand &use : ret->getOpOperands()) {
      Value v = use.get();
      auto name = main.getResultAttrOfType<StringAttr>(use.getOperandNumber(),
                                                       onnx_attrs::kName);
      auto arg = llvm::dyn_cast<BlockArgument>(v);
      if (arg && name &&
          main.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                            onnx_attrs::kName) == name) {
        seen.insert(v);
        continue; // ONNX's way to say the output is the input itself
      }
      bool alias =
          arg || !seen.insert(v).second ||
          (v.getDefiningOp() && llvm::isa<ConstantOp>(v.getDefiningOp()));
      if (alias) {
        use.set(b.create<ReshapeOp>(ret->getLoc(), v.getType(), v));
      }
    }
  }
  // The names the model and the outlining gave come first.
  for (BlockArgument arg : body.getArguments()) {
    auto name = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                  onnx_attrs::kName);
    namer.reserve(
        arg, name ? name.getValue()
                  : StringRef("input_" + std::to_string(arg.getArgNumber())));
  }
  for (auto call : body.getOps<func::CallOp>()) {
    ++npuTotal;
    auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
    if (!callee) {
      return call.emitOpError("calls an unknown function");
    }
    for (auto [i, v] : llvm::enumerate(call.getOperands())) {
      auto name = callee.getArgAttrOfType<StringAttr>(i, onnx_attrs::kName);
      if (name && !namer.has(v)) {
        namer.reserve(v, name.getValue());
      }
    }
    for (auto [i, v] : llvm::enumerate(call.getResults())) {
      auto name = callee.getResultAttrOfType<StringAttr>(i, onnx_attrs::kName);
      if (name && !namer.has(v)) {
        namer.reserve(v, name.getValue());
      }
    }
  }
  Operation *terminator = body.getTerminator();
  std::vector<std::string> outputNames;
  for (OpOperand &use : terminator->getOpOperands()) {
    unsigned i = use.getOperandNumber();
    auto name = main.getResultAttrOfType<StringAttr>(i, onnx_attrs::kName);
    std::string want = name ? name.str() : "output_" + std::to_string(i);
    if (namer.has(use.get()) && namer.get(use.get()) != want) {
      return emitError(terminator->getLoc())
             << "model output '" << want << "' is also the tensor '"
             << namer.get(use.get())
             << "'; outputs that alias an input or another output are not "
                "supported with NPU partitions";
    }
    namer.reserve(use.get(), want);
    outputNames.push_back(want);
  }

  SmallVector<Operation *> pending;
  bool first = true;
  auto flush = [&]() -> LogicalResult {
    if (pending.empty()) {
      return success();
    }
    // Model inputs are there from the start: the first CPU partition takes
    // them all, so an input nothing reads stays part of the interface.
    LogicalResult ok = emitCpuSegment(pending, first);
    first = false;
    pending.clear();
    return ok;
  };
  for (Operation &op : body.without_terminator()) {
    if (llvm::isa<ConstantOp>(op)) {
      continue; // cloned into the partitions that read it
    }
    if (auto call = dyn_cast<func::CallOp>(op)) {
      if (failed(flush()) || failed(emitNpuCall(call, asmText))) {
        return failure();
      }
      continue;
    }
    pending.push_back(&op);
  }
  if (failed(flush())) {
    return failure();
  }
  report.finish();
  if (!report.hasPartitions()) {
    return main.emitError("the model computes nothing (no partition)");
  }

  // Model inputs no partition reads (only when there is no CPU partition to
  // carry them: the first one takes every input) keep their place in the
  // interface through a CPU partition without ops.
  graph::Graph unread;
  for (BlockArgument arg : body.getArguments()) {
    std::string name = namer.get(arg);
    if (partitionInputs.contains(name)) {
      continue;
    }
    auto type = llvm::dyn_cast<RankedTensorType>(arg.getType());
    std::optional<graph::DType> dtype = type && type.hasStaticShape()
                                            ? toDType(type.getElementType())
                                            : std::nullopt;
    if (!dtype) {
      return emitError(arg.getLoc()) << "model input '" << name
                                     << "' has a type the runtime cannot hold";
    }
    graph::TensorDesc desc;
    desc.name = name;
    desc.dtype = *dtype;
    desc.shape.assign(type.getShape().begin(), type.getShape().end());
    unread.inputs.push_back(static_cast<int32_t>(unread.tensors.size()));
    unread.tensors.push_back(std::move(desc));
    partitionInputs.insert(name);
  }
  if (!unread.inputs.empty()) {
    PartitionInfo info;
    info.name = "cpu_unread_inputs";
    for (const graph::TensorDesc &t : unread.tensors) {
      info.inputs.push_back(t.name);
    }
    report.addCpuPartition(info);
    builder.addCpuPartition(std::move(unread), info.name);
  }
  std::vector<std::string> inputNames;
  for (BlockArgument arg : body.getArguments()) {
    inputNames.push_back(namer.get(arg));
  }
  if (options.emit == Emit::Programs) {
    return std::vector<uint8_t>();
  }
  builder.setProducer(options.producer);
  setTarget();
  setWeights();
  if (failed(addStates(&inputNames, &outputNames))) {
    return failure();
  }
  builder.setIO(inputNames, outputNames);
  Result<std::vector<uint8_t>> bytes = builder.build();
  if (!bytes) {
    return module.emitError("cannot build the package: ") << bytes.error();
  }
  return std::move(*bytes);
}

} // namespace

FailureOr<std::vector<uint8_t>>
writePackage(ModuleOp module, const CompileOptions &options,
             const target::Target *target, ReportBuilder &report,
             std::string &asmText, std::vector<isa::Program> &programs) {
  return PackageWriter(module, options, target, report, programs).run(asmText);
}

} // namespace nuri::driver
