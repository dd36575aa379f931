// strata engine: Buddy, a power-of-two block allocator with coalescing.
//
// Blocks are MIN_BLOCK << k bytes for orders k in [0, MAX_ORDER] and always
// aligned to their own size in *absolute* addresses, so any alignment up to the
// block size is honoured for free and a block's buddy is simply addr ^ size.
// alloc and dealloc are O(log n) in the block count (split or merge one order
// per step) plus a scan of the regions to find the one holding a pointer.
//
// Regions. A region [start, start + size) is decomposed greedily into the
// largest naturally aligned blocks that fit: those are the *roots* of the
// region (a root's parent would leave the region, or it is MAX_ORDER). Above
// the roots nothing ever merges, so regions stay disjoint forever.
//
// State, carved from the start of each region (detail::BuddyRegion + two
// bitmaps of one bit per MIN_BLOCK unit: 2 bits per unit, 1/64 of the region at
// MIN_BLOCK 16):
//   split bit  Each node (a, k) of the buddy tree with k >= 1 owns the bit of
//              its *midpoint* unit a + 2^(k-1) units. The midpoint of an order-k
//              node has exactly k - 1 trailing zero bits (in absolute unit
//              numbering), so every unit belongs to exactly one possible node
//              (the classic in-order layout of a binary tree): one bit per unit
//              covers all orders. Set exactly when the node is split.
//   alloc bit  Set exactly at the first unit of each allocated block.
// A node exists when it is a root or its parent is split; an existing node that
// is not split is a *leaf*, i.e. a block. So "is p an allocated block of order
// k" is three bit tests, and dealloc of anything else (a double free, a pointer
// inside a block, a wrong size) is refused with NotAllocated before any state
// changes. Free blocks hold only their free-list link (FREE_LINK_BYTES at the
// block start); the engine never reads or writes the rest of a free block.
//
// Free-list heads live in the object (one list per order, across regions), with
// a bit mask of non-empty orders so the smallest fitting order is one ctz.
// Not thread-safe: callers lock. constexpr-constructible (constinit globals).
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/list.hpp"
#include "strata/core/types.hpp"
#include "strata/align.hpp"
#include "strata/concepts.hpp"
#include "strata/result.hpp"

namespace strata {

/// Default Buddy configuration: 16-byte minimum blocks, blocks up to 1 GiB.
/// A Cfg provides MIN_BLOCK (a power of two >= two pointers) and MAX_ORDER
/// (largest block = MIN_BLOCK << MAX_ORDER; MAX_ORDER <= 63).
struct BuddyConfig {
  static constexpr usize MIN_BLOCK = 16;
  static constexpr u32 MAX_ORDER = 26;
};

namespace detail {

inline bool bit_test(const u64* w, usize i) { return (w[i >> 6] >> (i & 63)) & 1; }
inline void bit_set(u64* w, usize i) { w[i >> 6] |= u64{1} << (i & 63); }
inline void bit_clear(u64* w, usize i) { w[i >> 6] &= ~(u64{1} << (i & 63)); }

/// Per-region header of a Buddy, at the region's start. Opaque to callers.
struct BuddyRegion {
  BuddyRegion* next;
  uptr raw_start;  ///< the range handed to add_memory (for overlap checks)
  usize raw_size;
  uptr base;       ///< managed blocks are [base, end), multiples of MIN_BLOCK
  uptr end;
  u64* split;      ///< split bit per unit (see the file comment)
  u64* alloc;      ///< allocated-block-head bit per unit
};

}  // namespace detail

template <class Cfg>
class Buddy {
 public:
  static constexpr usize MIN_BLOCK = Cfg::MIN_BLOCK;
  static constexpr u32 MAX_ORDER = Cfg::MAX_ORDER;
  static constexpr u32 MIN_SHIFT = log2_floor(MIN_BLOCK);
  static constexpr usize MAX_BLOCK = MIN_BLOCK << MAX_ORDER;
  /// Region starts must be multiples of this (the header and bitmaps sit there).
  static constexpr usize REGION_ALIGN = 16;
  /// order_for's answer when no block is big enough.
  static constexpr u32 NO_ORDER = ~u32{0};
  /// A free block's first FREE_LINK_BYTES bytes hold the free-list link (and,
  /// when it fits, the region handle). A caller that discards free memory (see
  /// for_each_free_block) must keep these bytes; the rest is never touched.
  static constexpr bool LINK_HAS_REGION = MIN_BLOCK >= sizeof(ListNode) + sizeof(void*);
  static constexpr usize FREE_LINK_BYTES = sizeof(ListNode) + (LINK_HAS_REGION ? sizeof(void*) : 0);
  using Region = detail::BuddyRegion;

