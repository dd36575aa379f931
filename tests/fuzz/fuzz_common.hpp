// Shared by every libFuzzer target in tests/fuzz: how input bytes become
// operations, and the shadow model that checks an allocator's answers.
//
//  - Input: a cursor over the fuzzer's bytes. Every read past the end gives
//    zeros, so any input (the empty one included) decodes to a valid, finite
//    sequence of operations; op() ends the sequence when the bytes run out.
//  - Shadow: the live blocks an allocator handed out (pointer, size,
//    alignment, seed). add() checks alignment and that the new block overlaps
//    no live block, then fills it with a pattern that depends on the seed and
//    the offset; check() proves the pattern intact before a block is freed
//    or moved, so any write by the allocator into a live block, and any
//    block handed out twice, is caught.
//  - Arena: a static, page-aligned pool from which each target carves fresh
//    regions for init/add_memory (disjoint by construction); Regions: the
//    ranges an engine accepted, for "is this block inside them" checks.
//  - EngineFuzz: what the buddy, heap and tlsf fuzzers share around their
//    engine (the pieces above, the model's used bytes, region setup, the
//    step loop, the common bad-input cases); each keeps its own operations.
//  - FUZZ_CHECK aborts with the failed condition: libFuzzer saves the input.
//
// The engines need strata_fatal (include/strata/core/check.hpp): defined here as an
// abort, so a broken engine invariant is a crash the fuzzer reports.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "strata/result.hpp"

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

#ifndef FUZZ_NO_FATAL_HOOK
extern "C" [[noreturn]] inline void strata_fatal(const char* what, std::uintptr_t value) {
  std::fprintf(stderr, "strata_fatal: %s 0x%zx\n", what, static_cast<std::size_t>(value));
  std::abort();
}
#endif

namespace fuzz {

/// Cursor over the input bytes; reads past the end give zeros.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  bool done() const { return n_ == 0; }
  std::uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(u16() | (static_cast<std::uint32_t>(u16()) << 16)); }
  std::uint64_t u64() { return u32() | (static_cast<std::uint64_t>(u32()) << 32); }
  /// A size spread over the powers of two up to 2^max_log (2 bytes).
  std::size_t size(unsigned max_log) {
    const unsigned k = u8() % (max_log + 1);
    const std::size_t lo = k == 0 ? 0 : std::size_t{1} << (k - 1);
    return lo + (u8() * ((std::size_t{1} << k) - lo)) / 256;
  }
  /// A power of two up to 2^max_log (1 byte).
  std::size_t align(unsigned max_log) { return std::size_t{1} << (u8() % (max_log + 1)); }
  /// An index below n (n > 0), from 1 byte (2 when n > 256).
  std::size_t index(std::size_t n) { return (n > 256 ? u16() : u8()) % n; }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

/// Byte i of the pattern of a block with this seed.
inline std::uint8_t pattern(std::uint32_t seed, std::size_t i) {
  std::uint32_t x = seed ^ static_cast<std::uint32_t>(i * 0x9e3779b1u);
  x ^= x >> 15;
  x *= 0x2c1b3c6du;
  return static_cast<std::uint8_t>(x ^ (x >> 12) ^ (i >> 8));
}

/// Offsets written and checked: every byte of small blocks; head, tail and a
/// stride of large ones (so a 1 MiB block costs ~1 µs, not a full pass).
template <class F>
void for_checked_bytes(std::size_t n, F f) {
  if (n <= 1024) {
    for (std::size_t i = 0; i < n; ++i) f(i);
    return;
  }
  for (std::size_t i = 0; i < 256; ++i) f(i), f(n - 1 - i);
  for (std::size_t i = 256; i < n - 256; i += 509) f(i);
}

struct Block {
  std::uint8_t* ptr;
  std::size_t size;   ///< bytes carrying the pattern (what was asked for)
  std::size_t align;
  std::uint32_t seed;
  std::size_t tag;    ///< caller's extra datum (class, order, page count ...)
};

