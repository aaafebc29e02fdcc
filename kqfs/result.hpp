// Errors as values: a per-change outcome is an errno, never an exception.
#pragma once

#include <cerrno>
#include <system_error>
#include <utility>
#include <variant>

namespace kqfs {

struct Errno {
  int value;
};

// The current errno, for a failed system call.
inline Errno last_errno() {
  return Errno{errno};
}

// A value or the errno that prevented it.
template <class T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Errno error) : state_(error) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  int error() const { return ok() ? 0 : std::get<Errno>(state_).value; }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Errno> state_;
};

// For resources a queue cannot live without: setup failures are exceptions.
[[noreturn]] inline void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace kqfs
