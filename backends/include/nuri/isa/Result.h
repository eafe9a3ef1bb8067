//===- Result.h - Value-or-error results for the Nuri libraries -*- C++ -*-===//
//
// The ISA, target and simulator libraries report user errors (bad files, bad
// programs, impossible configs) as values, so callers never need to know which
// calls throw. Internally they may throw `Error`; the public entry points catch
// it and return a Result.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_ISA_RESULT_H
#define NURI_ISA_RESULT_H

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace nuri {

/// An error with a message that names the file/field/core/engine/pc at fault.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string &message) : std::runtime_error(message) {}
};

/// Either a T or an error message.
template <typename T> class Result {
public:
  Result(T value) : value_(std::move(value)) {}
  static Result failure(std::string message) {
    Result r;
    r.error_ = std::move(message);
    return r;
  }
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const std::string &error() const { return error_; }
  T &value() {
    if (!value_) {
      throw Error(error_);
    }
    return *value_;
  }
  const T &value() const {
    if (!value_) {
      throw Error(error_);
    }
    return *value_;
  }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

private:
  Result() = default;
  std::optional<T> value_;
  std::string error_;
};

/// Runs `fn` (which may throw nuri::Error) and turns a throw into a failure.
template <typename Fn> auto catchErrors(Fn &&fn) -> Result<decltype(fn())> {
  try {
    return fn();
  } catch (const Error &e) {
    return Result<decltype(fn())>::failure(e.what());
  } catch (const std::bad_alloc &) {
    return Result<decltype(fn())>::failure("out of host memory");
  }
}

} // namespace nuri

#endif // NURI_ISA_RESULT_H
