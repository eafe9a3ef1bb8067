# Double-buffered GEMM: C[128x128] = A[128x2048] * B[2048x128], bf16, one core.
# K is streamed in 16 chunks of 128: the DMA fills one SRAM buffer while
# the matrix engine consumes the other. Semaphores: 0/1 = buffer 0/1 full
# (dma -> mat), 2/3 = buffer 0/1 free (mat -> dma), 4 = acc ready, 5 = C ready.
# DRAM: A at 0x0 (row stride 4096 B), B at 0x100000 (256 B), C at 0x200000.
.equ A_DRAM, 0x0
.equ B_DRAM, 0x100000
.equ C_DRAM, 0x200000
.equ A_BUF0, 0x0
.equ A_BUF1, 0x8000
.equ B_BUF0, 0x10000
.equ B_BUF1, 0x18000
.equ C_SRAM, 0x20000

.stream core=0 engine=dma
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+0, dst=A_BUF0, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+0, dst=B_BUF0, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+256, dst=A_BUF1, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+32768, dst=B_BUF1, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=1, core=0, count=1
  sem.wait sem=2, count=1            # buffer 0 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+512, dst=A_BUF0, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+65536, dst=B_BUF0, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1
  sem.wait sem=3, count=1            # buffer 1 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+768, dst=A_BUF1, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+98304, dst=B_BUF1, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=1, core=0, count=1
  sem.wait sem=2, count=1            # buffer 0 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+1024, dst=A_BUF0, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+131072, dst=B_BUF0, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1
  sem.wait sem=3, count=1            # buffer 1 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+1280, dst=A_BUF1, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+163840, dst=B_BUF1, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=1, core=0, count=1
  sem.wait sem=2, count=1            # buffer 0 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+1536, dst=A_BUF0, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+196608, dst=B_BUF0, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1
  sem.wait sem=3, count=1            # buffer 1 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+1792, dst=A_BUF1, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+229376, dst=B_BUF1, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=1, core=0, count=1
  sem.wait sem=2, count=1            # buffer 0 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+2048, dst=A_BUF0, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+262144, dst=B_BUF0, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1
  sem.wait sem=3, count=1            # buffer 1 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+2304, dst=A_BUF1, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+294912, dst=B_BUF1, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=1, core=0, count=1
  sem.wait sem=2, count=1            # buffer 0 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+2560, dst=A_BUF0, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+327680, dst=B_BUF0, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1
  sem.wait sem=3, count=1            # buffer 1 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+2816, dst=A_BUF1, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+360448, dst=B_BUF1, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=1, core=0, count=1
  sem.wait sem=2, count=1            # buffer 0 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+3072, dst=A_BUF0, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+393216, dst=B_BUF0, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1
  sem.wait sem=3, count=1            # buffer 1 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+3328, dst=A_BUF1, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+425984, dst=B_BUF1, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=1, core=0, count=1
  sem.wait sem=2, count=1            # buffer 0 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+3584, dst=A_BUF0, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+458752, dst=B_BUF0, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=0, core=0, count=1
  sem.wait sem=3, count=1            # buffer 1 free again
  dma.copy src_space=dram, dst_space=sram, src=A_DRAM+3840, dst=A_BUF1, bytes=256, rows=128, planes=1, src_stride=4096, dst_stride=256
  dma.copy src_space=dram, dst_space=sram, src=B_DRAM+491520, dst=B_BUF1, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  sem.signal sem=1, core=0, count=1
  sem.wait sem=5, count=1
  dma.copy src_space=sram, dst_space=dram, src=C_SRAM, dst=C_DRAM, bytes=256, rows=128, planes=1, src_stride=256, dst_stride=256
  end

.stream core=0 engine=mat
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_BUF0, lda=256, b=B_BUF0, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=0
  sem.signal sem=2, core=0, count=1
  sem.wait sem=1, count=1
  mat.mm acc=0, a=A_BUF1, lda=256, b=B_BUF1, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=3, core=0, count=1
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_BUF0, lda=256, b=B_BUF0, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=2, core=0, count=1
  sem.wait sem=1, count=1
  mat.mm acc=0, a=A_BUF1, lda=256, b=B_BUF1, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=3, core=0, count=1
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_BUF0, lda=256, b=B_BUF0, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=2, core=0, count=1
  sem.wait sem=1, count=1
  mat.mm acc=0, a=A_BUF1, lda=256, b=B_BUF1, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=3, core=0, count=1
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_BUF0, lda=256, b=B_BUF0, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=2, core=0, count=1
  sem.wait sem=1, count=1
  mat.mm acc=0, a=A_BUF1, lda=256, b=B_BUF1, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=3, core=0, count=1
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_BUF0, lda=256, b=B_BUF0, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=2, core=0, count=1
  sem.wait sem=1, count=1
  mat.mm acc=0, a=A_BUF1, lda=256, b=B_BUF1, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=3, core=0, count=1
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_BUF0, lda=256, b=B_BUF0, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=2, core=0, count=1
  sem.wait sem=1, count=1
  mat.mm acc=0, a=A_BUF1, lda=256, b=B_BUF1, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=3, core=0, count=1
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_BUF0, lda=256, b=B_BUF0, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=2, core=0, count=1
  sem.wait sem=1, count=1
  mat.mm acc=0, a=A_BUF1, lda=256, b=B_BUF1, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=3, core=0, count=1
  sem.wait sem=0, count=1
  mat.mm acc=0, a=A_BUF0, lda=256, b=B_BUF0, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=2, core=0, count=1
  sem.wait sem=1, count=1
  mat.mm acc=0, a=A_BUF1, lda=256, b=B_BUF1, ldb=256, m=128, n=128, k=128, atype=bf16, btype=bf16, accumulate=1
  sem.signal sem=3, core=0, count=1
  sem.signal sem=4, core=0, count=1
  end

.stream core=0 engine=vec
  sem.wait sem=4, count=1
  vec.accrd dst=C_SRAM, ldd=256, acc=0, m=128, n=128, dtype=bf16, act=none
  sem.signal sem=5, core=0, count=1
  end
