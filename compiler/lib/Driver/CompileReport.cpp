//===- CompileReport.cpp - Building the report of `nuri compile` ----------===//
//
// The report's numbers come from two places: the cost model's estimates,
// which the NPU lowering returns per op, and (with --simulate) the
// simulator's timing of the whole program. Each kernel ends with one
// chip-wide barrier, so the simulator's barrier releases split the simulated
// cycles between the ops without instrumenting the program.
//
//===----------------------------------------------------------------------===//

#include "CompileReport.h"

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/sim/Simulator.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cctype>
#include <map>

using namespace mlir;

namespace nuri::driver {

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

} // namespace

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
  if (auto quantized = llvm::dyn_cast<QuantizedMatmulOp>(op)) {
    // int8 products are matrix work too (--quantize puts them on the CPU
    // of an NPU target today).
    return 2 * elements(quantized.getResult()) *
           static_cast<uint64_t>(shape(quantized.getLhs()).back());
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
    os << llvm::formatv(
        "\nmatrix work (linear, matmul, quantized_matmul, conv, attention): "
        "{0:f1}% of {1} MACs on the NPU",
        100 * share, macs);
    if (target != "cpu" && share < 0.5) {
      os << " (most of the work runs in CPU partitions; the reasons are "
            "below)";
    }
  }
  for (const std::string &line : quantization) {
    os << "\n" << line;
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

void ReportBuilder::countOps(ModuleOp module) {
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
}

void ReportBuilder::addCpuPartition(PartitionInfo info) {
  report.partitions.push_back(std::move(info));
}

LogicalResult
ReportBuilder::addNpuPartition(func::FuncOp callee,
                               const npu::CompiledPartition &compiled) {
  PartitionInfo info;
  info.npu = true;
  info.name = callee.getSymName().str();
  callee.walk([&](Operation *op) {
    if (op->getDialect() && llvm::isa<NuriDialect>(op->getDialect()) &&
        !llvm::isa<ConstantOp>(op)) {
      ++info.ops;
    }
  });
  for (const npu::DramTensor &t : compiled.inputs) {
    info.inputs.push_back(t.name);
    info.ioBytes += tensorBytes(t.shape, t.dtype);
  }
  for (const npu::DramTensor &t : compiled.outputs) {
    info.outputs.push_back(t.name);
    info.ioBytes += tensorBytes(t.shape, t.dtype);
  }
  for (const npu::DramConstant &c : compiled.constants) {
    info.weightBytes += c.size;
  }

  // The kernels' barriers, counted on one queue: every queue takes part.
  unsigned kernels = 0;
  if (const isa::Stream *s = compiled.program.find(0, isa::Engine::Dma)) {
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
    Result<sim::Report> simulated = simulator.run(compiled.program);
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
  const std::vector<npu::LayerEstimate> &estimates = compiled.estimates;
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
  report.partitions.push_back(std::move(info));
  return success();
}

void ReportBuilder::finish() {
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

} // namespace nuri::driver
