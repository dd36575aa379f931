// strata engine: Tlsf<Cfg>, a two-level segregated-fit allocator (O(1) alloc and
// free, immediate coalescing, any number of pools).
//
// Free blocks sit in FL_COUNT x SL_COUNT segregated lists (the size classes
// below). Two bitmap levels say which lists are non-empty: bit fl of fl_bitmap_
// is set iff sl_bitmap_[fl] != 0, and bit sl of sl_bitmap_[fl] iff list (fl, sl)
// is non-empty. alloc rounds the request up to a class boundary and finds the
// first non-empty list at or above it with two count-trailing-zeros; no list is
// ever walked. dealloc merges the block with its free physical neighbours
// through boundary tags (the block layout below) and links the result. Both
// are constant time: a handful of loads, stores and bit operations, whatever
// the heap's size or history.
//
// The file reads top to bottom: the block layout and pool frame
// (detail::TlsfBlock, detail::TlsfPool), the class arithmetic
// (detail::TlsfClasses), then the engine. Its verify() is in tlsf_verify.hpp.
//
// Accounting: used_bytes() counts whole blocks handed out, headers included;
// available_bytes() whole free blocks, headers included; total_bytes() every
// block byte of every pool (pool size less TLSF_POOL_OVERHEAD). So
// used + available == total at all times, and a request of n bytes raises
// used_bytes() by at least n + 16 (64-bit). The largest single allocation that
// can succeed is the largest free block less its header.
//
// Not thread-safe: one engine is a single-threaded object; callers lock around
// it. It holds no global state and has a constexpr constructor, so it can be a
// constinit global whose init() runs later.
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/check.hpp"
#include "strata/core/mem.hpp"
#include "strata/core/types.hpp"
#include "strata/align.hpp"
#include "strata/concepts.hpp"
#include "strata/result.hpp"