  static_assert(is_pow2(MIN_BLOCK) && MIN_BLOCK >= sizeof(ListNode), "a free block holds its link");
  static_assert(MAX_ORDER <= 63 && MIN_SHIFT + MAX_ORDER + 1 < sizeof(usize) * 8, "orders fit a u64 mask");

  constexpr Buddy() = default;
  Buddy(const Buddy&) = delete;
  Buddy& operator=(const Buddy&) = delete;

  /// Forgets all state and manages [start, start + size) alone. Same contract
  /// and errors as add_memory.
  Result<void> init(void* start, usize size) {
    reset();
    return add_memory(start, size);
  }

  /// Forgets all regions and blocks: the engine is empty, as constructed.
  void reset() {
    for (IntrusiveList& l : free_) l.init();
    nonempty_ = 0;
    regions_ = last_ = nullptr;
    total_ = used_ = 0;
  }

  /// Adds the disjoint region [start, start + size); its first bytes become
  /// the region's metadata (header + 2 bits per MIN_BLOCK). InvalidParam for a
  /// null or non-REGION_ALIGN start, a range wrapping the address space, or a
  /// region with no room for one block after its metadata; MemoryOverlap when
  /// it overlaps a region already added. The caller keeps the memory alive.
  Result<void> add_memory(void* start, usize size) {
    Result<Region*> r = add_region(start, size);
    return r.ok() ? ok() : Result<void>(r.error());
  }

  /// add_memory that also returns the region's handle, for callers that keep
  /// it and free through dealloc_in without a region scan (Heap does).
  Result<Region*> add_region(void* start, usize size) {
    const uptr s = reinterpret_cast<uptr>(start);
    uptr e = 0;
    if (s == 0 || !is_aligned(s, REGION_ALIGN) || !checked_add(s, size, e) || size < sizeof(Region) + MIN_BLOCK)
      return AllocError::InvalidParam;
    for (const Region* r = regions_; r != nullptr; r = r->next)
      if (s < r->raw_start + r->raw_size && r->raw_start < e) return AllocError::MemoryOverlap;
    // Bitmaps sized for every unit of the raw range: a slight over-estimate of
    // the managed units, which is simpler than solving for the exact split.
    const usize words = ((size >> MIN_SHIFT) + 63) / 64;
    const uptr bits = align_up(s + sizeof(Region), alignof(u64));
    uptr base = 0;
    if (words * 16 > e - bits || !align_up_checked(bits + words * 16, MIN_BLOCK, base))
      return AllocError::InvalidParam;
    const uptr end = align_down(e, MIN_BLOCK);
    if (base >= end) return AllocError::InvalidParam;
    Region* r = reinterpret_cast<Region*>(s);
    const usize used_words = (((end - base) >> MIN_SHIFT) + 63) / 64;
    *r = Region{regions_, s, size, base, end, reinterpret_cast<u64*>(bits), reinterpret_cast<u64*>(bits) + words};
    for (usize i = 0; i < used_words; ++i) r->split[i] = r->alloc[i] = 0;
    regions_ = r;
    for (uptr a = base; a < end;) {  // greedy decomposition into the roots
      const u32 k = root_order_at(r, a);
      push(r, a, k);
      a += MIN_BLOCK << k;
    }
    total_ += end - base;
    return r;
  }

  /// A block of at least size bytes aligned to align (a power of two): the
  /// block is next_pow2(max(size, align, MIN_BLOCK)) bytes. size 0 gives a
  /// MIN_BLOCK block. InvalidParam for a zero or non-power-of-two align or
  /// size > MAX_OBJECT_SIZE; NoMemory (state unchanged) when no free block is
  /// big enough, including any request above MAX_BLOCK.
  Result<void*> alloc(usize size, usize align) {
    if (!is_pow2(align) || size > MAX_OBJECT_SIZE) return AllocError::InvalidParam;
    const u32 k = order_for(size, align);
    return k == NO_ORDER ? Result<void*>(AllocError::NoMemory) : alloc_order(k);
  }

  /// Frees a block alloc(size, align) returned. InvalidParam for a bad align
  /// or size; NotAllocated (state unchanged) unless p is the start of a live
  /// block of exactly the order alloc(size, align) would pick.
  Result<void> dealloc(void* p, usize size, usize align) {
    if (!is_pow2(align) || size > MAX_OBJECT_SIZE) return AllocError::InvalidParam;
    const u32 k = order_for(size, align);
    return k == NO_ORDER ? Result<void>(AllocError::NotAllocated) : dealloc_order(p, k);
  }

