//===- NuriEnums.td - Enumerations of the nuri dialect -----*- tablegen -*-===//

#ifndef NURI_DIALECT_NURI_IR_NURIENUMS_TD
#define NURI_DIALECT_NURI_IR_NURIENUMS_TD

include "nuri/Dialect/Nuri/IR/NuriBase.td"
include "mlir/IR/EnumAttr.td"

def Nuri_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "how GELU is computed", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Tanh", 1, "tanh">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::nuri";
}
def Nuri_GeluApproximationAttr
    : EnumAttr<Nuri_Dialect, Nuri_GeluApproximation, "gelu">;

def Nuri_ComparePredicate : I32EnumAttr<"ComparePredicate",
    "elementwise comparison", [
      I32EnumAttrCase<"EQ", 0, "eq">,
      I32EnumAttrCase<"NE", 1, "ne">,
      I32EnumAttrCase<"LT", 2, "lt">,
      I32EnumAttrCase<"LE", 3, "le">,
      I32EnumAttrCase<"GT", 4, "gt">,
      I32EnumAttrCase<"GE", 5, "ge">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::nuri";
}
def Nuri_ComparePredicateAttr
    : EnumAttr<Nuri_Dialect, Nuri_ComparePredicate, "predicate">;

#endif // NURI_DIALECT_NURI_IR_NURIENUMS_TD