namespace strata::detail {

// ---- Blocks: boundary-tag header, footer and pool frame ---------------------
//
// Every block starts with a two-word header; blocks tile a pool back to back, so
// the block after `b` starts at b + size. W is sizeof(usize) (8 on 64-bit), the
// granule G = 2W (16 on 64-bit: malloc's alignment), and every block address and
// size is a multiple of G, hence every payload (b + G) is G-aligned.
//
//   used block                            free block
//   +0  check word                        +0   prev link in its free list
//   +W  size | PREV_FREE                  +W   size | PREV_FREE | FREE
//   +2W payload ...                       +2W  next link in its free list
//       (size - 2W bytes, all usable)          ... (untouched: madvise may drop it)
//                                         +size-W  footer: the block's own address
//
// size_flags: the size is a multiple of G >= 8, so its two low bits carry flags:
//   bit 0  FREE       this block is free (in exactly one free list)
//   bit 1  PREV_FREE  the block physically before this one is free; only then is
//                     the word just before this header (that block's footer)
//                     meaningful, and it points at that block. This is the
//                     boundary tag that lets dealloc coalesce backwards in O(1).
//
// Invariants (verify() checks them all): no two physically adjacent blocks are
// free (coalescing is immediate); PREV_FREE of every block equals FREE of the
// block before it; every free block has a footer and sits in the list of its size
// class; a used block's check word is check_word(address, size).
//
// The check word is what tells a live header from a pointer into the middle of a
// block: dealloc(p) reads the two words before p and accepts them only if the
// FREE bit is clear, the check word equals (address ^ size ^ KEY), the size stays
// inside the pool and the next block's PREV_FREE bit is clear. User data that
// passes that by accident has odds of about 2^-64 (2^-32 on 32-bit). Headers that
// coalescing swallows are scrubbed (marked free, check word zeroed), so a stale
// header inside a bigger block never looks live. Caught, then: double frees,
// pointers outside every pool, misaligned pointers, pointers into the middle of
// a used or free block, pointers to headers absorbed by coalescing. Not caught:
// a stale pointer that equals the payload of a block live again at the same
// address (freed, then reallocated there); a header the program forges inside
// its own block with the right check word; headers left in the memory by an
// earlier engine (or an earlier init()) over the same bytes.
//
// A used block thus costs 2W of header (16 bytes on 64-bit); the smallest block
// is 2G (header, one link, footer): 32 bytes on 64-bit, 16 usable.

inline constexpr usize TLSF_WORD = sizeof(usize);
/// Block granule: the alignment of every block and payload, and the size step.
inline constexpr usize TLSF_GRANULE = 2 * TLSF_WORD;
/// Bytes of header in front of every payload.
inline constexpr usize TLSF_HEADER = 2 * TLSF_WORD;
/// Smallest block: header + next link + footer, rounded to the granule.
inline constexpr usize TLSF_MIN_BLOCK = 2 * TLSF_GRANULE;

/// A block header over pool memory. Never constructed: pointers to it are made
/// from addresses inside a pool the engine was given.
struct TlsfBlock {
  static constexpr usize FREE = 1;
  static constexpr usize PREV_FREE = 2;
  static constexpr usize FLAGS = FREE | PREV_FREE;
  /// Mixed into check words so that zeroed or small-integer memory never passes.
  static constexpr uptr CHECK_KEY = static_cast<uptr>(0xA5C3'96E1'5B2D'7F48ull);

  uptr tag;           ///< used: check word; free: previous block in its free list (or 0)
  usize size_flags;   ///< size in bytes, header included | FREE | PREV_FREE
  TlsfBlock* next_free;  ///< free only: next block in its free list (or null)

  usize size() const { return size_flags & ~FLAGS; }
  bool is_free() const { return (size_flags & FREE) != 0; }
  bool prev_is_free() const { return (size_flags & PREV_FREE) != 0; }
  void set_prev_free() { size_flags |= PREV_FREE; }
  void clear_prev_free() { size_flags &= ~PREV_FREE; }

  uptr addr() const { return reinterpret_cast<uptr>(this); }
  static TlsfBlock* at(uptr a) { return reinterpret_cast<TlsfBlock*>(a); }
  void* payload() { return reinterpret_cast<void*>(addr() + TLSF_HEADER); }
  static TlsfBlock* from_payload(const void* p) { return at(reinterpret_cast<uptr>(p) - TLSF_HEADER); }
  /// The physically next block (the pool's sentinel for the last one).
  TlsfBlock* next_phys() const { return at(addr() + size()); }

  /// The check word a used header at `a` with `size` must carry.
  static uptr check_word(uptr a, usize size) { return a ^ size ^ CHECK_KEY; }
  bool check_ok() const { return tag == check_word(addr(), size()); }

  /// The physically previous block, through its footer. Only when prev_is_free().
  TlsfBlock* prev_phys() const {
    uptr a = 0;
    mem_copy(&a, reinterpret_cast<const void*>(addr() - TLSF_WORD), sizeof a);
    return at(a);
  }

  /// Makes this a used block of `size` bytes (keeps PREV_FREE, writes the check word).
  void set_used(usize size) {
    size_flags = size | (size_flags & PREV_FREE);
    tag = check_word(addr(), size);
  }
  /// Makes this a free block of `size` bytes and writes its footer (the caller
  /// links it into a free list and sets the next block's PREV_FREE).
  void set_free(usize size) {
    size_flags = size | FREE | (size_flags & PREV_FREE);
    const uptr self = addr();
    mem_copy(reinterpret_cast<void*>(self + size - TLSF_WORD), &self, sizeof self);
  }
  /// Erases a header that a neighbour has just absorbed: it now reads as free with
  /// a zero check word, so a stale pointer to it is refused, never taken as live.
  void scrub() {
    tag = 0;
    size_flags = FREE;
  }
};

static_assert(sizeof(TlsfBlock) == 3 * TLSF_WORD, "header words + one link");
static_assert(TLSF_MIN_BLOCK >= sizeof(TlsfBlock) + TLSF_WORD, "a free block holds its links and footer");

/// The frame of one pool: this header at the pool's start, then the blocks, then
/// a sentinel — a used, zero-size header in the last G bytes — that stops the
/// walk of next_phys() and carries PREV_FREE for the last real block. Pools are
/// chained through `next` in the order they were added (newest first); pools
/// that touch are joined into one (see Tlsf::add_memory).
struct TlsfPool {
  TlsfPool* next;
  uptr end;  ///< one past the pool's last byte

