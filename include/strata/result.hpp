// strata public: AllocError and Result<T>, an error-or-value type that needs
// neither exceptions nor <expected>, so engines use it freestanding.
#pragma once
#include "strata/core/types.hpp"

namespace strata {

/// Why an engine refused a call. Numbering is stable (part of the C ABI).
enum class AllocError : u8 {
  InvalidParam = 1,   ///< zero/non-power-of-two alignment, size overflow, misaligned or too-small region
  MemoryOverlap = 2,  ///< add_memory region overlaps memory the engine already manages
  NoMemory = 3,       ///< the request is valid but no free block fits it
  NotAllocated = 4,   ///< dealloc of something the engine never handed out, or already freed
};

/// Human-readable name of an error, for messages (static storage, never null).
constexpr const char* to_string(AllocError e) {
  switch (e) {
    case AllocError::InvalidParam: return "InvalidParam";
    case AllocError::MemoryOverlap: return "MemoryOverlap";
    case AllocError::NoMemory: return "NoMemory";
    case AllocError::NotAllocated: return "NotAllocated";
  }
  return "unknown";
}

/// Either a T or an AllocError. [[nodiscard]]: an ignored error is a bug.
/// value() on an error, or error() on a value, is a precondition violation.
/// One error byte says which (0, which no AllocError uses, for a value): a
/// Result<void*> is then two words, returned in registers where the ABI
/// allows it, and every return stores one byte less.
template <class T>
class [[nodiscard]] Result {
 public:
  constexpr Result(T v) : value_(v), error_{} {}  // NOLINT: implicit by design
  constexpr Result(AllocError e) : value_{}, error_(e) {}  // NOLINT
  constexpr bool ok() const { return error_ == AllocError{}; }
  constexpr explicit operator bool() const { return ok(); }
  constexpr T value() const { return value_; }
  constexpr AllocError error() const { return error_; }
  /// The value, or fallback when this holds an error.
  constexpr T value_or(T fallback) const { return ok() ? value_ : fallback; }

 private:
  T value_;
  AllocError error_;  ///< AllocError{} (0, no enumerator) while this holds a value
};

/// Result<void>: success, or an AllocError.
template <>
class [[nodiscard]] Result<void> {
 public:
  constexpr Result() : error_{} {}
  constexpr Result(AllocError e) : error_(e) {}  // NOLINT
  constexpr bool ok() const { return error_ == AllocError{}; }
  constexpr explicit operator bool() const { return ok(); }
  constexpr AllocError error() const { return error_; }

 private:
  AllocError error_;  ///< AllocError{} (0, no enumerator) on success
};

/// The success value of Result<void>, for `return ok();`.
constexpr Result<void> ok() { return Result<void>{}; }

}  // namespace strata
