// strata runtime: the page source. Every byte strata hands out comes from here.
//
// At the first allocation it reserves one large range of address space
// (PROT_NONE: no memory is used, min(64 GiB, RLIMIT_AS/4)) and manages it in
// segments with the engine's BitmapPageAllocator (page size = one segment).
// A segment run is committed (made readable/writable) when an engine takes it
// and decommitted when it comes back, so RSS and commit charge follow use.
// When the reservation is full or could not be made, segments are mapped
// directly with mmap (still segment-aligned, so the segment table works).
//
// Thread-safety: all methods take the page source's own lock; callers may
// hold an engine lock (lock order: engine -> page source, never the reverse).
#pragma once
#include "core/spin_lock.hpp"
#include "engine/bitmap_page.hpp"
#include "layout.hpp"
#include "lock.hpp"

namespace strata::rt {

class PageSource {
 public:
  /// Largest reservation (64 GiB of address space, no memory behind it).
  static constexpr usize MAX_RESERVE_SEGMENTS = 16384;

  constexpr PageSource() = default;

  /// n segments (aligned to `align_segments` segments, a power of two), with
  /// the first `commit_bytes` committed (rounded up to pages; 0 = all).
  /// Marks them `kind` (of small-heap `arena`) in the segment table. Null when no memory is left.
  void* alloc_segments(usize n, usize align_segments, usize commit_bytes, SegmentKind kind, u32 arena = 0);

  /// Returns segments from alloc_segments (same n). Their pages go back to the
  /// OS at once; the segment table forgets them before the memory is reused.
  void free_segments(void* base, usize n);

  /// Bytes of segments currently handed to engines (mapped, maybe not resident).
  usize mapped_bytes() const { return __atomic_load_n(&mapped_, __ATOMIC_RELAXED); }
  /// Bytes of address space reserved up front.
  usize reserved_bytes() const { return reserve_size_; }
  /// Start of the reservation (0 before the first segment; statistics scan the segment table from here).
  uptr reserve_base() const { return reserve_base_; }

  /// Fork support: the prepare handler takes the lock, parent/child release it.
  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  void reset_lock_in_child() { lock_.reset(); }

 private:
  void ensure_reserved();
  bool in_reserve(uptr a) const { return a - reserve_base_ < reserve_size_; }

  Lock lock_{};
  bool reserve_tried_ = false;
  uptr reserve_base_ = 0;
  usize reserve_size_ = 0;
  usize mapped_ = 0;
  BitmapPageAllocator<SEGMENT_SIZE, MAX_RESERVE_SEGMENTS> segments_{};
};

/// The process's page source (constant-initialised: usable before constructors).
extern PageSource g_page_source;

}  // namespace strata::rt
