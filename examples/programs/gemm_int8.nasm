# Quantized linear layer, int8 in and out, one core:
#   C[128x256] = sat_i8(rne(relu((A[128x512] * B[512x256] + bias) * scale)))
# int8 x int8 products accumulate in int32; the epilogue adds the int32 bias
# (per output channel), converts to fp32, multiplies by the per-channel fp32
# requantization scale, applies relu and rounds half-to-even with saturation.
# DRAM: A at 0x0 (512 B rows), B at 0x10000 (256 B rows),
#       bias (i32 x256) at 0x30000, scale (f32 x256) at 0x30400, C at 0x40000.
# Runs on atom, rngd, x220 (weight stationary) and x330; tiny's 16 KiB
# accumulator is too small for the 128x256 tile.
.equ A, 0x0
.equ B, 0x10000
.equ BIAS, 0x30000
.equ SCALE, 0x30400
.equ C, 0x38000

.stream core=0 engine=dma
  dma.copy src_space=dram, dst_space=sram, src=0x0, dst=A, bytes=512, rows=128, planes=1, src_stride=512, dst_stride=512
  dma.copy src_space=dram, dst_space=sram, src=0x10000, dst=B, bytes=256, rows=512, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1          # operands in SRAM -> mat
  dma.copy src_space=dram, dst_space=sram, src=0x30000, dst=BIAS, bytes=2048, rows=1, planes=1
  sem.signal sem=1, core=0, count=1          # bias and scales -> vec
  sem.wait sem=2, count=1
  dma.copy src_space=sram, dst_space=dram, src=C, dst=0x40000, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  end

.stream core=0 engine=mat
  sem.wait sem=0, count=1
  # Two K halves into the same accumulator tile: the second accumulates.
  mat.mm acc=0, a=A, lda=512, b=B, ldb=256, m=128, n=256, k=256, atype=i8, btype=i8, accumulate=0
  mat.mm acc=0, a=A+256, lda=512, b=B+0x10000, ldb=256, m=128, n=256, k=256, atype=i8, btype=i8, accumulate=1
  sem.signal sem=3, core=0, count=1
  end

.stream core=0 engine=vec
  sem.wait sem=1, count=1
  sem.wait sem=3, count=1
  vec.accrd dst=C, ldd=256, acc=0, m=128, n=256, dtype=i8, act=relu, use_scale=1, scale=SCALE, use_bias=1, bias=BIAS
  sem.signal sem=2, core=0, count=1
  end
