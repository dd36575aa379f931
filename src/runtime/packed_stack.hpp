// strata runtime: a stack trace packed into a fixed number of bytes.
//
// Guarded sampling keeps two stacks for every slot (where its block was
// allocated and where it was freed) for as long as the slot may be reported,
// so 256 slots of two 24-frame stacks took 96 KiB of the slot table, resident
// in every process that sampled long enough to touch each slot. Return
// addresses of one stack are close to each other (most frames lie in one or
// two objects), so each is stored as the difference from the frame before it:
// zigzag-encoded (a small negative difference stays small) and written as a
// LEB128 varint (strata/core/leb128.hpp), 7 bits a byte. A frame within 1 MiB
// of the previous one takes 3 bytes, one in another object 5 or 6; 111 bytes
// hold the 24 frames a capture takes with room to spare. A stack that does
// not fit keeps its innermost frames, the ones a report needs most.
//
// Plain data: no allocation, no OS call; pack and unpack may run inside
// malloc and in a signal handler. Not thread-safe: the owner serialises.
#pragma once
#include "strata/core/leb128.hpp"
#include "strata/core/types.hpp"

namespace strata::rt {

/// A stack of return addresses (innermost first) in BYTES bytes plus a count.
/// Zero-initialised it is an empty stack.
template <usize BYTES>
class PackedStack {
  static_assert(BYTES >= LEB128_MAX_BYTES, "room for one frame of any value");

 public:
  /// Frames a stack can hold at most, whatever their values (count is a byte).
  static constexpr usize MAX_FRAMES = 255;

  /// Replaces the stack by frames[0, n), keeping the longest prefix that
  /// fits (at most MAX_FRAMES); returns how many frames were kept. Null
  /// frames are stored like any other value.
  usize pack(void* const* frames, usize n) {
    usize used = 0, kept = 0;
    u64 prev = 0;
    for (; kept < n && kept < MAX_FRAMES; ++kept) {
      const u64 cur = reinterpret_cast<uptr>(frames[kept]);
      const u64 d = cur - prev;
      u8 tmp[LEB128_MAX_BYTES];
      const usize len = leb128_put((d << 1) ^ (u64{0} - (d >> 63)), tmp);  // zigzag: 0, -1, 1, -2 -> 0, 1, 2, 3
      if (used + len > BYTES) break;
      for (usize i = 0; i < len; ++i) bytes_[used + i] = tmp[i];
      used += len;
      prev = cur;
    }
    count_ = static_cast<u8>(kept);
    return kept;
  }

  /// Writes up to max frames, innermost first, to out; returns how many.
  usize unpack(void** out, usize max) const {
    usize at = 0, n = 0;
    u64 prev = 0;
    for (; n < count_ && n < max; ++n) {
      u64 z = 0;
      const auto next = [&](u8& b) { return at < BYTES && (b = bytes_[at++], true); };
      if (!leb128_get(next, z, LEB128_MAX_BYTES)) return n;  // cannot happen for what pack wrote
      prev += (z >> 1) ^ (u64{0} - (z & 1));
      out[n] = reinterpret_cast<void*>(static_cast<uptr>(prev));
    }
    return n;
  }

  /// Frames held.
  usize size() const { return count_; }
  /// Empties the stack.
  void clear() { count_ = 0; }

 private:
  u8 count_ = 0;
  u8 bytes_[BYTES] = {};
};

}  // namespace strata::rt
