//===- Stall.h - Why a queue was not issuing --------------------*- C++ -*-===//
//
// The stall reasons of docs/simulator.md as a type: components count cycles
// per reason in a plain array (no string lookups while simulating); the names
// appear only when the statistics are gathered into the Report.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_STALL_H
#define NURI_SIM_LIB_STALL_H

#include "nuri/isa/Isa.h"

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace nuri::sim::detail {

enum class Reason : uint8_t {
  WaitDma,
  WaitMat,
  WaitVec,
  WaitFetch,
  Barrier,
  DmaQueueFull,
  AccHazard,
  VectorRaw,
  BankConflict,
  Drain,
  DramContention,
  NocContention,
  Count
};

inline const char *reasonName(Reason r) {
  static const char *names[] = {
      "wait_dma",   "wait_mat",        "wait_vec",
      "wait_fetch", "barrier",         "dma_queue_full",
      "acc_hazard", "vector_raw",      "sram_bank_conflict",
      "drain",      "dram_contention", "noc_contention"};
  static_assert(sizeof(names) / sizeof(names[0]) == unsigned(Reason::Count));
  return names[static_cast<unsigned>(r)];
}

/// The reason a `sem.wait` is charged to: the engine kind that signalled.
inline Reason waitReason(isa::Engine signaller) {
  switch (signaller) {
  case isa::Engine::Dma:
    return Reason::WaitDma;
  case isa::Engine::Matrix:
    return Reason::WaitMat;
  case isa::Engine::Vector:
    return Reason::WaitVec;
  case isa::Engine::Fetch:
    return Reason::WaitFetch;
  }
  return Reason::WaitDma;
}

/// Stall cycles by reason, owned by one queue.
class StallCounters {
public:
  void add(Reason r, uint64_t cycles) {
    c_[static_cast<unsigned>(r)] += cycles;
  }
  uint64_t operator[](Reason r) const { return c_[static_cast<unsigned>(r)]; }
  /// Adds the nonzero counters to a report's name -> cycles map (a reason
  /// that never stalled has no entry, as the report always had it).
  void addTo(std::map<std::string, uint64_t> &out) const {
    for (unsigned i = 0; i < unsigned(Reason::Count); ++i) {
      if (c_[i]) {
        out[reasonName(Reason(i))] += c_[i];
      }
    }
  }

private:
  std::array<uint64_t, unsigned(Reason::Count)> c_{};
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_STALL_H
