// RUN: nuri-opt %s --nuri-partition --split-input-file --verify-diagnostics

// Partitioning needs the chip: without a nuri.target it cannot ask anyone.
// expected-error @+1 {{no target: no enclosing op has a 'nuri.target' attribute}}
func.func @no_target(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  %y = nuri.gelu %x : tensor<2xbf16>
  return %y : tensor<2xbf16>
}
