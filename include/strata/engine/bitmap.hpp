// strata engine: a hierarchical bitmap, the index behind BitmapPageAllocator and
// BitmapIdAllocator.
//
// Layout. The leaf is an array of u64 words, one bit per unit (page or id).
// Above it sit summary trees, one bit per word of the level below, summarised
// again level by level until a single word remains (2^20 bits: 16384 leaf
// words -> 256 -> 4 -> 1). Two flavours of tree:
//
//   an OR tree  (V = true):  bit set   <=> the word below has a one
//   an AND tree (V = false): bit clear <=> the word below has a zero
//
// so in both a bit "of interest" (equal to V) means "what you look for is down
// there". The bitmap keeps an OR tree (next one), an AND tree (next zero), and a
// third tree over the first level of whichever of those two looks for the bit
// that *breaks* a run: that level already marks leaf words made entirely of the
// run's bit, and the third tree finds the next such word quickly.
//
// A search goes up while the masked word at the current level is empty and
// comes down with one ctz per level: O(log64 BITS), never a walk over single
// bits or over all words.
//
// Runs of up to 64 bits are found word-parallel (every start in a word tested
// with a few shifts), longer ones by candidates that jump over whole blocked
// stretches; see find_run. Run searches also keep, per alignment class, a
// hint: every aligned position below it holds the bit that breaks runs.
// Repeated aligned requests (one page aligned to 8, a thousand times) then
// resume where the last one stopped instead of stepping over every blocked
// aligned slot again; writing run bits lowers the hints, so first fit stays
// exact.
//
// The all-zero object is consistent (an OR of zeros is zero, an AND of zeros is
// zero), so a Bitmap is constexpr-constructible, needs no init, and lives in
// .bss as a constinit global. Not thread-safe; no heap; storage inline (about
// BITS / 8 * 1.03 bytes, plus 256 bytes of hints).
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/types.hpp"

namespace strata::detail {

/// The bits of interest of a word: itself when looking for ones, else its complement.
constexpr u64 interest(u64 word, bool looking_for) { return looking_for ? word : ~word; }

/// Mask of bit positions >= b (b < 64).
constexpr u64 bits_from(usize b) { return ~u64{0} << b; }

template <bool C, class A, class B> struct Select { using type = A; };
template <class A, class B> struct Select<false, A, B> { using type = B; };

/// The top of a summary tree: nothing above.
struct TreeTop {
  void reset() {}
};

/// One bit per child word for N child words, plus the levels above it. V is
/// the bit value searched for (see the file comment). Zero-initialised state
/// matches all-zero children.
template <usize N, bool V>
class SummaryTree {
  static constexpr usize WORDS = (N + 63) / 64;
  using Parent = typename Select<(WORDS > 1), SummaryTree<WORDS, V>, TreeTop>::type;

 public:
  constexpr SummaryTree() = default;

  /// Records that child word `child` (< N) now holds x. True when this level's
  /// word changed (the parent is then updated too; otherwise nothing above can change).
  bool note(usize child, u64 x) {
    const bool bit = V ? x != 0 : x == ~u64{0};
    u64& w = bits_[child / 64];
    const u64 m = u64{1} << (child % 64);
    const u64 next = bit ? (w | m) : (w & ~m);
    if (next == w) return false;
    w = next;
    if constexpr (WORDS > 1) parent_.note(child / 64, next);
    return true;
  }

  /// First child index >= from whose word holds a bit equal to V, or N.
  usize find(usize from) const {
    if (from >= N) return N;
    usize w = from / 64;
    u64 m = interest(bits_[w], V) & bits_from(from % 64);
    if (m == 0) {
      if constexpr (WORDS == 1) {
        return N;
      } else {
        w = parent_.find(w + 1);
        if (w >= WORDS) return N;
        m = interest(bits_[w], V);
      }
    }
    // An AND tree's padding bits (past N) read as "has a zero": clamp them away.
    const usize i = w * 64 + ctz64(m);
    return i < N ? i : N;
  }

