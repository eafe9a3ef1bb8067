// RUN: nuri-opt %s --nuri-kv-cache="slots=4 max-seq=16" -split-input-file -verify-diagnostics

// expected-error @+1 {{--generate needs a decoder exported with its KV cache}}
func.func @main(%x: tensor<2x4xf32> {nuri.name = "x"}) -> (tensor<2x4xf32> {nuri.name = "y"}) {
  %y = nuri.add %x, %x : tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @main(%pk: tensor<1x2x3x8xf32> {nuri.name = "past_key_values.0.key"},
                %k: tensor<1x2x1x8xf32> {nuri.name = "k"})
    -> (tensor<1x2x4x8xf32> {nuri.name = "present.0.key"}, tensor<1x2x4x8xf32> {nuri.name = "twice"}) {
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x4x8xf32>
  // expected-error @+1 {{reads the KV cache 'past_key_values.0.key' as nuri.add; --generate supports caches that only attention reads}}
  %d = nuri.add %ck, %ck : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  return %ck, %d : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
}

// -----

// expected-error @+1 {{--max-seq 16 is shorter than this program's context 21 (past 20 + 1 new tokens)}}
func.func @main(%pk: tensor<1x2x20x8xf32> {nuri.name = "past_key_values.0.key"},
                %k: tensor<1x2x1x8xf32> {nuri.name = "k"})
    -> (tensor<1x2x21x8xf32> {nuri.name = "present.0.key"}) {
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x20x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x21x8xf32>
  return %ck : tensor<1x2x21x8xf32>
}

// -----

// expected-error @+1 {{cache slots 4 are fewer than the program's batch 8}}
func.func @main(%pk: tensor<8x2x3x8xf32> {nuri.name = "past_key_values.0.key"},
                %k: tensor<8x2x1x8xf32> {nuri.name = "k"})
    -> (tensor<8x2x4x8xf32> {nuri.name = "present.0.key"}) {
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<8x2x3x8xf32>, tensor<8x2x1x8xf32>) -> tensor<8x2x4x8xf32>
  return %ck : tensor<8x2x4x8xf32>
}

// -----

func.func @main(%q: tensor<1x2x1x8xf32> {nuri.name = "q"},
                %pk: tensor<1x2x3x8xf32> {nuri.name = "past_key_values.0.key"},
                %k: tensor<1x2x1x8xf32> {nuri.name = "k"},
                %v: tensor<1x2x4x8xf32> {nuri.name = "v"})
    -> (tensor<1x2x1x8xf32> {nuri.name = "out"}, tensor<1x2x4x8xf32> {nuri.name = "present.0.key"}) {
  %ck = nuri.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x3x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x2x4x8xf32>
  // expected-error @+1 {{reads its keys from the KV cache but not its values}}
  %o = nuri.attention %q, %ck, %v {scale = 0.25 : f32} : (tensor<1x2x1x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x1x8xf32>
  return %o, %ck : tensor<1x2x1x8xf32>, tensor<1x2x4x8xf32>
}
