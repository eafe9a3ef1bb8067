// RUN: nuri-opt %s -split-input-file -verify-diagnostics
// One case per verifier error of the npu dialect.

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  // expected-error @+1 {{has engine 'gpu'; expected one of dma, mat, vec, fetch}}
  npu.stream attributes {core = 0 : i64, engine = "gpu"} {
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  // expected-error @+1 {{has core 300 outside [0, 255]}}
  npu.stream attributes {core = 300 : i64, engine = "dma"} {
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
  }
  // expected-error @+1 {{duplicates the stream of core 0 engine dma}}
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{is not legal on the 'dma' queue}}
    npu.mm {acc = 0 : i64, a = 0 : i64, lda = 256 : i64, b = 0 : i64, ldb = 16 : i64, m = 16 : i64, n = 8 : i64, k = 128 : i64, atype = "bf16", btype = "bf16", accumulate = 0 : i64}
  }
}

// -----

// The fetch queue is a DMA queue: the array's instructions are not legal on it.
npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
    // expected-error @+1 {{is not legal on the 'fetch' queue}}
    npu.mm {acc = 0 : i64, a = 0 : i64, lda = 256 : i64, b = 0 : i64, ldb = 16 : i64, m = 16 : i64, n = 8 : i64, k = 128 : i64, atype = "bf16", btype = "bf16", accumulate = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
    // expected-error @+1 {{is not legal on the 'fetch' queue}}
    npu.vec_fill {dst = 0 : i64, ldd = 512 : i64, rows = 1 : i64, cols = 128 : i64, dtype = "f32", imm = 1.250000e-01 : f32}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
  }
  // expected-error @+1 {{duplicates the stream of core 0 engine fetch}}
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    // expected-error @+1 {{multiplies bf16 by f16; legal pairs are i8 x i8, equal bf16/f16, fp8 x fp8}}
    npu.mm {acc = 0 : i64, a = 0 : i64, lda = 256 : i64, b = 0 : i64, ldb = 16 : i64, m = 16 : i64, n = 8 : i64, k = 128 : i64, atype = "bf16", btype = "f16", accumulate = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    // expected-error @+1 {{expects k >= 1, got 0}}
    npu.mm {acc = 0 : i64, a = 0 : i64, lda = 256 : i64, b = 0 : i64, ldb = 16 : i64, m = 16 : i64, n = 8 : i64, k = 0 : i64, atype = "bf16", btype = "bf16", accumulate = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    // expected-error @+1 {{field 'accumulate' = 2 does not fit in 1 bits}}
    npu.mm {acc = 0 : i64, a = 0 : i64, lda = 256 : i64, b = 0 : i64, ldb = 16 : i64, m = 16 : i64, n = 8 : i64, k = 8 : i64, atype = "bf16", btype = "bf16", accumulate = 2 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{field 'src_space' has no enumerator "hbm"}}
    npu.dma_copy {src_space = "hbm", dst_space = "sram", core = 0 : i64, src = 0 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{field 'bytes' = 33554432 does not fit in 24 bits}}
    npu.dma_copy {src_space = "dram", dst_space = "sram", core = 0 : i64, src = 0 : i64, dst = 0 : i64, bytes = 33554432 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{expects planes >= 1, got 0}}
    npu.dma_copy {src_space = "dram", dst_space = "sram", core = 0 : i64, src = 0 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 1 : i64, planes = 0 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{expects cores >= 1, got 0}}
    npu.dma_mcast {src_space = "dram", cores = 0 : i64, src = 0 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64, core = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{field 'core' = 256 does not fit in 8 bits}}
    npu.dma_mcast {src_space = "peer", cores = 3 : i64, src = 0 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64, core = 256 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{field 'cores' = 4294967296 does not fit in 32 bits}}
    npu.dma_mcast {src_space = "dram", cores = 4294967296 : i64, src = 0 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64, core = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{is not legal on the 'vec' queue}}
    npu.dma_mcast {src_space = "dram", cores = 1 : i64, src = 0 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64, core = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{field 'use_scale' = 3 does not fit in 1 bits}}
    npu.acc_read {dst = 0 : i64, ldd = 16 : i64, acc = 0 : i64, m = 16 : i64, n = 8 : i64, dtype = "bf16", act = "none", use_scale = 3 : i64, scale = 0 : i64, use_bias = 0 : i64, bias = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{field 'act' has no enumerator "swish"}}
    npu.acc_read {dst = 0 : i64, ldd = 16 : i64, acc = 0 : i64, m = 16 : i64, n = 8 : i64, dtype = "bf16", act = "swish", use_scale = 0 : i64, scale = 0 : i64, use_bias = 0 : i64, bias = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{expects cols >= 1, got 0}}
    npu.vec_unary {unop = "exp", dst = 0 : i64, ldd = 128 : i64, src = 0 : i64, lds = 128 : i64, rows = 8 : i64, cols = 0 : i64, dtype = "f32", stype = "f32"}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{field 'binop' has no enumerator "pow"}}
    npu.vec_binary {binop = "pow", bcast = "none", dst = 0 : i64, ldd = 64 : i64, src = 0 : i64, lds = 64 : i64, src1 = 512 : i64, lds1 = 64 : i64, rows = 4 : i64, cols = 32 : i64, dtype = "bf16", stype = "bf16"}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{field 'redop' has no enumerator "min"}}
    npu.vec_reduce {redop = "min", dst = 1024 : i64, src = 0 : i64, lds = 128 : i64, rows = 8 : i64, cols = 32 : i64, dtype = "f32", stype = "f32"}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{expects rows >= 1, got 0}}
    npu.vec_transpose {dst = 0 : i64, ldd = 256 : i64, src = 8192 : i64, lds = 128 : i64, rows = 0 : i64, cols = 64 : i64, dtype = "bf16"}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{field 'dtype' has no enumerator "f64"}}
    npu.vec_fill {dst = 0 : i64, ldd = 512 : i64, rows = 1 : i64, cols = 128 : i64, dtype = "f64", imm = 1.0 : f32}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{expects rows >= 1, got 0}}
    npu.vec_scalar {binop = "mul", dst = 0 : i64, ldd = 4 : i64, src = 0 : i64, lds = 4 : i64, rows = 0 : i64, cols = 1 : i64, dtype = "f32", stype = "f32", imm = 1.0 : f32}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    // expected-error @+1 {{field 'bcast' has no enumerator "diag"}}
    npu.vec_bcast {bcast = "diag", dst = 0 : i64, ldd = 128 : i64, src = 4096 : i64, rows = 8 : i64, cols = 32 : i64, dtype = "f32", stype = "bf16"}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{expects count >= 1, got 0}}
    npu.sem_signal {sem = 0 : i64, core = 0 : i64, count = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{expects count >= 1, got 0}}
    npu.sem_wait {sem = 0 : i64, count = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{field 'sem' = 300 does not fit in 8 bits}}
    npu.sem_wait {sem = 300 : i64, count = 1 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{expects count >= 1, got 0}}
    npu.barrier {bar = 0 : i64, count = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{expects times >= 1, got 0}}
    npu.repeat {body = 0 : i64, times = 0 : i64}
  }
}

