// RUN: nuri-opt %s --split-input-file | nuri-opt --split-input-file | FileCheck %s
// Every npu op parses, verifies and prints back.

// CHECK-LABEL: npu.program @all_ops
// CHECK: npu.dma_copy
// CHECK: npu.dma_mcast {bytes = 128 : i64, core = 1 : i64, cores = 3 : i64, dst = 4096 : i64, dst_pstride = 512 : i64, dst_stride = 128 : i64, planes = 2 : i64, rows = 4 : i64, src = 64 : i64, src_pstride = 1024 : i64, src_space = "peer", src_stride = 256 : i64}
// CHECK: npu.dma_idx {bytes = 64 : i64, core = 0 : i64, dst = 65536 : i64, dst_pstride = 8192 : i64, dst_space = "dram", dst_stride = 64 : i64, idx0 = 4096 : i64, idx1 = 4104 : i64, idx_dst = 1 : i64, idx_scale0 = 32768 : i64, idx_scale1 = 64 : i64, planes = 4 : i64, rows = 1 : i64, src = 0 : i64, src_pstride = 64 : i64, src_space = "sram", src_stride = 64 : i64}
// CHECK: npu.dma_dq {cols = 64 : i64, dst = 0 : i64, dtype = "bf16", ldd = 128 : i64, qbits = 4 : i64, qcgroup = 1 : i64, qgroup = 128 : i64, qscale = 65536 : i64, qscale_stride = 256 : i64, rows = 128 : i64, src = 4096 : i64, src_stride = 32 : i64}
// CHECK: npu.sem_signal
// CHECK: npu.nop
// CHECK: npu.repeat
// CHECK: npu.mm
// CHECK: npu.acc_read
// CHECK: npu.vec_binary
// CHECK: npu.vec_scalar
// CHECK: npu.vec_unary
// CHECK: npu.vec_reduce
// CHECK: npu.vec_bcast
// CHECK: npu.vec_transpose
// CHECK: npu.vec_fill
// CHECK: npu.barrier
npu.program @all_ops attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    npu.dma_copy {src_space = "dram", dst_space = "sram", core = 0 : i64, src = 4096 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 16 : i64, planes = 1 : i64, src_stride = 1536 : i64, dst_stride = 256 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64}
    npu.dma_mcast {src_space = "peer", cores = 3 : i64, src = 64 : i64, dst = 4096 : i64, bytes = 128 : i64, rows = 4 : i64, planes = 2 : i64, src_stride = 256 : i64, dst_stride = 128 : i64, src_pstride = 1024 : i64, dst_pstride = 512 : i64, core = 1 : i64}
    npu.dma_idx {src_space = "sram", dst_space = "dram", core = 0 : i64, src = 0 : i64, dst = 65536 : i64, bytes = 64 : i64, rows = 1 : i64, planes = 4 : i64, src_stride = 64 : i64, dst_stride = 64 : i64, src_pstride = 64 : i64, dst_pstride = 8192 : i64, idx_dst = 1 : i64, idx0 = 4096 : i64, idx_scale0 = 32768 : i64, idx1 = 4104 : i64, idx_scale1 = 64 : i64}
    npu.dma_dq {src = 4096 : i64, dst = 0 : i64, rows = 128 : i64, cols = 64 : i64, src_stride = 32 : i64, ldd = 128 : i64, dtype = "bf16", qbits = 4 : i64, qscale = 65536 : i64, qscale_stride = 256 : i64, qgroup = 128 : i64, qcgroup = 1 : i64}
    npu.sem_signal {sem = 0 : i64, core = 0 : i64, count = 1 : i64}
    npu.nop {cycles = 10 : i64}
    npu.repeat {body = 2 : i64, times = 3 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    npu.sem_wait {sem = 0 : i64, count = 1 : i64}
    npu.mm {acc = 0 : i64, a = 0 : i64, lda = 256 : i64, b = 8192 : i64, ldb = 16 : i64, m = 16 : i64, n = 8 : i64, k = 128 : i64, atype = "bf16", btype = "bf16", accumulate = 0 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    npu.acc_read {dst = 4096 : i64, ldd = 16 : i64, acc = 0 : i64, m = 16 : i64, n = 8 : i64, dtype = "bf16", act = "gelu", use_scale = 0 : i64, scale = 0 : i64, use_bias = 0 : i64, bias = 0 : i64}
    npu.vec_binary {binop = "add", bcast = "row", dst = 0 : i64, ldd = 64 : i64, src = 0 : i64, lds = 64 : i64, src1 = 512 : i64, lds1 = 0 : i64, rows = 4 : i64, cols = 32 : i64, dtype = "bf16", stype = "bf16"}
    npu.vec_scalar {binop = "mul", dst = 0 : i64, ldd = 4 : i64, src = 0 : i64, lds = 4 : i64, rows = 8 : i64, cols = 1 : i64, dtype = "f32", stype = "f32", imm = 1.250000e-01 : f32}
    npu.vec_unary {unop = "exp", dst = 0 : i64, ldd = 128 : i64, src = 0 : i64, lds = 128 : i64, rows = 8 : i64, cols = 32 : i64, dtype = "f32", stype = "f32"}
    npu.vec_reduce {redop = "max", dst = 1024 : i64, src = 0 : i64, lds = 128 : i64, rows = 8 : i64, cols = 32 : i64, dtype = "f32", stype = "f32"}
    npu.vec_bcast {bcast = "row", dst = 0 : i64, ldd = 128 : i64, src = 4096 : i64, rows = 8 : i64, cols = 32 : i64, dtype = "f32", stype = "bf16"}
    npu.vec_transpose {dst = 0 : i64, ldd = 256 : i64, src = 8192 : i64, lds = 128 : i64, rows = 128 : i64, cols = 64 : i64, dtype = "bf16"}
    npu.vec_fill {dst = 0 : i64, ldd = 512 : i64, rows = 1 : i64, cols = 128 : i64, dtype = "f32", imm = 1.250000e-01 : f32}
    npu.barrier {bar = 0 : i64, count = 1 : i64}
  }
}

