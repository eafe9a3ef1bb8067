//===- Builder.cpp - C++ API to emit Nuri programs ------------------------===//

#include "nuri/isa/Builder.h"

#include <fmt/format.h>

#include <algorithm>

namespace nuri::isa {

namespace {
uint64_t code(Dtype d) { return static_cast<uint64_t>(d); }
} // namespace

StreamBuilder &StreamBuilder::emit(const Instruction &inst) {
  Stream &s = program_->streams[index_];
  std::string err = checkFields(inst);
  if (err.empty() && !engineAccepts(s.engine, inst.opcode)) {
    err = fmt::format("{} is not legal on the {} queue",
                      formatInstruction(inst), engineName(s.engine));
  }
  if (!err.empty()) {
    fail(err);
  }
  s.insts.push_back(inst);
  return *this;
}

void StreamBuilder::fail(const std::string &why) const {
  const Stream &s = program_->streams[index_];
  throw Error(fmt::format("core {} engine {} pc {}: {}", s.core,
                          engineName(s.engine), s.insts.size(), why));
}

StreamBuilder &StreamBuilder::wait(unsigned sem, unsigned count) {
  return emit(Instruction(Opcode::SemWait)
                  .set(Field::Sem, sem)
                  .set(Field::Count, count));
}
StreamBuilder &StreamBuilder::signal(unsigned sem, unsigned targetCore,
                                     unsigned count) {
  return emit(Instruction(Opcode::SemSignal)
                  .set(Field::Sem, sem)
                  .set(Field::Core, targetCore)
                  .set(Field::Count, count));
}
StreamBuilder &StreamBuilder::barrier(unsigned bar, unsigned count) {
  return emit(Instruction(Opcode::Barrier)
                  .set(Field::Bar, bar)
                  .set(Field::Count, count));
}
StreamBuilder &StreamBuilder::repeat(size_t bodyPc, unsigned times) {
  return emit(Instruction(Opcode::Repeat)
                  .set(Field::Body, bodyPc)
                  .set(Field::Times, times));
}
StreamBuilder &StreamBuilder::nop(unsigned cycles) {
  return emit(Instruction(Opcode::Nop).set(Field::Cycles, cycles));
}
StreamBuilder &StreamBuilder::end() { return emit(Instruction(Opcode::End)); }

// dma.copy and dma.mcast move the same 3-D box; only where it goes differs.
static Instruction dmaBox(Opcode op, const DmaDesc &d) {
  return Instruction(op)
      .set(Field::SrcSpace, static_cast<uint64_t>(d.srcSpace))
      .set(Field::Src, d.src)
      .set(Field::Dst, d.dst)
      .set(Field::Bytes, d.bytes)
      .set(Field::Rows, d.rows)
      .set(Field::Planes, d.planes)
      .set(Field::SrcStride, d.srcStride)
      .set(Field::DstStride, d.dstStride)
      .set(Field::SrcPStride, d.srcPStride)
      .set(Field::DstPStride, d.dstPStride);
}
uint64_t dmaSourceBytes(const DmaDesc &d) {
  if (d.expand.bits == 0) {
    return d.bytes * d.rows * d.planes;
  }
  const uint64_t cols = d.bytes / dtypeBytes(d.expand.out);
  const uint64_t group = std::max<uint64_t>(1, d.expand.group);
  const uint64_t cgroup = std::max<uint64_t>(1, d.expand.colGroup);
  return d.rows * ((cols * d.expand.bits + 7) / 8) +
         ((d.rows + group - 1) / group) * ((cols + cgroup - 1) / cgroup) * 4;
}
StreamBuilder &StreamBuilder::dma(const DmaDesc &d) {
  if (d.expand.bits != 0) {
    const DmaExpand &e = d.expand;
    const unsigned eo = dtypeBytes(e.out);
    if (d.srcSpace != Space::Dram || d.dstSpace != Space::Sram ||
        d.planes != 1 || d.bytes % eo != 0 || e.group == 0) {
      fail(fmt::format("dma.dq: a 2-D DRAM -> own SRAM box of whole {} "
                       "values with qgroup >= 1 (planes {}, bytes {}, "
                       "qgroup {})",
                       dtypeName(e.out), d.planes, d.bytes, e.group));
    }
    if ((e.bits != 4 && e.bits != 8) ||
        (e.bits == 4 && (d.bytes / eo) % 2 != 0)) {
      fail(fmt::format("dma.dq: qbits {} with {} columns (8, or 4 with an "
                       "even number of columns)",
                       e.bits, d.bytes / eo));
    }
    return emit(Instruction(Opcode::DmaDq)
                    .set(Field::Src, d.src)
                    .set(Field::Dst, d.dst)
                    .set(Field::Rows, d.rows)
                    .set(Field::Cols, d.bytes / eo)
                    .set(Field::SrcStride, d.srcStride)
                    .set(Field::Ldd, d.dstStride)
                    .set(Field::DType, static_cast<uint64_t>(e.out))
                    .set(Field::QBits, e.bits)
                    .set(Field::QScale, e.scale)
                    .set(Field::QScaleStride, e.scaleStride)
                    .set(Field::QGroup, e.group)
                    .set(Field::QCGroup, e.colGroup));
  }
  return emit(dmaBox(Opcode::DmaCopy, d)
                  .set(Field::DstSpace, static_cast<uint64_t>(d.dstSpace))
                  .set(Field::Core, d.peerCore));
}
StreamBuilder &StreamBuilder::dmaMcast(const DmaDesc &d, uint32_t coreMask) {
  // A destination other than the scratchpads would be silently ignored by
  // the encoding; refuse it instead.
  if (d.dstSpace != Space::Sram) {
    const char *name = enumName(FieldKind::Space, uint64_t(d.dstSpace));
    fail(fmt::format("dma.mcast: the destination is always the scratchpads "
                     "(dst_space sram), got {}",
                     name ? name : "an invalid space"));
  }
  if (d.expand.bits != 0) {
    fail("dma.mcast: no expansion (dma.dq loads one core's SRAM)");
  }
  if (coreMask == 0) {
    fail("dma.mcast: empty core mask (cores=0) names no destination");
  }
  // `core` names whose SRAM a peer source is (0 otherwise, as encoded
  // before the field existed).
  return emit(
      dmaBox(Opcode::DmaMcast, d)
          .set(Field::Cores, coreMask)
          .set(Field::Core, d.srcSpace == Space::Peer ? d.peerCore : 0u));
}
StreamBuilder &StreamBuilder::dmaIndexed(const DmaDesc &d, const DmaIndex &ix) {
  // An index with scale 0 is not read, so naming none would be a plain
  // dma.copy that also pays for the index fetch.
  if (d.expand.bits != 0) {
    fail("dma.idx: no expansion (dma.dq has fixed addresses)");
  }
  if (ix.scale0 == 0 && ix.scale1 == 0) {
    fail("dma.idx: both index scales are 0 (use dma.copy for a fixed "
         "address)");
  }
  return emit(dmaBox(Opcode::DmaIdx, d)
                  .set(Field::DstSpace, static_cast<uint64_t>(d.dstSpace))
                  .set(Field::Core, d.peerCore)
                  .set(Field::IdxDst, ix.offsetDst ? 1 : 0)
                  .set(Field::Idx0, ix.index0)
                  .set(Field::IdxScale0, ix.scale0)
                  .set(Field::Idx1, ix.index1)
                  .set(Field::IdxScale1, ix.scale1));
}
// load and store are one 2-D copy in opposite directions.
static DmaDesc tileCopy(Space fromSpace, TileRef from, Space toSpace,
                        TileRef to, uint64_t rows, uint64_t bytes) {
  DmaDesc d;
  d.srcSpace = fromSpace;
  d.dstSpace = toSpace;
  d.src = from.addr;
  d.srcStride = from.ld;
  d.dst = to.addr;
  d.dstStride = to.ld;
  d.rows = rows;
  d.bytes = bytes;
  return d;
}
StreamBuilder &StreamBuilder::load(TileRef dram, TileRef sram, uint64_t rows,
                                   uint64_t bytes) {
  return dma(tileCopy(Space::Dram, dram, Space::Sram, sram, rows, bytes));
}
StreamBuilder &StreamBuilder::store(TileRef sram, TileRef dram, uint64_t rows,
                                    uint64_t bytes) {
  return dma(tileCopy(Space::Sram, sram, Space::Dram, dram, rows, bytes));
}

StreamBuilder &StreamBuilder::mm(uint64_t acc, TileRef a, TileRef b, uint64_t m,
                                 uint64_t n, uint64_t k, Dtype atype,
                                 Dtype btype, bool accumulate) {
  return emit(Instruction(Opcode::MatMul)
                  .set(Field::Acc, acc)
                  .set(Field::A, a.addr)
                  .set(Field::Lda, a.ld)
                  .set(Field::B, b.addr)
                  .set(Field::Ldb, b.ld)
                  .set(Field::M, m)
                  .set(Field::N, n)
                  .set(Field::K, k)
                  .set(Field::AType, code(atype))
                  .set(Field::BType, code(btype))
                  .set(Field::Accumulate, accumulate ? 1 : 0));
}
StreamBuilder &StreamBuilder::binary(BinOp op, Bcast bcast, TileRef dst,
                                     TileRef src, TileRef src1, uint64_t rows,
                                     uint64_t cols, Dtype dtype, Dtype stype) {
  return emit(Instruction(Opcode::VecBinary)
                  .set(Field::BinOpF, static_cast<uint64_t>(op))
                  .set(Field::BcastF, static_cast<uint64_t>(bcast))
                  .set(Field::Dst, dst.addr)
                  .set(Field::Ldd, dst.ld)
                  .set(Field::Src, src.addr)
                  .set(Field::Lds, src.ld)
                  .set(Field::Src1, src1.addr)
                  .set(Field::Lds1, src1.ld)
                  .set(Field::Rows, rows)
                  .set(Field::Cols, cols)
                  .set(Field::DType, code(dtype))
                  .set(Field::SType, code(stype)));
}
StreamBuilder &StreamBuilder::scalar(BinOp op, TileRef dst, TileRef src,
                                     float imm, uint64_t rows, uint64_t cols,
                                     Dtype dtype, Dtype stype) {
  return emit(Instruction(Opcode::VecScalar)
                  .set(Field::BinOpF, static_cast<uint64_t>(op))
                  .set(Field::Dst, dst.addr)
                  .set(Field::Ldd, dst.ld)
                  .set(Field::Src, src.addr)
                  .set(Field::Lds, src.ld)
                  .set(Field::Rows, rows)
                  .set(Field::Cols, cols)
                  .set(Field::DType, code(dtype))
                  .set(Field::SType, code(stype))
                  .setImm(imm));
}
StreamBuilder &StreamBuilder::unary(UnOp op, TileRef dst, TileRef src,
                                    uint64_t rows, uint64_t cols, Dtype dtype,
                                    Dtype stype) {
  return emit(Instruction(Opcode::VecUnary)
                  .set(Field::UnOpF, static_cast<uint64_t>(op))
                  .set(Field::Dst, dst.addr)
                  .set(Field::Ldd, dst.ld)
                  .set(Field::Src, src.addr)
                  .set(Field::Lds, src.ld)
                  .set(Field::Rows, rows)
                  .set(Field::Cols, cols)
                  .set(Field::DType, code(dtype))
                  .set(Field::SType, code(stype)));
}
StreamBuilder &StreamBuilder::reduce(RedOp op, uint64_t dst, TileRef src,
                                     uint64_t rows, uint64_t cols, Dtype dtype,
                                     Dtype stype) {
  return emit(Instruction(Opcode::VecReduce)
                  .set(Field::RedOpF, static_cast<uint64_t>(op))
                  .set(Field::Dst, dst)
                  .set(Field::Src, src.addr)
                  .set(Field::Lds, src.ld)
                  .set(Field::Rows, rows)
                  .set(Field::Cols, cols)
                  .set(Field::DType, code(dtype))
                  .set(Field::SType, code(stype)));
}
StreamBuilder &StreamBuilder::bcast(Bcast how, TileRef dst, uint64_t src,
                                    uint64_t rows, uint64_t cols, Dtype dtype,
                                    Dtype stype) {
  return emit(Instruction(Opcode::VecBcast)
                  .set(Field::BcastF, static_cast<uint64_t>(how))
                  .set(Field::Dst, dst.addr)
                  .set(Field::Ldd, dst.ld)
                  .set(Field::Src, src)
                  .set(Field::Rows, rows)
                  .set(Field::Cols, cols)
                  .set(Field::DType, code(dtype))
                  .set(Field::SType, code(stype)));
}
StreamBuilder &StreamBuilder::transpose(TileRef dst, TileRef src, uint64_t rows,
                                        uint64_t cols, Dtype dtype) {
  return emit(Instruction(Opcode::VecTranspose)
                  .set(Field::Dst, dst.addr)
                  .set(Field::Ldd, dst.ld)
                  .set(Field::Src, src.addr)
                  .set(Field::Lds, src.ld)
                  .set(Field::Rows, rows)
                  .set(Field::Cols, cols)
                  .set(Field::DType, code(dtype)));
}
StreamBuilder &StreamBuilder::fill(TileRef dst, float imm, uint64_t rows,
                                   uint64_t cols, Dtype dtype) {
  return emit(Instruction(Opcode::VecFill)
                  .set(Field::Dst, dst.addr)
                  .set(Field::Ldd, dst.ld)
                  .set(Field::Rows, rows)
                  .set(Field::Cols, cols)
                  .set(Field::DType, code(dtype))
                  .setImm(imm));
}
StreamBuilder &StreamBuilder::accRead(TileRef dst, uint64_t acc, uint64_t m,
                                      uint64_t n, const Epilogue &epi) {
  return emit(Instruction(Opcode::VecAccRead)
                  .set(Field::Dst, dst.addr)
                  .set(Field::Ldd, dst.ld)
                  .set(Field::Acc, acc)
                  .set(Field::M, m)
                  .set(Field::N, n)
                  .set(Field::DType, code(epi.out))
                  .set(Field::ActF, static_cast<uint64_t>(epi.act))
                  .set(Field::UseScale, epi.useScale ? 1 : 0)
                  .set(Field::Scale, epi.scale)
                  .set(Field::UseBias, epi.useBias ? 1 : 0)
                  .set(Field::Bias, epi.bias)
                  .set(Field::UseObias, epi.useObias ? 1 : 0)
                  .set(Field::Obias, epi.obias));
}

StreamBuilder ProgramBuilder::queue(unsigned core, Engine engine) {
  program_.stream(core, engine);
  for (size_t i = 0; i < program_.streams.size(); ++i) {
    if (program_.streams[i].core == core &&
        program_.streams[i].engine == engine) {
      return StreamBuilder(program_, i);
    }
  }
  throw Error("unreachable: stream vanished");
}

Program ProgramBuilder::finish() {
  for (Stream &s : program_.streams) {
    if (s.insts.empty() || s.insts.back().opcode != Opcode::End) {
      s.insts.push_back(Instruction(Opcode::End));
    }
  }
  std::string err = verifyProgram(program_);
  if (!err.empty()) {
    throw Error(err);
  }
  return std::move(program_);
}

} // namespace nuri::isa
