// RUN: nuri-opt %s --convert-nuri-to-npu=target=tiny --split-input-file | FileCheck %s

// A linear layer: the fetch queue streams the weights into SRAM once the
// kernel has started (the token at the top of the semaphore file, signaled
// by the matrix queue), the array multiplies, the vector engine reads the
// accumulator out with bias and GELU fused into the epilogue, DMA loads A
// and stores the tile; semaphores order the queues and a barrier of the
// dma, matrix and vector queues of both cores ends the kernel.
// CHECK-LABEL: npu.program @linear_gelu_npu
// CHECK-SAME: inputs = [{address = 0 : i64, dtype = "bf16", name = "x", shape = array<i64: 8, 16>}]
// CHECK-SAME: outputs = [{address = {{[0-9]+}} : i64, dtype = "bf16", name = "y"
// CHECK: npu.stream attributes {core = 0 : i64, engine = "fetch"}
// CHECK-NEXT: npu.sem_wait {count = 1 : i64, sem = 13 : i64}
// CHECK-NEXT: npu.dma_copy {{.*}}dst_space = "sram"{{.*}}src_space = "dram"
// CHECK-NEXT: npu.sem_signal {core = 0 : i64, count = 1 : i64, sem = 15 : i64}
// CHECK-NOT: npu.barrier
// CHECK: npu.stream attributes {core = 0 : i64, engine = "mat"}
// CHECK-NEXT: npu.sem_signal {core = 0 : i64, count = 1 : i64, sem = 13 : i64}
// CHECK: npu.sem_wait {count = 1 : i64, sem = 15 : i64}
// CHECK-NEXT: npu.mm {{.*}}atype = "bf16"{{.*}}k = 16 : i64{{.*}}m = {{[48]}} : i64, n = 8 : i64
// CHECK: npu.barrier {bar = 0 : i64, count = 6 : i64}
// CHECK: npu.stream attributes {core = 0 : i64, engine = "dma"}
// CHECK-NEXT: npu.dma_copy {{.*}}dst_space = "sram"{{.*}}src_space = "dram"
// CHECK: npu.stream attributes {core = 0 : i64, engine = "vec"}
// CHECK: npu.acc_read {{.*}}act = "gelu"{{.*}}use_bias = 1 : i64
// CHECK-NOT: nuri.gelu
// CHECK: npu.stream attributes {core = 1 : i64, engine = "dma"}
func.func @linear_gelu(%x: tensor<8x16xbf16> {nuri.name = "x"}) -> (tensor<8x8xbf16> {nuri.name = "y"}) {
  %w = nuri.constant dense<0.5> : tensor<16x8xbf16>
  %b = nuri.constant dense<1.0> : tensor<8xbf16>
  %y = nuri.linear %x, %w, %b : (tensor<8x16xbf16>, tensor<16x8xbf16>, tensor<8xbf16>) -> tensor<8x8xbf16>
  %g = nuri.gelu %y : tensor<8x8xbf16>
  return %g : tensor<8x8xbf16>
}

// -----

