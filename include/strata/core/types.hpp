// strata core: fixed-width integer types without any libc or C++ library header.
//
// The engines must compile with -ffreestanding -nostdlibinc, so they take their
// integer types from the compiler's predefined macros instead of <cstdint>.
// The aliases are the very types <cstdint> would give (same underlying type),
// so hosted code may mix them freely with std::size_t and friends.
#pragma once

namespace strata {

using u8 = __UINT8_TYPE__;
using u16 = __UINT16_TYPE__;
using u32 = __UINT32_TYPE__;
using u64 = __UINT64_TYPE__;
using i32 = __INT32_TYPE__;
using i64 = __INT64_TYPE__;
using usize = __SIZE_TYPE__;
using uptr = __UINTPTR_TYPE__;
using isize = __PTRDIFF_TYPE__;

/// Largest value of usize.
inline constexpr usize USIZE_MAX = static_cast<usize>(-1);
/// Largest object size any engine will accept (POSIX and glibc refuse larger).
inline constexpr usize MAX_OBJECT_SIZE = static_cast<usize>(__PTRDIFF_MAX__);

}  // namespace strata