  /// The order alloc(size, align) uses; NO_ORDER above MAX_BLOCK. align must
  /// be a power of two and size <= MAX_OBJECT_SIZE (precondition).
  static constexpr u32 order_for(usize size, usize align) {
    usize need = size > align ? size : align;
    if (need > MAX_BLOCK) return NO_ORDER;
    if (need < MIN_BLOCK) need = MIN_BLOCK;
    return log2_ceil(need) - MIN_SHIFT;
  }

  /// A block of exactly MIN_BLOCK << order bytes, aligned to its size.
  /// NoMemory (state unchanged) when none is free or order > MAX_ORDER.
  Result<void*> alloc_order(u32 order) {
    if (order > MAX_ORDER) return AllocError::NoMemory;
    const u64 fits = nonempty_ & (~u64{0} << order);
    if (fits == 0) return AllocError::NoMemory;
    u32 j = ctz64(fits);
    ListNode* n = free_[j].pop_front();
    if (free_[j].empty()) nonempty_ &= ~(u64{1} << j);
    const uptr a = reinterpret_cast<uptr>(n);
    Region* r = region_of_free(n);
    while (j > order) {  // split: the lower half goes on, the upper half is a new free leaf
      detail::bit_set(r->split, unit(r, a + (MIN_BLOCK << (j - 1))));
      --j;
      push(r, a + (MIN_BLOCK << j), j);
    }
    detail::bit_set(r->alloc, unit(r, a));
    used_ += MIN_BLOCK << order;
    return reinterpret_cast<void*>(a);
  }

  /// dealloc by order: p must be a live block of exactly that order, else
  /// NotAllocated with the state unchanged. Finds p's region by a scan.
  Result<void> dealloc_order(void* p, u32 order) {
    Region* r = find_region(reinterpret_cast<uptr>(p));
    if (r != nullptr) last_ = r;
    return dealloc_in(r, p, order);
  }

  /// dealloc_order when the caller already knows p's region (a null r means
  /// "not ours": NotAllocated).
  Result<void> dealloc_in(Region* r, void* p, u32 order) {
    uptr a = reinterpret_cast<uptr>(p);
    if (r == nullptr || !is_live(r, a, order)) return AllocError::NotAllocated;
    detail::bit_clear(r->alloc, unit(r, a));
    usize size = MIN_BLOCK << order;
    used_ -= size;
    // Merge while the buddy (a ^ size) is a free leaf: it exists (our parent is
    // split), so it is a free leaf exactly when it is neither split nor allocated.
    for (u32 k = order; !is_root(r, a, k); ++k, size <<= 1) {
      const uptr b = a ^ size;
      if ((k > 0 && detail::bit_test(r->split, unit(r, b + (size >> 1)))) || detail::bit_test(r->alloc, unit(r, b)))
        break;
      remove(b, k);
      a &= ~(2 * size - 1);
      detail::bit_clear(r->split, unit(r, a + size));  // the parent is one leaf again
      order = k + 1;
    }
    push(r, a, order);
    return ok();
  }

  /// Takes region r (a handle from add_region) back when none of its memory is
  /// allocated: its blocks leave the free lists, the engine forgets it, and
  /// the caller may reuse or unmap the whole range given to add_region. False
  /// (nothing changed) while any block of r is allocated. O(region units / 64).
  bool remove_region_if_free(Region* r) {
    const usize words = (((r->end - r->base) >> MIN_SHIFT) + 63) / 64;
    for (usize i = 0; i < words; ++i)
      if (r->alloc[i] != 0) return false;  // frees merge at once: no alloc bit means every root is one free leaf
    for (uptr a = r->base; a < r->end;) {
      const u32 k = root_order_at(r, a);
      remove(a, k);
      a += MIN_BLOCK << k;
    }
    Region** link = &regions_;
    while (*link != r) link = &(*link)->next;
    *link = r->next;
    if (last_ == r) last_ = nullptr;
    total_ -= r->end - r->base;
    return true;
  }

  /// True when p is the start of a live block of exactly this order.
  bool is_allocated(const void* p, u32 order) const {
    const Region* r = find_region(reinterpret_cast<uptr>(p));
    return r != nullptr && is_live(r, reinterpret_cast<uptr>(p), order);
  }

  /// The region whose managed blocks contain p; null when none does.
  Region* region_of(const void* p) const { return find_region(reinterpret_cast<uptr>(p)); }

  /// Calls f(void* block, usize bytes) for every free block of at least
  /// min_bytes. f may discard the memory of a block beyond its first
  /// FREE_LINK_BYTES (e.g. madvise) but must not call into this engine.
  template <class F>
  void for_each_free_block(usize min_bytes, F f) const {
    u32 k = min_bytes <= MIN_BLOCK ? 0 : log2_ceil(min_bytes) - MIN_SHIFT;
    for (; k <= MAX_ORDER; ++k)
      for (ListNode* n = free_[k].first(); n != free_[k].end();) {
        ListNode* next = n->next;
        f(static_cast<void*>(n), MIN_BLOCK << k);
        n = next;
      }
  }

