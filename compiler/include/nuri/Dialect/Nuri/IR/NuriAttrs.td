//===- NuriAttrs.td - Attributes of the nuri dialect -------*- tablegen -*-===//

#ifndef NURI_DIALECT_NURI_IR_NURIATTRS_TD
#define NURI_DIALECT_NURI_IR_NURIATTRS_TD

include "nuri/Dialect/Nuri/IR/NuriBase.td"

def Nuri_TargetAttr : AttrDef<Nuri_Dialect, "Target"> {
  let mnemonic = "target";
  let summary = "the chip config a module is compiled for";
  let description = [{
    Attached to the module as `nuri.target` by the driver (or by
    `nuri-attach-target` in lit tests), so every pass that needs the chip
    reads one parsed config instead of loading it again: `lookupTarget(op)`
    (nuri/Dialect/Nuri/IR/NuriTarget.h) finds the nearest enclosing
    `nuri.target` and returns the target, parsed once per attribute and
    context.

    `name` is the chip's name. `config`, when present, is the whole config
    as YAML (what `nuri compile` attaches: the module then carries exactly
    what the compiler used, overrides included); without it the name is
    looked up on the config search path (`backends/configs/NAME.yaml`).

    ```mlir
    module attributes {nuri.target = #nuri.target<"atom">} {}
    module attributes {nuri.target = #nuri.target<"tiny", config = "name: tiny\n...">} {}
    ```
  }];
  let parameters = (ins
    StringRefParameter<"the chip's name">:$name,
    StringRefParameter<"the config as YAML; empty: found by name", [{""}]>:$config
  );
  let assemblyFormat = "`<` $name (`,` `config` `=` $config^)? `>`";
  let genVerifyDecl = 1;
}

#endif // NURI_DIALECT_NURI_IR_NURIATTRS_TD