  /// This level's word j (bit k describes child word 64 * j + k).
  u64 word(usize j) const { return bits_[j]; }

  void reset() {
    for (u64& w : bits_) w = 0;
    parent_.reset();
  }

 private:
  u64 bits_[WORDS]{};
  [[no_unique_address]] Parent parent_{};
};

/// A fixed-capacity bitmap of BITS bits with O(log64 BITS) searches for the next
/// one, the next zero, and a first-fit run of RUN_BIT bits. All bits start zero.
template <usize BITS, bool RUN_BIT>
class Bitmap {
  static_assert(BITS > 0, "a bitmap needs at least one bit");
  static_assert(BITS < (usize{1} << (sizeof(usize) * 8 - 2)), "index arithmetic must not overflow");
  static constexpr usize WORDS = (BITS + 63) / 64;
  static constexpr usize WORDS_L1 = (WORDS + 63) / 64;
  /// A run at least this long always covers one whole leaf word (worst case it
  /// starts one bit past a word boundary: 63 bits, then 64).
  static constexpr usize RUN_COVERS_WORD = 127;
  /// Alignment classes (log2 of align) that keep a hint; larger alignments
  /// have at most BITS / 2^16 candidates and always search from 0.
  static constexpr u32 HINT_CLASSES = 16;

  /// Every position p < from with (p + offset) % 2^class == 0 holds !RUN_BIT.
  struct Hint {
    usize from = 0;
    usize offset = 0;
  };

 public:
  /// Returned by searches that find nothing (not a valid bit index).
  static constexpr usize NONE = BITS;

  constexpr Bitmap() = default;

  /// Value of bit i. Precondition: i < BITS.
  bool test(usize i) const { return (words_[i / 64] >> (i % 64)) & 1u; }

  /// Sets every bit of [lo, lo + n) to value. Precondition: lo + n <= BITS.
  /// O(n / 64) word writes, each with an O(1) amortised summary update.
  void assign_range(usize lo, usize n, bool value) {
    if (value == RUN_BIT)
      for (Hint& h : hints_) h.from = h.from < lo ? h.from : lo;
    while (n > 0) {
      const usize bit = lo % 64;
      const usize take = n < 64 - bit ? n : 64 - bit;
      // `take` ones starting at `bit` (take == 64 only when bit == 0).
      const u64 mask = (take == 64 ? ~u64{0} : (u64{1} << take) - 1) << bit;
      const usize w = lo / 64;
      store(w, value ? (words_[w] | mask) : (words_[w] & ~mask));
      lo += take;
      n -= take;
    }
  }

  /// Sets every bit to zero: O(BITS / 64).
  void reset() {
    for (u64& w : words_) w = 0;
    ones_.reset();
    zeros_.reset();
    runs_.reset();
    for (Hint& h : hints_) h = Hint{};
  }

  /// First index >= from whose bit equals value, or NONE.
  usize find_next(usize from, bool value) const {
    if (from >= BITS) return NONE;
    usize w = from / 64;
    u64 m = interest(words_[w], value) & bits_from(from % 64);
    if (m == 0) {
      w = value ? ones_.find(w + 1) : zeros_.find(w + 1);
      if (w >= WORDS) return NONE;
      m = interest(words_[w], value);
    }
    // Leaf padding past BITS is zero, so a search for zeros may land there.
    const usize i = w * 64 + ctz64(m);
    return i < BITS ? i : NONE;
  }

  /// True when every bit of [lo, lo + n) equals value. Precondition: lo + n <= BITS.
  bool all_equal(usize lo, usize n, bool value) const { return n == 0 || find_next(lo, !value) >= lo + n; }

