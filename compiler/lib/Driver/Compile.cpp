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
#include "nuri/Dialect/Nuri/Transforms/OpGroup.h"
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

// The transformer layer an op belongs to, from its printed location: the
// ONNX node path up to its first directory `name.N` (how a PyTorch export
// names a ModuleList entry: `/encoder/layer.3/attention/...`,
// `/transformer/h.3/mlp/...`, `/model/layers.3/...`), without the leading
// slash; "" when the path has none. The last segment is the node's own name
// (`MatMul_1`), never a layer.
std::string layerOf(const std::string &location) {
  auto isLayerSegment = [](llvm::StringRef seg) {
    auto [name, index] = seg.split('.');
    if (name.empty() || index.empty() || seg.count('.') != 1 ||
        !(std::isalpha(static_cast<unsigned char>(name[0])) ||
          name[0] == '_')) {
      return false;
    }
    return llvm::all_of(name,
                        [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) ||
                                 c == '_';
                        }) &&
           llvm::all_of(index, [](char c) {
             return std::isdigit(static_cast<unsigned char>(c));
           });
  };
  llvm::StringRef text(location);
  size_t pathStart = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') {
      pathStart = i + 1; // a name inside loc("...")
      continue;
    }
    if (text[i] != '/') {
      continue;
    }
    size_t next = text.find_first_of("/\"", i + 1);
    if (next == llvm::StringRef::npos || text[next] != '/') {
      continue;
    }
    if (isLayerSegment(text.slice(i + 1, next))) {
      return text.slice(pathStart, next).ltrim('/').str();
    }
  }
  return "";
}

} // namespace

uint64_t flopsOf(Operation *op) {
  auto shape = [](Value v) {
    return llvm::cast<RankedTensorType>(v.getType()).getShape();
  };
  auto elements = [](Value v) {
    return static_cast<uint64_t>(
        llvm::cast<RankedTensorType>(v.getType()).getNumElements());
  };
  if (auto linear = llvm::dyn_cast<LinearOp>(op)) {
    return 2 * elements(linear.getResult()) *
           static_cast<uint64_t>(shape(linear.getWeight())[0]);
  }
  if (auto matmul = llvm::dyn_cast<MatmulOp>(op)) {
    ArrayRef<int64_t> lhs = shape(matmul.getLhs());
    int64_t k = lhs.size() < 2 || !matmul.getTransposeLhs()
                    ? lhs.back()
                    : lhs[lhs.size() - 2];
    return 2 * elements(matmul.getResult()) * static_cast<uint64_t>(k);
  }
  if (auto conv = llvm::dyn_cast<ConvOp>(op)) {
    ArrayRef<int64_t> w = shape(conv.getWeight());
    uint64_t perOutput = 1;
    for (int64_t d : w.drop_front()) {
      perOutput *= static_cast<uint64_t>(d);
    }
    return 2 * elements(conv.getResult()) * perOutput;
  }
  if (auto attention = llvm::dyn_cast<AttentionOp>(op)) {
    // Q K^T and P V over the (query, key) pairs that count: a causal mask
    // hides key j > i + Skv - Sq, work a kernel may skip, so a bound that
    // billed it could be beaten.
    ArrayRef<int64_t> q = shape(attention.getQuery());
    ArrayRef<int64_t> k = shape(attention.getKey());
    ArrayRef<int64_t> v = shape(attention.getValue());
    if (elements(attention.getQuery()) == 0) {
      return 0;
    }
    uint64_t sq = static_cast<uint64_t>(q[q.size() - 2]);
    uint64_t skv = static_cast<uint64_t>(k[k.size() - 2]);
    uint64_t pairs = sq * skv;
    if (attention.getCausal()) {
      pairs = 0;
      for (uint64_t i = 0; i < sq; ++i) {
        // Keys 0 .. i + skv - sq are visible (none when that is negative).
        if (i + skv >= sq) {
          pairs += std::min(skv, i + skv - sq + 1);
        }
      }
    }
    uint64_t heads = elements(attention.getQuery()) / (sq * q.back());
    return 2 * heads * pairs * static_cast<uint64_t>(q.back() + v.back());
  }
  return 0;
}

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
  void finishLayers();

  // One NPU op, or kernels no op claims (input staging, output copies), in
  // execution order; the layer table is built from these once every
  // partition is lowered, since ops outside every layer are named by where
  // they fall relative to all the layers.
  struct OpRecord {
    std::string layer; ///< layerOf its location; "" outside every layer
    bool isOp = true;
    int64_t estimate = -1; ///< index in report.opEstimates, if lowered alone
    uint64_t flops = 0;
    SmallVector<std::pair<Operation *, uint64_t>> constants; ///< and bytes
  };

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
  std::vector<OpRecord> records;
};

#ifdef NURI_HAVE_NPU_CODEGEN
std::string printed(Location loc) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << loc;
  return s;
}

