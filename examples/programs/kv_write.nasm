# A KV-cache write of a decode step: the new K rows of 2 sequences, 4 heads of
# 32 bf16 (64 B), land in a cache [slots=8][heads=4][seq=256][64 B] at the slot
# and position the host wrote into DRAM for this step (i32 words at IDX:
# slot of row 0, slot of row 1, position of row 0, position of row 1).
# Write them first, e.g. `nuri sim kv_write.nasm --target atom` runs with zero
# indices (slot 0, position 0).
.equ CACHE, 0x100000
.equ SLOT_BYTES, 0x10000     # 4 heads x 256 positions x 64 B
.equ ROW_BYTES, 64
.equ IDX, 0x1000
.equ NEW_DRAM, 0x2000        # [2][4][64 B] new rows
.equ NEW, 0x0

.stream core=0 engine=dma
  dma.copy src_space=dram, dst_space=sram, src=NEW_DRAM, dst=NEW, bytes=512, rows=1, planes=1
  sem.signal sem=0, core=0, count=1   # fires when the rows have landed
  sem.wait sem=0, count=1
  # Row 0: dst = CACHE + slot0 * SLOT_BYTES + pos0 * ROW_BYTES, one plane per head.
  dma.idx src_space=sram, dst_space=dram, src=NEW, dst=CACHE, bytes=ROW_BYTES, rows=1, planes=4, src_pstride=ROW_BYTES, dst_pstride=0x4000, idx_dst=1, idx0=IDX, idx_scale0=SLOT_BYTES, idx1=IDX+8, idx_scale1=ROW_BYTES
  # Row 1. The two rows may name the same slot and position (zeroed indices
  # do), so the second write waits for the first: the race detector would
  # otherwise stop the run.
  sem.signal sem=0, core=0, count=1
  sem.wait sem=0, count=1
  dma.idx src_space=sram, dst_space=dram, src=NEW+256, dst=CACHE, bytes=ROW_BYTES, rows=1, planes=4, src_pstride=ROW_BYTES, dst_pstride=0x4000, idx_dst=1, idx0=IDX+4, idx_scale0=SLOT_BYTES, idx1=IDX+12, idx_scale1=ROW_BYTES
  end
