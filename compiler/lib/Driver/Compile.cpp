//===- Compile.cpp - The compile flow of `nuri compile` -------------------===//
//
// After the graph passes, `@main` is a sequence of CPU ops and calls of
// outlined NPU partitions. The package gets one partition per call and one
// CPU partition per run of CPU ops between calls, in that order; the
// partitions exchange tensors by name, so every value that crosses a
// boundary gets one unique name used on both sides.
//
//===----------------------------------------------------------------------===//

#include "nuri/Driver/Compile.h"

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Package/GraphEmitter.h"
#include "nuri/cpu/Kernels.h"
#include "nuri/isa/Assembler.h"
#include "nuri/package/Package.h"
#include "nuri/sim/Simulator.h"
#include "nuri/target/Target.h"

#ifdef NURI_HAVE_NPU_CODEGEN
#include "nuri/Conversion/NpuCodegen.h"
#endif

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

using namespace mlir;

namespace nuri::driver {

void registerDialects(DialectRegistry &registry) {
  registerOnnxImporterDialects(registry);
}

namespace {

std::string joined(const std::vector<std::string> &names, size_t limit = 4) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < limit; ++i) {
    s += (i ? ", " : "") + names[i];
  }
  if (names.size() > limit) {
    s += ", ... (" + std::to_string(names.size()) + ")";
  }
  return s.empty() ? "-" : s;
}

std::string locationName(Location loc) {
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location inner : fused.getLocations()) {
      if (auto name = dyn_cast<NameLoc>(inner)) {
        return name.getName().str();
      }
    }
  }
  if (auto name = dyn_cast<NameLoc>(loc)) {
    return name.getName().str();
  }
  return "";
}

// `loc("Name"("file":0:0))` as printed -> `Name`; a bare file location,
// which names no node, -> "-".
std::string shortLocation(const std::string &text) {
  if (text.rfind("loc(\"", 0) != 0) {
    return text;
  }
  size_t end = text.find('"', 5);
  if (end == std::string::npos) {
    return text;
  }
  if (text.compare(end, 2, "\":") == 0) {
    return "-";
  }
  return text.substr(5, end - 5);
}

// Multiply-accumulates of the matrix ops (linear, matmul, conv, attention):
// the work the report weighs the partitioning by; 0 for other ops.
uint64_t macsOf(Operation *op) {
  auto shape = [](Value v) {
    return llvm::cast<RankedTensorType>(v.getType()).getShape();
  };
  auto elements = [](Value v) {
    return static_cast<uint64_t>(
        llvm::cast<RankedTensorType>(v.getType()).getNumElements());
  };
  if (auto linear = llvm::dyn_cast<LinearOp>(op)) {
    return elements(linear.getResult()) *
           static_cast<uint64_t>(shape(linear.getWeight())[0]);
  }
  if (auto matmul = llvm::dyn_cast<MatmulOp>(op)) {
    ArrayRef<int64_t> lhs = shape(matmul.getLhs());
    int64_t k = lhs.size() < 2 || !matmul.getTransposeLhs()
                    ? lhs.back()
                    : lhs[lhs.size() - 2];
    return elements(matmul.getResult()) * static_cast<uint64_t>(k);
  }
  if (auto conv = llvm::dyn_cast<ConvOp>(op)) {
    ArrayRef<int64_t> w = shape(conv.getWeight());
    uint64_t perOutput = 1;
    for (int64_t d : w.drop_front()) {
      perOutput *= static_cast<uint64_t>(d);
    }
    return elements(conv.getResult()) * perOutput;
  }
  if (auto attention = llvm::dyn_cast<AttentionOp>(op)) {
    // Scores and the weighted sum: 2 x (queries x keys x head dim) per head.
    ArrayRef<int64_t> k = shape(attention.getKey());
    return 2 * elements(attention.getQuery()) *
           static_cast<uint64_t>(k[k.size() - 2]);
  }
  return 0;
}

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

class Packager {
public:
  Packager(ModuleOp module, const CompileOptions &options,
           const target::Target *target, Report &report)
      : module(module), options(options), target(target), report(report) {}

