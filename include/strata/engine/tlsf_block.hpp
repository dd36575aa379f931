// strata engine: the TLSF block — boundary-tag header, footer and pool frame.
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
#pragma once
#include "strata/core/mem.hpp"
#include "strata/core/types.hpp"

namespace strata::detail {

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

}  // namespace strata::detail