  uptr start() const { return reinterpret_cast<uptr>(this); }
  TlsfBlock* first() const { return TlsfBlock::at(start() + sizeof(TlsfPool)); }
  TlsfBlock* sentinel() const { return TlsfBlock::at(end - TLSF_HEADER); }
  /// Bytes of blocks in the pool (everything but this header and the sentinel).
  usize block_bytes() const { return end - start() - sizeof(TlsfPool) - TLSF_HEADER; }
  /// True when payload address p could belong to a block of this pool.
  bool holds_payload(uptr p) const { return p >= first()->addr() + TLSF_HEADER && p < end; }
};

static_assert(sizeof(TlsfPool) == TLSF_GRANULE, "the first block stays granule-aligned");

/// Fixed pool overhead: the pool header plus the sentinel. Where two pools
/// touch, the sentinel of the lower and the header of the upper form exactly
/// one minimal block, which is how adjacent pools are joined.
inline constexpr usize TLSF_POOL_OVERHEAD = sizeof(TlsfPool) + TLSF_HEADER;
static_assert(TLSF_POOL_OVERHEAD == TLSF_MIN_BLOCK, "the seam of two joined pools is one minimal block");

// ---- Size classes: the two-level index of free-block sizes ------------------
//
// A free block of `size` bytes (header included) lives in list (fl, sl):
//
//   size < SMALL_SIZE   fl = 0, sl = size / GRANULE            (exact classes,
//                       one per granule: 16, 32, ... on 64-bit)
//   size >= SMALL_SIZE  f  = floor(log2(size))
//                       fl = f - FL_SHIFT + 1                  (one per octave)
//                       sl = (size >> (f - SL_LOG2)) - SL_COUNT
//                            (the SL_LOG2 bits just below the top bit: the
//                             octave cut into SL_COUNT equal slices)
//
// with FL_SHIFT = SL_LOG2 + log2(GRANULE) and SMALL_SIZE = 2^FL_SHIFT, chosen so
// that the slices of octave 1 are exactly one granule wide and continue the
// linear classes of fl = 0 without a gap (fl 0 ends at sl = SL_COUNT - 1, i.e.
// SMALL_SIZE - GRANULE; fl 1 starts at SMALL_SIZE).
//
// The first-level count follows from the largest pool: a block is always
// smaller than its pool (the pool also holds a pool header and a sentinel), so
// with pools of at most 2^MAX_POOL_LOG2 bytes every block has f <= MAX_POOL_LOG2 - 1
// and FL_COUNT = MAX_POOL_LOG2 - FL_SHIFT + 1. Nothing here is tied to 32 bits:
// a 64-bit configuration with MAX_POOL_LOG2 = 48 has 40 first-level lists.
//
// Allocation must find a block >= the request in O(1), so it searches from
// index_for_request(size): the size rounded up to the next class boundary, so
// that *every* block of that class (and of any class above) fits.

/// The bitmap word of a TLSF (see TlsfClasses::Word).
template <bool FITS_32>
struct TlsfWordOf {
  using type = u64;
  static u32 lowest(u64 w) { return ctz64(w); }
  static u32 highest(u64 w) { return log2_floor(w); }
};
template <>
struct TlsfWordOf<true> {
  using type = u32;
  static u32 lowest(u32 w) { return ctz32(w); }
  static u32 highest(u32 w) { return log2_floor_size(w); }  // the class index's own scan
};

/// The class arithmetic of a TLSF with 2^SL_LOG2 second-level lists, pools of at
/// most 2^MAX_POOL_LOG2 bytes, and sizes in multiples of GRANULE (a power of two).
/// Pure constexpr functions, no state; the tests check them for sizes far above
/// 2^32 without allocating anything.
template <u32 SL_LOG2_, u32 MAX_POOL_LOG2_, usize GRANULE_>
struct TlsfClasses {
  static constexpr u32 SL_LOG2 = SL_LOG2_;
  static constexpr u32 MAX_POOL_LOG2 = MAX_POOL_LOG2_;
  static constexpr usize GRANULE = GRANULE_;
  static constexpr u32 GRANULE_LOG2 = log2_floor(GRANULE);
  static constexpr u32 SL_COUNT = 1u << SL_LOG2;
  static constexpr u32 FL_SHIFT = SL_LOG2 + GRANULE_LOG2;
  static constexpr usize SMALL_SIZE = usize{1} << FL_SHIFT;
  static constexpr u32 FL_COUNT = MAX_POOL_LOG2 - FL_SHIFT + 1;

  static_assert(is_pow2(GRANULE), "the granule is a power of two");
  static_assert(SL_LOG2 >= 1 && SL_LOG2 <= 6, "second-level bitmaps are one u64: 2..64 lists");
  static_assert(MAX_POOL_LOG2 > FL_SHIFT, "pools must be able to exceed the linear classes");
  static_assert(MAX_POOL_LOG2 < sizeof(usize) * 8, "a pool size must fit in usize");
  static_assert(FL_COUNT <= 64, "the first-level bitmap is one u64");

  /// The bitmaps' word: u32 when both levels fit in 32 bits (the firmware
  /// shapes), else u64. On a 32-bit core every 64-bit mask, shift and bit
  /// scan costs two or more instructions, and code size with them; 64-bit
  /// cores come out slightly smaller with u32 too (measured: size_table.sh).
  using Word = typename TlsfWordOf<SL_COUNT <= 32 && FL_COUNT <= 32>::type;
  static constexpr u32 WORD_BITS = sizeof(Word) * 8;
  /// Index of the lowest / highest set bit of w != 0.
  static u32 lowest(Word w) { return TlsfWordOf<WORD_BITS == 32>::lowest(w); }
  static u32 highest(Word w) { return TlsfWordOf<WORD_BITS == 32>::highest(w); }

  /// A list index. fl may equal FL_COUNT for requests above every class
  /// (index_for_request only), meaning "no list can serve this".
  struct Index {
    u32 fl;
    u32 sl;
  };

  /// The list a free block of `size` bytes belongs to. Precondition:
  /// GRANULE <= size < 2^MAX_POOL_LOG2 (every real block satisfies it).
  static constexpr Index index_of(usize size) {
    if (size < SMALL_SIZE) return {0, static_cast<u32>(size >> GRANULE_LOG2)};
    const u32 f = log2_floor_size(size);
    return {f - FL_SHIFT + 1, static_cast<u32>(size >> (f - SL_LOG2)) - SL_COUNT};
  }

