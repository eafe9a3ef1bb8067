//===- OpGroup.cpp - The boundary of a group of ops -----------------------===//

#include "nuri/Dialect/Nuri/Transforms/OpGroup.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"

using namespace mlir;

namespace nuri {

FunctionType GroupBoundary::type(MLIRContext *ctx) const {
  SmallVector<Type> in, out;
  for (Value v : inputs) {
    in.push_back(v.getType());
  }
  for (Value v : outputs) {
    out.push_back(v.getType());
  }
  return FunctionType::get(ctx, in, out);
}

GroupBoundary groupBoundary(ArrayRef<Operation *> ops,
                            ArrayRef<Value> leadingInputs) {
  llvm::SmallPtrSet<Operation *, 32> members(ops.begin(), ops.end());
  GroupBoundary b;
  b.inputs.insert(leadingInputs.begin(), leadingInputs.end());
  for (Operation *op : ops) {
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && members.contains(def)) {
        continue;
      }
      if (def && llvm::isa<ConstantOp>(def)) {
        b.constants.insert(def);
      } else {
        b.inputs.insert(operand);
      }
    }
  }
  for (Operation *op : ops) {
    for (Value result : op->getResults()) {
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !members.contains(user);
          })) {
        b.outputs.push_back(result);
      }
    }
  }
  return b;
}

IRMapping cloneGroupInto(OpBuilder &b, func::FuncOp func,
                         const GroupBoundary &boundary,
                         ArrayRef<Operation *> ops, Location returnLoc) {
  Block *entry = func.addEntryBlock();
  IRMapping mapping;
  for (auto [v, arg] : llvm::zip(boundary.inputs, entry->getArguments())) {
    mapping.map(v, arg);
  }
  b.setInsertionPointToStart(entry);
  for (Operation *constant : boundary.constants) {
    b.clone(*constant, mapping);
  }
  for (Operation *op : ops) {
    b.clone(*op, mapping);
  }
  SmallVector<Value> results;
  for (Value v : boundary.outputs) {
    results.push_back(mapping.lookup(v));
  }
  b.create<func::ReturnOp>(returnLoc, results);
  return mapping;
}

} // namespace nuri
