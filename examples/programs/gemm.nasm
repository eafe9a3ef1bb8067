# GEMM C[128x128] = A[128x256] * B[256x128], bf16 in, fp32 accumulate,
# bf16 out, on one core. DRAM layout (row-major, bf16):
#   A at 0x0 (row stride 512 B), B at 0x10000 (256 B), C at 0x20000 (256 B).
# Pipeline: dma loads -> sem 0 -> mat -> sem 1 -> vec read-out -> sem 2 -> dma store.
.equ A_DRAM, 0x0
.equ B_DRAM, 0x10000
.equ C_DRAM, 0x20000
.equ A_SRAM, 0x0
.equ B_SRAM, 0x10000
.equ C_SRAM, 0x20000

.stream core=0 engine=dma
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM, dst=A_SRAM, bytes=512, rows=128, planes=1, src_stride=512, dst_stride=512
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM, dst=B_SRAM, bytes=256, rows=256, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1      # both loads complete
  sem.wait sem=2, count=1                # result is in SRAM
  dma.copy src_space=sram, dst_space=dram, src=C_SRAM, dst=C_DRAM, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  end

.stream core=0 engine=mat
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_SRAM, lda=512, b=B_SRAM, ldb=256, m=128, n=128, k=256, atype=bf16, btype=bf16, accumulate=0
  sem.signal sem=1, core=0, count=1
  end

.stream core=0 engine=vec
  sem.wait sem=1, count=1
  vec.accrd dst=C_SRAM, ldd=256, acc=0, m=128, n=128, dtype=bf16, act=none
  sem.signal sem=2, core=0, count=1
  end