  /// First fit: the lowest s with s + n <= BITS, (s + offset) % align == 0 and
  /// every bit of [s, s + n) equal to RUN_BIT; NONE when there is none.
  /// Preconditions: n > 0, align a power of two. `offset` lets a caller align
  /// an absolute quantity (an address) whose bit 0 is not itself aligned.
  /// Not const: it moves the alignment class's hint (see the file comment).
  ///
  /// Runs of up to 64 bits are searched a word at a time (every start in a
  /// word tested at once); longer runs by candidates, each checked up to its
  /// first breaking bit, the next candidate taken past that bit. Both skip
  /// words without run bits through the summaries.
  usize find_run(usize n, usize align, usize offset) {
    if (n == 0 || n > BITS) return NONE;
    Hint* hint = hint_for(log2_floor(align), offset);
    return n <= 64 ? find_short_run(n, align, offset, hint) : find_long_run(n, align, offset, hint ? hint->from : 0);
  }

 private:
  /// The tree that finds bits breaking a run; its first level has a bit per
  /// leaf word that reads, through interest(., RUN_BIT), as "made only of RUN_BIT"
  /// (AND tree: "all ones"; OR tree, complemented: "no one at all").
  const auto& stop_tree() const {
    if constexpr (RUN_BIT) return zeros_;
    else return ones_;
  }

  /// The hint of alignment class cls for this offset (restarted when the
  /// offset changes), or nullptr for classes without one.
  Hint* hint_for(u32 cls, usize offset) {
    if (cls >= HINT_CLASSES) return nullptr;
    if (hints_[cls].offset != offset) hints_[cls] = Hint{0, offset};
    return &hints_[cls];
  }

  /// Writes leaf word w and brings the summaries up to date.
  void store(usize w, u64 value) {
    words_[w] = value;
    const bool one_changed = ones_.note(w, value);
    const bool zero_changed = zeros_.note(w, value);
    if (RUN_BIT ? zero_changed : one_changed) runs_.note(w / 64, stop_tree().word(w / 64));
  }

  /// find_run for n <= 64. Word w's candidates are the RUN_BIT bits of w at
  /// aligned positions whose run of n fits in words w and w + 1; if none
  /// qualifies, the search moves to the next word holding a run bit. Records
  /// the first aligned run bit it meets in the hint: every aligned position
  /// before it was blocked.
  usize find_short_run(usize n, usize align, usize offset, Hint* hint) {
    bool blocked = hint != nullptr;
    for (usize from = blocked ? hint->from : 0; from < BITS; from = find_next(from / 64 * 64 + 64, RUN_BIT)) {
      const usize w = from / 64;
      const u64 lo = interest(words_[w], RUN_BIT) & bits_from(from % 64);
      const u64 hi = w + 1 < WORDS ? interest(words_[w + 1], RUN_BIT) : 0;
      const u64 aligned = lo & aligned_positions(w, align, offset);
      if (blocked && aligned != 0) {
        hint->from = w * 64 + ctz64(aligned);
        blocked = false;
      }
      const u64 starts = aligned & run_starts(lo, hi, n);
      if (starts != 0) {
        // Padding past BITS can read as run bits (RUN_BIT false): such a run,
        // and every later one, ends past the end.
        const usize s = w * 64 + ctz64(starts);
        return s <= BITS - n ? s : NONE;
      }
    }
    if (blocked) hint->from = BITS;
    return NONE;
  }

  /// Bit p (< 64) set when bits p .. p + n - 1 of the 128-bit value hi:lo are
  /// all set (n <= 64, so the run never leaves hi). Doubling: while r[p]
  /// means "len bits set from p", r & (r >> step) means "len + step bits set"
  /// for any step <= len; log2(n) rounds, each shifting the pair hi:lo.
  static u64 run_starts(u64 lo, u64 hi, usize n) {
    for (usize len = 1; len < n;) {
      const usize step = len < n - len ? len : n - len;  // 1..32
      lo &= (lo >> step) | (hi << (64 - step));
      hi &= hi >> step;
      len += step;
    }
    return lo;
  }

