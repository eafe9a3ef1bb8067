//===- NuriDialect.cpp - The nuri graph dialect ---------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace nuri;

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
}

Operation *NuriDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                            Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type) {
    return nullptr;
  }
  return builder.create<ConstantOp>(loc, elements);
}