  /// The first list all of whose blocks are >= size: size rounded up to the next
  /// class boundary, then index_of. Precondition: size <= 2^MAX_POOL_LOG2; the
  /// result has fl == FL_COUNT when no class is large enough.
  static constexpr Index index_for_request(usize size) {
    // Round up by one class width less one byte (the result stays below
    // 2^(MAX_POOL_LOG2+1): no overflow) and truncate to the class. One log2
    // only: when the rounding carries into the next octave, sl comes out as
    // exactly SL_COUNT, which is class 0 of octave fl + 1.
    u32 fl = 0;
    u32 sl = 0;
    if (size < SMALL_SIZE) {
      sl = static_cast<u32>((size + GRANULE - 1) >> GRANULE_LOG2);
    } else {
      const u32 f = log2_floor_size(size);
      const u32 shift = f - SL_LOG2;
      fl = f - FL_SHIFT + 1;
      sl = static_cast<u32>((size + (usize{1} << shift) - 1) >> shift) - SL_COUNT;
    }
    return sl == SL_COUNT ? Index{fl + 1, 0} : Index{fl, sl};
  }

  /// The smallest block size in list (fl, sl): the inverse of index_of.
  static constexpr usize class_min(u32 fl, u32 sl) {
    if (fl == 0) return usize{sl} << GRANULE_LOG2;
    const u32 f = fl + FL_SHIFT - 1;
    return (usize{1} << f) + (usize{sl} << (f - SL_LOG2));
  }
};

// The linear classes meet the logarithmic ones without a gap, for the usual
// 32-bit (granule 8) and 64-bit (granule 16) shapes.
static_assert(TlsfClasses<4, 24, 8>::index_of(127).fl == 0 && TlsfClasses<4, 24, 8>::index_of(127).sl == 15);
static_assert(TlsfClasses<4, 24, 8>::index_of(128).fl == 1 && TlsfClasses<4, 24, 8>::index_of(128).sl == 0);
#if __SIZEOF_SIZE_T__ == 8
static_assert(TlsfClasses<5, 48, 16>::index_of(511).fl == 0 && TlsfClasses<5, 48, 16>::index_of(511).sl == 31);
static_assert(TlsfClasses<5, 48, 16>::index_of(512).fl == 1 && TlsfClasses<5, 48, 16>::index_of(512).sl == 0);
static_assert(TlsfClasses<5, 48, 16>::index_of(528).sl == 1);
// No 4 GiB cap: 64-bit pools of 2^48 bytes index blocks far above 2^32.
static_assert(TlsfClasses<5, 48, 16>::FL_COUNT == 40);
static_assert(TlsfClasses<5, 48, 16>::index_of(usize{1} << 40).fl == 32);
static_assert(TlsfClasses<5, 48, 16>::index_for_request((usize{1} << 40) + 1).sl == 1);
#endif

}  // namespace strata::detail

namespace strata {

/// Host configuration: 32 second-level lists (worst-case internal fragmentation
/// 1/32 ~ 3%) and pools up to 2^48 bytes on 64-bit (2^31 on 32-bit).
/// Control block: about 10.5 KiB on 64-bit.
struct TlsfDefaultConfig {
  /// log2 of the second-level list count per octave (1..6).
  static constexpr u32 SL_LOG2 = 5;
  /// log2 of the largest pool add_memory() accepts; sets the first-level count.
  static constexpr u32 MAX_POOL_LOG2 = sizeof(usize) == 8 ? 48 : 31;
};

/// Firmware configuration: 16 second-level lists (fragmentation bound 1/16) and
/// pools up to 16 MiB; control block about 2.3 KiB on 64-bit.
struct TlsfSmallConfig {
  static constexpr u32 SL_LOG2 = 4;
  static constexpr u32 MAX_POOL_LOG2 = 24;
};

/// Two-level segregated-fit byte allocator over caller-provided pools.
///
/// Every pointer it returns is aligned to at least ALIGN (2 * sizeof(usize)) and
/// is followed by usable_size(p) writable bytes. Errors are AllocError values,
/// never crashes; a corrupted heap found by an always-on check calls strata_fatal.
template <class Cfg = TlsfDefaultConfig>
class Tlsf {
  using Block = detail::TlsfBlock;
  using Pool = detail::TlsfPool;
  using Classes = detail::TlsfClasses<Cfg::SL_LOG2, Cfg::MAX_POOL_LOG2, detail::TLSF_GRANULE>;
  using Word = typename Classes::Word;

 public:
  /// Alignment of every block; smaller alignment requests cost nothing extra.
  static constexpr usize ALIGN = detail::TLSF_GRANULE;
  /// Header bytes in front of each payload (counted in used_bytes()).
  static constexpr usize BLOCK_OVERHEAD = detail::TLSF_HEADER;
  /// Smallest block (and the smallest front gap split off by aligned allocation).
  static constexpr usize MIN_BLOCK = detail::TLSF_MIN_BLOCK;
  /// Smallest pool init()/add_memory() accepts: frame plus one minimal block.
  static constexpr usize MIN_POOL_SIZE = detail::TLSF_POOL_OVERHEAD + MIN_BLOCK;
  /// Largest pool init()/add_memory() accepts.
  static constexpr usize MAX_POOL_SIZE = usize{1} << Cfg::MAX_POOL_LOG2;
  static constexpr u32 FL_COUNT = Classes::FL_COUNT;
  static constexpr u32 SL_COUNT = Classes::SL_COUNT;

