//===- NpuOps.td - Operations of the npu dialect -----------*- tablegen -*-===//
//
// Kernels on tensors (what the planning passes of the lowering form from
// nuri ops), then structure (program, stream), then one op per ISA
// instruction grouped by engine: synchronization, DMA, matrix, vector.
// Instruction attribute names are the ISA field mnemonics; enumerated
// fields are strings (`"bf16"`, `"dram"`, `"gelu"`) checked against Isa.def
// by the verifier.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_IR_NPUOPS_TD
#define NURI_DIALECT_NPU_IR_NPUOPS_TD

include "nuri/Dialect/Npu/IR/NpuBase.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Kernels on tensors
//===----------------------------------------------------------------------===//

def Npu_GemmOp : Npu_Op<"gemm", [Pure, AttrSizedOperandSegments]> {
  let summary = "one GEMM kernel with its accumulator read-out epilogue";
  let description = [{
    `output = act(a x b + bias) + residual`, what one GEMM kernel computes:
    the bias (one value per output column, added in f32), the activation
    (one of Isa.def's: `none`, `relu`, `gelu`, `gelu_tanh`, ...) and the
    cast to the output type happen in the accumulator read-out, the
    residual (the output's shape and type) is added to the rounded result,
    as the unfused graph rounds. `b` is `[K, N]` (every row of `a`,
    whatever its leading dims, is one GEMM row) or batched `[..., K, N]`
    with `a` either `[M, K]` (shared by the batch) or batched alike;
    epilogues take the first form.
    `npu-fuse-epilogues` forms it from `nuri.linear` / `nuri.matmul` and
    the ops it absorbs.

    A weight-only quantized `b` (w8a16, w4a16) stays compressed in DRAM:
    with `b_bits` (8 or 4) `b` is `[K, N * b_bits / 8]` i8, signed values
    row-major along N (two 4-bit values a byte, the even column in the low
    nibble), and `b_scales` `[ceil(K / b_group), N]` f32, one row of scales
    per `b_group` rows of K. The kernel loads it with `dma.dq`, which writes
    `a`'s element type into SRAM: `b[k][n] = q[k][n] * b_scales[k / b_group][n]`
    rounded once (docs/isa.md). With `b_transposed` the compressed weight
    is stored `[N, K * b_bits / 8]` (MatMulNBits' layout: rows of K) and
    `b_scales` is `[N, ceil(K / b_group)]`: the kernel runs the transposed
    GEMV (`out^T = B^T a^T`, the weight streaming through the array), which
    npu-fuse-epilogues picks where the cost model finds it faster.

    ```mlir
    %y = npu.gemm %x, %w bias %b residual %r {act = "gelu"} : (tensor<8x16xbf16>, tensor<16x32xbf16>, tensor<32xf32>, tensor<8x32xbf16>) -> tensor<8x32xbf16>
    %z = npu.gemm %x, %q scales %s {b_bits = 4 : i64, b_group = 16 : i64} : (tensor<8x16xbf16>, tensor<16x16xi8>, tensor<1x32xf32>) -> tensor<8x32xbf16>
    ```
  }];
  let arguments = (ins AnyStaticShapeTensor:$a, AnyStaticShapeTensor:$b,
                   Optional<AnyStaticShapeTensor>:$bias,
                   Optional<AnyStaticShapeTensor>:$residual,
                   Optional<AnyStaticShapeTensor>:$b_scales,
                   DefaultValuedStrAttr<StrAttr, "none">:$act,
                   OptionalAttr<I64Attr>:$b_bits,
                   OptionalAttr<I64Attr>:$b_group,
                   UnitAttr:$b_transposed);
  let results = (outs AnyStaticShapeTensor:$output);
  let assemblyFormat = [{
    $a `,` $b (`bias` $bias^)? (`residual` $residual^)?
    (`scales` $b_scales^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Npu_QuantizeOp : Npu_Op<"quantize", [Pure]> {
  let summary = "per-tensor activation quantization to int8 or fp8 on the vector engine";
  let description = [{
    `output = saturate_i8(round_half_even(input / scale) + offset)`, the
    division in fp32 (docs/quantization.md, "Numerics on the NPU"); to
    `f8E4M3FN`, the quotient rounded to nearest even and saturated to 448,
    with offset 0. A graph
    `nuri.quantize` to uint8 with zero point `z` becomes `offset = z - 128`:
    the int8 value is the uint8 one minus 128, which the GEMM that reads it
    corrects for in its i32 bias. `act` (`none`, `gelu`, `gelu_tanh`,
    `relu`) is the activation the graph applies just before: computed
    first and rounded to the input's type, as the unfused kernels round, so
    the activation's result never goes to memory. `npu-fuse-epilogues`
    forms it.

    ```mlir
    %q = npu.quantize %x {scale = 0.0156862754 : f32, offset = -64 : i64} : tensor<4x64xbf16> -> tensor<4x64xi8>
    ```
  }];
  let arguments = (ins AnyStaticShapeTensor:$input, F32Attr:$scale,
                   I64Attr:$offset,
                   DefaultValuedStrAttr<StrAttr, "none">:$act);
  let results = (outs AnyStaticShapeTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
}

def Npu_QuantizedGemmOp : Npu_Op<"quantized_gemm",
                                 [Pure, AttrSizedOperandSegments]> {
  let summary = "an int8 x int8 or fp8 x fp8 GEMM with its scaling read-out";
  let description = [{
    `output = cast(act(f32(a x b + zp_bias) * scale + bias)) + residual`:
    `a` is `[..., K]` int8, `b` `[K, N]` int8, the accumulation int32
    (wrapping); `zp_bias` (`[N]` i32) the zero-point correction. Or both
    are `f8E4M3FN`, accumulated in fp32, and `zp_bias` is `[N]` f32. `scale`
    (`[N]` f32) the product of the activation's and each column's weight
    scale, `bias` (`[N]` f32, optional) the layer's float bias, `act`
    `none` or `relu`, then the cast to the output type and the residual
    (output type and shape) added to the rounded result. The same numerics
    as the graph's `nuri.quantized_matmul` + bias add on the CPU
    (docs/quantization.md).

    ```mlir
    %y = npu.quantized_gemm %q, %w, %zb, %s bias %b : (tensor<4x64xi8>, tensor<64x32xi8>, tensor<32xi32>, tensor<32xf32>, tensor<32xf32>) -> tensor<4x32xbf16>
    ```
  }];
  let arguments = (ins AnyStaticShapeTensor:$a, AnyStaticShapeTensor:$b,
                   AnyStaticShapeTensor:$zp_bias, AnyStaticShapeTensor:$scale,
                   Optional<AnyStaticShapeTensor>:$bias,
                   Optional<AnyStaticShapeTensor>:$residual,
                   DefaultValuedStrAttr<StrAttr, "none">:$act);
  let results = (outs AnyStaticShapeTensor:$output);
  let assemblyFormat = [{
    $a `,` $b `,` $zp_bias `,` $scale (`bias` $bias^)?
    (`residual` $residual^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

def Npu_ProgramOp : Npu_Op<"program",
    [Symbol, NoTerminator, SingleBlock, NoRegionArguments,
     IsolatedFromAbove]> {
  let summary = "a compiled NPU partition: one stream per core and engine";
  let description = [{
    The program of one NPU partition for `target`. `inputs` and `outputs`
    name the partition's tensors and their DRAM addresses (dense row-major),
    in argument and result order.

    ```mlir
    npu.program @npu_0 {target = "atom", inputs = [{name = "x", address = 0 : i64} ], outputs = [ ]} {
      npu.stream {core = 0 : i64, engine = "dma"} {
        npu.sem_signal {sem = 0 : i64, core = 0 : i64, count = 1 : i64}
      }
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$target,
                   ArrayAttr:$inputs, ArrayAttr:$outputs);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Npu_StreamOp : Npu_Op<"stream",
    [HasParent<"ProgramOp">, NoTerminator, SingleBlock, NoRegionArguments]> {
  let summary = "the in-order instruction stream of one engine queue";
  let description = [{
    `engine` is `dma`, `mat`, `vec` or `fetch` (the core's second DMA queue:
    the same instructions as `dma`, its own transfer slots, so a weight
    stream for the next kernel does not hold back the current kernel's
    transfers and signals). Every instruction in the body must be legal on
    that queue. The emitter appends the final `end`.

    ```mlir
    npu.stream {core = 1 : i64, engine = "mat"} {
      npu.sem_wait {sem = 2 : i64, count = 1 : i64}
    }
    ```
  }];
  let arguments = (ins I64Attr:$core, StrAttr:$engine);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Synchronization (any queue)
//===----------------------------------------------------------------------===//

def Npu_SemWaitOp : Npu_InstOp<"sem_wait", "sem.wait"> {
  let summary = "block the queue until a semaphore holds count, then take it";
  let description = [{
    ```mlir
    npu.sem_wait {sem = 3 : i64, count = 1 : i64}
    ```
  }];
  let arguments = (ins I64Attr:$sem, I64Attr:$count);
}

def Npu_SemSignalOp : Npu_InstOp<"sem_signal", "sem.signal"> {
  let summary = "add count to a semaphore once the queue's earlier work is done";
  let description = [{
    A sync token: it fires when every instruction issued before it on the
    same queue has completed (for DMA: landed), without blocking the queue.

    ```mlir
    npu.sem_signal {sem = 3 : i64, core = 0 : i64, count = 1 : i64}
    ```
  }];
  let arguments = (ins I64Attr:$sem, I64Attr:$core, I64Attr:$count);
}

def Npu_BarrierOp : Npu_InstOp<"barrier", "barrier"> {
  let summary = "chip-wide barrier of count queues";
  let description = [{
    ```mlir
    npu.barrier {bar = 0 : i64, count = 24 : i64}
    ```
  }];
  let arguments = (ins I64Attr:$bar, I64Attr:$count);
}

def Npu_NopOp : Npu_InstOp<"nop", "nop"> {
  let summary = "occupy the queue for some cycles";
  let description = [{
    ```mlir
    npu.nop {cycles = 10 : i64}
    ```
  }];
  let arguments = (ins I64Attr:$cycles);
}

def Npu_RepeatOp : Npu_InstOp<"repeat", "repeat"> {
  let summary = "hardware loop back to the instruction at index body";
  let description = [{
    ```mlir
    npu.repeat {body = 0 : i64, times = 4 : i64}
    ```
  }];
  let arguments = (ins I64Attr:$body, I64Attr:$times);
}

//===----------------------------------------------------------------------===//
// DMA
//===----------------------------------------------------------------------===//

def Npu_DmaCopyOp : Npu_InstOp<"dma_copy", "dma.copy"> {
  let summary = "strided 3-D copy: planes x rows x bytes";
  let description = [{
    Spaces are `dram`, `sram`, `shared` or `peer` (the SRAM of core
    `core`). Strides are bytes between rows and between planes.

    ```mlir
    npu.dma_copy {src_space = "dram", dst_space = "sram", core = 0 : i64, src = 4096 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 16 : i64, planes = 1 : i64, src_stride = 1536 : i64, dst_stride = 256 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64}
    ```
  }];
  let arguments = (ins StrAttr:$src_space, StrAttr:$dst_space, I64Attr:$core,
                   I64Attr:$src, I64Attr:$dst, I64Attr:$bytes, I64Attr:$rows,
                   I64Attr:$planes, I64Attr:$src_stride, I64Attr:$dst_stride,
                   I64Attr:$src_pstride, I64Attr:$dst_pstride);
}

def Npu_DmaIdxOp : Npu_InstOp<"dma_idx", "dma.idx"> {
  let summary = "strided 3-D copy with an address moved by run-time indices";
  let description = [{
    `dma_copy` whose `src` (`idx_dst = 0`) or `dst` (`idx_dst = 1`) is moved
    by `idx0_value * idx_scale0 + idx1_value * idx_scale1` bytes, the values
    being the i32 words in DRAM at `idx0` and `idx1` when the instruction
    issues (an index with scale 0 is not read). The KV-cache write uses it to
    put a new row at the slot and position the host wrote for this step.

    ```mlir
    npu.dma_idx {src_space = "sram", dst_space = "dram", core = 0 : i64, src = 0 : i64, dst = 65536 : i64, bytes = 64 : i64, rows = 1 : i64, planes = 4 : i64, src_stride = 64 : i64, dst_stride = 64 : i64, src_pstride = 64 : i64, dst_pstride = 8192 : i64, idx_dst = 1 : i64, idx0 = 4096 : i64, idx_scale0 = 32768 : i64, idx1 = 4104 : i64, idx_scale1 = 64 : i64}
    ```
  }];
  let arguments = (ins StrAttr:$src_space, StrAttr:$dst_space, I64Attr:$core,
                   I64Attr:$src, I64Attr:$dst, I64Attr:$bytes, I64Attr:$rows,
                   I64Attr:$planes, I64Attr:$src_stride, I64Attr:$dst_stride,
                   I64Attr:$src_pstride, I64Attr:$dst_pstride,
                   I64Attr:$idx_dst, I64Attr:$idx0, I64Attr:$idx_scale0,
                   I64Attr:$idx1, I64Attr:$idx_scale1);
}

def Npu_DmaDqOp : Npu_InstOp<"dma_dq", "dma.dq"> {
  let summary = "load of compressed values expanded into SRAM";
  let description = [{
    `rows x cols` signed `qbits`-bit values (8, or 4 packed two a byte, the
    even column in the low nibble) read from DRAM at `src` (`src_stride`
    bytes between rows) and written to this core's SRAM at `dst` (`ldd`
    bytes between rows) as `dtype`, each
    `f32(q) * qscale[row / qgroup][col / qcgroup]` (fp32 scales in DRAM,
    `qscale_stride` bytes between rows) rounded once. The weight-only GEMMs
    load their weights with it (docs/isa.md): a `[K, N]` weight with groups
    of rows (`qcgroup = 1`), or a `[N, K]` one with groups of columns
    (`qgroup = 1`, ISA 1.4).

    ```mlir
    npu.dma_dq {src = 4096 : i64, dst = 0 : i64, rows = 128 : i64, cols = 64 : i64, src_stride = 32 : i64, ldd = 128 : i64, dtype = "bf16", qbits = 4 : i64, qscale = 65536 : i64, qscale_stride = 256 : i64, qgroup = 128 : i64, qcgroup = 1 : i64}
    ```
  }];
  let arguments = (ins I64Attr:$src, I64Attr:$dst, I64Attr:$rows,
                   I64Attr:$cols, I64Attr:$src_stride, I64Attr:$ldd,
                   StrAttr:$dtype, I64Attr:$qbits, I64Attr:$qscale,
                   I64Attr:$qscale_stride, I64Attr:$qgroup,
                   I64Attr:$qcgroup);
}

def Npu_DmaMcastOp : Npu_InstOp<"dma_mcast", "dma.mcast"> {
  let summary = "strided 3-D copy from one source into many cores' SRAM";
  let description = [{
    Reads `planes x rows x bytes` from `src` in `src_space` (`dram`, `sram`,
    `shared`, or `peer`: the scratchpad of core `core`) once and writes them
    to `dst` in the scratchpad of every core whose bit is set in `cores`.
    The GEMM lowering uses it to hand the same activation rows to all the
    cores that split the columns, at the NoC cost of one copy.

    ```mlir
    npu.dma_mcast {src_space = "shared", cores = 255 : i64, src = 0 : i64, dst = 65536 : i64, bytes = 1536 : i64, rows = 128 : i64, planes = 1 : i64, src_stride = 1536 : i64, dst_stride = 1536 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64, core = 0 : i64}
    ```
  }];
  let arguments = (ins StrAttr:$src_space, I64Attr:$cores, I64Attr:$src,
                   I64Attr:$dst, I64Attr:$bytes, I64Attr:$rows,
                   I64Attr:$planes, I64Attr:$src_stride, I64Attr:$dst_stride,
                   I64Attr:$src_pstride, I64Attr:$dst_pstride, I64Attr:$core);
}

//===----------------------------------------------------------------------===//
// Matrix engine
//===----------------------------------------------------------------------===//

def Npu_MmOp : Npu_InstOp<"mm", "mat.mm"> {
  let summary = "matrix tile: acc[m x n] (+)= A[m x k] x B[k x n]";
  let description = [{
    A and B are SRAM tiles (address, row stride in bytes); the result goes
    to accumulator entries `acc .. acc + m*n`. bf16/f16/fp8 inputs
    accumulate in fp32, i8 in i32.

    ```mlir
    npu.mm {acc = 0 : i64, a = 0 : i64, lda = 1600 : i64, b = 204800 : i64, ldb = 256 : i64, m = 64 : i64, n = 128 : i64, k = 256 : i64, atype = "bf16", btype = "bf16", accumulate = 1 : i64}
    ```
  }];
  let arguments = (ins I64Attr:$acc, I64Attr:$a, I64Attr:$lda, I64Attr:$b,
                   I64Attr:$ldb, I64Attr:$m, I64Attr:$n, I64Attr:$k,
                   StrAttr:$atype, StrAttr:$btype, I64Attr:$accumulate);
}

//===----------------------------------------------------------------------===//
// Vector engine
//===----------------------------------------------------------------------===//

def Npu_AccReadOp : Npu_InstOp<"acc_read", "vec.accrd"> {
  let summary = "accumulator read-out with the fused epilogue";
  let description = [{
    `dst = cast(act((acc + bias) * scale + obias))` for an m x n accumulator
    tile: bias (per column, f32 or i32), scale (per column, f32), obias (per
    column, f32, added after the scale: the int8 read-out's float bias; 0
    when absent), the activation (`none`, `relu`, `gelu`, `silu`, `tanh`)
    and the cast to `dtype`.

    ```mlir
    npu.acc_read {dst = 4096 : i64, ldd = 256 : i64, acc = 0 : i64, m = 64 : i64, n = 128 : i64, dtype = "bf16", act = "gelu", use_scale = 0 : i64, scale = 0 : i64, use_bias = 1 : i64, bias = 0 : i64}
    ```
  }];
  let arguments = (ins I64Attr:$dst, I64Attr:$ldd, I64Attr:$acc, I64Attr:$m,
                   I64Attr:$n, StrAttr:$dtype, StrAttr:$act,
                   I64Attr:$use_scale, I64Attr:$scale, I64Attr:$use_bias,
                   I64Attr:$bias,
                   DefaultValuedAttr<I64Attr, "0">:$use_obias,
                   DefaultValuedAttr<I64Attr, "0">:$obias);
}

def Npu_VecBinaryOp : Npu_InstOp<"vec_binary", "vec.binary"> {
  let summary = "dst = src binop src1 with src1 broadcast per bcast";
  let description = [{
    ```mlir
    npu.vec_binary {binop = "add", bcast = "none", dst = 0 : i64, ldd = 64 : i64, src = 0 : i64, lds = 64 : i64, src1 = 512 : i64, lds1 = 64 : i64, rows = 4 : i64, cols = 32 : i64, dtype = "bf16", stype = "bf16"}
    ```
  }];
  let arguments = (ins StrAttr:$binop, StrAttr:$bcast, I64Attr:$dst,
                   I64Attr:$ldd, I64Attr:$src, I64Attr:$lds, I64Attr:$src1,
                   I64Attr:$lds1, I64Attr:$rows, I64Attr:$cols,
                   StrAttr:$dtype, StrAttr:$stype);
}

def Npu_VecScalarOp : Npu_InstOp<"vec_scalar", "vec.scalar"> {
  let summary = "dst = src binop imm";
  let description = [{
    ```mlir
    npu.vec_scalar {binop = "mul", dst = 0 : i64, ldd = 4 : i64, src = 0 : i64, lds = 4 : i64, rows = 8 : i64, cols = 1 : i64, dtype = "f32", stype = "f32", imm = 1.250000e-01 : f32}
    ```
  }];
  let arguments = (ins StrAttr:$binop, I64Attr:$dst, I64Attr:$ldd,
                   I64Attr:$src, I64Attr:$lds, I64Attr:$rows, I64Attr:$cols,
                   StrAttr:$dtype, StrAttr:$stype, F32Attr:$imm);
}

def Npu_VecUnaryOp : Npu_InstOp<"vec_unary", "vec.unary"> {
  let summary = "dst = unop(src), also the cast (unop copy)";
  let description = [{
    ```mlir
    npu.vec_unary {unop = "exp", dst = 0 : i64, ldd = 128 : i64, src = 0 : i64, lds = 128 : i64, rows = 8 : i64, cols = 32 : i64, dtype = "f32", stype = "f32"}
    ```
  }];
  let arguments = (ins StrAttr:$unop, I64Attr:$dst, I64Attr:$ldd,
                   I64Attr:$src, I64Attr:$lds, I64Attr:$rows, I64Attr:$cols,
                   StrAttr:$dtype, StrAttr:$stype);
}

def Npu_VecReduceOp : Npu_InstOp<"vec_reduce", "vec.reduce"> {
  let summary = "row reduction (sum or max) into rows contiguous values";
  let description = [{
    ```mlir
    npu.vec_reduce {redop = "max", dst = 1024 : i64, src = 0 : i64, lds = 128 : i64, rows = 8 : i64, cols = 32 : i64, dtype = "f32", stype = "f32"}
    ```
  }];
  let arguments = (ins StrAttr:$redop, I64Attr:$dst, I64Attr:$src,
                   I64Attr:$lds, I64Attr:$rows, I64Attr:$cols,
                   StrAttr:$dtype, StrAttr:$stype);
}

def Npu_VecBcastOp : Npu_InstOp<"vec_bcast", "vec.bcast"> {
  let summary = "broadcast a vector along rows or columns";
  let description = [{
    ```mlir
    npu.vec_bcast {bcast = "row", dst = 0 : i64, ldd = 128 : i64, src = 4096 : i64, rows = 8 : i64, cols = 32 : i64, dtype = "f32", stype = "bf16"}
    ```
  }];
  let arguments = (ins StrAttr:$bcast, I64Attr:$dst, I64Attr:$ldd,
                   I64Attr:$src, I64Attr:$rows, I64Attr:$cols,
                   StrAttr:$dtype, StrAttr:$stype);
}

def Npu_VecTransposeOp : Npu_InstOp<"vec_transpose", "vec.transpose"> {
  let summary = "rows x cols in, cols x rows out";
  let description = [{
    ```mlir
    npu.vec_transpose {dst = 0 : i64, ldd = 256 : i64, src = 8192 : i64, lds = 128 : i64, rows = 128 : i64, cols = 64 : i64, dtype = "bf16"}
    ```
  }];
  let arguments = (ins I64Attr:$dst, I64Attr:$ldd, I64Attr:$src,
                   I64Attr:$lds, I64Attr:$rows, I64Attr:$cols,
                   StrAttr:$dtype);
}

def Npu_VecFillOp : Npu_InstOp<"vec_fill", "vec.fill"> {
  let summary = "fill a tile with an immediate";
  let description = [{
    ```mlir
    npu.vec_fill {dst = 0 : i64, ldd = 512 : i64, rows = 1 : i64, cols = 128 : i64, dtype = "f32", imm = 1.250000e-01 : f32}
    ```
  }];
  let arguments = (ins I64Attr:$dst, I64Attr:$ldd, I64Attr:$rows,
                   I64Attr:$cols, StrAttr:$dtype, F32Attr:$imm);
}

#endif // NURI_DIALECT_NPU_IR_NPUOPS_TD
