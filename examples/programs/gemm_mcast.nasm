# GEMM C[64x128] = A[64x256] * B[256x128], bf16, split by columns over two
# cores: core c computes C[:, 64c .. 64c+64) from all of A and its slice of B.
# Both cores need the same A, so core 0 multicasts it (dma.mcast reads DRAM
# once and writes both scratchpads) instead of each core loading its own
# copy. DRAM layout (row-major, bf16):
#   A at 0x0 (row stride 512 B), B at 0x10000 (256 B), C at 0x20000 (256 B).
# Per core: A and its B slice -> sem 0 (count 2) -> mat -> sem 1 -> vec
# read-out -> sem 2 -> dma store of its C slice.
.equ A_DRAM, 0x0
.equ B_DRAM, 0x10000
.equ C_DRAM, 0x20000
.equ A_SRAM, 0x0
.equ B_SRAM, 0x8000
.equ C_SRAM, 0x10000

.stream core=0 engine=dma
  dma.mcast src_space=dram, cores=0b11, src=A_DRAM, dst=A_SRAM, bytes=512, rows=64, planes=1, src_stride=512, dst_stride=512
  sem.signal sem=0, core=0, count=1      # A has landed in both cores
  sem.signal sem=0, core=1, count=1
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM, dst=B_SRAM, bytes=128, rows=256, planes=1, src_stride=256, dst_stride=128
  sem.signal sem=0, core=0, count=1      # B slice 0
  sem.wait sem=2, count=1
  dma.copy src_space=sram, dst_space=dram, src=C_SRAM, dst=C_DRAM, bytes=128, rows=64, planes=1, src_stride=128, dst_stride=256
  end

.stream core=1 engine=dma
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+128, dst=B_SRAM, bytes=128, rows=256, planes=1, src_stride=256, dst_stride=128
  sem.signal sem=0, core=1, count=1      # B slice 1
  sem.wait sem=2, count=1
  dma.copy src_space=sram, dst_space=dram, src=C_SRAM, dst=C_DRAM+128, bytes=128, rows=64, planes=1, src_stride=128, dst_stride=256
  end

.stream core=0 engine=mat
  sem.wait sem=0, count=2
  mat.mm acc=0, a=A_SRAM, lda=512, b=B_SRAM, ldb=128, m=64, n=64, k=256, atype=bf16, btype=bf16, accumulate=0
  sem.signal sem=1, core=0, count=1
  end

.stream core=1 engine=mat
  sem.wait sem=0, count=2
  mat.mm acc=0, a=A_SRAM, lda=512, b=B_SRAM, ldb=128, m=64, n=64, k=256, atype=bf16, btype=bf16, accumulate=0
  sem.signal sem=1, core=1, count=1
  end

.stream core=0 engine=vec
  sem.wait sem=1, count=1
  vec.accrd dst=C_SRAM, ldd=128, acc=0, m=64, n=64, dtype=bf16, act=none
  sem.signal sem=2, core=0, count=1
  end

.stream core=1 engine=vec
  sem.wait sem=1, count=1
  vec.accrd dst=C_SRAM, ldd=128, acc=0, m=64, n=64, dtype=bf16, act=none
  sem.signal sem=2, core=1, count=1
  end
