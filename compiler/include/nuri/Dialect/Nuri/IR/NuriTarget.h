//===- NuriTarget.h - The chip config a module is compiled for --*- C++ -*-===//
//
// The driver loads the chip config once and attaches it to the module as
// `nuri.target = #nuri.target<...>` (as tt-mlir attaches its system
// descriptor); passes ask lookupTarget(op) instead of loading a config from
// a string option. Each attribute is parsed at most once per context: the
// parsed target lives in the nuri dialect for the context's lifetime, so the
// reference lookupTarget returns stays valid as long as the context.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NURI_IR_NURITARGET_H
#define NURI_DIALECT_NURI_IR_NURITARGET_H

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/target/Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace nuri {

/// The discardable attribute on the module that holds its #nuri.target.
inline constexpr llvm::StringLiteral kTargetAttrName = "nuri.target";

/// The chip config `attr` describes: its `config` YAML or, without one, the
/// config file named `name` on the search path. Parsed on first use; the
/// failure, if any, is kept too (and says why).
const Result<target::Target> &getParsedTarget(TargetAttr attr);

/// The target of the nearest op enclosing `op` (`op` included) that has a
/// `nuri.target`. Emits an error at `op` and returns null when there is none
/// or it does not load.
const target::Target *lookupTarget(mlir::Operation *op);

/// Attaches `t` to `module` as `nuri.target` and records `t` as that
/// attribute's parse, so the config the caller loaded is never parsed again.
/// With `embedConfig` the attribute carries the config serialized
/// (target::targetToYaml), so the printed module is self-contained; without,
/// only the name, which must then find the same config on the search path.
TargetAttr attachTarget(mlir::ModuleOp module, const target::Target &t,
                        bool embedConfig = true);

/// What a pass option or a test names: a config name on the search path or a
/// path ending in `.yaml`.
Result<target::Target> loadNamedTarget(llvm::StringRef nameOrPath);

/// A pass's `target` option: empty means the module's target (lookupTarget),
/// a name or .yaml path is loaded once, when the pass is initialized.
class TargetOption {
public:
  /// Loads `nameOrPath` unless it is empty; fails after a diagnostic.
  mlir::LogicalResult load(mlir::MLIRContext *ctx, llvm::StringRef nameOrPath);
  /// The named target, else the one of the module enclosing `op` (null after
  /// a diagnostic at `op` when there is none).
  const target::Target *resolve(mlir::Operation *op) const {
    return named_ ? &*named_ : lookupTarget(op);
  }

private:
  std::optional<target::Target> named_;
};

} // namespace nuri

#endif // NURI_DIALECT_NURI_IR_NURITARGET_H
