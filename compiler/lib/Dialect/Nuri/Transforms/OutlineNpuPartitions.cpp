//===- OutlineNpuPartitions.cpp - Groups of NPU ops into functions --------===//
//
// A group runs as one NPU program, so it must be schedulable as one unit:
// every input computed before it starts. An op therefore joins a group only
// if none of its operands depends on that group through an op outside it (a
// CPU op or another group); otherwise the call would wait for itself.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/OpGroup.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Frontend/OnnxImporter.h"

#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

#include <set>

namespace nuri {
#define GEN_PASS_DEF_NURIOUTLINENPUPARTITIONS
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

bool onNpu(Operation *op) {
  auto device = op->getAttrOfType<StringAttr>("nuri.device");
  return device && device.getValue() == "npu";
}

using GroupSet = std::set<int>;

struct Grouping {
  std::vector<SmallVector<Operation *>> members;
  std::vector<GroupSet> deps; // groups each group reads from, transitively
  llvm::DenseMap<Operation *, int> groupOf;
  llvm::DenseMap<Value, GroupSet> reach; // groups a value depends on

  // Every group `start` depends on, following groups' own dependencies,
  // which grow as members join.
  GroupSet closure(const GroupSet &start) const {
    GroupSet seen;
    SmallVector<int> work(start.begin(), start.end());
    while (!work.empty()) {
      int g = work.pop_back_val();
      if (!seen.insert(g).second) {
        continue;
      }
      for (int d : deps[g]) {
        work.push_back(d);
      }
    }
    return seen;
  }

  bool canJoin(Operation *op, int g) const {
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def) {
        auto it = groupOf.find(def);
        if (it != groupOf.end() && it->second == g) {
          continue;
        }
      }
      auto r = reach.find(operand);
      if (r != reach.end() && closure(r->second).count(g)) {
        return false;
      }
    }
    return true;
  }

  void run(Block &body) {
    int latest = -1;
    for (Operation &op : body.without_terminator()) {
      GroupSet in;
      for (Value operand : op.getOperands()) {
        auto r = reach.find(operand);
        if (r != reach.end()) {
          in.insert(r->second.begin(), r->second.end());
        }
      }
      int g = -1;
      if (onNpu(&op)) {
        // Candidates: the groups of the producers, newest first, then the
        // newest group (independent ops such as Q, K and V share one).
        SmallVector<int> candidates;
        for (Value operand : op.getOperands()) {
          if (Operation *def = operand.getDefiningOp()) {
            auto it = groupOf.find(def);
            if (it != groupOf.end()) {
              candidates.push_back(it->second);
            }
          }
        }
        llvm::sort(candidates, std::greater<int>());
        if (latest >= 0) {
          candidates.push_back(latest);
        }
        for (int c : candidates) {
          if (canJoin(&op, c)) {
            g = c;
            break;
          }
        }
        if (g < 0) {
          g = static_cast<int>(members.size());
          members.emplace_back();
          deps.emplace_back();
        }
        latest = std::max(latest, g);
        members[g].push_back(&op);
        groupOf[&op] = g;
        for (int d : in) {
          if (d != g) {
            deps[g].insert(d);
          }
        }
        in.insert(g);
      }
      if (in.empty()) {
        continue;
      }
      for (Value result : op.getResults()) {
        reach[result] = in;
      }
    }
  }
};

