//===- Memory.h - Simulated memories ----------------------------*- C++ -*-===//
//
// SRAMs are flat arrays allocated on first touch (a timing-only run never
// allocates them); DRAM is paged because configs describe tens of GB of which
// a program touches a few MB.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_MEMORY_H
#define NURI_SIM_LIB_MEMORY_H

#include "nuri/isa/Result.h"
#include "nuri/target/Target.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace nuri::sim::detail {

class FlatMemory {
public:
  explicit FlatMemory(uint64_t size = 0) : size_(size) {}
  uint64_t size() const { return size_; }
  uint8_t *data() {
    if (!data_) {
      // calloc, not a zero-filled vector: a large calloc is fresh mmap'd
      // memory the kernel zeroes page by page on first touch, so a program
      // that writes a few KB of a 32 MiB scratchpad costs a few KB (rngd's
      // 8 x 32 MiB took 0.3 s of memset per run).
      data_.reset(static_cast<uint8_t *>(std::calloc(size_, 1)));
      if (!data_ && size_) {
        throw std::bad_alloc();
      }
    }
    return data_.get();
  }
  void read(uint64_t addr, void *dst, uint64_t n) const {
    if (!data_) {
      std::memset(dst, 0, n);
    } else {
      std::memcpy(dst, data_.get() + addr, n);
    }
  }
  void write(uint64_t addr, const void *src, uint64_t n) {
    std::memcpy(data() + addr, src, n);
  }

private:
  struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  uint64_t size_;
  std::unique_ptr<uint8_t[], Free> data_;
};

class PagedMemory {
public:
  static constexpr unsigned kPageBits = 16;
  static constexpr uint64_t kPageSize = 1ull << kPageBits;

  explicit PagedMemory(uint64_t size = 0) : size_(size) {}
  uint64_t size() const { return size_; }
  /// Host bytes the pages may occupy; a write needing more throws
  /// nuri::Error instead of exhausting the host.
  void setBudget(uint64_t bytes) { budgetPages_ = bytes / kPageSize; }
  uint64_t residentBytes() const { return resident_ * kPageSize; }

  void read(uint64_t addr, void *dst, uint64_t n) const {
    auto *out = static_cast<uint8_t *>(dst);
    while (n) {
      uint64_t page = addr >> kPageBits, off = addr & (kPageSize - 1);
      uint64_t take = std::min(n, kPageSize - off);
      if (page < pages_.size() && pages_[page]) {
        std::memcpy(out, pages_[page].get() + off, take);
      } else {
        std::memset(out, 0, take);
      }
      out += take;
      addr += take;
      n -= take;
    }
  }
  void write(uint64_t addr, const void *src, uint64_t n) {
    auto *in = static_cast<const uint8_t *>(src);
    while (n) {
      uint64_t page = addr >> kPageBits, off = addr & (kPageSize - 1);
      uint64_t take = std::min(n, kPageSize - off);
      if (page >= pages_.size()) {
        pages_.resize(page + 1);
      }
      if (!pages_[page]) {
        if (resident_ >= budgetPages_) {
          throw Error(fmt::format(
              "functional DRAM image would exceed {} MiB of host memory "
              "(use --timing-only, or raise SimOptions::maxHostDramBytes)",
              budgetPages_ * kPageSize >> 20));
        }
        pages_[page].reset(new uint8_t[kPageSize]());
        ++resident_;
      }
      std::memcpy(pages_[page].get() + off, in, take);
      in += take;
      addr += take;
      n -= take;
    }
  }

private:
  uint64_t size_;
  std::vector<std::unique_ptr<uint8_t[]>> pages_;
  uint64_t resident_ = 0;
  uint64_t budgetPages_ = ~0ull;
};

/// Every memory of the chip: DRAM, the shared SRAM, each core's scratchpad
/// and accumulator buffer. Contents persist across runs (a runtime loads its
/// weights once); the statistics are per run.
struct ChipMemory {
  ChipMemory(const target::Target &t, uint64_t hostDramBudget)
      : dram(t.dram.bytes), shared(t.sram.sharedBytes),
        accEntries(t.matrix.accBytes / 4) {
    dram.setBudget(hostDramBudget);
    sram.reserve(t.cores);
    for (unsigned c = 0; c < t.cores; ++c) {
      sram.emplace_back(t.sram.bytesPerCore);
    }
    acc.resize(t.cores);
    accTag.resize(t.cores);
    sramPeak.assign(t.cores, 0);
  }

  PagedMemory dram;
  FlatMemory shared;
  std::vector<FlatMemory> sram;
  std::vector<std::vector<uint32_t>> acc;   ///< raw bits per entry
  std::vector<std::vector<uint8_t>> accTag; ///< 0 unwritten, 1 i32, 2 f32
  uint64_t accEntries;

  /// Allocates a core's accumulator on first use (timing-only runs never
  /// do).
  void touchAcc(unsigned core) {
    if (acc[core].empty()) {
      acc[core].assign(accEntries, 0);
      accTag[core].assign(accEntries, 0);
    }
  }

  // ---- statistics of the current run -------------------------------------
  /// Highest SRAM byte written + 1, per core, and of the shared SRAM.
  std::vector<uint64_t> sramPeak;
  uint64_t sharedPeak = 0;
  void resetStats() {
    std::fill(sramPeak.begin(), sramPeak.end(), 0);
    sharedPeak = 0;
  }
  void noteSramWrite(unsigned core, uint64_t end) {
    sramPeak[core] = std::max(sramPeak[core], end);
  }
  void noteSharedWrite(uint64_t end) { sharedPeak = std::max(sharedPeak, end); }
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_MEMORY_H
