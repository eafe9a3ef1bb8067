//===- DmaEngine.cpp - A DMA queue of one core ----------------------------===//

#include "DmaEngine.h"

#include <fmt/format.h>

#include "Kernels.h"

#include <algorithm>

namespace nuri::sim::detail {

using namespace isa;

namespace {
/// The 3-D source or destination box of a DMA instruction.
Box dmaBox(const Instruction &in, bool source) {
  Box b;
  b.addr = in[source ? Field::Src : Field::Dst];
  b.bytes = in[Field::Bytes];
  b.rows = in[Field::Rows];
  b.stride = in[source ? Field::SrcStride : Field::DstStride];
  b.planes = in[Field::Planes];
  b.pstride = in[source ? Field::SrcPStride : Field::DstPStride];
  return b;
}
} // namespace

void DmaEngine::resetEngine() {
  slotBusy_.clear();
  slots_.clear();
  active_ = 0;
  activeSince_ = Cycles(0);
  bytes_ = dramRead_ = dramWritten_ = nocBytes_ = 0;
}

void DmaEngine::gather(CoreStats &cs) const {
  EngineQueue::gather(cs);
  cs.dmaBytes += bytes_;
}

bool DmaEngine::issue(const Instruction &in) {
  if (active_ >= ctx_.tgt.dma.outstanding) {
    block(Reason::DmaQueueFull);
    return false;
  }
  uint64_t occupancy = ctx_.tgt.dma.issueCycles;
  if (in.opcode == Opcode::DmaMcast) {
    issueMulticast(in);
  } else if (in.opcode == Opcode::DmaDq) {
    issueExpand(in);
  } else if (in.opcode == Opcode::DmaIdx) {
    issueIndexed(in);
    // The queue computes the address only once the index words arrive: one
    // DRAM round trip before the next instruction can issue.
    occupancy += ctx_.tgt.dram.latencyCycles;
  } else {
    issueCopy(in);
  }
  readyAt_ = now() + Cycles(occupancy);
  ++pc_;
  wakeAt(readyAt_);
  return true;
}

DmaEngine::SpaceRef DmaEngine::spaceRef(Space s, uint64_t peer) const {
  const target::Target &tgt = ctx_.tgt;
  ChipMemory &mem = ctx_.mem;
  switch (s) {
  case Space::Dram:
    return {tgt.dram.bytes, nullptr, "DRAM"};
  case Space::Sram:
    return {tgt.sram.bytesPerCore, &mem.sram[core_], "SRAM"};
  case Space::Shared:
    if (tgt.sram.sharedBytes == 0) {
      fail("target has no shared SRAM");
    }
    return {tgt.sram.sharedBytes, &mem.shared, "shared SRAM"};
  case Space::Peer:
    if (peer >= tgt.cores) {
      fail(fmt::format("peer core {} does not exist (target has {})", peer,
                       tgt.cores));
    }
    return {tgt.sram.bytesPerCore, &mem.sram[peer], "peer SRAM"};
  }
  fail("bad space");
}

void DmaEngine::read(const SpaceRef &src, uint64_t addr, uint8_t *dst,
                     uint64_t n) {
  if (src.flat) {
    src.flat->read(addr, dst, n);
  } else {
    ctx_.mem.dram.read(addr, dst, n);
  }
}

template <typename WriteRow>
void DmaEngine::copyRows(const SpaceRef &src, const Box &sb, const Box &db,
                         WriteRow writeRow) {
  buf_.resize(sb.bytes);
  for (uint64_t p = 0; p < sb.planes; ++p) {
    for (uint64_t r = 0; r < sb.rows; ++r) {
      read(src, sb.addr + p * sb.pstride + r * sb.stride, buf_.data(),
           sb.bytes);
      writeRow(db.addr + p * db.pstride + r * db.stride, buf_.data());
    }
  }
}

void DmaEngine::issueIndexed(const Instruction &in) {
  const target::Target &tgt = ctx_.tgt;
  std::vector<Box> reads;
  int64_t offset = 0;
  std::string values;
  struct IndexField {
    Field addr, scale;
    const char *name;
  };
  for (IndexField f : {IndexField{Field::Idx0, Field::IdxScale0, "idx0"},
                       IndexField{Field::Idx1, Field::IdxScale1, "idx1"}}) {
    uint64_t scale = in[f.scale];
    if (scale == 0) {
      continue; // an unused index is not read
    }
    uint64_t addr = in[f.addr];
    if (addr % 4 != 0) {
      fail(fmt::format("{}=0x{:x} is not 4-byte aligned (an index is an i32)",
                       f.name, addr));
    }
    checkRange(f.name, tgt.dram.bytes, addr, 4, 1, 0);
    int32_t value = 0;
    ctx_.mem.dram.read(addr, &value, sizeof(value));
    offset += int64_t(value) * int64_t(scale);
    values += fmt::format("{}{} value {} x {}", values.empty() ? "" : ", ",
                          f.name, value, scale);
    reads.push_back(Box::tile(addr, 4, 1, 4));
  }
  Field moved = in[Field::IdxDst] ? Field::Dst : Field::Src;
  int64_t base = int64_t(in[moved]);
  int64_t addr = base + offset;
  // The moved address must still fit the field it replaces, so a trace or
  // an error shows a real address.
  if (addr < 0 || uint64_t(addr) >> fieldInfo(moved).bits) {
    fail(fmt::format("the run-time offset {} ({}) moves {}=0x{:x} to {}, "
                     "outside the address space",
                     offset, values, fieldInfo(moved).mnemonic, base, addr));
  }
  Instruction moved_ = in;
  moved_.set(moved, uint64_t(addr));
  try {
    issueCopy(moved_, reads);
  } catch (const Error &e) {
    // Range errors name the moved address; say where it came from.
    throw Error(fmt::format("{} (dma.idx: {}=0x{:x} offset by {})", e.what(),
                            fieldInfo(moved).mnemonic, base, values));
  }
}

void DmaEngine::issueCopy(const Instruction &in,
                          const std::vector<Box> &indexReads) {
  ChipMemory &mem = ctx_.mem;
  Space ss = Space(in[Field::SrcSpace]), ds = Space(in[Field::DstSpace]);
  Box sb = dmaBox(in, true), db = dmaBox(in, false);
  uint64_t peer = in[Field::Core];
  SpaceRef src = spaceRef(ss, peer);
  SpaceRef dst = spaceRef(ds, peer);
  std::string sw = fmt::format("{} source", src.name);
  std::string dw = fmt::format("{} destination", dst.name);
  checkRange(sw.c_str(), src.size, sb.addr, sb.bytes, sb.rows, sb.stride,
             sb.planes, sb.pstride);
  checkRange(dw.c_str(), dst.size, db.addr, db.bytes, db.rows, db.stride,
             db.planes, db.pstride);
  uint64_t dstEnd = db.end();
  if (ds == Space::Sram || (ds == Space::Peer && peer == core_)) {
    mem.noteSramWrite(core_, dstEnd);
  } else if (ds == Space::Peer) {
    mem.noteSramWrite(unsigned(peer), dstEnd);
  } else if (ds == Space::Shared) {
    mem.noteSharedWrite(dstEnd);
  }
  uint64_t total = sb.bytes * sb.rows * sb.planes;
  int64_t id = ctx_.nextTransfer++;
  if (ctx_.races.enabled()) {
    auto memOf = [&](Space sp) -> std::pair<Mem, unsigned> {
      switch (sp) {
      case Space::Dram:
        return {Mem::Dram, 0};
      case Space::Shared:
        return {Mem::Shared, 0};
      case Space::Sram:
        return {Mem::Sram, core_};
      case Space::Peer:
        return {Mem::Sram, unsigned(peer)};
      }
      return {Mem::Dram, 0};
    };
    auto [sm, sc] = memOf(ss);
    auto [dm, dc] = memOf(ds);
    accesses_.clear();
    accesses_.push_back(access(sm, sc, sb, false, Cycles(~0ull), id));
    accesses_.push_back(access(dm, dc, db, true, Cycles(~0ull), id));
    for (const Box &b : indexReads) {
      accesses_.push_back(access(Mem::Dram, 0, b, false, Cycles(~0ull), id));
    }
    ctx_.races.check(*this, accesses_, now());
  }
  if (ctx_.opts.functional) {
    copyRows(src, sb, db, [&](uint64_t da, const uint8_t *row) {
      if (dst.flat) {
        dst.flat->write(da, row, sb.bytes);
      } else {
        try {
          mem.dram.write(da, row, sb.bytes);
        } catch (const Error &e) {
          fail(e.what()); // the host DRAM budget, named at this pc
        }
      }
    });
  }
  bool viaDram = ss == Space::Dram || ds == Space::Dram;
  double linkBytes = double(total);
  if (ss == Space::Dram && ds == Space::Dram) {
    linkBytes *= 2; // read and write both cross the DRAM interface
  }
  if (ss == Space::Dram) {
    dramRead_ += total;
  }
  if (ds == Space::Dram) {
    dramWritten_ += total;
  }
  if (!viaDram) {
    nocBytes_ += total;
  }
  // The index words of a dma.idx crossed the DRAM interface too; their
  // latency is the queue's (DmaEngine::issue), their bytes go with the data.
  if (!indexReads.empty()) {
    uint64_t idxBytes = 4 * indexReads.size();
    dramRead_ += idxBytes;
    if (viaDram) {
      linkBytes += double(idxBytes);
    }
  }
  bytes_ += total;
  startTransfer(viaDram, linkBytes, id);
}

/// dma.dq: packed values and their scales read from DRAM, the expanded
/// values written to this core's SRAM. The link carries the DRAM bytes
/// read (docs/isa.md): that is what the compressed weights save.
void DmaEngine::issueExpand(const Instruction &in) {
  const target::Target &tgt = ctx_.tgt;
  ChipMemory &mem = ctx_.mem;
  const uint64_t bits = in[Field::QBits], rows = in[Field::Rows],
                 cols = in[Field::Cols], group = in[Field::QGroup];
  // qcgroup 0 (a 1.3 program's reserved bits) is a scale per column.
  const uint64_t cgroup = std::max<uint64_t>(1, in[Field::QCGroup]);
  const Dtype out = Dtype(in[Field::DType]);
  if (bits != 8 && bits != 4) {
    fail(fmt::format("qbits={} (dma.dq expands 8- or 4-bit values)", bits));
  }
  if (bits == 4 && cols % 2 != 0) {
    fail(fmt::format("cols={} is odd: 4-bit values pack two a byte, so a row "
                     "holds an even number",
                     cols));
  }
  if (out != Dtype::BF16 && out != Dtype::F16 && out != Dtype::F32) {
    fail(fmt::format("dtype={} (dma.dq writes bf16, f16 or f32)",
                     dtypeName(out)));
  }
  if (group == 0) {
    fail("qgroup=0 (at least one row per row of scales)");
  }
  const unsigned eo = dtypeBytes(out);
  const uint64_t packedBytes = cols * bits / 8;
  const uint64_t scaleRows = (rows + group - 1) / group;
  const uint64_t scaleCols = (cols + cgroup - 1) / cgroup;
  Box sb = Box::tile(in[Field::Src], in[Field::SrcStride], rows, packedBytes);
  Box qb = Box::tile(in[Field::QScale], in[Field::QScaleStride], scaleRows,
                     scaleCols * 4);
  Box db = Box::tile(in[Field::Dst], in[Field::Ldd], rows, cols * eo);
  checkRange("DRAM source", tgt.dram.bytes, sb.addr, sb.bytes, sb.rows,
             sb.stride, 1, 0);
  checkRange("qscale", tgt.dram.bytes, qb.addr, qb.bytes, qb.rows, qb.stride, 1,
             0);
  if (qb.addr % 4 != 0 || (qb.rows > 1 && qb.stride % 4 != 0)) {
    fail(fmt::format("qscale=0x{:x} (stride {}) is not 4-byte aligned (the "
                     "scales are fp32)",
                     qb.addr, qb.stride));
  }
  checkRange("SRAM destination", tgt.sram.bytesPerCore, db.addr, db.bytes,
             db.rows, db.stride, 1, 0);
  if (db.addr % eo != 0 || db.stride % eo != 0) {
    fail(fmt::format("dst=0x{:x} (ldd {}) is misaligned for {}", db.addr,
                     db.stride, dtypeName(out)));
  }
  mem.noteSramWrite(core_, db.end());
  int64_t id = ctx_.nextTransfer++;
  if (ctx_.races.enabled()) {
    accesses_.clear();
    accesses_.push_back(access(Mem::Dram, 0, sb, false, Cycles(~0ull), id));
    accesses_.push_back(access(Mem::Dram, 0, qb, false, Cycles(~0ull), id));
    accesses_.push_back(access(Mem::Sram, core_, db, true, Cycles(~0ull), id));
    ctx_.races.check(*this, accesses_, now());
  }
  if (ctx_.opts.functional) {
    std::vector<uint8_t> packed(packedBytes), row(cols * eo);
    std::vector<float> stored(scaleCols), scales(cols);
    for (uint64_t r = 0; r < rows; ++r) {
      if (r % group == 0) {
        mem.dram.read(qb.addr + (r / group) * qb.stride, stored.data(),
                      scaleCols * 4);
        for (uint64_t c = 0; c < cols; ++c) {
          scales[c] = stored[c / cgroup];
        }
      }
      mem.dram.read(sb.addr + r * sb.stride, packed.data(), packedBytes);
      dequantizeRow(unsigned(bits), packed.data(), scales.data(), cols, out,
                    row.data());
      mem.sram[core_].write(db.addr + r * db.stride, row.data(), row.size());
    }
  }
  const uint64_t read = packedBytes * rows + qb.bytes * qb.rows;
  dramRead_ += read;
  bytes_ += read;
  startTransfer(true, double(read), id);
}

/// dma.mcast: the source is read once and its bytes cross the source's link
/// once; the fan-out to the destination scratchpads is free (the model of
/// docs/simulator.md, "Multicast").
void DmaEngine::issueMulticast(const Instruction &in) {
  const target::Target &tgt = ctx_.tgt;
  ChipMemory &mem = ctx_.mem;
  Space ss = Space(in[Field::SrcSpace]);
  uint64_t mask = in[Field::Cores];
  if (mask == 0) {
    fail("cores=0: the multicast names no destination core");
  }
  if (tgt.cores < 64 && (mask >> tgt.cores) != 0) {
    unsigned bad = 0;
    while (bad < tgt.cores || !((mask >> bad) & 1)) {
      ++bad;
    }
    fail(fmt::format("cores=0x{:x} names core {}, which does not exist "
                     "(target {} has {} cores)",
                     mask, bad, tgt.name, tgt.cores));
  }
  std::vector<unsigned> dsts;
  for (unsigned c = 0; c < tgt.cores; ++c) {
    if ((mask >> c) & 1) {
      dsts.push_back(c);
    }
  }
  Box sb = dmaBox(in, true), db = dmaBox(in, false);
  // A peer source is core `core`'s SRAM, read once over the NoC (an
  // intermediate one core keeps for the others, on a chip without shared
  // SRAM).
  const uint64_t peer = in[Field::Core];
  SpaceRef src = spaceRef(ss, peer);
  std::string sw = fmt::format("{} source", src.name);
  checkRange(sw.c_str(), src.size, sb.addr, sb.bytes, sb.rows, sb.stride,
             sb.planes, sb.pstride);
  for (unsigned c : dsts) {
    std::string dw = fmt::format("SRAM destination of core {}", c);
    checkRange(dw.c_str(), tgt.sram.bytesPerCore, db.addr, db.bytes, db.rows,
               db.stride, db.planes, db.pstride);
  }
  uint64_t dstEnd = db.end();
  for (unsigned c : dsts) {
    mem.noteSramWrite(c, dstEnd);
  }
  int64_t id = ctx_.nextTransfer++;
  if (ctx_.races.enabled()) {
    Mem sm = ss == Space::Dram     ? Mem::Dram
             : ss == Space::Shared ? Mem::Shared
                                   : Mem::Sram;
    unsigned sc = ss == Space::Peer ? unsigned(peer)
                  : sm == Mem::Sram ? core_
                                    : 0;
    accesses_.clear();
    accesses_.push_back(access(sm, sc, sb, false, Cycles(~0ull), id));
    for (unsigned c : dsts) {
      accesses_.push_back(access(Mem::Sram, c, db, true, Cycles(~0ull), id));
    }
    ctx_.races.check(*this, accesses_, now());
  }
  if (ctx_.opts.functional) {
    copyRows(src, sb, db, [&](uint64_t da, const uint8_t *row) {
      for (unsigned c : dsts) {
        mem.sram[c].write(da, row, sb.bytes);
      }
    });
  }
  uint64_t total = sb.bytes * sb.rows * sb.planes;
  if (ss == Space::Dram) {
    dramRead_ += total;
  } else {
    nocBytes_ += total;
  }
  bytes_ += total;
  startTransfer(ss == Space::Dram, double(total), id);
}

void DmaEngine::startTransfer(bool viaDram, double linkBytes, int64_t id) {
  MemoryLink &link = viaDram ? *ctx_.dram : *ctx_.noc;
  Transfer tr;
  tr.seq = beginOp();
  tr.id = id;
  tr.bytes = linkBytes;
  tr.viaDram = viaDram;
  tr.issue = now();
  tr.ideal = link.uncontendedCycles(linkBytes);
  tr.pc = pc_;
  unsigned slot = 0;
  while (slot < slotBusy_.size() && slotBusy_[slot]) {
    ++slot;
  }
  if (slot == slotBusy_.size()) {
    slotBusy_.push_back(false);
    slots_.emplace_back();
    ctx_.trace.noteSlot(core_, kind_, slot);
  }
  slotBusy_[slot] = true;
  slots_[slot] = tr;
  if (active_++ == 0) {
    activeSince_ = now();
  }
  link.submit(LinkTransfer{this, slot, linkBytes});
}

void DmaEngine::transferDone(uint32_t slot) {
  const Transfer tr = slots_[slot];
  ctx_.races.transferDone(tr.id);
  Cycles t = now();
  uint64_t took = (t - tr.issue).count();
  if (t - tr.issue > tr.ideal) {
    addStall(tr.viaDram ? Reason::DramContention : Reason::NocContention,
             (t - tr.issue - tr.ideal).count());
  }
  if (--active_ == 0) {
    busyCycles_ += (t - activeSince_).count();
  }
  slotBusy_[slot] = false;
  if (ctx_.trace.enabled()) {
    const Instruction &inst = stream_->insts[tr.pc];
    slice(
        ctx_.trace.slotTrack(kind_, slot),
        [&] {
          std::string to =
              inst.opcode == Opcode::DmaMcast
                  ? fmt::format("mcast 0x{:x}", inst[Field::Cores])
                  : enumName(FieldKind::Space, inst[Field::DstSpace]);
          return fmt::format("{}->{} {}B pc{}",
                             enumName(FieldKind::Space, inst[Field::SrcSpace]),
                             to, uint64_t(tr.bytes), tr.pc);
        },
        tr.issue, std::max<uint64_t>(1, took));
  }
  opDone(tr.seq);
}

} // namespace nuri::sim::detail