/// The live blocks of one allocator, with their contents.
template <std::size_t Max>
class Shadow {
 public:
  std::size_t count() const { return n_; }
  bool full() const { return n_ == Max; }
  Block& at(std::size_t i) { return b_[i]; }

  /// Records a new block after checking its alignment and that it overlaps
  /// no live block; fills it with its pattern. Zero-size blocks count as one byte.
  Block& add(void* p, std::size_t size, std::size_t align, std::uint32_t seed, std::size_t tag = 0) {
    FUZZ_CHECK(p != nullptr && n_ < Max);
    FUZZ_CHECK(reinterpret_cast<std::uintptr_t>(p) % align == 0);
    auto* c = static_cast<std::uint8_t*>(p);
    const std::size_t span = size == 0 ? 1 : size;
    for (std::size_t i = 0; i < n_; ++i) {
      const std::size_t other = b_[i].size == 0 ? 1 : b_[i].size;
      FUZZ_CHECK(c + span <= b_[i].ptr || b_[i].ptr + other <= c);
    }
    b_[n_] = Block{c, size, align, seed, tag};
    fill(b_[n_]);
    return b_[n_++];
  }
  /// Proves block i's pattern intact.
  void check(std::size_t i) const { check(b_[i]); }
  /// Proves b's pattern intact in its first `keep` bytes (all by default):
  /// after a resize to `keep` bytes, call with b.size still the old size.
  static void check(const Block& b, std::size_t keep = SIZE_MAX) {
    for_checked_bytes(b.size, [&](std::size_t k) {
      if (k < keep) FUZZ_CHECK(b.ptr[k] == pattern(b.seed, k));
    });
  }
  /// Writes b's pattern (again, after a resize) over its checked bytes.
  static void fill(const Block& b) {
    for_checked_bytes(b.size, [&](std::size_t k) { b.ptr[k] = pattern(b.seed, k); });
  }
  /// Forgets block i (the last block takes its slot).
  Block remove(std::size_t i) {
    Block out = b_[i];
    b_[i] = b_[--n_];
    return out;
  }
  /// Sum of the live sizes.
  std::size_t live_bytes() const {
    std::size_t s = 0;
    for (std::size_t i = 0; i < n_; ++i) s += b_[i].size;
    return s;
  }

 private:
  Block b_[Max];
  std::size_t n_ = 0;
};

/// A static, page-aligned pool carved into fresh regions; reset per input.
template <std::size_t Bytes>
class Arena {
 public:
  void reset() { used_ = 0; }
  /// `size` fresh bytes at an offset of `misalign` from a 4 KiB boundary, or null.
  std::uint8_t* take(std::size_t size, std::size_t misalign = 0) {
    const std::size_t start = ((used_ + 4095) & ~std::size_t{4095}) + misalign;
    return carve(start, size);
  }
  /// `size` fresh bytes right after the previous region (16-aligned): a
  /// region that touches the one before it.
  std::uint8_t* take_next(std::size_t size) { return carve((used_ + 15) & ~std::size_t{15}, size); }
  /// True when p lies in the pool (for the "foreign pointer" cases).
  bool contains(const void* p) const {
    const auto* c = static_cast<const std::uint8_t*>(p);
    return c >= mem_ && c < mem_ + Bytes;
  }
  std::uint8_t* base() { return mem_; }

 private:
  // Zeroed: nothing an engine wrote for an earlier input may look like live
  // metadata now (Tlsf documents stale headers as undetectable).
  std::uint8_t* carve(std::size_t start, std::size_t size) {
    if (start > Bytes || size > Bytes - start) return nullptr;
    used_ = start + size;
    std::memset(mem_ + start, 0, size);
    return mem_ + start;
  }
  alignas(4096) std::uint8_t mem_[Bytes];
  std::size_t used_ = 0;
};

