//===- Builder.h - C++ API to emit Nuri programs ----------------*- C++ -*-===//
//
// What the compiler's emitter (and the example generators) use instead of
// printing assembly: one StreamBuilder per (core, engine) queue with a typed
// method per instruction. Every method checks field widths at once, so a bad
// operand fails where it was produced, not at encode time.
//
//   ProgramBuilder pb;
//   auto dma = pb.queue(0, Engine::Dma);
//   dma.load({0x0, 1536}, {0x0, 1536}, 128, 1536).signal(0, 0);
//   auto mat = pb.queue(0, Engine::Matrix);
//   mat.wait(0).mm(0, {0x0, 1536}, {0x30000, 256}, 128, 128, 768,
//                   Dtype::BF16, Dtype::BF16, false);
//   Program p = pb.finish();   // appends `end` to every queue, verifies
//
// pb.queue(core, Engine::Fetch) is the core's second DMA queue: the same DMA
// and sync methods, its own transfer slots, no ordering against Engine::Dma.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_ISA_BUILDER_H
#define NURI_ISA_BUILDER_H

#include "nuri/isa/Program.h"

namespace nuri::isa {

/// A 2-D operand: base byte address and bytes between rows.
struct TileRef {
  uint64_t addr = 0;
  uint64_t ld = 0;
};

/// How `dma.dq` (ISA 1.3) expands compressed values on the way into SRAM:
/// `bits` 8 or 4 per signed value, `scale` the DRAM address of the fp32
/// scales (a row of them per `group` rows, `scaleStride` bytes apart; one
/// scale per `colGroup` columns, ISA 1.4), `out` the SRAM element type.
/// `bits` 0: a plain copy.
struct DmaExpand {
  unsigned bits = 0;
  Dtype out = Dtype::BF16;
  uint64_t scale = 0, scaleStride = 0, group = 1, colGroup = 1;
};

/// A 3-D strided DMA: planes x rows x bytes.
struct DmaDesc {
  Space srcSpace = Space::Dram;
  Space dstSpace = Space::Sram;
  unsigned peerCore = 0;
  uint64_t src = 0, dst = 0;
  uint64_t bytes = 0, rows = 1, planes = 1;
  uint64_t srcStride = 0, dstStride = 0, srcPStride = 0, dstPStride = 0;
  /// With expand.bits set, `dma()` emits `dma.dq`: DRAM -> own SRAM, `rows`
  /// rows of `bytes` / sizeof(expand.out) values, each source row
  /// `bytes * bits / (8 * sizeof(out))` bytes long (one plane).
  DmaExpand expand;
};

/// The bytes `d` reads from its source: the packed values and the scale
/// rows for `dma.dq`, the box otherwise.
uint64_t dmaSourceBytes(const DmaDesc &d);

/// The run-time offset of `dma.idx`: index0 * scale0 + index1 * scale1
/// bytes, the indices being i32 values in DRAM at `index0` / `index1` when
/// the instruction issues (a scale of 0 leaves its index unread).
struct DmaIndex {
  bool offsetDst = false; ///< false: the offset moves src; true: dst
  uint64_t index0 = 0, scale0 = 0;
  uint64_t index1 = 0, scale1 = 0;
};

/// The accumulator read-out epilogue.
struct Epilogue {
  Dtype out = Dtype::BF16;
  Act act = Act::None;
  bool useScale = false;
  uint64_t scale = 0;
  bool useBias = false;
  uint64_t bias = 0;
  /// An fp32 bias added after the scale (the int8 read-out's float bias).
  bool useObias = false;
  uint64_t obias = 0;
};

class ProgramBuilder;

class StreamBuilder {
public:
  StreamBuilder(Program &program, size_t index)
      : program_(&program), index_(index) {}
  unsigned core() const { return program_->streams[index_].core; }
  Engine engine() const { return program_->streams[index_].engine; }
  /// The pc the next instruction will get (a `repeat` body target).
  size_t pc() const { return program_->streams[index_].insts.size(); }

