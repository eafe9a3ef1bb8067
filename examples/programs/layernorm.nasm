# LayerNorm over rows of X[128x768] (bf16), eps = 1e-12 (BERT), fp32 math:
#   mu = sum(x)/n; d = x - mu; var = sum(d*d)/n; y = d * rsqrt(var + eps) * gamma + beta
# DRAM: X at 0x0 (row stride 1536 B), gamma at 0x30000, beta at 0x30600
# (bf16 x768 each), Y at 0x40000.
.equ X, 0x0          # bf16 128x768
.equ GAMMA, 0x30000  # bf16 x768
.equ BETA, 0x30600   # bf16 x768
.equ D, 0x40000      # f32 128x768
.equ SQ, 0x100000    # f32 128x768
.equ MU, 0x1c0000    # f32 x128
.equ VAR, 0x1c0200   # f32 x128
.equ RSTD, 0x1c0400  # f32 x128
.equ Y, 0x1d0000     # bf16 128x768

.stream core=0 engine=dma
  dma.copy src_space=dram, dst_space=sram, src=0x0, dst=X, bytes=1536, rows=128, planes=1, src_stride=1536, dst_stride=1536
  dma.copy src_space=dram, dst_space=sram, src=0x30000, dst=GAMMA, bytes=3072, rows=1, planes=1, src_stride=0, dst_stride=0
  sem.signal sem=0, core=0, count=1
  sem.wait sem=1, count=1
  dma.copy src_space=sram, dst_space=dram, src=Y, dst=0x40000, bytes=1536, rows=128, planes=1, src_stride=1536, dst_stride=1536
  end

.stream core=0 engine=vec
  sem.wait sem=0, count=1
  vec.reduce redop=sum, dst=MU, src=X, lds=1536, rows=128, cols=768, dtype=f32, stype=bf16
  vec.scalar binop=mul, dst=MU, ldd=4, src=MU, lds=4, rows=128, cols=1, dtype=f32, stype=f32, imm=0.0013020834
  vec.binary binop=sub, bcast=col, dst=D, ldd=3072, src=X, lds=1536, src1=MU, lds1=4, rows=128, cols=768, dtype=f32, stype=bf16
  vec.binary binop=mul, bcast=none, dst=SQ, ldd=3072, src=D, lds=3072, src1=D, lds1=3072, rows=128, cols=768, dtype=f32, stype=f32
  vec.reduce redop=sum, dst=VAR, src=SQ, lds=3072, rows=128, cols=768, dtype=f32, stype=f32
  vec.scalar binop=mul, dst=VAR, ldd=4, src=VAR, lds=4, rows=128, cols=1, dtype=f32, stype=f32, imm=0.0013020834
  vec.scalar binop=add, dst=VAR, ldd=4, src=VAR, lds=4, rows=128, cols=1, dtype=f32, stype=f32, imm=1e-12
  vec.unary unop=rsqrt, dst=RSTD, ldd=4, src=VAR, lds=4, rows=128, cols=1, dtype=f32, stype=f32
  vec.binary binop=mul, bcast=col, dst=D, ldd=3072, src=D, lds=3072, src1=RSTD, lds1=4, rows=128, cols=768, dtype=f32, stype=f32
  vec.unary unop=copy, dst=SQ, ldd=3072, src=GAMMA, lds=0, rows=1, cols=768, dtype=f32, stype=bf16
  vec.unary unop=copy, dst=SQ+3072, ldd=3072, src=BETA, lds=0, rows=1, cols=768, dtype=f32, stype=bf16
  vec.binary binop=mul, bcast=row, dst=D, ldd=3072, src=D, lds=3072, src1=SQ, lds1=0, rows=128, cols=768, dtype=f32, stype=f32
  vec.binary binop=add, bcast=row, dst=Y, ldd=1536, src=D, lds=3072, src1=SQ+3072, lds1=0, rows=128, cols=768, dtype=bf16, stype=f32
  sem.signal sem=1, core=0, count=1
  end
