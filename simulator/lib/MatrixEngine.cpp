//===- MatrixEngine.cpp - The systolic MAC array of one core --------------===//

#include "MatrixEngine.h"

#include "Kernels.h"

#include "nuri/target/CostModel.h"

#include <fmt/format.h>

#include <algorithm>

namespace nuri::sim::detail {

using namespace isa;

void MatrixEngine::resetEngine() {
  accInFlight_.clear();
  lastAcc_ = ~0ull;
  lastM_ = lastN_ = 0;
  streamEnd_ = Cycles(0);
  macs_ = 0;
  macCycles_ = 0;
}

void MatrixEngine::gather(CoreStats &cs) const {
  EngineQueue::gather(cs);
  cs.macs += macs_;
  cs.macCycles += macCycles_;
}

bool MatrixEngine::issue(const Instruction &in) {
  const target::Target &tgt = ctx_.tgt;
  Dtype at = Dtype(in[Field::AType]), bt = Dtype(in[Field::BType]);
  uint64_t m = in[Field::M], n = in[Field::N], k = in[Field::K];
  bool accumulate = in[Field::Accumulate];
  bool intPath = at == Dtype::I8 && bt == Dtype::I8;
  bool floatPath = isFloatDtype(at) && isFloatDtype(bt) && at != Dtype::F32 &&
                   bt != Dtype::F32 && (at == bt || (isFp8(at) && isFp8(bt)));
  if (!intPath && !floatPath) {
    fail(fmt::format("dtype mismatch: atype {} with btype {} (allowed: "
                     "i8 x i8, equal bf16/f16, any fp8 pair)",
                     dtypeName(at), dtypeName(bt)));
  }
  for (Dtype d : {at, bt}) {
    if (!tgt.supports(d)) {
      fail(fmt::format("dtype {} is not supported by the matrix engine "
                       "of target {}",
                       dtypeName(d), tgt.name));
    }
  }
  if (m == 0 || n == 0 || k == 0) {
    fail("empty tile (m, n and k must be >= 1)");
  }
  uint64_t accLo = in[Field::Acc], accHi = accLo + m * n;
  if (accHi > ctx_.mem.accEntries) {
    fail(fmt::format("accumulator entries [{}, {}) out of bounds ({} "
                     "entries)",
                     accLo, accHi, ctx_.mem.accEntries));
  }
  Box a = checkTile("A", in[Field::A], in[Field::Lda], m, k, at, false);
  Box b = checkTile("B", in[Field::B], in[Field::Ldb], k, n, bt, false);

  // Hazard: accumulating into entries another in-flight tile still writes
  // must wait for it, except the chained case (same tile, accumulate),
  // where partial sums never leave the array.
  Cycles t = now();
  while (!accInFlight_.empty() && accInFlight_.front().done <= t) {
    accInFlight_.pop_front();
  }
  bool chained = accumulate && accLo == lastAcc_ && m == lastM_ && n == lastN_;
  Cycles hazard(0);
  if (!chained) {
    for (const AccUse &u : accInFlight_) {
      if (u.lo < accHi && accLo < u.hi) {
        hazard = std::max(hazard, u.done);
      }
    }
  }
  if (hazard > t) {
    stallUntil(hazard, Reason::AccHazard, [] { return "stall: acc_hazard"; });
    return false; // re-issue the same pc when the hazard clears
  }

  // Timing (docs/simulator.md, "Matrix engine"; target/CostModel.h).
  bool cold = streamEnd_ < t || streamEnd_ == Cycles(0);
  target::MatmulCost cost = target::matmulCost(
      tgt, m, n, k, at, bt, in[Field::Lda], in[Field::Ldb], cold);
  uint64_t occupancy = cost.occupancy;
  Cycles done = t + Cycles(cost.latency());
  addStall(Reason::BankConflict, occupancy - cost.idealCycles);
  if (ctx_.races.enabled()) {
    accesses_.clear();
    accesses_.push_back(
        access(Mem::Sram, core_, a, false, t + Cycles(occupancy)));
    accesses_.push_back(
        access(Mem::Sram, core_, b, false, t + Cycles(occupancy)));
    accesses_.push_back(access(Mem::Acc, core_,
                               Box::tile(accLo * 4, 0, 1, (accHi - accLo) * 4),
                               true, done));
    ctx_.races.check(*this, accesses_, t);
  }

  if (ctx_.opts.functional) {
    ChipMemory &mem = ctx_.mem;
    mem.touchAcc(core_);
    uint8_t *base = mem.sram[core_].data();
    uint8_t want = intPath ? 1 : 2;
    auto &tags = mem.accTag[core_];
    if (accumulate) {
      for (uint64_t e = accLo; e < accHi; ++e) {
        if (tags[e] && tags[e] != want) {
          fail(fmt::format("dtype mismatch: accumulating {} into {} "
                           "accumulator entry {}",
                           want == 1 ? "i32" : "f32",
                           tags[e] == 1 ? "i32" : "f32", e));
        }
      }
    }
    uint32_t *accp = mem.acc[core_].data() + accLo;
    if (intPath) {
      matmulInt8(base + in[Field::A], in[Field::Lda], base + in[Field::B],
                 in[Field::Ldb], m, n, k, reinterpret_cast<int32_t *>(accp),
                 accumulate);
    } else {
      matmulFloat(base + in[Field::A], in[Field::Lda], at, base + in[Field::B],
                  in[Field::Ldb], bt, m, n, k, reinterpret_cast<float *>(accp),
                  accumulate);
    }
    std::fill(tags.begin() + accLo, tags.begin() + accHi, want);
  }

  macs_ += m * n * k;
  // Mixed fp8 runs at the slower operand's rate (CostModel does the same).
  const auto &mpc = tgt.matrix.macsPerCycle;
  macCycles_ += double(m * n * k) / double(std::min(mpc.at(at), mpc.at(bt)));
  accInFlight_.push_back(AccUse{accLo, accHi, done});
  lastAcc_ = accLo;
  lastM_ = m;
  lastN_ = n;
  streamEnd_ = t + Cycles(occupancy);
  size_t pc = pc_;
  occupy(occupancy, done, [&] {
    return fmt::format("mm {}x{}x{} {} pc{}", m, n, k, dtypeName(at), pc);
  });
  return true;
}

} // namespace nuri::sim::detail
