// strata core: LEB128 variable-length integers, the encoding DWARF uses (and
// strata's packed stacks): seven bits a byte, the low group first, the top
// bit of each byte set when another byte follows.
#pragma once
#include "strata/core/types.hpp"

namespace strata {

/// Bytes the longest encoding of a 64-bit value takes (leb128_put).
inline constexpr usize LEB128_MAX_BYTES = 10;

/// Writes v as unsigned LEB128 to out[0, LEB128_MAX_BYTES): the shortest
/// encoding. Returns the bytes written (1 to LEB128_MAX_BYTES).
constexpr usize leb128_put(u64 v, u8* out) {
  usize n = 0;
  do {
    out[n] = static_cast<u8>(v & 0x7f);
    v >>= 7;
    if (v != 0) out[n] |= 0x80;
    ++n;
  } while (v != 0);
  return n;
}

/// Reads one LEB128 value into v from the bytes next yields: next(u8& b)
/// stores the next byte in b and returns false when there is none. Signed
/// (SLEB128) sign-extends from the last byte's top group bit. Groups beyond
/// bit 63 are read and dropped (a padded encoding of a small value reads as
/// that value). Returns false when the bytes run out before the encoding
/// ends, or when it takes more than max_bytes bytes; v is unspecified then.
template <class Next>
constexpr bool leb128_get(Next&& next, u64& v, usize max_bytes, bool is_signed = false) {
  v = 0;
  u32 shift = 0;
  for (usize i = 0; i < max_bytes; ++i, shift += 7) {
    u8 b = 0;
    if (!next(b)) return false;
    if (shift < 64) v |= static_cast<u64>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      if (is_signed && shift + 7 < 64 && (b & 0x40) != 0) v |= ~u64{0} << (shift + 7);
      return true;
    }
  }
  return false;
}

}  // namespace strata