  /// Positions p of word w with (64 * w + p + offset) % align == 0. The first
  /// is the distance up to the next multiple; below 64 the rest repeat every
  /// align bits, which is the pattern ~0 / (2^align - 1) (bits 0, align, 2 align, ...),
  /// taken from a table: on 32-bit targets a 64-bit division is a call into a
  /// compiler runtime that firmware does not have.
  static u64 aligned_positions(usize w, usize align, usize offset) {
    const usize first = (usize{0} - (w * 64 + offset)) & (align - 1);
    if (align >= 64) return first < 64 ? u64{1} << first : 0;
    return EVERY_NTH_BIT[log2_floor(align)] << first;
  }
  /// EVERY_NTH_BIT[k]: bits 0, 2^k, 2 * 2^k, ... of a word, for 2^k < 64.
  static constexpr u64 EVERY_NTH_BIT[6] = {~u64{0}, 0x5555'5555'5555'5555, 0x1111'1111'1111'1111,
                                           0x0101'0101'0101'0101, 0x0001'0001'0001'0001, 0x0000'0001'0000'0001};
  static_assert(EVERY_NTH_BIT[1] == ~u64{0} / 3 && EVERY_NTH_BIT[2] == ~u64{0} / 15 &&
                EVERY_NTH_BIT[3] == ~u64{0} / 255 && EVERY_NTH_BIT[4] == ~u64{0} / 0xffff &&
                EVERY_NTH_BIT[5] == ~u64{0} / 0xffff'ffff);

  /// find_run for n > 64, from a candidate lower bound `from`. Candidates come
  /// from the next RUN_BIT bit, or for n >= 127 from the next leaf word made
  /// only of RUN_BIT (such a run must cover one), which skips stretches of
  /// short fragments a summary word at a time.
  usize find_long_run(usize n, usize align, usize offset, usize from) const {
    while (true) {
      const usize start = n >= RUN_COVERS_WORD ? run_around_full_word(from) : find_next(from, RUN_BIT);
      if (start >= BITS) return NONE;
      const usize s = align_from(start, align, offset);
      // Later candidates are only larger: the first one past the end ends the search.
      if (s > BITS - n) return NONE;
      // A breaking bit at `stop` rules out every start <= stop.
      const usize stop = find_next(s, !RUN_BIT);
      if (stop >= s + n) return s;
      from = stop + 1;
    }
  }

  /// First leaf word at index >= w made only of RUN_BIT, or WORDS.
  usize next_full_word(usize w) const {
    if (w >= WORDS) return WORDS;
    usize j = w / 64;
    u64 m = interest(stop_tree().word(j), RUN_BIT) & bits_from(w % 64);
    if (m == 0) {
      j = runs_.find(j + 1);
      if (j >= WORDS_L1) return WORDS;
      m = interest(stop_tree().word(j), RUN_BIT);
    }
    const usize found = j * 64 + ctz64(m);
    return found < WORDS ? found : WORDS;
  }

  /// Candidate start for a run of >= 127 bits: the beginning (clamped to
  /// `from`) of the RUN_BIT stretch holding the first full word at or after
  /// `from`; NONE if no full word is left. No valid start >= from lies before it.
  usize run_around_full_word(usize from) const {
    const usize w = next_full_word((from + 63) / 64);
    if (w >= WORDS) return NONE;
    usize start = w * 64;
    // The stretch may begin inside word w - 1: count its top RUN_BIT bits. If
    // w - 1 is itself full it lies before `from` (else it had been found), and
    // the clamp below takes over.
    if (w > 0) {
      const u64 prev = interest(words_[w - 1], RUN_BIT);
      start -= prev == ~u64{0} ? 64 : static_cast<usize>(__builtin_clzll(~prev));
    }
    return start > from ? start : from;
  }

  /// The first s >= x with (s + offset) % align == 0: (0 - y) & (align - 1) is
  /// the distance from y up to the next multiple of align (wrap-around is
  /// intended and exact for a power-of-two align).
  static usize align_from(usize x, usize align, usize offset) {
    return x + ((usize{0} - (x + offset)) & (align - 1));
  }

  u64 words_[WORDS]{};
  SummaryTree<WORDS, true> ones_{};
  SummaryTree<WORDS, false> zeros_{};
  SummaryTree<WORDS_L1, RUN_BIT> runs_{};
  Hint hints_[HINT_CLASSES]{};
};

}  // namespace strata::detail