// The fetch queue: DMA and sync ops, next to a dma stream of the same core.
// CHECK-LABEL: npu.program @fetch_stream
// CHECK: npu.stream attributes {core = 0 : i64, engine = "dma"}
// CHECK: npu.stream attributes {core = 0 : i64, engine = "fetch"}
// CHECK-NEXT: npu.dma_copy {bytes = 4096 : i64
// CHECK-NEXT: npu.dma_mcast
// CHECK-NEXT: npu.sem_signal {core = 0 : i64, count = 1 : i64, sem = 1 : i64}
// CHECK-NEXT: npu.barrier {bar = 0 : i64, count = 3 : i64}
npu.program @fetch_stream attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    npu.dma_copy {src_space = "dram", dst_space = "sram", core = 0 : i64, src = 0 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64}
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
    npu.dma_copy {src_space = "dram", dst_space = "sram", core = 0 : i64, src = 65536 : i64, dst = 8192 : i64, bytes = 4096 : i64, rows = 4 : i64, planes = 1 : i64, src_stride = 4096 : i64, dst_stride = 4096 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64}
    npu.dma_mcast {src_space = "dram", cores = 3 : i64, src = 0 : i64, dst = 4096 : i64, bytes = 128 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64, core = 0 : i64}
    npu.sem_signal {sem = 1 : i64, core = 0 : i64, count = 1 : i64}
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    npu.sem_wait {sem = 1 : i64, count = 1 : i64}
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
}

// -----

