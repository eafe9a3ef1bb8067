// RUN: nuri-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{cannot load target 'no-such-chip': unknown target `no-such-chip`}}
module attributes {nuri.target = #nuri.target<"no-such-chip">} {
}

// -----

// expected-error @+1 {{'nuri.target' must be a #nuri.target attribute, got "atom"}}
module attributes {nuri.target = "atom"} {
}

// -----

module {
  // expected-error @+1 {{'nuri.target' belongs on a module}}
  func.func @f() attributes {nuri.target = #nuri.target<"atom">} {
    return
  }
}

// -----

// expected-error @+1 {{#nuri.target needs a chip name}}
module attributes {nuri.target = #nuri.target<"">} {
}

// -----

// A config that does not load names the offending key.
// expected-error @+1 {{cannot load target 'broken': #nuri.target<"broken">: cores: missing}}
module attributes {nuri.target = #nuri.target<"broken", config = "name: broken\nclock_hz: 1GHz\n">} {
}

// -----

// The config is the chip the name says, or the attribute lies.
// expected-error @+1 {{the config names the chip 'tiny'}}
module attributes {nuri.target = #nuri.target<"atom", config = "name: tiny\nclock_hz: 1GHz\ncores: 2\nmatrix: {rows: 8, cols: 8, macs_per_cycle: {bf16: 64}, acc_bytes: 16KiB}\nvector: {lanes: 8, pipeline_depth: 4}\nsram: {bytes_per_core: 256KiB, banks: 4, bank_width_bytes: 16}\ndram: {bytes: 64MiB, bytes_per_s: 16GB, latency_cycles: 50}\ndma: {outstanding: 4, bytes_per_cycle: 16}\nnoc: {bytes_per_cycle: 32, latency_cycles: 10}\n">} {
}