// An input read by a weight-dominated GEMM is staged once into the shared
// SRAM; the first core of the column slices then multicasts it to both
// cores over the NoC, and signals each. The weights stream during the
// staging copy: their slots are where that kernel leaves SRAM alone, and
// the matrix queue releases the fetch queue before the copy's barrier.
// CHECK-LABEL: npu.program @staged_input_npu
// CHECK: npu.stream attributes {core = 0 : i64, engine = "dma"}
// CHECK-NEXT: npu.dma_copy {{.*}}dst_space = "shared"{{.*}}src_space = "dram"
// CHECK-NEXT: npu.barrier
// CHECK-NEXT: npu.dma_mcast {{.*}}cores = 3 : i64{{.*}}src_space = "shared"
// CHECK-NEXT: npu.sem_signal {core = 0 : i64, count = 1 : i64, sem = 0 : i64}
// CHECK-NEXT: npu.sem_signal {core = 1 : i64, count = 1 : i64, sem = 0 : i64}
// CHECK: npu.stream attributes {core = 1 : i64, engine = "dma"}
// CHECK-NEXT: npu.dma_copy {{.*}}dst_space = "shared"
// CHECK-NEXT: npu.barrier
// CHECK-NOT: npu.dma_mcast
// CHECK: npu.stream attributes {core = 0 : i64, engine = "mat"}
// CHECK-NEXT: npu.sem_signal {core = 0 : i64, count = 1 : i64, sem = 13 : i64}
// CHECK-NEXT: npu.barrier {bar = 0 : i64
// CHECK: npu.stream attributes {core = 0 : i64, engine = "fetch"}
// CHECK-NEXT: npu.sem_wait {count = 1 : i64, sem = 13 : i64}
// CHECK-NEXT: npu.dma_copy {{.*}}dst_space = "sram"{{.*}}src_space = "dram"
func.func @staged_input(%x: tensor<32x64xbf16>) -> tensor<32x256xbf16> {
  %w = nuri.constant dense<0.5> : tensor<64x256xbf16>
  %y = nuri.linear %x, %w : (tensor<32x64xbf16>, tensor<64x256xbf16>) -> tensor<32x256xbf16>
  return %y : tensor<32x256xbf16>
}

// -----

// The residual add joins the read-out on the vector engine: one binary op
// in the output dtype after the epilogue, its operand loaded by DMA.
// CHECK-LABEL: npu.program @linear_residual_npu
// CHECK: npu.stream attributes {core = 0 : i64, engine = "vec"}
// CHECK: npu.acc_read {{.*}}act = "none"
// CHECK-NEXT: npu.sem_wait
// CHECK-NEXT: npu.vec_binary {bcast = "none", binop = "add"{{.*}}dtype = "bf16"
func.func @linear_residual(%x: tensor<8x16xbf16>, %r: tensor<8x8xbf16>) -> tensor<8x8xbf16> {
  %w = nuri.constant dense<0.5> : tensor<16x8xbf16>
  %y = nuri.linear %x, %w : (tensor<8x16xbf16>, tensor<16x8xbf16>) -> tensor<8x8xbf16>
  %s = nuri.add %y, %r : tensor<8x8xbf16>, tensor<8x8xbf16> -> tensor<8x8xbf16>
  return %s : tensor<8x8xbf16>
}

// -----

