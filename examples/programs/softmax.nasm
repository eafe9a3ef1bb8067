# Row softmax of X[128x512] (bf16) on one core, fp32 intermediates:
#   m = rowmax(x); e = exp(x - m); s = rowsum(e); y = e * (1/s)
# DRAM: X at 0x0, Y at 0x40000 (row stride 1024 B).
.equ X_DRAM, 0x0
.equ Y_DRAM, 0x40000
.equ X, 0x0          # bf16 128x512
.equ E, 0x20000      # f32 128x512
.equ MAXV, 0x60000   # f32 x128
.equ SUMV, 0x60400   # f32 x128
.equ RCP, 0x60800    # f32 x128
.equ Y, 0x70000      # bf16 128x512

.stream core=0 engine=dma
  dma.copy src_space=dram, dst_space=sram, src=X_DRAM, dst=X, bytes=1024, rows=128, planes=1, src_stride=1024, dst_stride=1024
  sem.signal sem=0, core=0, count=1
  sem.wait sem=1, count=1
  dma.copy src_space=sram, dst_space=dram, src=Y, dst=Y_DRAM, bytes=1024, rows=128, planes=1, src_stride=1024, dst_stride=1024
  end

.stream core=0 engine=vec
  sem.wait sem=0, count=1
  vec.reduce redop=max, dst=MAXV, src=X, lds=1024, rows=128, cols=512, dtype=f32, stype=bf16
  vec.binary binop=sub, bcast=col, dst=E, ldd=2048, src=X, lds=1024, src1=MAXV, lds1=4, rows=128, cols=512, dtype=f32, stype=bf16
  vec.unary unop=exp, dst=E, ldd=2048, src=E, lds=2048, rows=128, cols=512, dtype=f32, stype=f32
  vec.reduce redop=sum, dst=SUMV, src=E, lds=2048, rows=128, cols=512, dtype=f32, stype=f32
  vec.unary unop=recip, dst=RCP, ldd=4, src=SUMV, lds=4, rows=128, cols=1, dtype=f32, stype=f32
  vec.binary binop=mul, bcast=col, dst=Y, ldd=1024, src=E, lds=2048, src1=RCP, lds1=4, rows=128, cols=512, dtype=bf16, stype=f32
  sem.signal sem=1, core=0, count=1
  end
