// strata public: the engine interface as C++20 concepts.
//
// Written with our own same_as so that it needs no <concepts> and works
// freestanding. Every engine carries static_assert(<Concept><Engine>) beside its
// definition. All engines are single-threaded objects: callers lock around them.
#pragma once
#include "strata/core/types.hpp"
#include "strata/result.hpp"

namespace strata {
namespace detail {
template <class A, class B> inline constexpr bool same_v = false;
template <class A> inline constexpr bool same_v<A, A> = true;
}  // namespace detail

template <class A, class B>
concept same_as = detail::same_v<A, B> && detail::same_v<B, A>;

/// Memory is handed to the engine as (start, size) ranges. init() starts the
/// engine over its first region; add_memory() adds disjoint regions later.
/// Misaligned or too-small regions give InvalidParam, overlapping ones
/// MemoryOverlap. The caller keeps the memory alive for the engine's life.
template <class A>
concept BaseAllocator = requires(A a, void* p, usize n) {
  { a.init(p, n) } -> same_as<Result<void>>;
  { a.add_memory(p, n) } -> same_as<Result<void>>;
};

/// Byte-granular allocation. alloc(size, align): align a power of two (else
/// InvalidParam); the block is at least size bytes, aligned to align.
/// dealloc(ptr, size, align) takes what alloc returned, with the same size and
/// align; NotAllocated where the engine can tell the block is not live.
/// Stats are exact: used + available == total at all times.
template <class A>
concept ByteAllocator = BaseAllocator<A> && requires(A a, const A ca, void* p, usize n) {
  { a.alloc(n, n) } -> same_as<Result<void*>>;
  { a.dealloc(p, n, n) } -> same_as<Result<void>>;
  { ca.total_bytes() } -> same_as<usize>;
  { ca.used_bytes() } -> same_as<usize>;
  { ca.available_bytes() } -> same_as<usize>;
};

/// Page-granular allocation; addresses are returned as uptr. align_pow2 is an
/// alignment in bytes, a power of two (values below PAGE_SIZE mean page
/// alignment); anything else is InvalidParam.
template <class A>
concept PageAllocator = BaseAllocator<A> && requires(A a, const A ca, uptr addr, usize n) {
  { A::PAGE_SIZE } -> same_as<const usize&>;
  { a.alloc_pages(n, n) } -> same_as<Result<uptr>>;
  { a.alloc_pages_at(addr, n, n) } -> same_as<Result<uptr>>;
  { a.dealloc_pages(addr, n) } -> same_as<Result<void>>;
  { ca.total_pages() } -> same_as<usize>;
  { ca.used_pages() } -> same_as<usize>;
  { ca.available_pages() } -> same_as<usize>;
};

/// Allocation of integer ids in [0, size()). alloc_id(count, align_pow2) gives
/// the first of count consecutive ids, the first a multiple of align_pow2.
template <class A>
concept IdAllocator = requires(A a, const A ca, usize n) {
  { a.alloc_id(n, n) } -> same_as<Result<usize>>;
  { a.dealloc_id(n, n) } -> same_as<Result<void>>;
  { ca.is_allocated(n) } -> same_as<bool>;
  { a.alloc_fixed_id(n) } -> same_as<Result<void>>;
  { ca.size() } -> same_as<usize>;
  { ca.used() } -> same_as<usize>;
  { ca.available() } -> same_as<usize>;
};

}  // namespace strata
