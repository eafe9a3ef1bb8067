//===- ByteIO.h - Bounded little-endian encoding ----------------*- C++ -*-===//
//
// The writer appends little-endian fields; the reader never reads past its
// end and checks every count against the bytes left before allocating, so
// a hostile count cannot make it allocate gigabytes.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_PACKAGE_BYTEIO_H
#define NURI_PACKAGE_BYTEIO_H

#include "nuri/isa/Result.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace nuri::package::detail {

/// Longest name (tensor, op kind, attribute, location) a package may hold.
constexpr uint32_t kMaxNameBytes = 1u << 16;

class ByteWriter {
public:
  std::vector<uint8_t> bytes;

  template <typename T> void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T)); // little-endian hosts only
    bytes.insert(bytes.end(), raw, raw + sizeof(T));
  }
  void u8(uint8_t v) { put(v); }
  void u16(uint16_t v) { put(v); }
  void u32(uint32_t v) { put(v); }
  void u64(uint64_t v) { put(v); }
  void i32(int32_t v) { put(v); }
  void i64(int64_t v) { put(v); }
  void f64(double v) { put(v); }
  void str(const std::string &s) {
    u32(static_cast<uint32_t>(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void i32s(const std::vector<int32_t> &v) {
    u32(static_cast<uint32_t>(v.size()));
    for (int32_t x : v) {
      i32(x);
    }
  }
  void i64s(const std::vector<int64_t> &v) {
    u32(static_cast<uint32_t>(v.size()));
    for (int64_t x : v) {
      i64(x);
    }
  }
  void f64s(const std::vector<double> &v) {
    u32(static_cast<uint32_t>(v.size()));
    for (double x : v) {
      f64(x);
    }
  }
  void u64s(const std::vector<uint64_t> &v) {
    u32(static_cast<uint32_t>(v.size()));
    for (uint64_t x : v) {
      u64(x);
    }
  }
};

/// Reads fields; throws nuri::Error naming `what` (the section) and the
/// offset on any overrun.
class ByteReader {
public:
  ByteReader(const uint8_t *data, size_t size, std::string what)
      : data_(data), size_(size), what_(std::move(what)) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  bool atEnd() const { return pos_ == size_; }

  [[noreturn]] void fail(const std::string &reason) const {
    throw Error(what_ + " at byte " + std::to_string(pos_) + ": " + reason);
  }

  template <typename T> T get() {
    if (remaining() < sizeof(T)) {
      fail("truncated (needs " + std::to_string(sizeof(T)) + " more bytes)");
    }
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  uint8_t u8() { return get<uint8_t>(); }
  uint16_t u16() { return get<uint16_t>(); }
  uint32_t u32() { return get<uint32_t>(); }
  uint64_t u64() { return get<uint64_t>(); }
  int32_t i32() { return get<int32_t>(); }
  int64_t i64() { return get<int64_t>(); }
  double f64() { return get<double>(); }

  /// A count of items of at least `minItemBytes` each that must fit in
  /// what is left.
  uint32_t count(size_t minItemBytes, const char *what) {
    uint32_t n = u32();
    if (minItemBytes && n > remaining() / minItemBytes) {
      fail(std::string(what) + " count " + std::to_string(n) +
           " exceeds the bytes left");
    }
    return n;
  }
  std::string str(const char *what, uint32_t maxBytes = kMaxNameBytes) {
    uint32_t n = u32();
    if (n > maxBytes) {
      fail(std::string(what) + " of " + std::to_string(n) +
           " bytes is longer than the limit " + std::to_string(maxBytes));
    }
    if (n > remaining()) {
      fail(std::string(what) + " of " + std::to_string(n) +
           " bytes runs past the end");
    }
    std::string s(reinterpret_cast<const char *>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::vector<int32_t> i32s(const char *what) {
    uint32_t n = count(4, what);
    std::vector<int32_t> v(n);
    for (auto &x : v) {
      x = i32();
    }
    return v;
  }
  std::vector<int64_t> i64s(const char *what) {
    uint32_t n = count(8, what);
    std::vector<int64_t> v(n);
    for (auto &x : v) {
      x = i64();
    }
    return v;
  }
  std::vector<double> f64s(const char *what) {
    uint32_t n = count(8, what);
    std::vector<double> v(n);
    for (auto &x : v) {
      x = f64();
    }
    return v;
  }
  std::vector<uint64_t> u64s(const char *what) {
    uint32_t n = count(8, what);
    std::vector<uint64_t> v(n);
    for (auto &x : v) {
      x = u64();
    }
    return v;
  }
  void expectEnd() const {
    if (!atEnd()) {
      fail(std::to_string(remaining()) + " unexpected trailing bytes");
    }
  }

private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
  std::string what_;
};

} // namespace nuri::package::detail

#endif // NURI_PACKAGE_BYTEIO_H