  FailureOr<std::vector<uint8_t>> run(std::string &asmText);

private:
  uint64_t appendWeights(const char *data, size_t size) {
    uint64_t offset = (weights.size() + kWeightAlignment - 1) /
                      kWeightAlignment * kWeightAlignment;
    weights.resize(offset);
    weights.insert(weights.end(), data, data + size);
    return offset;
  }
  LogicalResult emitCpuSegment(ArrayRef<Operation *> ops, bool allArgs);
  LogicalResult emitNpuCall(func::CallOp call, std::string &asmText);
  LogicalResult checkKernels(const graph::Graph &graph,
                             ArrayRef<Operation *> ops);
  LogicalResult setTarget();

  ModuleOp module;
  const CompileOptions &options;
  const target::Target *target;
  Report &report;
  func::FuncOp main;
  Namer namer;
  std::vector<char> weights;
  package::PackageBuilder builder;
  llvm::StringSet<> partitionInputs;
  int cpuCount = 0, npuCount = 0, npuTotal = 0;
};

LogicalResult Packager::checkKernels(const graph::Graph &graph,
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

LogicalResult Packager::setTarget() {
  if (!target) {
    return success();
  }
  std::ifstream in(target->path);
  std::stringstream yaml;
  yaml << in.rdbuf();
  if (!in || yaml.str().empty()) {
    return module.emitError("cannot read the target config '")
           << target->path << "'";
  }
  builder.setTarget(target->name, yaml.str());
  return success();
}

LogicalResult Packager::emitCpuSegment(ArrayRef<Operation *> ops,
                                       bool allArgs) {
  llvm::SmallPtrSet<Operation *, 32> inSegment(ops.begin(), ops.end());
  llvm::SetVector<Value> inputs;
  llvm::SetVector<Operation *> constants;
  if (allArgs) {
    // Model inputs nothing reads still belong to the model's interface.
    for (BlockArgument arg : main.getArguments()) {
      inputs.insert(arg);
    }
  }
  for (Operation *op : ops) {
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && inSegment.contains(def)) {
        continue;
      }
      if (def && llvm::isa<ConstantOp>(def)) {
        constants.insert(def);
      } else {
        inputs.insert(operand);
      }
    }
  }
  SmallVector<Value> outputs;
  for (Operation *op : ops) {
    for (Value result : op->getResults()) {
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !inSegment.contains(user);
          })) {
        outputs.push_back(result);
      }
    }
  }
  if (outputs.empty()) {
    return success(); // dead code the cleanup left behind
  }

  // The segment as a module of its own, for the graph emitter.
  OpBuilder b(module.getContext());
  OwningOpRef<ModuleOp> segment = ModuleOp::create(main.getLoc());
  b.setInsertionPointToEnd(segment->getBody());
  SmallVector<Type> inTypes, outTypes;
  for (Value v : inputs) {
    inTypes.push_back(v.getType());
  }
  for (Value v : outputs) {
    outTypes.push_back(v.getType());
  }
  auto func = b.create<func::FuncOp>(main.getLoc(), "main",
                                     b.getFunctionType(inTypes, outTypes));
  for (auto [i, v] : llvm::enumerate(inputs)) {
    std::string name = namer.get(v);
    partitionInputs.insert(name);
    func.setArgAttr(i, onnx_attrs::kName, b.getStringAttr(name));
  }
  for (auto [i, v] : llvm::enumerate(outputs)) {
    func.setResultAttr(i, onnx_attrs::kName, b.getStringAttr(namer.get(v)));
  }
  Block *entry = func.addEntryBlock();
  IRMapping mapping;
  for (auto [v, arg] : llvm::zip(inputs, entry->getArguments())) {
    mapping.map(v, arg);
  }
  b.setInsertionPointToStart(entry);
  for (Operation *constant : constants) {
    b.clone(*constant, mapping);
  }
  for (Operation *op : ops) {
    Operation *copy = b.clone(*op, mapping);
    copy->removeAttr("nuri.device");
    copy->removeAttr("nuri.fallback");
  }
  SmallVector<Value> results;
  for (Value v : outputs) {
    results.push_back(mapping.lookup(v));
  }
  b.create<func::ReturnOp>(main.getLoc(), results);

  FailureOr<EmittedGraph> emitted = emitGraph(*segment);
  if (failed(emitted)) {
    return failure();
  }
  if (failed(checkKernels(emitted->graph, ops))) {
    return failure();
  }
  uint64_t base =
      appendWeights(emitted->weights.data(), emitted->weights.size());
  for (graph::TensorDesc &t : emitted->graph.tensors) {
    if (t.dataOffset >= 0) {
      t.dataOffset += static_cast<int64_t>(base);
    }
  }
  PartitionInfo info;
  info.name = "cpu_" + std::to_string(cpuCount++);
  info.ops = static_cast<int64_t>(ops.size());
  for (Value v : inputs) {
    info.inputs.push_back(namer.get(v));
  }
  for (Value v : outputs) {
    info.outputs.push_back(namer.get(v));
  }
  report.partitions.push_back(info);
  builder.addCpuPartition(std::move(emitted->graph), info.name);
  return success();
}