// -----

// expected-error @+1 {{holds only npu.stream ops, found npu.nop}}
npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.nop {cycles = 1 : i64}
}

// -----

func.func @f(%a: tensor<8x16xbf16>, %b: tensor<16x8xf16>) -> tensor<8x8xbf16> {
  // expected-error @+1 {{multiplies 'bf16' by 'f16'; a and b must have one element type}}
  %y = npu.gemm %a, %b : (tensor<8x16xbf16>, tensor<16x8xf16>) -> tensor<8x8xbf16>
  return %y : tensor<8x8xbf16>
}

// -----

func.func @f(%a: tensor<8xbf16>, %b: tensor<8x8xbf16>) -> tensor<8xbf16> {
  // expected-error @+1 {{expects a and b of rank >= 2, got 1 and 2}}
  %y = npu.gemm %a, %b : (tensor<8xbf16>, tensor<8x8xbf16>) -> tensor<8xbf16>
  return %y : tensor<8xbf16>
}

// -----

func.func @f(%a: tensor<8x16xbf16>, %b: tensor<12x8xbf16>) -> tensor<8x8xbf16> {
  // expected-error @+1 {{contracts K = 16 of a with 12 rows of b}}
  %y = npu.gemm %a, %b : (tensor<8x16xbf16>, tensor<12x8xbf16>) -> tensor<8x8xbf16>
  return %y : tensor<8x8xbf16>
}

// -----

