// strata engine: constexpr size-class tables and O(1) size -> class lookup.
//
// A table is described by a ClassShape (a structural value, so it can be a
// template argument) and built entirely at compile time:
//
//   linear part     linear_step, 2*linear_step, ..., linear_max
//   geometric part  2^per_doubling_log2 classes per doubling above linear_max,
//                   evenly spaced inside the doubling, up to max_size.
//
// The two tables the engines use:
//   SeedClasses    64, 128, ..., 4096 (the seed design's powers of two), every
//                  span exactly 64 blocks (grow by 64 blocks, 4 KiB .. 256 KiB).
//   MallocClasses  16, 32, ..., 128, then 4 classes per doubling (spacing <=
//                  25%) up to 32 KiB: 40 classes, spans of 4 KiB .. 64 KiB.
//
// Span (slab) size of a class: the smallest power of two in
// [2^min_span_log2, 2^max_span_log2] that holds at least span_blocks blocks.
// When even the cap is too small (big classes), the span in range that wastes
// the smallest fraction of itself, ties going to the larger span (fewer buddy
// trips). With the 64 KiB cap of MallocClasses that leaves every class with
// <= 12.5% tail waste except 24 KiB (2 blocks in 64 KiB: 25%), which no power of
// two up to the cap improves. Spans are aligned to their size, which is what
// lets Heap find a block's span by masking the pointer.
//
// Natural alignment of a class: the largest power of two dividing its size,
// capped at the span size (block i sits at span + i * size, so that is exactly
// the alignment every block of the class has).
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/types.hpp"

namespace strata {

/// The shape of a geometric size-class table (see the file comment). All
/// fields are checked by static_asserts in SizeClassMap.
struct ClassShape {
  u32 linear_step;         ///< spacing (and first class) of the linear part; multiple of 16
  u32 linear_max;          ///< last linear class; power of two, multiple of linear_step
  u32 per_doubling_log2;   ///< log2 of the number of classes per doubling above linear_max
  u32 max_size;            ///< largest class: linear_max * 2^k
  u32 span_blocks;         ///< blocks a span should hold where the span cap allows
  u32 min_span_log2;       ///< smallest span (and Heap page) size, log2
  u32 max_span_log2;       ///< largest span size, log2
};

/// One size class. Everything Heap needs on its hot paths, precomputed.
struct SizeClass {
  u32 size;        ///< block bytes, a multiple of 16
  u32 span_bytes;  ///< span size: a power of two >= size; spans are aligned to it
  u32 align;       ///< natural alignment of every block of the class
  u32 blocks;      ///< blocks per span: span_bytes / size
  /// ceil(2^64 / size). For an offset off < 2^32: off % size == 0 exactly when
  /// off * div_magic (mod 2^64) < div_magic (Lemire, Kaser, Kurz 2019): the
  /// product keeps the fractional part of off / size in its high bits, which is
  /// below 1/size only for multiples. One multiply, no division instruction.
  u64 div_magic;
};

namespace detail {

constexpr u32 class_count(const ClassShape& s) {
  return s.linear_max / s.linear_step + (log2_floor(s.max_size / s.linear_max) << s.per_doubling_log2);
}

/// Size of class i (see the file comment for the two parts).
constexpr u32 class_size_of(const ClassShape& s, u32 i) {
  const u32 nlinear = s.linear_max / s.linear_step;
  if (i < nlinear) return (i + 1) * s.linear_step;
  const u32 g = i - nlinear;
  const u32 base = s.linear_max << (g >> s.per_doubling_log2);  // start of this doubling
  const u32 step = base >> s.per_doubling_log2;
  return base + ((g & ((1u << s.per_doubling_log2) - 1)) + 1) * step;
}

/// Span size (log2) of a class of `size` bytes, per the rule in the file comment.
constexpr u32 span_log2_for(const ClassShape& s, u32 size) {
  u32 lo = log2_ceil(size);
  if (lo < s.min_span_log2) lo = s.min_span_log2;
  for (u32 l = lo; l <= s.max_span_log2; ++l)
    if ((u64{1} << l) / size >= s.span_blocks) return l;
  u32 best = lo;
  for (u32 l = lo + 1; l <= s.max_span_log2; ++l) {
    // waste(l) / 2^l <= waste(best) / 2^best, compared without division.
    const u64 waste_l = (u64{1} << l) % size, waste_b = (u64{1} << best) % size;
    if ((waste_l << best) <= (waste_b << l)) best = l;
  }
  return best;
}

template <u32 N>
struct ClassArray {
  SizeClass c[N];
};

template <u32 N>
constexpr ClassArray<N> build_classes(const ClassShape& s) {
  ClassArray<N> t{};
  for (u32 i = 0; i < N; ++i) {
    const u32 size = class_size_of(s, i);
    const u32 span = 1u << span_log2_for(s, size);
    const u32 natural = size & (~size + 1);  // lowest set bit
    t.c[i] = SizeClass{size, span, natural < span ? natural : span, span / size, ~u64{0} / size + 1};
  }
  return t;
}

/// Sizes up to this go through the byte table (index (size + 15) >> 4).
constexpr u32 small_lookup_max(const ClassShape& s) { return s.max_size < 1024 ? s.max_size : 1024; }

template <u32 M>
struct ByteArray {
  u8 b[M];
};

/// The byte table: entry i is the smallest class holding 16 * i bytes, which
/// is also the answer for every size in (16 * (i - 1), 16 * i] because every
/// class size is a multiple of 16.
template <u32 N, u32 M>
constexpr ByteArray<M> build_lookup(const ClassArray<N>& t) {
  ByteArray<M> out{};
  u32 c = 0;
  for (u32 i = 0; i < M; ++i) {
    while (t.c[c].size < 16 * i) ++c;
    out.b[i] = static_cast<u8>(c);
  }
  return out;
}

}  // namespace detail

/// A compile-time size-class table with O(1) lookups. All members are static
/// and constexpr: the tables live in read-only data, there is no state.
template <ClassShape S>
class SizeClassMap {
 public:
  /// Answer of the lookups when no class fits.
  static constexpr u32 NO_CLASS = ~u32{0};
  static constexpr u32 NUM_CLASSES = detail::class_count(S);
  static constexpr usize MAX_SIZE = S.max_size;
  /// Alignment every class honours (the smallest natural alignment).
  static constexpr usize MIN_ALIGN = S.linear_step & (~S.linear_step + 1);
  static constexpr u32 MIN_SPAN_LOG2 = S.min_span_log2;
  static constexpr u32 MAX_SPAN_LOG2 = S.max_span_log2;