// Only functions marked for the NPU are lowered when any is marked.
// CHECK-LABEL: func.func @cpu_side
// CHECK-NOT: npu.program @cpu_side_npu
// CHECK: npu.program @npu_0_npu
func.func @cpu_side(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  return %x : tensor<4x8xf32>
}
func.func @npu_0(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> attributes {nuri.partition = "npu"} {
  %y = nuri.relu %x : tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

// Softmax over rows: one fp32 pass per step on the vector engine, rows
// split over both cores.
// CHECK-LABEL: npu.program @softmax_npu
// CHECK: npu.vec_unary {{.*}}dtype = "f32"{{.*}}stype = "bf16"{{.*}}unop = "copy"
// CHECK-NEXT: npu.vec_reduce {{.*}}redop = "max"
// CHECK-NEXT: npu.vec_binary {bcast = "col", binop = "sub"
// CHECK-NEXT: npu.vec_unary {{.*}}unop = "exp"
// CHECK-NEXT: npu.vec_reduce {{.*}}redop = "sum"
// CHECK-NEXT: npu.vec_binary {bcast = "col", binop = "div"{{.*}}dtype = "bf16"
// CHECK: npu.stream attributes {core = 1 : i64, engine = "vec"}
// CHECK: npu.vec_reduce {{.*}}redop = "max"
func.func @softmax(%x: tensor<4x32xbf16>) -> tensor<4x32xbf16> {
  %y = nuri.softmax %x {axis = 1 : i64} : tensor<4x32xbf16>
  return %y : tensor<4x32xbf16>
}

// -----

// Attention, flash style: K is transposed in SRAM, S = Q K^T stays in the
// accumulator and SRAM (read out scaled in f32), online softmax, P V.
// CHECK-LABEL: npu.program @attention_npu
// CHECK: npu.stream attributes {core = 0 : i64, engine = "mat"}
// CHECK: npu.mm {{.*}}k = 8 : i64, lda = 16 : i64
// CHECK: npu.mm {{.*}}k = 16 : i64
// CHECK: npu.stream attributes {core = 0 : i64, engine = "vec"}
// CHECK: npu.vec_fill
// CHECK: npu.vec_transpose
// CHECK: npu.acc_read {{.*}}dtype = "f32"{{.*}}use_scale = 1 : i64
// CHECK: npu.vec_reduce {{.*}}redop = "max"
// CHECK: npu.vec_unary {{.*}}unop = "exp"
// CHECK: npu.vec_unary {{.*}}unop = "recip"
// CHECK-NOT: dst_space = "dram"{{.*}}bytes = 64
func.func @attention(%q: tensor<1x2x16x8xbf16>, %k: tensor<1x2x16x8xbf16>, %v: tensor<1x2x16x8xbf16>) -> tensor<1x2x16x8xbf16> {
  %o = nuri.attention %q, %k, %v {scale = 0.35 : f32, causal} : (tensor<1x2x16x8xbf16>, tensor<1x2x16x8xbf16>, tensor<1x2x16x8xbf16>) -> tensor<1x2x16x8xbf16>
  return %o : tensor<1x2x16x8xbf16>
}

// -----

// Transposes that keep the innermost dimension are strided DMA copies;
// reshapes are free (same bytes). One plane per core.
// CHECK-LABEL: npu.program @heads_npu
// CHECK: npu.dma_copy {bytes = 16 : i64{{.*}}planes = 1 : i64{{.*}}rows = 3 : i64, src = {{[0-9]+}} : i64, src_pstride = 16 : i64, src_space = "dram", src_stride = 32 : i64
func.func @heads(%x: tensor<3x16xbf16>) -> tensor<2x3x8xbf16> {
  %r = nuri.reshape %x : tensor<3x16xbf16> -> tensor<3x2x8xbf16>
  %t = nuri.transpose %r {permutation = array<i64: 1, 0, 2>} : tensor<3x2x8xbf16> -> tensor<2x3x8xbf16>
  return %t : tensor<2x3x8xbf16>
}

// -----

// A transpose that moves the innermost dimension is a batch of 2-D
// transposes: tiles loaded by DMA, transposed by the vector engine, stored
// with the output's row stride.
// CHECK-LABEL: npu.program @innermost_transpose_npu
// CHECK: npu.stream attributes {core = 0 : i64, engine = "vec"}
// CHECK-NEXT: npu.sem_wait
// CHECK-NEXT: npu.vec_transpose {cols = 35 : i64, dst = {{[0-9]+}} : i64, dtype = "bf16", ldd = 6 : i64, lds = 70 : i64, rows = 3 : i64
func.func @innermost_transpose(%x: tensor<2x3x5x7xbf16>) -> tensor<2x5x7x3xbf16> {
  %0 = nuri.transpose %x {permutation = array<i64: 0, 2, 3, 1>} : tensor<2x3x5x7xbf16> -> tensor<2x5x7x3xbf16>
  return %0 : tensor<2x5x7x3xbf16>
}

// -----

// Q, K and V of one input are one GEMM (N = 24) into one shared-SRAM
// buffer; each head's attention reads its Q, K and V columns at the
// merged row pitch (48 B) and writes the merged heads (rows of 16 B)
// straight to the output: no transpose copies.
// CHECK-LABEL: npu.program @qkv_attention_npu
// CHECK: npu.stream attributes {core = 0 : i64, engine = "dma"}
// CHECK: npu.dma_copy {bytes = 8 : i64{{.*}}src = 256 : i64, src_pstride = 0 : i64, src_space = "shared", src_stride = 48 : i64}
// CHECK: npu.dma_copy {bytes = 8 : i64{{.*}}src = 272 : i64, src_pstride = 0 : i64, src_space = "shared", src_stride = 48 : i64}
// CHECK: npu.dma_copy {bytes = 8 : i64{{.*}}src = 288 : i64, src_pstride = 0 : i64, src_space = "shared", src_stride = 48 : i64}
// CHECK: npu.dma_copy {bytes = 8 : i64{{.*}}dst_space = "dram", dst_stride = 16 : i64
// CHECK: npu.stream attributes {core = 1 : i64, engine = "dma"}
// CHECK: npu.dma_copy {bytes = 8 : i64{{.*}}src = 264 : i64, src_pstride = 0 : i64, src_space = "shared", src_stride = 48 : i64}
func.func @qkv_attention(%x: tensor<1x4x8xbf16>) -> tensor<1x4x8xbf16> {
  %wq = nuri.constant dense<0.5> : tensor<8x8xbf16>
  %wk = nuri.constant dense<0.25> : tensor<8x8xbf16>
  %wv = nuri.constant dense<0.125> : tensor<8x8xbf16>
  %q = nuri.linear %x, %wq : (tensor<1x4x8xbf16>, tensor<8x8xbf16>) -> tensor<1x4x8xbf16>
  %q4 = nuri.reshape %q : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %qt = nuri.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %k = nuri.linear %x, %wk : (tensor<1x4x8xbf16>, tensor<8x8xbf16>) -> tensor<1x4x8xbf16>
  %k4 = nuri.reshape %k : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %kt = nuri.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %v = nuri.linear %x, %wv : (tensor<1x4x8xbf16>, tensor<8x8xbf16>) -> tensor<1x4x8xbf16>
  %v4 = nuri.reshape %v : tensor<1x4x8xbf16> -> tensor<1x4x2x4xbf16>
  %vt = nuri.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x4xbf16> -> tensor<1x2x4x4xbf16>
  %o = nuri.attention %qt, %kt, %vt {scale = 0.5 : f32} : (tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>, tensor<1x2x4x4xbf16>) -> tensor<1x2x4x4xbf16>
  %m = nuri.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x4xbf16> -> tensor<1x4x2x4xbf16>
  %r = nuri.reshape %m : tensor<1x4x2x4xbf16> -> tensor<1x4x8xbf16>
  return %r : tensor<1x4x8xbf16>
}

// -----

// The lowering emits the tiling npu-plan-kernels recorded. On tiny the
// planner splits this GEMM's rows over the two cores, so A is not
// multicast; a plan pinned in the input that splits the columns instead
// has core 0 multicast each A block to both cores.
// CHECK-LABEL: npu.program @planned_gemm_npu
// CHECK-NOT: npu.dma_mcast
// CHECK-LABEL: npu.program @pinned_gemm_npu
// CHECK: npu.stream attributes {core = 0 : i64, engine = "dma"}
// CHECK: npu.dma_mcast
func.func @planned_gemm(%x: tensor<64x128xbf16> {nuri.name = "x"}, %w: tensor<128x256xbf16> {nuri.name = "w"}) -> (tensor<64x256xbf16> {nuri.name = "y"}) {
  %y = npu.gemm %x, %w : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
  return %y : tensor<64x256xbf16>
}
func.func @pinned_gemm(%x: tensor<64x128xbf16> {nuri.name = "x"}, %w: tensor<128x256xbf16> {nuri.name = "w"}) -> (tensor<64x256xbf16> {nuri.name = "y"}) {
  %y = npu.gemm %x, %w {npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 2, slice_rows = 64, slice_cols = 128, block_rows = 16, tile_cols = 64, k_chunk = 64, a_buffers = 2, w_buffers = 4, a_pitch = 256, multicast_a = true, cycles = 12345>} : (tensor<64x128xbf16>, tensor<128x256xbf16>) -> tensor<64x256xbf16>
  return %y : tensor<64x256xbf16>
}