LogicalResult Packager::emitNpuCall(func::CallOp call, std::string &asmText) {
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
#ifdef NURI_HAVE_NPU_CODEGEN
  npu::CodegenOptions codegenOptions;
  codegenOptions.dumpIrAfterAll = options.dumpIrAfterAll;
  FailureOr<npu::CompiledPartition> compiled =
      npu::compileNpuPartition(callee, *target, codegenOptions);
  if (failed(compiled)) {
    return failure();
  }
  PartitionInfo info;
  info.npu = true;
  info.name = callee.getSymName().str();
  callee.walk([&](Operation *op) {
    if (op->getDialect() && llvm::isa<NuriDialect>(op->getDialect()) &&
        !llvm::isa<ConstantOp>(op)) {
      ++info.ops;
    }
  });
  auto tensors = [&](const std::vector<npu::DramTensor> &in,
                     std::vector<std::string> &names) {
    std::vector<package::PackageBuilder::NpuTensor> out;
    for (const npu::DramTensor &t : in) {
      package::PackageBuilder::NpuTensor n;
      n.value.name = t.name;
      n.value.dtype = t.dtype;
      n.value.shape = t.shape;
      n.address = t.address;
      names.push_back(t.name);
      out.push_back(std::move(n));
    }
    return out;
  };
  auto ins = tensors(compiled->inputs, info.inputs);
  auto outs = tensors(compiled->outputs, info.outputs);
  for (const std::string &name : info.inputs) {
    partitionInputs.insert(name);
  }
  std::vector<package::WeightLoad> loads;
  for (const npu::DramConstant &c : compiled->constants) {
    package::WeightLoad load;
    load.weightOffset = appendWeights(c.bytes.data(), c.bytes.size());
    load.bytes = c.bytes.size();
    load.address = c.address;
    loads.push_back(load);
  }
  for (const npu::LayerEstimate &e : compiled->estimates) {
    info.predictedCycles += e.predictedCycles;
    report.layers.push_back(
        {info.name, shortLocation(e.location), e.kind, e.predictedCycles});
  }
  if (options.simulate) {
    sim::SimOptions simOptions;
    simOptions.functional = false;
    sim::Simulator simulator(*target, simOptions);
    Result<sim::Report> simulated = simulator.run(compiled->program);
    if (!simulated) {
      return callee.emitError("the simulator rejects the program of @")
             << callee.getSymName() << ": " << simulated.error();
    }
    info.simulatedCycles = simulated->cycles.count();
  }
  if (options.emit == Emit::Asm) {
    asmText += "// partition " + info.name + " (target " + target->name + ")\n";
    asmText += isa::disassemble(compiled->program);
  }
  report.partitions.push_back(info);
  builder.addNpuPartition(std::move(compiled->program), std::move(ins),
                          std::move(outs), std::move(loads), info.name);
  return success();
#else
  (void)asmText;
  return call.emitError("this build has no NPU code generation "
                        "(NuriNpuCodegen); cannot lower partition @")
         << callee.getSymName();
#endif
}

