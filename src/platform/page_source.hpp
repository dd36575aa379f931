// strata platform: the page source. Every byte strata hands out comes from here.
//
// At the first allocation it finds a free window of address space (up to
// 64 GiB: mapped once to see where the kernel puts it, then unmapped) and
// manages that window in segments with the engine's BitmapPageAllocator (page
// size = one segment). A segment run is mapped (MAP_FIXED_NOREPLACE,
// readable/writable, pages committed on first touch) when an engine takes it
// and unmapped when it comes back, so RSS, commit charge and the address space
// charged to the process (RLIMIT_AS, which a program may lower later) follow
// use. Should another mapping land in the window, that run is skipped; when
// the window is full or unusable, runs are mapped anywhere, segment-aligned,
// so the segment table works the same.
//
// Two policies apply where memory is mapped, set by the runtime (its memory
// limits, runtime/limits.hpp): a cap on the bytes mapped (the hard limit: a
// run that would take mapped_bytes() above it is refused, and counted), and
// the transparent-huge-page advice given to each new run (thp option).
//
// Thread-safety: all methods take the page source's own lock; callers may
// hold an engine lock (lock order: engine -> page source, never the reverse).
#pragma once
#include "platform/layout.hpp"
#include "platform/lock.hpp"
#include "strata/engine/bitmap_page.hpp"

namespace strata::rt {

/// The THP advice for new segment runs (option thp, jemalloc's names).
enum class ThpMode : u8 {
  Default = 0,  ///< no advice: the system-wide mode decides
  Always = 1,   ///< MADV_HUGEPAGE on small- and medium-heap runs (4 MiB-aligned: whole huge pages)
  Never = 2,    ///< MADV_NOHUGEPAGE on every run
};

class PageSource {
 public:
  /// Largest window (64 GiB of addresses; none of it mapped until used).
  static constexpr usize MAX_RESERVE_SEGMENTS = WINDOW_SEGMENTS;

  constexpr PageSource() = default;

  /// n segments (aligned to `align_segments` segments, a power of two),
  /// freshly mapped readable/writable (every byte reads zero; every page
  /// commits on first touch), marked
  /// `kind` (of small-heap `arena`) in the segment table. Null when no memory is left.
  void* alloc_segments(usize n, usize align_segments, SegmentKind kind, u32 arena = 0);

  /// Returns segments from alloc_segments (same n). Their pages go back to the
  /// OS at once; the segment table forgets them before the memory is reused.
  void free_segments(void* base, usize n);

  /// Forgets segments from alloc_segments (same n) without unmapping them:
  /// for a run whose addresses another mapping may have taken (a failed
  /// page move). The segment table forgets them; in the window they stay
  /// marked used, never reused. Address space only: nothing resident is kept.
  void abandon_segments(void* base, usize n);

  /// Bytes of segments currently handed to engines (mapped, maybe not resident).
  usize mapped_bytes() const { return __atomic_load_n(&mapped_, __ATOMIC_RELAXED); }

  /// The cap on mapped_bytes() (USIZE_MAX: none). Lowering it below what is
  /// mapped refuses growth from then on; nothing mapped is taken away.
  void set_map_limit(usize bytes) { __atomic_store_n(&map_limit_, bytes, __ATOMIC_RELAXED); }
  usize map_limit() const { return __atomic_load_n(&map_limit_, __ATOMIC_RELAXED); }
  /// Runs refused because of the cap so far (a counter callers compare).
  u64 limit_refusals() const { return __atomic_load_n(&refusals_, __ATOMIC_RELAXED); }

  /// The THP advice for runs mapped from now on (set once, at initialisation).
  void set_thp(ThpMode mode) { thp_ = mode; }
  ThpMode thp() const { return thp_; }

  /// AnonHugePages (bytes of anonymous memory mapped by transparent huge
  /// pages) of the mappings that hold strata's segments, from
  /// /proc/self/smaps, read without allocating (a mapping the kernel merged
  /// with a neighbour counts whole). Reads a file of the size of the process's
  /// mappings: for statistics, not for hot paths. 0 when unreadable.
  usize anon_huge_bytes() const;
  /// Bytes of the address window (addresses only: nothing is mapped for it).
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
  bool charge(usize bytes);    // adds bytes to mapped_ unless that passes the cap
  void advise(void* p, usize bytes, SegmentKind kind) const;  // the THP advice

  Lock lock_{};
  bool reserve_tried_ = false;
  uptr reserve_base_ = 0;
  usize reserve_size_ = 0;
  usize mapped_ = 0;
  usize map_limit_ = USIZE_MAX;
  u64 refusals_ = 0;
  ThpMode thp_ = ThpMode::Default;
  BitmapPageAllocator<SEGMENT_SIZE, MAX_RESERVE_SEGMENTS> segments_{};
};

}  // namespace strata::rt