/// The ranges an engine accepted (init/add_memory), up to Max of them.
template <std::size_t Max>
class Regions {
 public:
  struct Range {
    std::uint8_t* start;
    std::size_t size;
  };
  void clear() { n_ = 0; }
  bool full() const { return n_ == Max; }
  std::size_t count() const { return n_; }
  const Range& at(std::size_t i) const { return r_[i]; }
  /// Records [p, p + size). With `join`, a range that starts where a
  /// recorded one ends extends it instead (as Tlsf joins touching pools).
  void add(std::uint8_t* p, std::size_t size, bool join = false) {
    for (std::size_t i = 0; join && i < n_; ++i)
      if (r_[i].start + r_[i].size == p) {
        r_[i].size += size;
        return;
      }
    FUZZ_CHECK(n_ < Max);
    r_[n_++] = Range{p, size};
  }
  /// The range holding p, or null.
  const Range* holding(const void* p) const {
    const auto* c = static_cast<const std::uint8_t*>(p);
    for (std::size_t i = 0; i < n_; ++i)
      if (c >= r_[i].start && c < r_[i].start + r_[i].size) return &r_[i];
    return nullptr;
  }
  /// True when [p, p + n) lies inside one range.
  bool contains(const void* p, std::size_t n) const {
    const Range* r = holding(p);
    return r != nullptr && n <= static_cast<std::size_t>(r->start + r->size - static_cast<const std::uint8_t*>(p));
  }

 private:
  Range r_[Max];
  std::size_t n_ = 0;
};

/// One operation of a fuzzer, decoding its arguments from the input.
using Op = void (*)(Input&);

/// The scaffolding of the byte-engine fuzzers (buddy, heap, tlsf): the engine,
/// the pool its regions come from, the shadow of its live blocks, the regions
/// it accepted, and `used`, the model's used_bytes(): the sum of the live
/// blocks' tags, which each fuzzer sets to what a block costs its engine
/// (block bytes, usable size, usable size + header). One static instance per
/// fuzzer; reset() at the start of every input.
template <class E, std::size_t ArenaBytes, std::size_t MaxLive, std::size_t MaxRegions>
struct EngineFuzz {
  using AllocError = strata::AllocError;
  E engine;
  Arena<ArenaBytes> arena;
  Shadow<MaxLive> live;
  Regions<MaxRegions> regions;
  std::size_t used = 0;

  void reset() {
    arena.reset();
    while (live.count() != 0) live.remove(0);
    regions.clear();
    used = 0;
  }
  /// used_bytes() is exactly the model's; used + available == total.
  void check_stats() const {
    FUZZ_CHECK(engine.used_bytes() == used);
    FUZZ_CHECK(engine.used_bytes() + engine.available_bytes() == engine.total_bytes());
  }
  /// A refusal with `want` that left the state as it was.
  void expect_refused(strata::Result<void> r, AllocError want) const {
    FUZZ_CHECK(!r.ok() && r.error() == want);
    check_stats();
  }
  /// Every live block intact, and the engine's full invariant walk.
  void check_all() {
    for (std::size_t i = 0; i < live.count(); ++i) live.check(i);
    FUZZ_CHECK(engine.verify());
  }

  /// init (first) or add_memory of [p, p + size); a null p does nothing. The
  /// engine must refuse it with InvalidParam and an unchanged total when
  /// `invalid` (and may refuse it so anyway); else the total grows by at most
  /// size and the first `keep` bytes count as a region (joined to one they
  /// touch when `join`, as Tlsf joins touching pools).
  void add_region(std::uint8_t* p, std::size_t size, bool first, bool invalid, std::size_t keep, bool join) {
    if (p == nullptr || regions.full()) return;
    const std::size_t total0 = first ? 0 : engine.total_bytes();
    const strata::Result<void> r = first ? engine.init(p, size) : engine.add_memory(p, size);
    if (invalid) FUZZ_CHECK(!r.ok());
    if (!r.ok()) {
      FUZZ_CHECK(r.error() == AllocError::InvalidParam && engine.total_bytes() == total0);
      return;
    }
    FUZZ_CHECK(engine.total_bytes() > total0 && engine.total_bytes() - total0 <= size);
    regions.add(p, keep, join);
  }
  /// add_region of `size` fresh bytes at `misalign` from a page, for engines
  /// that take regions aligned to E::REGION_ALIGN.
  void add_fresh_region(std::size_t size, std::size_t misalign, bool first) {
    if (regions.full()) return;
    add_region(arena.take(size, misalign), size, first, misalign % E::REGION_ALIGN != 0, size, false);
  }

