//===- Time.h - Cycles and seconds, kept apart ------------------*- C++ -*-===//
//
// Simulated time is counted in cycles of the chip clock; wall-clock figures
// (seconds, bandwidth) are derived in exactly one place, the ClockDomain, so
// a cycle count can never be mistaken for a duration (gem5's ClockedObject
// habit).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_TIME_H
#define NURI_SIM_TIME_H

#include <cstdint>

namespace nuri::sim {

/// A number of chip clock cycles.
class Cycles {
public:
  constexpr Cycles() = default;
  constexpr explicit Cycles(uint64_t c) : c_(c) {}
  constexpr uint64_t count() const { return c_; }
  constexpr Cycles operator+(Cycles o) const { return Cycles(c_ + o.c_); }
  constexpr Cycles operator-(Cycles o) const { return Cycles(c_ - o.c_); }
  Cycles &operator+=(Cycles o) {
    c_ += o.c_;
    return *this;
  }
  constexpr bool operator<(Cycles o) const { return c_ < o.c_; }
  constexpr bool operator<=(Cycles o) const { return c_ <= o.c_; }
  constexpr bool operator>(Cycles o) const { return c_ > o.c_; }
  constexpr bool operator>=(Cycles o) const { return c_ >= o.c_; }
  constexpr bool operator==(Cycles o) const { return c_ == o.c_; }
  constexpr bool operator!=(Cycles o) const { return c_ != o.c_; }

private:
  uint64_t c_ = 0;
};

/// Wall-clock seconds of simulated (not host) time.
class Seconds {
public:
  constexpr Seconds() = default;
  constexpr explicit Seconds(double s) : s_(s) {}
  constexpr double value() const { return s_; }

private:
  double s_ = 0;
};

/// The one place cycles and seconds meet.
class ClockDomain {
public:
  explicit ClockDomain(double hz) : hz_(hz) {}
  double hz() const { return hz_; }
  Seconds toSeconds(Cycles c) const { return Seconds(double(c.count()) / hz_); }
  double toMicroseconds(double cycles) const { return cycles * 1e6 / hz_; }
  /// Bytes per second from bytes moved over a number of cycles.
  double bytesPerSecond(double bytes, Cycles over) const {
    return over.count() ? bytes * hz_ / double(over.count()) : 0.0;
  }
  /// A rate in bytes/s as bytes per cycle of this clock.
  double bytesPerCycle(double bytesPerSecond) const {
    return bytesPerSecond / hz_;
  }

private:
  double hz_;
};

} // namespace nuri::sim

#endif // NURI_SIM_TIME_H
