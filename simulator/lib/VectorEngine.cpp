//===- VectorEngine.cpp - The SIMD lanes of one core ----------------------===//

#include "VectorEngine.h"

#include "Kernels.h"

#include "nuri/target/CostModel.h"

#include <fmt/format.h>

namespace nuri::sim::detail {

using namespace isa;

namespace {
const char *accTagName(uint8_t tag) {
  return tag == 1 ? "i32" : tag == 2 ? "f32" : "unwritten";
}
} // namespace

void VectorEngine::resetEngine() {
  tiles_.clear();
  lastDstLo_ = lastDstHi_ = 0;
  lastDone_ = Cycles(0);
}

void VectorEngine::tile(const char *what, uint64_t addr, uint64_t ld,
                        uint64_t rows, uint64_t cols, Dtype d, bool write) {
  tiles_.emplace_back(checkTile(what, addr, ld, rows, cols, d, write), write);
}

bool VectorEngine::readAfterWrite(std::pair<uint64_t, uint64_t> s0,
                                  std::pair<uint64_t, uint64_t> s1) {
  if (lastDone_ <= now()) {
    return false;
  }
  for (auto [lo, hi] : {s0, s1}) {
    if (lo < lastDstHi_ && lastDstLo_ < hi) {
      stallUntil(lastDone_, Reason::VectorRaw,
                 [] { return "stall: vector_raw"; });
      return true;
    }
  }
  return false;
}

bool VectorEngine::issue(const Instruction &in) {
  const target::Target &tgt = ctx_.tgt;
  Opcode op = in.opcode;
  Dtype dt = Dtype(in[Field::DType]);
  Dtype st = Dtype(in[Field::SType]);
  uint64_t rows = in[Field::Rows], cols = in[Field::Cols];

  if (op == Opcode::VecAccRead) {
    rows = in[Field::M];
    cols = in[Field::N];
  }
  tiles_.clear();
  if (rows == 0 || cols == 0) {
    fail("empty tile (rows and cols must be >= 1)");
  }
  switch (op) {
  case Opcode::VecBinary: {
    Bcast bc = Bcast(in[Field::BcastF]);
    tile("src", in[Field::Src], in[Field::Lds], rows, cols, st, false);
    uint64_t r1 = bc == Bcast::Row ? 1 : rows, c1 = bc == Bcast::Col ? 1 : cols;
    tile("src1", in[Field::Src1], in[Field::Lds1], r1, c1, st, false);
    tile("dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
    break;
  }
  case Opcode::VecScalar:
  case Opcode::VecUnary:
    tile("src", in[Field::Src], in[Field::Lds], rows, cols, st, false);
    tile("dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
    break;
  case Opcode::VecReduce:
    tile("src", in[Field::Src], in[Field::Lds], rows, cols, st, false);
    tile("dst", in[Field::Dst], dtypeBytes(dt), rows, 1, dt, true);
    break;
  case Opcode::VecBcast: {
    Bcast bc = Bcast(in[Field::BcastF]);
    if (bc == Bcast::None) {
      fail("vec.bcast needs bcast=row or bcast=col");
    }
    uint64_t n = bc == Bcast::Row ? cols : rows;
    tile("src", in[Field::Src], dtypeBytes(st), 1, n, st, false);
    tile("dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
    break;
  }
  case Opcode::VecTranspose:
    tile("src", in[Field::Src], in[Field::Lds], rows, cols, dt, false);
    tile("dst", in[Field::Dst], in[Field::Ldd], cols, rows, dt, true);
    break;
  case Opcode::VecFill:
    tile("dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
    break;
  case Opcode::VecAccRead: {
    uint64_t lo = in[Field::Acc], hi = lo + rows * cols;
    if (hi > ctx_.mem.accEntries) {
      fail(fmt::format("accumulator entries [{}, {}) out of bounds ({} "
                       "entries)",
                       lo, hi, ctx_.mem.accEntries));
    }
    tile("dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
    if (in[Field::UseScale]) {
      tile("scale", in[Field::Scale], 4, 1, cols, Dtype::F32, false);
    }
    if (in[Field::UseBias]) {
      tile("bias", in[Field::Bias], 4, 1, cols, Dtype::F32, false);
    }
    if (in[Field::UseObias]) {
      tile("obias", in[Field::Obias], 4, 1, cols, Dtype::F32, false);
    }
    break;
  }
  default:
    fail("not a vector instruction");
  }
  // What the timing reads of it (target/CostModel.h, shared with the
  // compiler's estimates). The pipeline interlocks on the previous vector
  // op only; older results are complete by then.
  const target::VectorOp v = *target::describeVectorOp(tgt, in);
  if (readAfterWrite(v.reads[0], v.reads[1]) ||
      readAfterWrite(v.reads[2], {0, 0})) {
    return false;
  }

  // Timing (docs/simulator.md, "Vector engine"; target/CostModel.h).
  target::VectorCost cost = v.cost(tgt);
  uint64_t occupancy = cost.occupancy;
  addStall(Reason::BankConflict, occupancy - cost.idealCycles);
  Cycles t = now();
  Cycles done = t + Cycles(cost.latency());
  if (ctx_.races.enabled()) {
    accesses_.clear();
    for (auto &[box, write] : tiles_) {
      accesses_.push_back(access(Mem::Sram, core_, box, write,
                                 write ? done : t + Cycles(occupancy)));
    }
    if (op == Opcode::VecAccRead) {
      accesses_.push_back(access(
          Mem::Acc, core_, Box::tile(in[Field::Acc] * 4, 0, 1, rows * cols * 4),
          false, t + Cycles(occupancy)));
    }
    ctx_.races.check(*this, accesses_, t);
  }

  if (ctx_.opts.functional) {
    ChipMemory &mem = ctx_.mem;
    const uint32_t *acc = nullptr;
    bool accIsInt = false;
    if (op == Opcode::VecAccRead) {
      mem.touchAcc(core_);
      uint64_t lo = in[Field::Acc];
      const auto &tags = mem.accTag[core_];
      uint8_t tag = tags[lo];
      for (uint64_t e = lo; e < lo + rows * cols; ++e) {
        if (tags[e] != tag) {
          fail(fmt::format("dtype mismatch: accumulator tile mixes {} and "
                           "{} entries",
                           accTagName(tag), accTagName(tags[e])));
        }
      }
      acc = mem.acc[core_].data() + lo;
      accIsInt = tag == 1;
    }
    vectorOp(in, mem.sram[core_].data(), rows, cols, acc, accIsInt);
  }
  lastDstLo_ = v.write.first;
  lastDstHi_ = v.write.second;
  lastDone_ = done;
  size_t pc = pc_;
  occupy(occupancy, done, [&]() -> std::string {
    switch (op) {
    case Opcode::VecBinary:
      return fmt::format("{} pc{}",
                         enumName(FieldKind::BinOp, in[Field::BinOpF]), pc);
    case Opcode::VecScalar:
      return fmt::format("{} pc{}",
                         enumName(FieldKind::BinOp, in[Field::BinOpF]), pc);
    case Opcode::VecUnary:
      return fmt::format("{} pc{}", enumName(FieldKind::UnOp, in[Field::UnOpF]),
                         pc);
    case Opcode::VecReduce:
      return fmt::format("reduce.{} pc{}",
                         enumName(FieldKind::RedOp, in[Field::RedOpF]), pc);
    case Opcode::VecBcast:
      return fmt::format("bcast pc{}", pc);
    case Opcode::VecTranspose:
      return fmt::format("transpose pc{}", pc);
    case Opcode::VecFill:
      return fmt::format("fill pc{}", pc);
    default:
      return fmt::format("accrd {}x{} pc{}", rows, cols, pc);
    }
  });
  return true;
}

} // namespace nuri::sim::detail