// The kernel op and the planning attributes on a partition.
// CHECK-LABEL: func.func @planned
// CHECK-SAME: {npu.buffer = #npu.buffer<"dram", 0>, npu.staged = #npu.buffer<"shared", 0>}
// CHECK-SAME: -> (tensor<8x32xbf16> {npu.buffer = #npu.buffer<"dram", 4096>})
// CHECK-SAME: attributes {npu.dram_bytes = 8192 : i64}
// CHECK: npu.gemm %arg0, %{{.*}} bias %{{.*}} residual %arg1 {act = "gelu", npu.buffers = [#npu.buffer<"dram", 4096>]} : (tensor<8x16xbf16>, tensor<16x32xbf16>, tensor<32xf32>, tensor<8x32xbf16>) -> tensor<8x32xbf16>
// CHECK: npu.gemm %arg2, %{{.*}} : (tensor<2x8x16xbf16>, tensor<2x16x32xbf16>) -> tensor<2x8x32xbf16>
// CHECK: npu.gemm %arg0, %{{.*}} scales %{{.*}} {b_bits = 4 : i64, b_group = 16 : i64} : (tensor<8x16xbf16>, tensor<16x16xi8>, tensor<1x32xf32>) -> tensor<8x32xbf16>
// CHECK: npu.gemm %arg0, %{{.*}} scales %{{.*}} {b_bits = 4 : i64, b_group = 16 : i64, b_transposed} : (tensor<8x16xbf16>, tensor<32x8xi8>, tensor<32x1xf32>) -> tensor<8x32xbf16>
// CHECK: nuri.reshape %{{.*}} {npu.layout = "alias"}
func.func @planned(%x: tensor<8x16xbf16> {npu.buffer = #npu.buffer<"dram", 0>, npu.staged = #npu.buffer<"shared", 0>}, %r: tensor<8x32xbf16> {npu.buffer = #npu.buffer<"dram", 256>}, %a: tensor<2x8x16xbf16> {npu.buffer = #npu.buffer<"dram", 1024>}) -> (tensor<8x32xbf16> {npu.buffer = #npu.buffer<"dram", 4096>}) attributes {npu.dram_bytes = 8192 : i64} {
  %w = nuri.constant {npu.buffers = [#npu.buffer<"dram", 2048>]} dense<0.5> : tensor<16x32xbf16>
  %b = nuri.constant dense<1.0> : tensor<32xf32>
  %y = npu.gemm %x, %w bias %b residual %r {act = "gelu", npu.buffers = [#npu.buffer<"dram", 4096>]} : (tensor<8x16xbf16>, tensor<16x32xbf16>, tensor<32xf32>, tensor<8x32xbf16>) -> tensor<8x32xbf16>
  %wb = nuri.constant dense<0.5> : tensor<2x16x32xbf16>
  %z = npu.gemm %a, %wb : (tensor<2x8x16xbf16>, tensor<2x16x32xbf16>) -> tensor<2x8x32xbf16>
  %q4 = nuri.constant dense<17> : tensor<16x16xi8>
  %s4 = nuri.constant dense<0.25> : tensor<1x32xf32>
  %c = npu.gemm %x, %q4 scales %s4 {b_bits = 4 : i64, b_group = 16 : i64} : (tensor<8x16xbf16>, tensor<16x16xi8>, tensor<1x32xf32>) -> tensor<8x32xbf16>
  %q4t = nuri.constant dense<17> : tensor<32x8xi8>
  %s4t = nuri.constant dense<0.25> : tensor<32x1xf32>
  %ct = npu.gemm %x, %q4t scales %s4t {b_bits = 4 : i64, b_group = 16 : i64, b_transposed} : (tensor<8x16xbf16>, tensor<32x8xi8>, tensor<32x1xf32>) -> tensor<8x32xbf16>
  %f = nuri.reshape %z {npu.layout = "alias"} : tensor<2x8x32xbf16> -> tensor<16x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

// The int8 path's kernel ops (npu-fuse-epilogues forms them).
// CHECK-LABEL: func.func @int8
// CHECK: %[[Q:.*]] = npu.quantize %arg0 {offset = -64 : i64, scale = 1.562500e-02 : f32} : tensor<4x16xbf16> -> tensor<4x16xi8>
// CHECK: npu.quantized_gemm %[[Q]], %{{.*}}, %{{.*}}, %{{.*}} bias %{{.*}} residual %arg1 {act = "relu"} : (tensor<4x16xi8>, tensor<16x8xi8>, tensor<8xi32>, tensor<8xf32>, tensor<8xf32>, tensor<4x8xbf16>) -> tensor<4x8xbf16>
func.func @int8(%x: tensor<4x16xbf16>, %r: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  %q = npu.quantize %x {scale = 0.015625 : f32, offset = -64 : i64} : tensor<4x16xbf16> -> tensor<4x16xi8>
  %w = nuri.constant dense<3> : tensor<16x8xi8>
  %zb = nuri.constant dense<-3072> : tensor<8xi32>
  %s = nuri.constant dense<0.001> : tensor<8xf32>
  %b = nuri.constant dense<0.5> : tensor<8xf32>
  %y = npu.quantized_gemm %q, %w, %zb, %s bias %b residual %r {act = "relu"} : (tensor<4x16xi8>, tensor<16x8xi8>, tensor<8xi32>, tensor<8xf32>, tensor<8xf32>, tensor<4x8xbf16>) -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}