  /// An engine with no pool: alloc gives NoMemory, dealloc NotAllocated, stats
  /// are 0 until init(). constexpr, so it can be a constinit global.
  constexpr Tlsf() = default;
  Tlsf(const Tlsf&) = delete;
  Tlsf& operator=(const Tlsf&) = delete;

  /// Forgets every pool (the memory is the caller's again) and starts over with
  /// [start, start + size) as the only pool; see add_memory() for the rules and
  /// errors. After an error the engine is empty (all stats 0).
  Result<void> init(void* start, usize size) {
    mem_set(heads_, 0, sizeof heads_);
    mem_set(sl_bitmap_, 0, sizeof sl_bitmap_);
    fl_bitmap_ = 0;
    pools_ = nullptr;
    total_ = used_ = 0;
    return add_memory(start, size);
  }

  /// Adds the pool [start, start + size). start must be ALIGN-aligned and non-null;
  /// size is rounded down to a multiple of ALIGN and must then lie in
  /// [MIN_POOL_SIZE, MAX_POOL_SIZE]; otherwise InvalidParam. A pool overlapping one
  /// already added gives MemoryOverlap. The caller keeps the memory alive and
  /// untouched for the engine's life. The pool becomes one free block; a pool
  /// that touches another one (ends where it starts or starts where it ends) is
  /// joined with it while the joined pool stays within MAX_POOL_SIZE, so memory
  /// added piece by piece from one reservation behaves as one pool (blocks may
  /// span the seams, and dealloc's pool lookup stays short). O(pools).
  Result<void> add_memory(void* start, usize size) {
    const uptr s = reinterpret_cast<uptr>(start);
    size = align_down(size, ALIGN);
    uptr e = 0;
    if (s == 0 || !is_aligned(s, ALIGN) || size < MIN_POOL_SIZE || size > MAX_POOL_SIZE || !checked_add(s, size, e))
      return AllocError::InvalidParam;
    Pool* below = nullptr;
    Pool* above = nullptr;
    for (Pool* p = pools_; p != nullptr; p = p->next) {
      if (s < p->end && p->start() < e) return AllocError::MemoryOverlap;
      if (p->end == s) below = p;
      if (p->start() == e) above = p;
    }
    Pool* pool = reinterpret_cast<Pool*>(start);
    pool->next = pools_;
    pool->end = e;
    pools_ = pool;
    Block* sentinel = pool->sentinel();
    sentinel->size_flags = 0;
    sentinel->set_used(0);
    Block* first = pool->first();
    first->size_flags = pool->block_bytes();  // used, no PREV_FREE: release() frees it
    total_ += pool->block_bytes();
    release(first);
    if (below != nullptr && join(below, pool)) pool = below;
    if (above != nullptr) join(pool, above);
    return ok();
  }

  /// Allocates at least `size` bytes aligned to `align` (a power of two; values
  /// up to ALIGN cost nothing extra). size 0 gives a minimal block. Errors:
  /// InvalidParam for a zero or non-power-of-two align or size > MAX_OBJECT_SIZE;
  /// NoMemory when no free block fits (the engine is then unchanged).
  Result<void*> alloc(usize size, usize align = ALIGN) {
    if (!is_pow2(align) || size > MAX_OBJECT_SIZE) return AllocError::InvalidParam;
    const usize need = block_size_for(size);
    // An aligned block is cut out of a larger one: the front gap (0, or at least
    // MIN_BLOCK so that it can live as a free block) is at most
    // MIN_BLOCK + align - ALIGN bytes, so search for that much more.
    usize search = need;
    if (align > ALIGN && !checked_add(need, MIN_BLOCK + (align - ALIGN), search)) return AllocError::NoMemory;
    if (search > MAX_POOL_SIZE - detail::TLSF_POOL_OVERHEAD) return AllocError::NoMemory;
    Block* b = find_free(search);
    if (b == nullptr) return AllocError::NoMemory;
    unlink(b);
    if (align > ALIGN) b = split_front(b, align);
    carve(b, need);
    used_ += b->size();
    return b->payload();
  }

  /// Frees a block by pointer alone (what free() needs). NotAllocated when p is
  /// not a live block of this engine: outside every pool, misaligned, already
  /// freed (FREE bit set), or not the start of a block (header check failed,
  /// see the block layout above for what that catches). The block coalesces
  /// at once.
  /// Cost: O(1), plus a walk of the pool chain to prove p is ours (pools that
  /// touch are joined, so the chain is as long as the number of disjoint ranges).
  Result<void> dealloc(void* p) { return free_live(live_block(p)); }

  /// dealloc(p) for a caller that knows p's pool: O(1), no walk of the pool
  /// chain (many disjoint pools free as fast as one). pool_start must be the
  /// start of a pool of this engine (precondition: what add_memory was given,
  /// when that pool was not joined to a lower one). NotAllocated as dealloc(p),
  /// also when p is not in that pool.
  Result<void> dealloc_in_pool(const void* pool_start, void* p) {
    return free_live(live_block_in(static_cast<const Pool*>(pool_start), p));
  }