func.func @f(%a: tensor<2x8x16xbf16>, %b: tensor<16x8xbf16>) -> tensor<16x8xbf16> {
  // expected-error @+1 {{has result 'tensor<16x8xbf16>'; a x b has shape [2, 8, 8]}}
  %y = npu.gemm %a, %b : (tensor<2x8x16xbf16>, tensor<16x8xbf16>) -> tensor<16x8xbf16>
  return %y : tensor<16x8xbf16>
}

// -----

func.func @f(%a: tensor<3x8x16xbf16>, %b: tensor<2x16x8xbf16>) -> tensor<2x8x8xbf16> {
  // expected-error @+1 {{has batch dims of a that are neither absent nor those of b}}
  %y = npu.gemm %a, %b : (tensor<3x8x16xbf16>, tensor<2x16x8xbf16>) -> tensor<2x8x8xbf16>
  return %y : tensor<2x8x8xbf16>
}

// -----

func.func @f(%a: tensor<8x16xbf16>, %b: tensor<2x16x8xbf16>, %r: tensor<2x8x8xbf16>) -> tensor<2x8x8xbf16> {
  // expected-error @+1 {{fuses an epilogue into a batched GEMM (b is 'tensor<2x16x8xbf16>'); epilogues take a [K, N] b}}
  %y = npu.gemm %a, %b residual %r : (tensor<8x16xbf16>, tensor<2x16x8xbf16>, tensor<2x8x8xbf16>) -> tensor<2x8x8xbf16>
  return %y : tensor<2x8x8xbf16>
}

// -----

func.func @f(%a: tensor<8x16xbf16>, %b: tensor<16x8xbf16>, %c: tensor<4xf32>) -> tensor<8x8xbf16> {
  // expected-error @+1 {{has a bias of 4 values for 8 columns}}
  %y = npu.gemm %a, %b bias %c : (tensor<8x16xbf16>, tensor<16x8xbf16>, tensor<4xf32>) -> tensor<8x8xbf16>
  return %y : tensor<8x8xbf16>
}

// -----

func.func @f(%a: tensor<8x16xbf16>, %b: tensor<16x8xbf16>, %r: tensor<8x8xf32>) -> tensor<8x8xbf16> {
  // expected-error @+1 {{has a residual of type 'tensor<8x8xf32>', not the result type 'tensor<8x8xbf16>'}}
  %y = npu.gemm %a, %b residual %r : (tensor<8x16xbf16>, tensor<16x8xbf16>, tensor<8x8xf32>) -> tensor<8x8xbf16>
  return %y : tensor<8x8xbf16>
}

// -----

func.func @f(%a: tensor<8x16xbf16>, %b: tensor<16x8xbf16>) -> tensor<8x8xbf16> {
  // expected-error @+1 {{has act 'swish'; expected none, relu, gelu, silu, tanh, gelu_tanh}}
  %y = npu.gemm %a, %b {act = "swish"} : (tensor<8x16xbf16>, tensor<16x8xbf16>) -> tensor<8x8xbf16>
  return %y : tensor<8x8xbf16>
}

// -----

func.func @f(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{'npu.layout' = "strided" is not alias, head_split, head_merge or columns}}
  %y = nuri.relu %x {npu.layout = "strided"} : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{'npu.layout' = "alias" applies to nuri.reshape}}
  %y = nuri.relu %x {npu.layout = "alias"} : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%x: tensor<1x2x3x4xbf16>) -> tensor<2x1x3x4xbf16> {
  // expected-error @+1 {{'npu.layout' = "head_split" applies to a nuri.transpose with permutation [0, 2, 1, 3]}}
  %y = nuri.transpose %x {npu.layout = "head_split", permutation = array<i64: 1, 0, 2, 3>} : tensor<1x2x3x4xbf16> -> tensor<2x1x3x4xbf16>
  return %y : tensor<2x1x3x4xbf16>
}

// -----

func.func @f(%x: tensor<4x8xbf16>) -> tensor<2x4xbf16> {
  // expected-error @+1 {{'npu.layout' = "columns" applies to a unit-step nuri.slice of the last dimension}}
  %y = nuri.slice %x {npu.layout = "columns", starts = array<i64: 1, 0>, limits = array<i64: 3, 4>, steps = array<i64: 1, 1>} : tensor<4x8xbf16> -> tensor<2x4xbf16>
  return %y : tensor<2x4xbf16>
}

// -----