FailureOr<std::vector<uint8_t>> Packager::run(std::string &asmText) {
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
    for (int32_t id : emitted->graph.inputs) {
      info.inputs.push_back(emitted->graph.tensors[id].name);
    }
    for (int32_t id : emitted->graph.outputs) {
      info.outputs.push_back(emitted->graph.tensors[id].name);
    }
    report.partitions.push_back(info);
    builder.setProducer(options.producer);
    if (failed(setTarget())) {
      return failure();
    }
    builder.setWeights(emitted->weights.data(), emitted->weights.size());
    builder.addCpuPartition(std::move(emitted->graph), info.name);
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
  if (report.partitions.empty()) {
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
    report.partitions.push_back(info);
    builder.addCpuPartition(std::move(unread), info.name);
  }
  std::vector<std::string> inputNames;
  for (BlockArgument arg : body.getArguments()) {
    inputNames.push_back(namer.get(arg));
  }
  builder.setProducer(options.producer);
  if (failed(setTarget())) {
    return failure();
  }
  builder.setWeights(weights.data(), weights.size());
  builder.setIO(inputNames, outputNames);
  Result<std::vector<uint8_t>> bytes = builder.build();
  if (!bytes) {
    return module.emitError("cannot build the package: ") << bytes.error();
  }
  return std::move(*bytes);
}

} // namespace

std::string Report::text() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::formatv("nuri compile report: target {0}, dtype {1}, {2:f2} s\n",
                      target, dtype, seconds);
  int64_t total = npuOps + cpuOps;
  os << llvm::formatv("ops: {0} of {1} on the NPU, {2} on the CPU", npuOps,
                      total, cpuOps);
  if (target == "cpu") {
    os << " (--target cpu: the whole model is one CPU partition)";
  }
  uint64_t macs = npuMacs + cpuMacs;
  if (macs) {
    double share = double(npuMacs) / double(macs);
    os << llvm::formatv("\nmatrix work (linear, matmul, conv, attention): "
                        "{0:f1}% of {1} MACs on the NPU",
                        100 * share, macs);
    if (target != "cpu" && share < 0.5) {
      os << " (most of the work runs in CPU partitions; the reasons are "
            "below)";
    }
  }
  os << "\npartitions, in execution order:\n";
  for (auto [i, p] : llvm::enumerate(partitions)) {
    os << llvm::formatv("  #{0,-3} {1} {2,-8} {3,5} ops", i,
                        p.npu ? "npu" : "cpu", p.name, p.ops);
    if (p.npu) {
      os << llvm::formatv("  predicted {0} cycles", p.predictedCycles);
      if (p.simulatedCycles) {
        os << llvm::formatv(", simulated {0} ({1:f2}x)", p.simulatedCycles,
                            double(p.predictedCycles) /
                                double(p.simulatedCycles));
      }
    }
    os << "  in: " << joined(p.inputs) << "  out: " << joined(p.outputs)
       << "\n";
  }
  if (!fallbacks.empty()) {
    os << "fell back to the CPU (op, count, reason, first location):\n";
    for (const Fallback &f : fallbacks) {
      os << llvm::formatv("  {0,-22} {1,5}  {2}", f.op, f.count, f.reason);
      if (!f.example.empty()) {
        os << "  (" << f.example << ")";
      }
      os << "\n";
    }
  }
  if (!layers.empty()) {
    os << "per layer, predicted by the cost model (partition, location, "
          "kind, cycles):\n";
    for (const LayerEstimateInfo &l : layers) {
      os << llvm::formatv("  {0,-8} {1,-32} {2,-16} {3,10}\n", l.partition,
                          l.location, l.kind, l.predictedCycles);
    }
    os << "simulated cycles per partition: nuri run PKG --device sim "
          "(--json: partitions[].sim_cycles)\n";
  }
  return os.str();
}