  /// The class record; cls < NUM_CLASSES (precondition).
  static constexpr const SizeClass& get(u32 cls) { return TABLE.c[cls]; }
  static constexpr usize size(u32 cls) { return TABLE.c[cls].size; }

  /// Smallest class with size >= `size` (size 0 counts as 1); NO_CLASS when
  /// size > MAX_SIZE. O(1): a byte table up to 1 KiB, then the inverse of the
  /// geometric formula (exponent and top mantissa bits of size - 1).
  static constexpr u32 class_for_size(usize size) {
    if (size <= SMALL_MAX) return SMALL.b[(size + 15) >> 4];
    if (size > MAX_SIZE) return NO_CLASS;
    const usize s = size - 1;
    const u32 e = log2_floor(s);  // e >= log2(linear_max) because size > SMALL_MAX >= linear_max
    const u32 mant = static_cast<u32>(s >> (e - S.per_doubling_log2)) & ((1u << S.per_doubling_log2) - 1);
    return NLINEAR + ((e - LINEAR_MAX_LOG2) << S.per_doubling_log2) + mant;
  }

  /// Smallest class with size >= `size` whose natural alignment is >= align
  /// (a power of two); NO_CLASS when none. Above MIN_ALIGN it starts at the
  /// class for max(size, align) (no smaller block can be that aligned) and
  /// steps at most one doubling's worth of classes forward.
  static constexpr u32 class_for(usize size, usize align) {
    if (align <= MIN_ALIGN) return class_for_size(size);
    if (align > MAX_ALIGN) return NO_CLASS;
    u32 c = class_for_size(size > align ? size : align);
    while (c < NUM_CLASSES && TABLE.c[c].align < align) ++c;
    return c < NUM_CLASSES ? c : NO_CLASS;
  }