  /// Stats in bytes of blocks: total = all managed blocks of all regions
  /// (metadata excluded), used = allocated blocks; used + available == total.
  usize total_bytes() const { return total_; }
  usize used_bytes() const { return used_; }
  usize available_bytes() const { return total_ - used_; }
  /// Size of the largest free block (0 when none).
  usize largest_free_block() const { return nonempty_ == 0 ? 0 : MIN_BLOCK << log2_floor(nonempty_); }

  /// Expensive invariant walk for tests: the blocks of every region tile it,
  /// split/alloc bits are set exactly where the tree says, every free leaf is
  /// on the list of its order and every list entry is a free leaf (so no
  /// cycles or duplicates), the non-empty mask matches the lists, stats add
  /// up. on_error(const char* what, const void* where) hears the first violation.
  template <class F>
  bool verify(F on_error) const;
  bool verify() const {
    return verify([](const char*, const void*) {});
  }

 private:
  static usize unit(const Region* r, uptr a) { return (a - r->base) >> MIN_SHIFT; }

  /// Order of the largest naturally aligned node that starts at a and fits
  /// in r (a root when a walks the greedy decomposition from r->base).
  static u32 root_order_at(const Region* r, uptr a) {
    u32 k = ctz64(a) - MIN_SHIFT;
    if (k > MAX_ORDER) k = MAX_ORDER;
    while ((MIN_BLOCK << k) > r->end - a) --k;
    return k;
  }

  /// A node (a, k) is a root when its parent would reach outside the region.
  static bool is_root(const Region* r, uptr a, u32 k) {
    if (k == MAX_ORDER) return true;
    const usize psize = MIN_BLOCK << (k + 1);
    const uptr pa = a & ~(psize - 1);
    return pa < r->base || psize > r->end - pa;
  }

  /// (a, k) is a block: it exists (a root, or its parent is split) and is not split.
  static bool is_leaf(const Region* r, uptr a, u32 k) {
    const usize size = MIN_BLOCK << k;
    const bool exists = is_root(r, a, k) || detail::bit_test(r->split, unit(r, (a & ~(2 * size - 1)) + size));
    return exists && (k == 0 || !detail::bit_test(r->split, unit(r, a + (size >> 1))));
  }

  /// p is the first byte of an allocated block of order k in region r.
  static bool is_live(const Region* r, uptr a, u32 k) {
    if (k > MAX_ORDER) return false;
    const usize size = MIN_BLOCK << k;
    if (a < r->base || a >= r->end || (a & (size - 1)) != 0 || size > r->end - a) return false;
    return is_leaf(r, a, k) && detail::bit_test(r->alloc, unit(r, a));
  }

  Region* find_region(uptr a) const {
    if (last_ != nullptr && a >= last_->base && a < last_->end) return last_;
    for (Region* r = regions_; r != nullptr; r = r->next)
      if (a >= r->base && a < r->end) return r;
    return nullptr;
  }

  static Region* stored_region(const ListNode* n) {
    return *reinterpret_cast<Region* const*>(reinterpret_cast<const u8*>(n) + sizeof(ListNode));
  }
  Region* region_of_free(const ListNode* n) const {
    if constexpr (LINK_HAS_REGION) return stored_region(n);
    return find_region(reinterpret_cast<uptr>(n));
  }

  void push(Region* r, uptr a, u32 k) {
    ListNode* n = reinterpret_cast<ListNode*>(a);  // push_front writes both links
    if constexpr (LINK_HAS_REGION) *reinterpret_cast<Region**>(a + sizeof(ListNode)) = r;
    (void)r;
    free_[k].push_front(n);
    nonempty_ |= u64{1} << k;
  }

  void remove(uptr a, u32 k) {
    IntrusiveList::remove(reinterpret_cast<ListNode*>(a));
    if (free_[k].empty()) nonempty_ &= ~(u64{1} << k);
  }

  /// Walks the leaves of r left to right (see verify); null or the violation.
  const char* verify_region(const Region* r, usize& free_leaves, usize& used) const;

  IntrusiveList free_[MAX_ORDER + 1]{};
  u64 nonempty_ = 0;       ///< bit k set <=> free_[k] is not empty
  Region* regions_ = nullptr;
  Region* last_ = nullptr;  ///< region of the last dealloc: a hint for find_region
  usize total_ = 0;
  usize used_ = 0;
};

static_assert(ByteAllocator<Buddy<BuddyConfig>>);

}  // namespace strata

#include "strata/engine/buddy_verify.hpp"
