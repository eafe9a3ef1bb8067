//===- RaceDetector.cpp - Overlapping in-flight accesses ------------------===//

#include "RaceDetector.h"

#include "EngineQueue.h"

#include <fmt/format.h>

#include <algorithm>

namespace nuri::sim::detail {

namespace {

/// Does [x, x+w) intersect a row of the 2-D box (rows at base + r*stride)?
bool rowHits(uint64_t x, uint64_t w, const Box &b, uint64_t base) {
  if (b.rows == 1 || b.stride == 0) {
    return base < x + w && base + b.bytes > x;
  }
  // Rows r with base + r*s < x + w and base + r*s + bytes > x.
  __int128 lo = (__int128)x - (__int128)b.bytes - (__int128)base;
  __int128 hi = (__int128)x + (__int128)w - (__int128)base;
  __int128 s = b.stride;
  __int128 rmin = lo < 0 ? 0 : lo / s + 1;
  if (hi <= 0) {
    return false;
  }
  __int128 rmax = std::min<__int128>((hi - 1) / s, (__int128)b.rows - 1);
  return rmin <= rmax;
}

const char *memName(Mem m) {
  switch (m) {
  case Mem::Dram:
    return "DRAM";
  case Mem::Shared:
    return "shared SRAM";
  case Mem::Sram:
    return "SRAM";
  case Mem::Acc:
    return "accumulator";
  }
  return "?";
}

} // namespace

bool RaceDetector::overlaps(Box a, Box b) {
  if (a.addr >= b.end() || b.addr >= a.end()) {
    return false;
  }
  if (a.rows * a.planes > b.rows * b.planes) {
    std::swap(a, b);
  }
  // Exact test, bounded: a pathological pair is skipped rather than
  // reported, so the detector never raises a false alarm.
  if (a.rows * a.planes * b.planes > (1u << 16)) {
    return false;
  }
  for (uint64_t p = 0; p < a.planes; ++p) {
    for (uint64_t r = 0; r < a.rows; ++r) {
      uint64_t x = a.addr + p * a.pstride + r * a.stride;
      for (uint64_t q = 0; q < b.planes; ++q) {
        if (rowHits(x, a.bytes, b, b.addr + q * b.pstride)) {
          return true;
        }
      }
    }
  }
  return false;
}

void RaceDetector::check(const EngineQueue &q, const std::vector<Access> &accs,
                         Cycles now) {
  if (!enabled_) {
    return;
  }
  inflight_.erase(std::remove_if(inflight_.begin(), inflight_.end(),
                                 [&](const Access &e) {
                                   return e.transfer == kNoTransfer &&
                                          e.end <= now;
                                 }),
                  inflight_.end());
  for (const Access &a : accs) {
    for (const Access &e : inflight_) {
      // Two DMA transfers race even on one queue: they run concurrently.
      bool bothDma = e.transfer != kNoTransfer && a.transfer != kNoTransfer;
      if (e.mem != a.mem || e.core != a.core || !(e.write || a.write) ||
          (e.queue == a.queue && !bothDma) || !overlaps(e.box, a.box)) {
        continue;
      }
      const EngineQueue &other = *e.queue;
      q.fail(fmt::format(
          "race: {} {} [0x{:x}, 0x{:x}) of core {} while core {} engine {} "
          "pc {} `{}` still {} it; no semaphore or barrier orders them",
          a.write ? "writes" : "reads", memName(a.mem), a.box.addr, a.box.end(),
          a.core, other.core(), isa::engineName(other.kind()), e.pc,
          isa::formatInstruction(other.stream()->insts[e.pc]),
          e.write ? "writes" : "reads"));
    }
  }
  inflight_.insert(inflight_.end(), accs.begin(), accs.end());
}

void RaceDetector::transferDone(int64_t transfer) {
  inflight_.erase(
      std::remove_if(inflight_.begin(), inflight_.end(),
                     [&](const Access &e) { return e.transfer == transfer; }),
      inflight_.end());
}

} // namespace nuri::sim::detail
