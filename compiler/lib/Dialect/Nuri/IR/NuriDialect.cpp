//===- NuriDialect.cpp - The nuri graph dialect ---------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/IR/NuriTarget.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace nuri;

namespace nuri::detail {
std::shared_ptr<TargetCache> makeTargetCache(); // NuriTarget.cpp
} // namespace nuri::detail

#include "nuri/Dialect/Nuri/IR/NuriDialect.cpp.inc"
#include "nuri/Dialect/Nuri/IR/NuriEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "nuri/Dialect/Nuri/IR/NuriAttrs.cpp.inc"

void NuriDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "nuri/Dialect/Nuri/IR/NuriOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "nuri/Dialect/Nuri/IR/NuriAttrs.cpp.inc"
      >();
  targetCache = detail::makeTargetCache();
}

LogicalResult NuriDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  if (attr.getName() != kTargetAttrName) {
    return success();
  }
  auto target = dyn_cast<TargetAttr>(attr.getValue());
  if (!target) {
    return op->emitError("'")
           << kTargetAttrName << "' must be a #nuri.target attribute, got "
           << attr.getValue();
  }
  if (!llvm::isa<ModuleOp>(op)) {
    return op->emitError("'") << kTargetAttrName << "' belongs on a module";
  }
  // Loading here also fills the cache the passes read from.
  const Result<target::Target> &t = getParsedTarget(target);
  if (!t) {
    return op->emitError("cannot load target '")
           << target.getName() << "': " << t.error();
  }
  return success();
}

Operation *NuriDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                            Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type) {
    return nullptr;
  }
  return builder.create<ConstantOp>(loc, elements);
}
