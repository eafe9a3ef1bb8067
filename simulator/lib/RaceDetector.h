//===- RaceDetector.h - Overlapping in-flight accesses ----------*- C++ -*-===//
//
// Effects apply when an instruction issues, so a program whose engines touch
// the same bytes while both are in flight (one writing) would compute the
// "right" answer here and a timing-dependent one on hardware. The detector
// keeps every in-flight access until its operation completes; an
// overlapping access from another queue (or from another DMA transfer) is a
// race: the program lacks a semaphore or barrier (docs/simulator.md,
// "Races").
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_RACEDETECTOR_H
#define NURI_SIM_LIB_RACEDETECTOR_H

#include "nuri/sim/Time.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nuri::sim::detail {

class EngineQueue;

enum class Mem : uint8_t { Dram, Shared, Sram, Acc };

/// A strided 3-D byte region: `planes` of `rows` rows of `bytes` bytes.
struct Box {
  uint64_t addr = 0, bytes = 0, rows = 1, stride = 0, planes = 1, pstride = 0;

  /// A 2-D tile of `rows` rows `ld` bytes apart.
  static Box tile(uint64_t addr, uint64_t ld, uint64_t rows,
                  uint64_t rowBytes) {
    Box b;
    b.addr = addr;
    b.stride = ld;
    b.rows = rows;
    b.bytes = rowBytes;
    return b;
  }
  /// One past the last byte.
  uint64_t end() const {
    return addr + (rows - 1) * stride + (planes - 1) * pstride + bytes;
  }
};

/// No DMA transfer (a compute operand).
constexpr int64_t kNoTransfer = -1;

struct Access {
  Mem mem;
  unsigned core;
  Box box;
  bool write;
  const EngineQueue *queue;
  size_t pc;
  Cycles end;       ///< completion cycle (DMA: removed explicitly)
  int64_t transfer; ///< DMA transfer id, else kNoTransfer
};

class RaceDetector {
public:
  explicit RaceDetector(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  void reset() { inflight_.clear(); }
  /// Checks the accesses of one instruction of `q` against everything in
  /// flight at `now` (failing the run, naming both instructions, on a
  /// race), then records them.
  void check(const EngineQueue &q, const std::vector<Access> &accs, Cycles now);
  /// A DMA transfer completed: its accesses are no longer in flight.
  void transferDone(int64_t transfer);

  static bool overlaps(Box a, Box b);

private:
  bool enabled_;
  std::vector<Access> inflight_;
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_RACEDETECTOR_H
