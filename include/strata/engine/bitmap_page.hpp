// strata engine: BitmapPageAllocator, page-granular allocation over a
// hierarchical bitmap (engine/bitmap.hpp), capacity set by a template parameter.
//
// Window. The allocator indexes a window of MaxPages pages that starts at the
// first region it is given (init, or the first add_memory). Later regions may
// sit anywhere above that start, disjoint from what it holds, as long as they
// end inside the window; gaps between regions are simply unmanaged pages.
// Choosing the first region as the window start (rather than rounding it down
// to a large alignment, as arceos does with 1 GiB) spends no capacity on memory
// that is not there; address alignment is honoured by searching with the
// window start's phase (Bitmap::find_run's offset).
//
// State, one bit per page in each of three bitmaps:
//   free_     page is managed and free       (runs of ones are found first-fit)
//   managed_  page belongs to a region given by init/add_memory
//   starts_   page is the first page of a live allocation
// A page is allocated when managed and not free. An allocation runs from its
// start bit up to the next start bit, free page or unmanaged page; that is how
// dealloc_pages checks that (pos, n) names exactly one live allocation, so a
// double free, a free with the wrong count, or a free of the middle of a block
// is refused (NotAllocated) instead of corrupting the state.
//
// The allocator never reads or writes the pages themselves: it hands out
// addresses only. Single-threaded (callers lock); constexpr-constructible;
// an all-zero object is an empty allocator (every request answers NoMemory).
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/types.hpp"
#include "strata/engine/bitmap.hpp"
#include "strata/align.hpp"
#include "strata/concepts.hpp"
#include "strata/result.hpp"

namespace strata {

/// Page allocator over at most MaxPages pages of PageSize bytes (a power of two).
template <usize PageSize, usize MaxPages>
class BitmapPageAllocator {
  static_assert(is_pow2(PageSize), "PageSize must be a power of two");
  static_assert(MaxPages > 0, "MaxPages must be positive");

 public:
  static constexpr usize PAGE_SIZE = PageSize;
  static constexpr usize MAX_PAGES = MaxPages;

  constexpr BitmapPageAllocator() = default;

  /// Forgets all previous state and manages [start, start + size), which also
  /// becomes the start of the window. Errors as add_memory; on error the
  /// allocator is left empty.
  Result<void> init(void* start, usize size) {
    free_.reset();
    managed_.reset();
    starts_.reset();
    window_ = 0;
    has_window_ = false;
    total_pages_ = 0;
    used_pages_ = 0;
    return add_memory(start, size);
  }

  /// Adds the free pages [start, start + size).
  /// InvalidParam: start or size not a multiple of PAGE_SIZE, size 0, the range
  /// wrapping past the end of the address space, or not fitting in the window
  /// (below its start, or ending more than MAX_PAGES pages after it): capacity
  /// is a hard limit, never a silent clamp. MemoryOverlap: some page is already
  /// managed. Nothing changes on error. The first region (of an empty,
  /// never-initialised allocator) opens the window.
  Result<void> add_memory(void* start, usize size) {
    const uptr addr = reinterpret_cast<uptr>(start);
    uptr end = 0;
    if (size == 0 || !is_aligned(addr, PAGE_SIZE) || !is_aligned(size, PAGE_SIZE) || !checked_add(addr, size, end))
      return AllocError::InvalidParam;
    const uptr window = has_window_ ? window_ : addr;
    usize first = 0;
    const usize n = size / PAGE_SIZE;
    if (!page_range(addr, n, window, first)) return AllocError::InvalidParam;
    if (!managed_.all_equal(first, n, false)) return AllocError::MemoryOverlap;
    window_ = window;
    has_window_ = true;
    managed_.assign_range(first, n, true);
    free_.assign_range(first, n, true);
    total_pages_ += n;
    return ok();
  }