  /// True when `off` (the offset of a pointer inside a span of class cls) is
  /// the start of one of the span's blocks. No division (see div_magic).
  static constexpr bool is_block_offset(u32 cls, usize off) {
    const SizeClass& c = TABLE.c[cls];
    return off < usize{c.blocks} * c.size && static_cast<u64>(off) * c.div_magic < c.div_magic;
  }

 private:
  static constexpr u32 NLINEAR = S.linear_max / S.linear_step;
  static constexpr u32 LINEAR_MAX_LOG2 = log2_floor(S.linear_max);
  static constexpr u32 SMALL_MAX = detail::small_lookup_max(S);
  static constexpr detail::ClassArray<NUM_CLASSES> TABLE = detail::build_classes<NUM_CLASSES>(S);
  static constexpr detail::ByteArray<(SMALL_MAX >> 4) + 1> SMALL =
      detail::build_lookup<NUM_CLASSES, (SMALL_MAX >> 4) + 1>(TABLE);
  static constexpr usize MAX_ALIGN = [] {
    usize m = 0;
    for (const SizeClass& c : TABLE.c) m = c.align > m ? c.align : m;
    return m;
  }();

  // The shape's own constraints.
  static_assert(S.linear_step % 16 == 0 && S.linear_step > 0, "classes are multiples of 16");
  static_assert(is_pow2(S.linear_max) && S.linear_max % S.linear_step == 0);
  static_assert(S.max_size >= S.linear_max && is_pow2(S.max_size / S.linear_max) &&
                S.max_size % S.linear_max == 0, "max_size = linear_max * 2^k");
  static_assert((S.linear_max >> S.per_doubling_log2) % 16 == 0, "geometric steps are multiples of 16");
  static_assert(S.min_span_log2 <= S.max_span_log2 && S.max_span_log2 < 32);
  static_assert(S.max_size <= (1u << S.max_span_log2), "the largest class fits a span");
  static_assert(NUM_CLASSES >= 1 && NUM_CLASSES < 255, "Heap stores class c in a byte as c + 1 (0 = none)");
  static_assert(SMALL_MAX >= S.linear_max, "the formula only covers the geometric part");

  /// Table-wide invariants, checked once at compile time.
  static constexpr bool valid() {
    for (u32 i = 0; i < NUM_CLASSES; ++i) {
      const SizeClass& c = TABLE.c[i];
      if (c.size % 16 != 0 || (i > 0 && c.size <= TABLE.c[i - 1].size)) return false;
      if (!is_pow2(c.span_bytes) || c.span_bytes < c.size || c.blocks != c.span_bytes / c.size) return false;
      if (c.span_bytes < (1u << S.min_span_log2) || c.span_bytes > (1u << S.max_span_log2)) return false;
      if (!is_pow2(c.align) || c.size % c.align != 0 || c.blocks > 0xffff) return false;
      // Spacing: a class is at most 1 / 2^per_doubling_log2 above its predecessor.
      if (i > 0 && (c.size - TABLE.c[i - 1].size) * (1u << S.per_doubling_log2) > TABLE.c[i - 1].size &&
          c.size > S.linear_max)
        return false;
    }
    return TABLE.c[NUM_CLASSES - 1].size == S.max_size;
  }
  static_assert(valid(), "size-class table invariants");
};

/// The seed design's table: 64..4096 in powers of two, 64 blocks per span.
using SeedClasses = SizeClassMap<ClassShape{64, 64, 0, 4096, 64, 12, 18}>;
/// The malloc table: 16..128 by 16, then 4 classes per doubling to 32 KiB.
using MallocClasses = SizeClassMap<ClassShape{16, 128, 2, 32768, 64, 12, 16}>;

static_assert(SeedClasses::NUM_CLASSES == 7 && SeedClasses::get(6).blocks == 64);
static_assert(MallocClasses::NUM_CLASSES == 40 && MallocClasses::size(8) == 160);
static_assert(MallocClasses::class_for_size(1) == 0 && MallocClasses::class_for_size(129) == 8);
static_assert(MallocClasses::class_for(16, 4096) == MallocClasses::class_for_size(4096));

}  // namespace strata