  /// ByteAllocator form: frees what alloc(size, align) returned. InvalidParam for
  /// a bad align; NotAllocated as dealloc(p), and also when p is not aligned to
  /// align or size exceeds the block's usable size (not what alloc returned).
  Result<void> dealloc(void* p, usize size, usize align) {
    if (!is_pow2(align)) return AllocError::InvalidParam;
    Block* b = live_block(p);
    if (b == nullptr || !is_ptr_aligned(p, align) || size > b->size() - BLOCK_OVERHEAD)
      return AllocError::NotAllocated;
    used_ -= b->size();
    release(b);
    return ok();
  }

  /// Bytes usable at p, a live block (>= the size it was allocated or resized
  /// with, all writable); NotAllocated as for dealloc(p).
  Result<usize> usable_size(const void* p) const { return usable_of(live_block(p)); }
  /// usable_size(p) with p's pool known, as for dealloc_in_pool.
  Result<usize> usable_size_in_pool(const void* pool_start, const void* p) const {
    return usable_of(live_block_in(static_cast<const Pool*>(pool_start), p));
  }

  /// Resizes the live block at p to hold new_size bytes without moving it (for
  /// realloc): shrinking always succeeds (the tail, if big enough, is freed and
  /// coalesced); growing succeeds when the next block is free and large enough.
  /// Returns p. NotAllocated as for dealloc(p); InvalidParam for new_size >
  /// MAX_OBJECT_SIZE; NoMemory when it cannot grow in place (nothing changed).
  Result<void*> try_resize_in_place(void* p, usize new_size) { return resize_live(live_block(p), new_size); }
  /// try_resize_in_place(p, new_size) with p's pool known, as for dealloc_in_pool.
  Result<void*> try_resize_in_pool(const void* pool_start, void* p, usize new_size) {
    return resize_live(live_block_in(static_cast<const Pool*>(pool_start), p), new_size);
  }

  /// Takes back every pool that is one free block (no live block in it) and
  /// calls f(void* start, usize size) with the pool's range: the start
  /// add_memory was given and that size rounded down to ALIGN (or the joined
  /// range, for pools that were joined), the caller's again, to unmap or
  /// reuse. Returns how many. f must not call into this engine. O(pools).
  template <class F>
  usize remove_free_pools(F f) {
    usize removed = 0;
    for (Pool** link = &pools_; *link != nullptr;) {
      Pool* pool = *link;
      Block* first = pool->first();
      if (!first->is_free() || first->size() != pool->block_bytes()) {
        link = &pool->next;
        continue;
      }
      unlink(first);
      *link = pool->next;
      total_ -= pool->block_bytes();
      ++removed;
      f(static_cast<void*>(pool), pool->end - pool->start());
    }
    return removed;
  }

  /// Calls f(void* start, usize bytes) for the interior of every free block with
  /// at least min_bytes (and > 0) of it: memory the engine neither reads nor
  /// writes while the block stays free, so the runtime may madvise/discard it
  /// (start is word-aligned, not page-aligned). f must not call into this
  /// engine. O(free blocks).
  template <class F>
  void for_each_free_run(usize min_bytes, F f) const {
    for (Word fl_map = fl_bitmap_; fl_map != 0; fl_map &= fl_map - 1) {
      const u32 fl = Classes::lowest(fl_map);
      for (Word sl_map = sl_bitmap_[fl]; sl_map != 0; sl_map &= sl_map - 1) {
        for (Block* b = heads_[fl * SL_COUNT + Classes::lowest(sl_map)]; b != nullptr; b = b->next_free) {
          const usize run = b->size() - FREE_RUN_SKIP;
          if (run != 0 && run >= min_bytes) f(reinterpret_cast<void*>(b->addr() + sizeof(Block)), run);
        }
      }
    }
  }

  /// Walks every pool block by block and every free list, checking the
  /// block invariants above, the bitmaps against the lists, each free block's
  /// class, and that block sizes add up to each pool and to the stats. Returns
  /// true when all hold; otherwise calls on_error(const char* what, const void*
  /// where) for the first violation and returns false. O(blocks); for tests.
  template <class F>
  bool verify(F on_error) const;
  /// verify() without a report.
  bool verify() const {
    return verify([](const char*, const void*) {});
  }

  /// The largest size alloc(size) serves right now (for alignments up to
  /// ALIGN), 0 when nothing fits: the payload of the head of the highest
  /// non-empty class list. Any request up to it is found (by the bitmap scan,
  /// or as the head of the class below the rounded-up request); a larger one
  /// is not, even when a bigger block sits further down that same list
  /// (TLSF's good-fit rounding). O(1).
  usize largest_alloc() const {
    if (fl_bitmap_ == 0) return 0;
    const u32 fl = Classes::highest(fl_bitmap_);
    return heads_[fl * SL_COUNT + Classes::highest(sl_bitmap_[fl])]->size() - BLOCK_OVERHEAD;
  }