  /// Allocates n contiguous pages whose first address is a multiple of
  /// align_pow2 (values below PAGE_SIZE mean page alignment); returns that
  /// address. The lowest fitting address wins (first fit).
  /// InvalidParam: n == 0, align_pow2 not a power of two. NoMemory: no free run fits.
  Result<uptr> alloc_pages(usize n, usize align_pow2) {
    if (n == 0 || !is_pow2(align_pow2)) return AllocError::InvalidParam;
    if (n > MAX_PAGES) return AllocError::NoMemory;
    const usize align = align_pow2 > PAGE_SIZE ? align_pow2 / PAGE_SIZE : 1;
    // Page s sits at window_ + s * PAGE_SIZE; it is aligned when
    // (s + window_ / PAGE_SIZE) % align == 0.
    const usize first = free_.find_run(n, align, (window_ / PAGE_SIZE) & (align - 1));
    if (first == free_.NONE) return AllocError::NoMemory;
    take(first, n);
    return window_ + first * PAGE_SIZE;
  }

  /// Allocates exactly the n pages starting at base, which must be a multiple
  /// of both PAGE_SIZE and align_pow2. InvalidParam: n == 0, bad alignment,
  /// a misaligned base, or any page of the range not managed (outside the
  /// window or in a gap between regions). NoMemory: all managed, but some page
  /// is allocated. Nothing changes on error.
  Result<uptr> alloc_pages_at(uptr base, usize n, usize align_pow2) {
    if (n == 0 || !is_pow2(align_pow2) || !is_aligned(base, PAGE_SIZE) || !is_aligned(base, align_pow2))
      return AllocError::InvalidParam;
    usize first = 0;
    if (!has_window_ || !page_range(base, n, window_, first) || !managed_.all_equal(first, n, true))
      return AllocError::InvalidParam;
    if (!free_.all_equal(first, n, true)) return AllocError::NoMemory;
    take(first, n);
    return base;
  }

  /// Frees the allocation of n pages at pos: (pos, n) must be exactly what an
  /// alloc_pages or alloc_pages_at call returned and was given, still live.
  /// InvalidParam: n == 0 or pos not page-aligned. NotAllocated: anything else
  /// that is not one whole live allocation (double free, wrong n, a page in
  /// the middle, an address outside the window). Nothing changes on error.
  Result<void> dealloc_pages(uptr pos, usize n) {
    if (n == 0 || !is_aligned(pos, PAGE_SIZE)) return AllocError::InvalidParam;
    usize first = 0;
    if (!has_window_ || !page_range(pos, n, window_, first) || !is_whole_allocation(first, n))
      return AllocError::NotAllocated;
    free_.assign_range(first, n, true);
    starts_.assign_range(first, 1, false);
    used_pages_ -= n;
    return ok();
  }

  /// Pages managed (all regions added).
  usize total_pages() const { return total_pages_; }
  /// Pages currently allocated.
  usize used_pages() const { return used_pages_; }
  /// Pages managed and free (not necessarily contiguous).
  usize available_pages() const { return total_pages_ - used_pages_; }

 private:
  /// Page index of addr relative to window into `first`, when the n pages from
  /// addr lie inside the window (overflow-safe). addr must be page-aligned.
  static bool page_range(uptr addr, usize n, uptr window, usize& first) {
    if (addr < window) return false;
    const usize index = (addr - window) / PAGE_SIZE;
    if (index >= MAX_PAGES || n > MAX_PAGES - index) return false;
    first = index;
    return true;
  }

  /// True when pages [first, first + n) are one whole live allocation: a start
  /// bit at first, no other start inside, every page allocated, and page
  /// first + n not a continuation of it (absent, free, unmanaged, or a start).
  bool is_whole_allocation(usize first, usize n) const {
    if (!starts_.test(first) || starts_.find_next(first + 1, true) < first + n) return false;
    if (!managed_.all_equal(first, n, true) || !free_.all_equal(first, n, false)) return false;
    const usize after = first + n;
    return after == MAX_PAGES || !is_allocated(after) || starts_.test(after);
  }

  bool is_allocated(usize page) const { return managed_.test(page) && !free_.test(page); }

  /// Marks free pages [first, first + n) as one allocation.
  void take(usize first, usize n) {
    free_.assign_range(first, n, false);
    starts_.assign_range(first, 1, true);
    used_pages_ += n;
  }

  detail::Bitmap<MaxPages, true> free_{};
  detail::Bitmap<MaxPages, true> managed_{};
  detail::Bitmap<MaxPages, true> starts_{};
  uptr window_ = 0;
  bool has_window_ = false;
  usize total_pages_ = 0;
  usize used_pages_ = 0;
};

static_assert(PageAllocator<BitmapPageAllocator<4096, 64>>);

}  // namespace strata