func.func @f(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{'npu.buffers' has 2 entries for 1 results}}
  %y = nuri.relu %x {npu.buffers = [#npu.buffer<"dram", 0>, #npu.buffer<"dram", 256>]} : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{'npu.buffers' must be an array of #npu.buffer}}
  %y = nuri.relu %x {npu.buffers = [0]} : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{memory space 'sram' is not dram, shared or peer}}
  %y = nuri.relu %x {npu.buffers = [#npu.buffer<"sram", 0>]} : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{offset 100 is not a non-negative multiple of 256}}
  %y = nuri.relu %x {npu.buffers = [#npu.buffer<"dram", 100>]} : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

// expected-error @+1 {{'npu.buffer' of argument must be a #npu.buffer in dram, got #npu.buffer<"shared", 0>}}
func.func @f(%x: tensor<4x8xbf16> {npu.buffer = #npu.buffer<"shared", 0>}) -> tensor<4x8xbf16> {
  return %x : tensor<4x8xbf16>
}

// -----

// expected-error @+1 {{'npu.staged' of argument must be a #npu.buffer in shared, got #npu.buffer<"dram", 0>}}
func.func @f(%x: tensor<4x8xbf16> {npu.staged = #npu.buffer<"dram", 0>}) -> tensor<4x8xbf16> {
  return %x : tensor<4x8xbf16>
}

// -----

// expected-error @+1 {{'npu.staged' applies to arguments}}
func.func @f(%x: tensor<4x8xbf16>) -> (tensor<4x8xbf16> {npu.staged = #npu.buffer<"shared", 0>}) {
  return %x : tensor<4x8xbf16>
}

// -----

// expected-error @+1 {{has unknown attribute 'npu.tiling'}}
func.func @f(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> attributes {npu.tiling = 1} {
  return %x : tensor<4x8xbf16>
}

// -----

// expected-error @+1 {{'npu.dram_bytes' must be a non-negative integer}}
func.func @f(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> attributes {npu.dram_bytes = -1} {
  return %x : tensor<4x8xbf16>
}

// -----

func.func @plan_zero_tile(%x: tensor<8x16xbf16>, %w: tensor<16x32xbf16>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{tile_cols must be positive, got 0}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 8, slice_cols = 32, block_rows = 8, tile_cols = 0, k_chunk = 16, a_buffers = 2, w_buffers = 2, a_pitch = 64, multicast_a = false, cycles = 1>} : (tensor<8x16xbf16>, tensor<16x32xbf16>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @plan_three_a_buffers(%x: tensor<8x16xbf16>, %w: tensor<16x32xbf16>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{a_buffers must be 1 or 2, got 3}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 8, slice_cols = 32, block_rows = 8, tile_cols = 32, k_chunk = 16, a_buffers = 3, w_buffers = 2, a_pitch = 64, multicast_a = false, cycles = 1>} : (tensor<8x16xbf16>, tensor<16x32xbf16>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @plan_negative_w_buffers(%x: tensor<8x16xbf16>, %w: tensor<16x32xbf16>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{w_buffers must be 0 (resident) or positive, got -1}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 8, slice_cols = 32, block_rows = 8, tile_cols = 32, k_chunk = 16, a_buffers = 2, w_buffers = -1, a_pitch = 64, multicast_a = false, cycles = 1>} : (tensor<8x16xbf16>, tensor<16x32xbf16>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @plan_block_beyond_slice(%x: tensor<8x16xbf16>, %w: tensor<16x32xbf16>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{a 16x32 block does not fit in a 8x32 slice}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 8, slice_cols = 32, block_rows = 16, tile_cols = 32, k_chunk = 16, a_buffers = 2, w_buffers = 2, a_pitch = 64, multicast_a = false, cycles = 1>} : (tensor<8x16xbf16>, tensor<16x32xbf16>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @plan_multicast_one_column(%x: tensor<8x16xbf16>, %w: tensor<16x32xbf16>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{multicast_a needs more than one column slice}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 8, slice_cols = 32, block_rows = 8, tile_cols = 32, k_chunk = 16, a_buffers = 2, w_buffers = 2, a_pitch = 64, multicast_a = true, cycles = 1>} : (tensor<8x16xbf16>, tensor<16x32xbf16>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @plan_negative_cycles(%x: tensor<8x16xbf16>, %w: tensor<16x32xbf16>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{cycles must not be negative, got -5}}
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 8, slice_cols = 32, block_rows = 8, tile_cols = 32, k_chunk = 16, a_buffers = 2, w_buffers = 2, a_pitch = 64, multicast_a = false, cycles = -5>} : (tensor<8x16xbf16>, tensor<16x32xbf16>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @plan_on_a_graph_op(%x: tensor<8x16xbf16>) -> tensor<8x16xbf16> {
  // expected-error @+1 {{'npu.plan' must be a #npu.gemm_plan on an npu.gemm}}
  %y = nuri.relu %x {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 1, slice_rows = 8, slice_cols = 16, block_rows = 8, tile_cols = 16, k_chunk = 16, a_buffers = 2, w_buffers = 2, a_pitch = 64, multicast_a = false, cycles = 1>} : tensor<8x16xbf16>
  return %y : tensor<8x16xbf16>
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{expects idx_scale0 or idx_scale1 >= 1 (both are 0: use dma_copy for a fixed address)}}
    npu.dma_idx {src_space = "sram", dst_space = "dram", core = 0 : i64, src = 0 : i64, dst = 0 : i64, bytes = 64 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64, idx_dst = 1 : i64, idx0 = 0 : i64, idx_scale0 = 0 : i64, idx1 = 0 : i64, idx_scale1 = 0 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{field 'idx_dst' = 2 does not fit in 1 bits}}
    npu.dma_idx {src_space = "sram", dst_space = "dram", core = 0 : i64, src = 0 : i64, dst = 0 : i64, bytes = 64 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64, idx_dst = 2 : i64, idx0 = 0 : i64, idx_scale0 = 4 : i64, idx1 = 0 : i64, idx_scale1 = 0 : i64}
  }
}

// -----

func.func @f(%x: tensor<4x16xi32>) -> tensor<4x16xi8> {
  // expected-error @+1 {{quantizes 'i32'; the input must be bf16, f16 or f32}}
  %q = npu.quantize %x {scale = 0.5 : f32, offset = 0 : i64} : tensor<4x16xi32> -> tensor<4x16xi8>
  return %q : tensor<4x16xi8>
}

// -----

func.func @f(%x: tensor<4x16xbf16>) -> tensor<4x16xui8> {
  // expected-error @+1 {{has result element type 'ui8'; expected i8 or f8E4M3FN}}
  %q = npu.quantize %x {scale = 0.5 : f32, offset = 0 : i64} : tensor<4x16xbf16> -> tensor<4x16xui8>
  return %q : tensor<4x16xui8>
}

// -----

func.func @f(%x: tensor<4x16xbf16>) -> tensor<4x8xi8> {
  // expected-error @+1 {{has result shape 'tensor<4x8xi8>' for an input of 'tensor<4x16xbf16>'}}
  %q = npu.quantize %x {scale = 0.5 : f32, offset = 0 : i64} : tensor<4x16xbf16> -> tensor<4x8xi8>
  return %q : tensor<4x8xi8>
}

// -----

func.func @f(%x: tensor<4x16xbf16>) -> tensor<4x16xi8> {
  // expected-error @+1 {{has scale 0.000000e+00; expected a finite value > 0}}
  %q = npu.quantize %x {scale = 0.0 : f32, offset = 0 : i64} : tensor<4x16xbf16> -> tensor<4x16xi8>
  return %q : tensor<4x16xi8>
}

// -----

func.func @f(%x: tensor<4x16xbf16>) -> tensor<4x16xi8> {
  // expected-error @+1 {{has offset 300; expected a value in [-255, 255]}}
  %q = npu.quantize %x {scale = 0.5 : f32, offset = 300 : i64} : tensor<4x16xbf16> -> tensor<4x16xi8>
  return %q : tensor<4x16xi8>
}

// -----

func.func @f(%a: tensor<4x16xbf16>, %b: tensor<16x8xi8>, %z: tensor<8xi32>, %s: tensor<8xf32>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{multiplies 'bf16' by 'i8'; a and b must both be i8 or both f8E4M3FN}}
  %y = npu.quantized_gemm %a, %b, %z, %s : (tensor<4x16xbf16>, tensor<16x8xi8>, tensor<8xi32>, tensor<8xf32>) -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%x: tensor<4x16xbf16>) -> tensor<4x16xf8E4M3FN> {
  // expected-error @+1 {{has offset 1; expected a value in [0, 0] (fp8 has no zero point)}}
  %q = npu.quantize %x {scale = 0.5 : f32, offset = 1 : i64} : tensor<4x16xbf16> -> tensor<4x16xf8E4M3FN>
  return %q : tensor<4x16xf8E4M3FN>
}

// -----

func.func @f(%a: tensor<4x16xf8E4M3FN>, %b: tensor<16x8xi8>, %z: tensor<8xi32>, %s: tensor<8xf32>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{multiplies 'f8E4M3FN' by 'i8'; a and b must both be i8 or both f8E4M3FN}}
  %y = npu.quantized_gemm %a, %b, %z, %s : (tensor<4x16xf8E4M3FN>, tensor<16x8xi8>, tensor<8xi32>, tensor<8xf32>) -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%a: tensor<4x16xf8E4M3FN>, %b: tensor<16x8xf8E4M3FN>, %z: tensor<8xi32>, %s: tensor<8xf32>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{has zp_bias of type 'tensor<8xi32>'; expected 'tensor<8xf32>'}}
  %y = npu.quantized_gemm %a, %b, %z, %s : (tensor<4x16xf8E4M3FN>, tensor<16x8xf8E4M3FN>, tensor<8xi32>, tensor<8xf32>) -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%a: tensor<4x16xi8>, %b: tensor<2x16x8xi8>, %z: tensor<8xi32>, %s: tensor<8xf32>) -> tensor<2x4x8xbf16> {
  // expected-error @+1 {{expects a of rank >= 2 and b of rank 2, got 2 and 3}}
  %y = npu.quantized_gemm %a, %b, %z, %s : (tensor<4x16xi8>, tensor<2x16x8xi8>, tensor<8xi32>, tensor<8xf32>) -> tensor<2x4x8xbf16>
  return %y : tensor<2x4x8xbf16>
}

// -----

func.func @f(%a: tensor<4x16xi8>, %b: tensor<12x8xi8>, %z: tensor<8xi32>, %s: tensor<8xf32>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{contracts K = 16 of a with 12 rows of b}}
  %y = npu.quantized_gemm %a, %b, %z, %s : (tensor<4x16xi8>, tensor<12x8xi8>, tensor<8xi32>, tensor<8xf32>) -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%a: tensor<4x16xi8>, %b: tensor<16x8xi8>, %z: tensor<8xi32>, %s: tensor<8xf32>) -> tensor<4x4xbf16> {
  // expected-error @+1 {{has result 'tensor<4x4xbf16>'; a x b has shape [4, 8]}}
  %y = npu.quantized_gemm %a, %b, %z, %s : (tensor<4x16xi8>, tensor<16x8xi8>, tensor<8xi32>, tensor<8xf32>) -> tensor<4x4xbf16>
  return %y : tensor<4x4xbf16>
}

// -----

func.func @f(%a: tensor<4x16xi8>, %b: tensor<16x8xi8>, %z: tensor<8xi32>, %s: tensor<8xf32>) -> tensor<4x8xi32> {
  // expected-error @+1 {{has result element type 'i32'; expected bf16, f16 or f32}}
  %y = npu.quantized_gemm %a, %b, %z, %s : (tensor<4x16xi8>, tensor<16x8xi8>, tensor<8xi32>, tensor<8xf32>) -> tensor<4x8xi32>
  return %y : tensor<4x8xi32>
}

// -----

func.func @f(%a: tensor<4x16xi8>, %b: tensor<16x8xi8>, %z: tensor<8xf32>, %s: tensor<8xf32>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{has zp_bias of type 'tensor<8xf32>'; expected 'tensor<8xi32>'}}
  %y = npu.quantized_gemm %a, %b, %z, %s : (tensor<4x16xi8>, tensor<16x8xi8>, tensor<8xf32>, tensor<8xf32>) -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%a: tensor<4x16xi8>, %b: tensor<16x8xi8>, %z: tensor<8xi32>, %s: tensor<8xf32>, %r: tensor<4x8xf32>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{has a residual of type 'tensor<4x8xf32>', not the result type 'tensor<4x8xbf16>'}}
  %y = npu.quantized_gemm %a, %b, %z, %s residual %r : (tensor<4x16xi8>, tensor<16x8xi8>, tensor<8xi32>, tensor<8xf32>, tensor<4x8xf32>) -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%a: tensor<4x16xi8>, %b: tensor<16x8xi8>, %z: tensor<8xi32>, %s: tensor<8xf32>) -> tensor<4x8xbf16> {
  // expected-error @+1 {{has act 'gelu'; expected none or relu}}
  %y = npu.quantized_gemm %a, %b, %z, %s {act = "gelu"} : (tensor<4x16xi8>, tensor<16x8xi8>, tensor<8xi32>, tensor<8xf32>) -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

func.func @f(%x: tensor<4x16xbf16>) -> tensor<4x16xi8> {
  // expected-error @+1 {{has act 'silu'; expected none, gelu, gelu_tanh or relu}}
  %q = npu.quantize %x {scale = 0.5 : f32, offset = 0 : i64, act = "silu"} : tensor<4x16xbf16> -> tensor<4x16xi8>
  return %q : tensor<4x16xi8>
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
    // expected-error @+1 {{expects qbits 8 or 4, got 2}}
    npu.dma_dq {src = 0 : i64, dst = 0 : i64, rows = 2 : i64, cols = 8 : i64, src_stride = 8 : i64, ldd = 16 : i64, dtype = "bf16", qbits = 2 : i64, qscale = 256 : i64, qscale_stride = 32 : i64, qgroup = 1 : i64, qcgroup = 1 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    // expected-error @+1 {{expects an even cols with qbits 4 (two values a byte), got 7}}
    npu.dma_dq {src = 0 : i64, dst = 0 : i64, rows = 2 : i64, cols = 7 : i64, src_stride = 8 : i64, ldd = 16 : i64, dtype = "bf16", qbits = 4 : i64, qscale = 256 : i64, qscale_stride = 32 : i64, qgroup = 1 : i64, qcgroup = 1 : i64}
  }
}

// -----

npu.program @p attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
    // expected-error @+1 {{expects qcgroup >= 1, got 0}}
    npu.dma_dq {src = 0 : i64, dst = 0 : i64, rows = 2 : i64, cols = 8 : i64, src_stride = 8 : i64, ldd = 16 : i64, dtype = "bf16", qbits = 4 : i64, qscale = 256 : i64, qscale_stride = 32 : i64, qgroup = 1 : i64, qcgroup = 0 : i64}
  }
}

// -----

func.func @gemm_bits(%x: tensor<8x16xbf16>, %q: tensor<16x16xi8>, %s: tensor<1x32xf32>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{has b_bits 2; expected 8 or 4}}
  %y = npu.gemm %x, %q scales %s {b_bits = 2 : i64, b_group = 16 : i64} : (tensor<8x16xbf16>, tensor<16x16xi8>, tensor<1x32xf32>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @gemm_scales(%x: tensor<8x16xbf16>, %q: tensor<16x16xi8>, %s: tensor<2x32xf32>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{has b_scales of type 'tensor<2x32xf32>'; expected 'tensor<1x32xf32>'}}
  %y = npu.gemm %x, %q scales %s {b_bits = 4 : i64, b_group = 16 : i64} : (tensor<8x16xbf16>, tensor<16x16xi8>, tensor<2x32xf32>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @gemm_no_bits(%x: tensor<8x16xbf16>, %w: tensor<16x32xbf16>, %s: tensor<1x32xf32>) -> tensor<8x32xbf16> {
  // expected-error @+1 {{has b_scales, b_group or b_transposed without b_bits}}
  %y = npu.gemm %x, %w scales %s : (tensor<8x16xbf16>, tensor<16x32xbf16>, tensor<1x32xf32>) -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

func.func @gemm_transposed_scales(%x: tensor<1x256xbf16>, %q: tensor<64x128xi8>, %s: tensor<2x64xf32>) -> tensor<1x64xbf16> {
  // expected-error @+1 {{has b_scales of type 'tensor<2x64xf32>'; expected 'tensor<64x2xf32>'}}
  %y = npu.gemm %x, %q scales %s {b_bits = 4 : i64, b_group = 128 : i64, b_transposed} : (tensor<1x256xbf16>, tensor<64x128xi8>, tensor<2x64xf32>) -> tensor<1x64xbf16>
  return %y : tensor<1x64xbf16>
}

// -----

func.func @gemm_transposed_rows(%x: tensor<1x256xbf16>, %q: tensor<64x64xi8>, %s: tensor<64x2xf32>) -> tensor<1x64xbf16> {
  // expected-error @+1 {{with b_transposed expects b of 128 bytes a row (K = 256)}}
  %y = npu.gemm %x, %q scales %s {b_bits = 4 : i64, b_group = 128 : i64, b_transposed} : (tensor<1x256xbf16>, tensor<64x64xi8>, tensor<64x2xf32>) -> tensor<1x64xbf16>
  return %y : tensor<1x64xbf16>
}