struct OutlineNpuPartitionsPass
    : public nuri::impl::NuriOutlineNpuPartitionsBase<
          OutlineNpuPartitionsPass> {
  using NuriOutlineNpuPartitionsBase::NuriOutlineNpuPartitionsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main) {
      // A module of test functions: each is a "main" of its own.
      for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
        if (!func.isExternal() && !func->hasAttr("nuri.partition") &&
            failed(outline(module, func))) {
          return signalPassFailure();
        }
      }
      return;
    }
    if (main.isExternal() || !llvm::hasSingleElement(main.getBody())) {
      main.emitError("expects a single-block function @main");
      return signalPassFailure();
    }
    if (failed(outline(module, main))) {
      signalPassFailure();
    }
  }

  // A unique tensor name for a value that crosses a partition boundary.
  StringAttr nameOf(Value value) {
    auto it = names.find(value);
    if (it != names.end()) {
      return it->second;
    }
    std::string base;
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      base = "arg" + std::to_string(arg.getArgNumber());
    } else {
      Operation *def = value.getDefiningOp();
      Location loc = def->getLoc();
      if (auto fused = dyn_cast<FusedLoc>(loc)) {
        for (Location inner : fused.getLocations()) {
          if (isa<NameLoc>(inner)) {
            loc = inner;
            break;
          }
        }
      }
      if (auto name = dyn_cast<NameLoc>(loc)) {
        base = name.getName().str();
      } else {
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
    used.insert(name);
    StringAttr attr = StringAttr::get(value.getContext(), name);
    names[value] = attr;
    return attr;
  }

  LogicalResult outline(ModuleOp module, func::FuncOp main) {
    Block &body = main.getBody().front();
    MLIRContext *ctx = &getContext();
    names.clear();
    // The model's own names come first, so crossing tensors never take them.
    for (BlockArgument arg : body.getArguments()) {
      if (auto name = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                        onnx_attrs::kName)) {
        names[arg] = name;
        used.insert(name.getValue());
      }
    }
    Operation *terminator = body.getTerminator();
    for (OpOperand &use : terminator->getOpOperands()) {
      auto name = main.getResultAttrOfType<StringAttr>(use.getOperandNumber(),
                                                       onnx_attrs::kName);
      if (name && !names.count(use.get()) && !used.contains(name.getValue())) {
        names[use.get()] = name;
        used.insert(name.getValue());
      }
    }

    Grouping grouping;
    grouping.run(body);
    OpBuilder builder(ctx);
    SymbolTable symbols(module);
    for (SmallVector<Operation *> &members : grouping.members) {
      GroupBoundary boundary = groupBoundary(members);
      const llvm::SetVector<Value> &inputs = boundary.inputs;
      SmallVector<Value> &outputs = boundary.outputs;
      builder.setInsertionPoint(main);
      std::string symbol = "npu_" + std::to_string(nextIndex++);
      auto func = builder.create<func::FuncOp>(members.front()->getLoc(),
                                               symbol, boundary.type(ctx));
      func.setPrivate();
      func->setAttr("nuri.partition", builder.getStringAttr("npu"));
      for (auto [i, v] : llvm::enumerate(inputs)) {
        func.setArgAttr(i, onnx_attrs::kName, nameOf(v));
      }
      for (auto [i, v] : llvm::enumerate(outputs)) {
        func.setResultAttr(i, onnx_attrs::kName, nameOf(v));
      }
      symbols.insert(func);

      cloneGroupInto(builder, func, boundary, members,
                     members.back()->getLoc());

      builder.setInsertionPointAfter(members.back());
      auto call = builder.create<func::CallOp>(members.back()->getLoc(), func,
                                               inputs.getArrayRef());
      for (auto [v, r] : llvm::zip(outputs, call.getResults())) {
        v.replaceAllUsesWith(r);
        names[r] = names.lookup(v);
      }
      for (Operation *op : llvm::reverse(members)) {
        for (Value result : op->getResults()) {
          names.erase(result); // the address may come back for a new value
        }
        op->erase();
      }
    }
    for (Operation &op :
         llvm::make_early_inc_range(body.without_terminator())) {
      if (isa<ConstantOp>(op) && op.use_empty()) {
        op.erase();
      }
    }
    // A call sits where its last member was; users of its results that came
    // earlier (independent of the rest of the group) move behind it.
    if (!sortTopologically(&body)) {
      return main.emitError("outlining the NPU partitions made a cycle");
    }
    return success();
  }

  llvm::DenseMap<Value, StringAttr> names;
  llvm::StringSet<> used;
  int nextIndex = 0;
};

} // namespace