  /// Bytes of all blocks of all pools (see the accounting note above).
  usize total_bytes() const { return total_; }
  /// Bytes of blocks handed out, headers included.
  usize used_bytes() const { return used_; }
  /// Bytes of free blocks, headers included (total - used).
  usize available_bytes() const { return total_ - used_; }

 private:
  /// Free-block bytes that are metadata: header, next link and footer.
  static constexpr usize FREE_RUN_SKIP = sizeof(Block) + detail::TLSF_WORD;

  /// Block size serving `size` payload bytes. size <= MAX_OBJECT_SIZE, so the
  /// round-up cannot overflow.
  static usize block_size_for(usize size) {
    const usize b = align_up(size + BLOCK_OVERHEAD, ALIGN);
    return b < MIN_BLOCK ? MIN_BLOCK : b;
  }

  /// dealloc of what live_block found (null: NotAllocated).
  Result<void> free_live(Block* b) {
    if (b == nullptr) return AllocError::NotAllocated;
    used_ -= b->size();
    release(b);
    return ok();
  }
  static Result<usize> usable_of(const Block* b) {
    if (b == nullptr) return AllocError::NotAllocated;
    return b->size() - BLOCK_OVERHEAD;
  }
  /// try_resize_in_place of what live_block found.
  Result<void*> resize_live(Block* b, usize new_size) {
    if (b == nullptr) return AllocError::NotAllocated;
    if (new_size > MAX_OBJECT_SIZE) return AllocError::InvalidParam;
    const usize need = block_size_for(new_size);
    const usize old = b->size();
    if (need > old) {
      Block* next = b->next_phys();
      if (!next->is_free() || old + next->size() < need) return AllocError::NoMemory;
      unlink(next);
      b->set_used(old + next->size());
      next->scrub();
      b->next_phys()->clear_prev_free();
    }
    split_tail(b, need);
    used_ = used_ - old + b->size();
    return b->payload();
  }

  /// The live block whose payload is p, or null (see dealloc(p)). Reads nothing
  /// outside the pools, so any pointer value is safe.
  Block* live_block(const void* p) const {
    const uptr a = reinterpret_cast<uptr>(p);
    const Pool* pool = pools_;
    while (pool != nullptr && !pool->holds_payload(a)) pool = pool->next;
    return live_block_in(pool, p);
  }
  /// live_block(p) when p's pool is known (null: not ours).
  static Block* live_block_in(const Pool* pool, const void* p) {
    const uptr a = reinterpret_cast<uptr>(p);
    if (pool == nullptr || !is_aligned(a, ALIGN) || !pool->holds_payload(a)) return nullptr;
    Block* b = Block::from_payload(p);
    if (b->is_free() || !b->check_ok()) return nullptr;
    // A forged or corrupt header must not send us outside the pool.
    if (b->size() < MIN_BLOCK || b->size() > pool->sentinel()->addr() - b->addr()) return nullptr;
    if (b->next_phys()->prev_is_free()) return nullptr;
    return b;
  }

  /// First free block of at least `search` bytes, or null. O(1): two bitmap scans
  /// from the rounded-up class; failing that, the head of the class below it,
  /// the request's own class (so a request for a whole free pool still fits).
  Block* find_free(usize search) const {
    const typename Classes::Index at = Classes::index_for_request(search);
    if (at.fl < FL_COUNT) {
      u32 fl = at.fl;
      Word sl_map = sl_bitmap_[fl] & (~Word{0} << at.sl);
      if (sl_map == 0) {
        const Word fl_map = fl_bitmap_ & ((~Word{0} << fl) << 1);  // two shifts: fl + 1 may be WORD_BITS
        if (fl_map != 0) {
          fl = Classes::lowest(fl_map);
          sl_map = sl_bitmap_[fl];
        }
      }
      if (sl_map != 0) return heads_[fl * SL_COUNT + Classes::lowest(sl_map)];
    }
    // The class just below `at` holds the blocks that may or may not fit (lists
    // are flat, fl-major, so it is the previous slot; at >= (0, 2) as search >=
    // MIN_BLOCK, and at == (FL_COUNT, 0) gives the very last class).
    Block* head = heads_[at.fl * SL_COUNT + at.sl - 1];
    return head != nullptr && head->size() >= search ? head : nullptr;
  }

  /// Pushes free block b on the front of its class list and sets the bitmap bits.
  void link(Block* b) {
    const typename Classes::Index i = Classes::index_of(b->size());
    Block* head = heads_[i.fl * SL_COUNT + i.sl];
    b->tag = 0;
    b->next_free = head;
    if (head != nullptr) head->tag = b->addr();
    heads_[i.fl * SL_COUNT + i.sl] = b;
    sl_bitmap_[i.fl] |= Word{1} << i.sl;
    fl_bitmap_ |= Word{1} << i.fl;
  }