  /// Appends any instruction; throws nuri::Error if it is malformed or
  /// illegal on this queue.
  StreamBuilder &emit(const Instruction &inst);

  StreamBuilder &wait(unsigned sem, unsigned count = 1);
  StreamBuilder &signal(unsigned sem, unsigned targetCore, unsigned count = 1);
  /// Signals a semaphore of this queue's own core.
  StreamBuilder &signal(unsigned sem) { return signal(sem, core()); }
  StreamBuilder &barrier(unsigned bar, unsigned count);
  StreamBuilder &repeat(size_t bodyPc, unsigned times);
  StreamBuilder &nop(unsigned cycles);
  StreamBuilder &end();

  /// `dma.copy`, or `dma.dq` when d.expand.bits is set (then d is a 2-D
  /// DRAM -> SRAM box; anything else throws nuri::Error).
  StreamBuilder &dma(const DmaDesc &d);
  /// `dma.mcast`: copies d's source once into the same SRAM address of every
  /// core whose bit is set in `coreMask`. d.srcSpace is dram, sram or shared;
  /// d.dstSpace must be Sram (the destination is always the scratchpads) and
  /// d.peerCore is unused. Throws nuri::Error on an empty mask or a peer
  /// source.
  StreamBuilder &dmaMcast(const DmaDesc &d, uint32_t coreMask);
  /// `dma.idx`: `dma(d)` with src or dst moved by run-time indices read from
  /// DRAM (a KV-cache row at a position the host writes per step). Throws
  /// nuri::Error when neither index is used.
  StreamBuilder &dmaIndexed(const DmaDesc &d, const DmaIndex &ix);
  /// DRAM -> own SRAM, `rows` rows of `bytes`.
  StreamBuilder &load(TileRef dram, TileRef sram, uint64_t rows,
                      uint64_t bytes);
  /// Own SRAM -> DRAM.
  StreamBuilder &store(TileRef sram, TileRef dram, uint64_t rows,
                       uint64_t bytes);

  StreamBuilder &mm(uint64_t acc, TileRef a, TileRef b, uint64_t m, uint64_t n,
                    uint64_t k, Dtype atype, Dtype btype, bool accumulate);
  StreamBuilder &binary(BinOp op, Bcast bcast, TileRef dst, TileRef src,
                        TileRef src1, uint64_t rows, uint64_t cols, Dtype dtype,
                        Dtype stype);
  StreamBuilder &scalar(BinOp op, TileRef dst, TileRef src, float imm,
                        uint64_t rows, uint64_t cols, Dtype dtype, Dtype stype);
  StreamBuilder &unary(UnOp op, TileRef dst, TileRef src, uint64_t rows,
                       uint64_t cols, Dtype dtype, Dtype stype);
  /// dst receives `rows` contiguous values.
  StreamBuilder &reduce(RedOp op, uint64_t dst, TileRef src, uint64_t rows,
                        uint64_t cols, Dtype dtype, Dtype stype);
  StreamBuilder &bcast(Bcast how, TileRef dst, uint64_t src, uint64_t rows,
                       uint64_t cols, Dtype dtype, Dtype stype);
  StreamBuilder &transpose(TileRef dst, TileRef src, uint64_t rows,
                           uint64_t cols, Dtype dtype);
  StreamBuilder &fill(TileRef dst, float imm, uint64_t rows, uint64_t cols,
                      Dtype dtype);
  StreamBuilder &accRead(TileRef dst, uint64_t acc, uint64_t m, uint64_t n,
                         const Epilogue &epi);

private:
  /// Throws nuri::Error naming this queue and the pc being emitted.
  [[noreturn]] void fail(const std::string &why) const;

  Program *program_;
  size_t index_;
};

class ProgramBuilder {
public:
  StreamBuilder queue(unsigned core, Engine engine);
  /// Appends `end` where missing, verifies, and hands the program over.
  Program finish();
  Program &program() { return program_; }

private:
  Program program_;
};

} // namespace nuri::isa

#endif // NURI_ISA_BUILDER_H
