// RUN: nuri-opt %s --nuri-attach-target=target=tiny --split-input-file | FileCheck %s
// RUN: nuri-opt %s --nuri-attach-target=target=%nuri_src/backends/configs/atom.yaml --split-input-file | FileCheck %s --check-prefix=FILE
// RUN: not nuri-opt %s --nuri-attach-target=target=no-such-chip --split-input-file 2>&1 | FileCheck %s --check-prefix=BADTARGET

// A config name stays a name; a file travels in the attribute as the
// config it parsed to (the name, then every key, the comments gone).
// CHECK: module attributes {nuri.target = #nuri.target<"tiny">}
// CHECK-LABEL: func @f
// FILE: module attributes {nuri.target = #nuri.target<"atom", config = "name: atom\0Adescription: {{.*}}\0Acores: 8\0A{{.*}}\0Amatrix:\0A  rows: 64\0A
// BADTARGET: error: cannot load target 'no-such-chip': unknown target `no-such-chip`
func.func @f(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  return %x : tensor<2xbf16>
}

// -----

// Attaching replaces the target a module had.
// CHECK: module attributes {nuri.target = #nuri.target<"tiny">}
// CHECK-LABEL: func @g
module attributes {nuri.target = #nuri.target<"atom">} {
  func.func @g() {
    return
  }
}