  /// Takes free block b out of its class list, clearing bitmap bits that empty.
  void unlink(Block* b) {
    const typename Classes::Index i = Classes::index_of(b->size());
    Block* prev = Block::at(b->tag);
    Block* next = b->next_free;
    if (next != nullptr) next->tag = b->tag;
    if (prev != nullptr) {
      prev->next_free = next;
    } else {
      STRATA_CHECK(heads_[i.fl * SL_COUNT + i.sl] == b, "tlsf: free list corrupt", b->addr());
      heads_[i.fl * SL_COUNT + i.sl] = next;
      if (next == nullptr) {
        sl_bitmap_[i.fl] &= ~(Word{1} << i.sl);
        if (sl_bitmap_[i.fl] == 0) fl_bitmap_ &= ~(Word{1} << i.fl);
      }
    }
  }

  /// Frees block b (not in any list; its neighbours consistent): merges it with a
  /// free previous and/or next block, writes the footer, sets the next block's
  /// PREV_FREE and links the result.
  void release(Block* b) {
    usize size = b->size();
    if (b->prev_is_free()) {
      Block* prev = b->prev_phys();
      STRATA_CHECK(prev->is_free() && prev->next_phys() == b, "tlsf: corrupt boundary tag", b->addr());
      unlink(prev);
      size += prev->size();
      b->scrub();
      b = prev;
    }
    Block* next = Block::at(b->addr() + size);
    if (next->is_free()) {
      unlink(next);
      size += next->size();
      next->scrub();
      next = Block::at(b->addr() + size);
    }
    b->set_free(size);
    next->set_prev_free();
    link(b);
  }

  /// Joins pool `upper`, which starts where `lower` ends, into `lower` unless the
  /// result would exceed MAX_POOL_SIZE. The seam — lower's sentinel and upper's
  /// pool header, exactly MIN_BLOCK bytes — becomes a block that is freed and
  /// coalesces with the free blocks on either side of it.
  bool join(Pool* lower, Pool* upper) {
    if (upper->end - lower->start() > MAX_POOL_SIZE) return false;
    Pool** link = &pools_;
    while (*link != upper) link = &(*link)->next;
    *link = upper->next;
    Block* seam = lower->sentinel();
    lower->end = upper->end;
    seam->set_used(MIN_BLOCK);  // keeps PREV_FREE: whether lower's last block is free
    total_ += detail::TLSF_POOL_OVERHEAD;
    release(seam);
    return true;
  }

  // alloc works on a block b just taken out of its free list. Since b was free,
  // the invariants say its previous block is used and its next block is used
  // with PREV_FREE set. So pieces cut off b's front or tail never need merging,
  // and the next block's header need not even be read while a free tail
  // follows b (its PREV_FREE stays right): one cache miss fewer on the common
  // path, where the next header is often cold.

  /// Unlinked free block b: moves its start forward so the payload is
  /// `align`-aligned and frees the front gap (0 or >= MIN_BLOCK bytes; alloc
  /// searched for room). Returns the aligned, still unlinked block.
  Block* split_front(Block* b, usize align) {
    const uptr payload = reinterpret_cast<uptr>(b->payload());
    uptr want = align_up(payload, align);
    if (want != payload && want - payload < MIN_BLOCK) want = align_up(payload + MIN_BLOCK, align);
    const usize gap = want - payload;
    if (gap == 0) return b;
    Block* aligned = Block::at(b->addr() + gap);
    aligned->size_flags = (b->size() - gap) | Block::PREV_FREE;
    b->set_free(gap);
    link(b);
    return aligned;
  }

  /// Unlinked free block b of at least `need` bytes becomes a used block: of
  /// `need` bytes with a free tail when the rest can stand as a block, else of
  /// its whole size (then the next block learns its neighbour is used).
  void carve(Block* b, usize need) {
    const usize size = b->size();
    if (size - need >= MIN_BLOCK) {
      Block* tail = Block::at(b->addr() + need);
      tail->size_flags = 0;
      tail->set_free(size - need);
      link(tail);
      b->set_used(need);
    } else {
      b->set_used(size);
      b->next_phys()->clear_prev_free();
    }
  }

  /// Used block b of at least `need` bytes (try_resize_in_place): cuts it to
  /// `need` and frees the tail, which merges with a free next block, when the
  /// tail can stand as a block (else b keeps the slack).
  void split_tail(Block* b, usize need) {
    const usize size = b->size();
    if (size - need < MIN_BLOCK) return;
    Block* tail = Block::at(b->addr() + need);
    tail->size_flags = 0;
    tail->set_used(size - need);
    b->set_used(need);
    release(tail);
  }

  Block* heads_[FL_COUNT * SL_COUNT] = {};  ///< free-list heads, class (fl, sl) at fl * SL_COUNT + sl
  Word sl_bitmap_[FL_COUNT] = {};         ///< bit sl: list (fl, sl) non-empty
  Word fl_bitmap_ = 0;                    ///< bit fl: sl_bitmap_[fl] != 0
  Pool* pools_ = nullptr;                 ///< pools, newest first
  usize total_ = 0;
  usize used_ = 0;
};

static_assert(ByteAllocator<Tlsf<TlsfDefaultConfig>>);
static_assert(ByteAllocator<Tlsf<TlsfSmallConfig>>);

}  // namespace strata

#include "strata/engine/tlsf_verify.hpp"