  /// alloc(size, align): the block, or null after checking the refusal is
  /// NoMemory with used_bytes() unchanged.
  void* alloc(std::size_t size, std::size_t align) {
    const std::size_t used0 = engine.used_bytes();
    const strata::Result<void*> r = engine.alloc(size, align);
    if (r.ok()) return r.value();
    FUZZ_CHECK(r.error() == AllocError::NoMemory && engine.used_bytes() == used0);
    return nullptr;
  }
  /// Proves live block i intact, forgets it and frees it with dealloc(block),
  /// which must succeed.
  template <class Dealloc>
  void free_block(std::size_t i, Dealloc dealloc) {
    live.check(i);
    const Block b = live.remove(i);
    FUZZ_CHECK(dealloc(b).ok());
    used -= b.tag;
  }

  /// Bad input every engine refuses with InvalidParam: alignment 0 or not a
  /// power of two, then (with `too_big`) sizes beyond MAX_OBJECT_SIZE.
  void refuse_bad_params(Input& in, bool too_big) {
    const std::size_t align = in.u8() % 2 == 0 ? 0 : 3 + 2 * std::size_t{in.u8()};
    const strata::Result<void*> r = engine.alloc(in.size(12), align);
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
    if (!too_big) return;
    const strata::Result<void*> big = engine.alloc(strata::MAX_OBJECT_SIZE + 1 + in.u8(), 16);
    FUZZ_CHECK(!big.ok() && big.error() == AllocError::InvalidParam);
  }
  /// add_memory of `bytes` inside a region the engine has: MemoryOverlap.
  void refuse_overlap(Input& in, std::size_t bytes) {
    if (regions.count() == 0) return;
    const auto& r = regions.at(in.index(regions.count()));
    expect_refused(engine.add_memory(r.start + ((in.u16() % r.size) & ~std::size_t{15}), bytes),
                   AllocError::MemoryOverlap);
  }
  /// The engine's free runs hold no byte of a live block, whose span starts
  /// `header` bytes before its pointer and is tag bytes long.
  void check_free_runs(std::size_t header) {
    engine.for_each_free_run(0, [&](void* run, strata::usize bytes) {
      auto* c = static_cast<std::uint8_t*>(run);
      for (std::size_t k = 0; k < live.count(); ++k) {
        const Block& l = live.at(k);
        FUZZ_CHECK(l.ptr - header + l.tag <= c || c + bytes <= l.ptr - header);
      }
    });
  }

  /// Runs f(i, b) on live block i, which the input picks (none: nothing
  /// runs); b is a copy, so f may free the block.
  template <class F>
  void with_live_block(Input& in, F f) {
    if (live.count() == 0) return;
    const std::size_t i = in.index(live.count());
    const Block b = live.at(i);
    f(i, b);
  }

  /// One input: reset(), first(in) sets up the first region, then the steps:
  /// each runs the entry of `ops` the next byte picks (an entry repeated is
  /// picked more often) or, for code N, check_all(); up to 4096 steps while
  /// input lasts, the stats checked after each step, the invariants every 64.
  /// Then every live block is freed (last first) with free_last(index), and
  /// the engine must be empty and valid.
  template <std::size_t N, class FreeLast>
  void run(Input in, const Op (&ops)[N], Op first, FreeLast free_last) {
    reset();
    first(in);
    for (unsigned n = 0; !in.done() && n < 4096; ++n) {
      const std::size_t code = in.u8() % (N + 1);
      if (code == N)
        check_all();
      else
        ops[code](in);
      check_stats();
      if (n % 64 == 63) FUZZ_CHECK(engine.verify());
    }
    while (live.count() != 0) free_last(live.count() - 1);
    FUZZ_CHECK(engine.used_bytes() == 0);
    FUZZ_CHECK(engine.verify());
  }
};

}  // namespace fuzz
