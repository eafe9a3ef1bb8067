// RUN: nuri-opt %s --nuri-outline-npu-partitions --split-input-file | FileCheck %s

// A CPU op between two dependent NPU ops splits them into two partitions.
// Weights are cloned into the partitions; crossing tensors are named after
// the model's I/O or the producing node.
// CHECK-LABEL: func.func private @npu_0
// CHECK-SAME: (%[[A0:.*]]: tensor<2x4xbf16> {nuri.name = "x"}) -> (tensor<2x4xbf16> {nuri.name = "fc1"}) attributes {nuri.partition = "npu"}
// CHECK: %[[W0:.*]] = nuri.constant dense<1.000000e+00> : tensor<4x4xbf16>
// CHECK: %[[H:.*]] = nuri.linear %[[A0]], %[[W0]]
// CHECK: return %[[H]]
// CHECK-LABEL: func.func private @npu_1
// CHECK-SAME: (%[[A1:.*]]: tensor<2x4xbf16> {nuri.name = "act"}) -> (tensor<2x4xbf16> {nuri.name = "y"})
// CHECK: nuri.constant
// CHECK: nuri.linear %[[A1]]
// CHECK-LABEL: func.func @main
// CHECK-NOT: nuri.constant
// CHECK: %[[C0:.*]] = call @npu_0(%arg0)
// CHECK: %[[G:.*]] = nuri.gelu %[[C0]] {nuri.device = "cpu"}
// CHECK: %[[C1:.*]] = call @npu_1(%[[G]])
// CHECK: return %[[C1]]
func.func @main(%x: tensor<2x4xbf16> {nuri.name = "x"}) -> (tensor<2x4xbf16> {nuri.name = "y"}) {
  %w = nuri.constant dense<1.0> : tensor<4x4xbf16>
  %h = nuri.linear %x, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("fc1")
  %g = nuri.gelu %h {nuri.device = "cpu"} : tensor<2x4xbf16> loc("act")
  %y = nuri.linear %g, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("fc2")
  return %y : tensor<2x4xbf16>
}

// -----

// Independent NPU ops reading the same CPU value (Q and K projections) share
// one partition with two results.
// CHECK-LABEL: func.func private @npu_0
// CHECK-SAME: {nuri.name = "neg"}) -> (tensor<2x4xbf16> {nuri.name = "q"}, tensor<2x4xbf16> {nuri.name = "k"})
// CHECK-COUNT-2: nuri.linear
// CHECK-LABEL: func.func @qkv
// CHECK: %[[N:.*]] = nuri.neg %arg0
// CHECK: %[[C:.*]]:2 = call @npu_0(%[[N]])
// CHECK: nuri.add %[[C]]#0, %[[C]]#1
func.func @qkv(%x: tensor<2x4xbf16>) -> tensor<2x4xbf16> {
  %w = nuri.constant dense<1.0> : tensor<4x4xbf16>
  %n = nuri.neg %x {nuri.device = "cpu"} : tensor<2x4xbf16> loc("neg")
  %q = nuri.linear %n, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("q")
  %k = nuri.linear %n, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("k")
  %s = nuri.add %q, %k {nuri.device = "cpu"} : tensor<2x4xbf16>, tensor<2x4xbf16> -> tensor<2x4xbf16>
  return %s : tensor<2x4xbf16>
}

// -----