uint64_t tensorBytes(const std::vector<int64_t> &shape, graph::DType dtype) {
  return static_cast<uint64_t>(graph::elementCount(shape)) *
         graph::dtypeSize(dtype);
}
#endif

void Packager::finishLayers() {
  size_t first = records.size(), last = 0;
  for (auto [i, r] : llvm::enumerate(records)) {
    if (!r.layer.empty()) {
      first = std::min(first, i);
      last = i;
    }
  }
  std::map<std::string, size_t> index;
  std::vector<llvm::DenseSet<Operation *>> seen;
  for (auto [i, r] : llvm::enumerate(records)) {
    std::string name = r.layer;
    if (name.empty()) {
      name = first == records.size() ? "other"
             : i < first             ? "embeddings"
             : i > last              ? "head"
                                     : "other";
    }
    auto [it, inserted] = index.emplace(name, report.layers.size());
    if (inserted) {
      report.layers.push_back({});
      report.layers.back().name = name;
      seen.emplace_back();
    }
    LayerInfo &layer = report.layers[it->second];
    layer.ops += r.isOp;
    layer.flops += r.flops;
    for (auto [constant, bytes] : r.constants) {
      if (seen[it->second].insert(constant).second) {
        layer.weightBytes += bytes;
      }
    }
    if (r.estimate >= 0) {
      OpEstimate &e = report.opEstimates[r.estimate];
      e.layer = name;
      layer.predictedCycles += e.predictedCycles;
      layer.simulatedCycles += e.simulatedCycles;
    }
  }
}

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
  // Model inputs nothing reads still belong to the model's interface.
  SmallVector<Value> leading;
  if (allArgs) {
    leading.assign(main.getArguments().begin(), main.getArguments().end());
  }
  GroupBoundary boundary = groupBoundary(ops, leading);
  const llvm::SetVector<Value> &inputs = boundary.inputs;
  const llvm::SetVector<Operation *> &constants = boundary.constants;
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
  for (Operation *op : ops) {
    info.flops += flopsOf(op);
  }
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
  for (const npu::DramTensor &t : compiled->inputs) {
    info.ioBytes += tensorBytes(t.shape, t.dtype);
  }
  for (const npu::DramTensor &t : compiled->outputs) {
    info.ioBytes += tensorBytes(t.shape, t.dtype);
  }
  for (const npu::DramConstant &c : compiled->constants) {
    info.weightBytes += c.bytes.size();
  }

  // The kernels' barriers, counted on one queue: every queue takes part.
  unsigned kernels = 0;
  if (const isa::Stream *s = compiled->program.find(0, isa::Engine::Dma)) {
    kernels = llvm::count_if(s->insts, [](const isa::Instruction &i) {
      return i.opcode == isa::Opcode::Barrier;
    });
  }
  // Each kernel ends with one chip-wide barrier, so with the simulator's
  // barrier releases the kernels [first, end) took
  // release[end - 1] - release[first - 1] cycles.
  std::vector<uint64_t> releases;
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
    info.macUtilization = simulated->macUtilization;
    releases = simulated->barrierReleases;
    if (releases.size() != kernels) {
      return callee.emitError("the simulator reports ")
             << releases.size() << " barrier releases for the " << kernels
             << " kernels of @" << callee.getSymName();
    }
    info.tailCycles =
        info.simulatedCycles - (releases.empty() ? 0 : releases.back());
  }
  auto span = [&](unsigned first, unsigned end) -> uint64_t {
    if (releases.empty() || end <= first) {
      return 0;
    }
    return releases[end - 1] - (first ? releases[first - 1] : 0);
  };

  // The partition's ops in order, each with the estimate of its kernels:
  // estimates come in body order for the ops lowered on their own (fused
  // epilogues have none) and name the op by its printed location and kind.
  struct Pending {
    OpRecord record;
    const npu::LayerEstimate *estimate = nullptr;
  };
  std::vector<Pending> ops;
  size_t next = 0;
  const std::vector<npu::LayerEstimate> &estimates = compiled->estimates;
  for (Operation &op : callee.getBody().front()) {
    if (!op.getDialect() || !llvm::isa<NuriDialect>(op.getDialect()) ||
        llvm::isa<ConstantOp>(op)) {
      continue;
    }
    Pending p;
    std::string loc = printed(op.getLoc());
    p.record.layer = layerOf(loc);
    p.record.flops = flopsOf(&op);
    for (Value operand : op.getOperands()) {
      if (auto c = operand.getDefiningOp<ConstantOp>()) {
        auto type = llvm::cast<RankedTensorType>(c.getType());
        p.record.constants.push_back(
            {c, static_cast<uint64_t>(type.getNumElements()) *
                    ((type.getElementTypeBitWidth() + 7) / 8)});
      }
    }
    info.flops += p.record.flops;
    if (next < estimates.size() && estimates[next].location == loc &&
        estimates[next].kind == op.getName().getStringRef()) {
      p.estimate = &estimates[next++];
    }
    ops.push_back(std::move(p));
  }
  for (; next < estimates.size(); ++next) {
    // Not matched to an op (should not happen): still billed, by location.
    Pending p;
    p.record.layer = layerOf(estimates[next].location);
    p.record.isOp = false;
    p.estimate = &estimates[next];
    ops.push_back(std::move(p));
  }
  // Kernels between the ops' ranges (inputs staged before the first op,
  // outputs copied after the last) are rows of their own in the op table,
  // billed to the layer next to them.
  unsigned covered = 0;
  auto gap = [&](unsigned end, const std::string &layer, const char *what) {
    OpRecord r;
    r.layer = layer;
    r.isOp = false;
    r.estimate = static_cast<int64_t>(report.opEstimates.size());
    OpEstimate e;
    e.partition = info.name;
    e.location = "-";
    e.kind = what;
    e.simulatedCycles = span(covered, end);
    e.firstKernel = covered;
    e.kernelCount = end - covered;
    report.opEstimates.push_back(e);
    records.push_back(std::move(r));
    covered = end;
  };
  for (Pending &p : ops) {
    if (const npu::LayerEstimate *e = p.estimate) {
      if (e->kernelCount && e->firstKernel > covered) {
        gap(e->firstKernel, p.record.layer,
            covered ? "(kernels of no op)" : "(staging inputs)");
      }
      p.record.estimate = static_cast<int64_t>(report.opEstimates.size());
      OpEstimate o;
      o.partition = info.name;
      o.location = shortLocation(e->location);
      o.kind = e->kind;
      o.predictedCycles = e->predictedCycles;
      o.simulatedCycles = span(e->firstKernel, e->firstKernel + e->kernelCount);
      o.firstKernel = e->firstKernel;
      o.kernelCount = e->kernelCount;
      info.predictedCycles += o.predictedCycles;
      report.opEstimates.push_back(std::move(o));
      if (e->kernelCount) {
        covered = std::max(covered, e->firstKernel + e->kernelCount);
      }
    }
    records.push_back(std::move(p.record));
  }
  if (covered < kernels) {
    gap(kernels, records.empty() ? "" : records.back().layer,
        "(copying outputs)");
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
    for (Operation *op : ops) {
      info.flops += flopsOf(op);
    }
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
  finishLayers();
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
  bool simulated = llvm::any_of(
      partitions, [](const PartitionInfo &p) { return p.simulatedCycles; });
  auto ratio = [](uint64_t predicted, uint64_t simulated) -> std::string {
    return simulated
               ? llvm::formatv("{0:f2}x", double(predicted) / double(simulated))
                     .str()
               : "-";
  };
  if (!opEstimates.empty()) {
    os << "per op (partition, location, kind, predicted cycles"
       << (simulated ? ", simulated cycles" : "") << "):\n";
    for (const OpEstimate &e : opEstimates) {
      os << llvm::formatv("  {0,-8} {1,-44} {2,-18} {3,10}", e.partition,
                          e.location, e.kind, e.predictedCycles);
      if (simulated) {
        os << llvm::formatv(" {0,10}", e.simulatedCycles);
      }
      os << "\n";
    }
  }
  if (!layers.empty()) {
    os << "per layer (NPU ops; predicted/simulated is the cost model's "
          "error):\n";
    os << llvm::formatv("  {0,-24} {1,5} {2,12} {3,12} {4,8}\n", "layer", "ops",
                        "predicted", "simulated", "pred/sim");
    uint64_t predicted = 0, simulatedSum = 0, tail = 0;
    for (const LayerInfo &l : layers) {
      os << llvm::formatv("  {0,-24} {1,5} {2,12} {3,12} {4,8}\n", l.name,
                          l.ops, l.predictedCycles,
                          simulated ? std::to_string(l.simulatedCycles) : "-",
                          ratio(l.predictedCycles, l.simulatedCycles));
      predicted += l.predictedCycles;
      simulatedSum += l.simulatedCycles;
    }
    for (const PartitionInfo &p : partitions) {
      tail += p.tailCycles;
    }
    os << llvm::formatv("  {0,-24} {1,5} {2,12} {3,12} {4,8}\n", "total", "",
                        predicted,
                        simulated ? std::to_string(simulatedSum) : "-",
                        ratio(predicted, simulatedSum));
    if (simulated) {
      os << llvm::formatv("  (simulated: each op's kernels from barrier to "
                          "barrier; {0} cycles after the last barriers are "
                          "in no layer)\n",
                          tail);
    } else {
      os << "simulated cycles: --simulate, or nuri run PKG --device sim "
            "(--json: partitions[].sim_cycles)\n";
    }
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
      report.npuMacs += flopsOf(op) / 2;
      return;
    }
    ++report.cpuOps;
    report.cpuMacs += flopsOf(op) / 2;
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