FailureOr<CompileResult> compileModule(ModuleOp module,
                                       const CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  MLIRContext *context = module.getContext();
  bool cpu = options.target == "cpu";
  std::string dtype =
      options.dtype.empty() ? (cpu ? "fp32" : "bf16") : options.dtype;
  if (dtype != "bf16" && dtype != "fp16" && dtype != "fp32") {
    return module.emitError("unknown dtype '")
           << dtype << "' (expected bf16, fp16 or fp32)";
  }
  std::optional<target::Target> target;
  if (!cpu) {
    Result<target::Target> loaded = target::findTarget(options.target);
    if (!loaded) {
      return module.emitError("unknown target '")
             << options.target << "': " << loaded.error();
    }
    target = std::move(*loaded);
  }
  auto progress = [&](const std::string &what) {
    if (options.progress) {
      options.progress(what);
    }
  };

  progress("graph passes");
  PassManager pm(context);
  if (options.dumpIrAfterAll) {
    context->disableMultithreading();
    pm.enableIRPrinting(
        [](Pass *, Operation *) { return false; },
        [](Pass *, Operation *) { return true; },
        /*printModuleScope=*/true,
        /*printAfterOnlyOnChange=*/false,
        /*printAfterOnlyOnFailure=*/false, llvm::errs(),
        OpPrintingFlags().elideLargeElementsAttrs(16).elideLargeResourceString(
            64));
  }
  buildDefaultGraphPipeline(pm);
  if (dtype != "fp32") {
    NuriConvertDtypeOptions convert;
    convert.dtype = dtype;
    pm.addNestedPass<func::FuncOp>(createNuriConvertDtype(convert));
  }
  if (!cpu) {
    NuriPartitionOptions partition;
    partition.target = options.target;
    partition.testClaim = options.testClaim;
    pm.addNestedPass<func::FuncOp>(createNuriPartition(partition));
    pm.addPass(createNuriOutlineNpuPartitions());
  }
  if (failed(pm.run(module))) {
    return failure();
  }

  CompileResult result;
  Report &report = result.report;
  report.target = options.target;
  report.dtype = dtype;
  // Op counts and fallbacks, from the partitioned module.
  std::map<std::pair<std::string, std::string>, size_t> fallbackIndex;
  module.walk([&](Operation *op) {
    if (!op->getDialect() || !llvm::isa<NuriDialect>(op->getDialect()) ||
        llvm::isa<ConstantOp>(op)) {
      return;
    }
    auto device = op->getAttrOfType<StringAttr>("nuri.device");
    if (device && device.getValue() == "npu") {
      ++report.npuOps;
      report.npuMacs += macsOf(op);
      return;
    }
    ++report.cpuOps;
    report.cpuMacs += macsOf(op);
    auto reason = op->getAttrOfType<StringAttr>("nuri.fallback");
    if (!reason) {
      return;
    }
    std::string name = op->getName().getStringRef().str();
    if (auto onnx = dyn_cast<OnnxOp>(op)) {
      name += " " + onnx.getOpType().str();
    }
    auto key = std::make_pair(name, reason.str());
    auto [it, inserted] = fallbackIndex.emplace(key, report.fallbacks.size());
    if (inserted) {
      report.fallbacks.push_back(
          {name, reason.str(), 0, locationName(op->getLoc())});
    }
    ++report.fallbacks[it->second].count;
  });
  llvm::stable_sort(report.fallbacks, [](const Fallback &a, const Fallback &b) {
    return a.count > b.count;
  });

  if (options.emit == Emit::Mlir) {
    llvm::raw_string_ostream os(result.text);
    module->print(os, OpPrintingFlags().elideLargeResourceString(64));
    os << "\n";
  } else {
    progress("packaging");
    Packager packager(module, options, target ? &*target : nullptr, report);
    FailureOr<std::vector<uint8_t>> bytes = packager.run(result.text);
    if (failed(bytes)) {
      return failure();
    }
    if (options.emit == Emit::Package) {
      result.package = std::move(*bytes);
    }
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

FailureOr<CompileResult> compileOnnxFile(MLIRContext &context,
                                         const std::string &path,
                                         OnnxImportOptions importOptions,
                                         const CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  if (options.progress) {
    options.progress("importing " + path);
  }
  // The CPU runs ONNX ops Nuri has no op for, where it has a kernel.
  importOptions.allowUnsupported = true;
  OwningOpRef<ModuleOp> module = importOnnxFile(context, path, importOptions);
  if (!module) {
    return failure();
  }
  FailureOr<CompileResult> result = compileModule(*module, options);
  if (succeeded(result)) {
    result->report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  return result;
}

} // namespace nuri::driver