// %b reads %a directly and through the CPU op %c: merging it into %a's
// partition would make the partition wait for itself, so it gets its own.
// CHECK-LABEL: func.func private @npu_0
// CHECK-SAME: -> (tensor<2x4xbf16> {nuri.name = "a"})
// CHECK-COUNT-1: nuri.linear
// CHECK-NOT: nuri.matmul
// CHECK-LABEL: func.func private @npu_1
// CHECK-SAME: (%{{.*}}: tensor<2x4xbf16> {nuri.name = "a"}, %{{.*}}: tensor<2x4xbf16> {nuri.name = "c"}) -> (tensor<2x2xbf16> {nuri.name = "b"})
// CHECK: nuri.matmul
// CHECK-LABEL: func.func @cycle
// CHECK: %[[A:.*]] = call @npu_0(%arg0)
// CHECK: %[[C:.*]] = nuri.neg %[[A]]
// CHECK: call @npu_1(%[[A]], %[[C]])
func.func @cycle(%x: tensor<2x4xbf16>) -> (tensor<2x4xbf16>, tensor<4xbf16>) {
  %w = nuri.constant dense<1.0> : tensor<4x4xbf16>
  %a = nuri.linear %x, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("a")
  %c = nuri.neg %a {nuri.device = "cpu"} : tensor<2x4xbf16> loc("c")
  %b = nuri.matmul %a, %c {nuri.device = "npu", transpose_rhs} : tensor<2x4xbf16>, tensor<2x4xbf16> -> tensor<2x2xbf16> loc("b")
  %y = nuri.reshape %b {nuri.device = "cpu"} : tensor<2x2xbf16> -> tensor<4xbf16>
  return %c, %y : tensor<2x4xbf16>, tensor<4xbf16>
}

// -----

// A CPU op that reads the partition but sits before its last member moves
// behind the call.
// CHECK-LABEL: func.func private @npu_0
// CHECK-COUNT-2: nuri.linear
// CHECK-LABEL: func.func @reorder
// CHECK: %[[P:.*]]:2 = call @npu_0(%arg0)
// CHECK: %[[C:.*]] = nuri.neg %[[P]]#0
// CHECK: return %[[C]], %[[P]]#1
func.func @reorder(%x: tensor<2x4xbf16>) -> (tensor<2x4xbf16>, tensor<2x4xbf16>) {
  %w = nuri.constant dense<1.0> : tensor<4x4xbf16>
  %a = nuri.linear %x, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("a")
  %c = nuri.neg %a {nuri.device = "cpu"} : tensor<2x4xbf16> loc("c")
  %b = nuri.linear %x, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("b")
  return %c, %b : tensor<2x4xbf16>, tensor<2x4xbf16>
}

// -----

// No NPU op: nothing changes.
// CHECK-LABEL: func.func @all_cpu
// CHECK-NOT: call
// CHECK: nuri.neg
func.func @all_cpu(%x: tensor<2x4xbf16>) -> tensor<2x4xbf16> {
  %n = nuri.neg %x {nuri.device = "cpu"} : tensor<2x4xbf16>
  return %n : tensor<2x4xbf16>
}

// -----

// Two crossing tensors from nodes of the same name get distinct names; the
// model's own names are never reused for another tensor.
// CHECK-LABEL: func.func private @npu_0
// CHECK-SAME: -> (tensor<2x4xbf16> {nuri.name = "dup"})
// CHECK-LABEL: func.func private @npu_1
// CHECK-SAME: -> (tensor<2x4xbf16> {nuri.name = "dup_2"})
// CHECK-LABEL: func.func private @npu_2
// CHECK-SAME: -> (tensor<2x4xbf16> {nuri.name = "x_2"})
func.func @names(%x: tensor<2x4xbf16> {nuri.name = "x"}) -> (tensor<2x4xbf16> {nuri.name = "y"}) {
  %w = nuri.constant dense<1.0> : tensor<4x4xbf16>
  %a = nuri.linear %x, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("dup")
  %c = nuri.neg %a {nuri.device = "cpu"} : tensor<2x4xbf16>
  %b = nuri.linear %c, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("dup")
  %d = nuri.neg %b {nuri.device = "cpu"} : tensor<2x4xbf16>
  %e = nuri.linear %d, %w {nuri.device = "npu"} : (tensor<2x4xbf16>, tensor<4x4xbf16>) -> tensor<2x4xbf16> loc("x")
  %f = nuri.neg %e {nuri.device = "cpu"} : tensor<2x4xbf16>
  return %f : tensor<2x4xbf16>
}
