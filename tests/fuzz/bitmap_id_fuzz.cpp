// libFuzzer target: BitmapIdAllocator against a brute-force model (one bool
// per id), at two capacities: 4160 ids (a partial last word past 64 x 64)
// and 70 (less than two words), so every answer is predicted exactly:
//
//  - alloc_id(count, align): the lowest start that is a multiple of align
//    with count free ids (first fit), else NoMemory; InvalidParam for
//    count == 0 or a non-power-of-two alignment.
//  - dealloc_id(start, count): InvalidParam for count == 0 or a range
//    leaving [0, MaxIds); NotAllocated (nothing freed) when any id of the
//    range is free: double frees and partial overlaps are refused whole.
//  - alloc_fixed_id(id): InvalidParam past the end, NoMemory when taken.
//  - is_allocated(id) for ids inside and outside the range, used() and
//    available() equal the model after every step.
#include "fuzz_common.hpp"

#include "strata/engine/bitmap_id.hpp"

namespace {
using strata::AllocError;

template <std::size_t N>
struct Model {
  strata::BitmapIdAllocator<N> ids;
  bool used[N];
  std::size_t prefix[N + 1];  // prefix[i]: allocated ids below i

  void reset() {
    ids = strata::BitmapIdAllocator<N>{};
    for (bool& u : used) u = false;
  }
  void recount() {
    prefix[0] = 0;
    for (std::size_t i = 0; i < N; ++i) prefix[i + 1] = prefix[i] + used[i];
  }
  std::size_t taken(std::size_t start, std::size_t count) const { return prefix[start + count] - prefix[start]; }
  void mark(std::size_t start, std::size_t count, bool v) {
    for (std::size_t i = start; i < start + count; ++i) used[i] = v;
  }

  void alloc(std::size_t count, std::size_t align) {
    const strata::Result<strata::usize> r = ids.alloc_id(count, align);
    if (count == 0 || !strata::is_pow2(align)) {
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
      return;
    }
    recount();
    std::size_t want = N;
    for (std::size_t s = 0; count <= N && s <= N - count; s += align)
      if (taken(s, count) == 0) {
        want = s;
        break;
      }
    if (want == N) {
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::NoMemory);
      return;
    }
    FUZZ_CHECK(r.ok() && r.value() == want);
    mark(want, count, true);
  }

  void dealloc(std::size_t start, std::size_t count) {
    const strata::Result<void> r = ids.dealloc_id(start, count);
    if (count == 0 || start >= N || count > N - start) {
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
      return;
    }
    std::size_t held = 0;
    for (std::size_t i = start; i < start + count; ++i) held += used[i];
    if (held != count) {
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::NotAllocated);
      return;
    }
    FUZZ_CHECK(r.ok());
    mark(start, count, false);
  }

  void fixed(std::size_t id) {
    const strata::Result<void> r = ids.alloc_fixed_id(id);
    if (id >= N) {
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
    } else if (used[id]) {
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::NoMemory);
    } else {
      FUZZ_CHECK(r.ok());
      used[id] = true;
    }
  }

  // A start inside the range, near an allocated id when there is one.
  std::size_t near_used(fuzz::Input& in) const {
    const std::size_t s = in.u16() % N;
    for (std::size_t k = 0; k < N; ++k)
      if (used[(s + k) % N]) return (s + k) % N;
    return s;
  }

  void check(fuzz::Input& in) {
    std::size_t n = 0;
    for (bool u : used) n += u;
    FUZZ_CHECK(ids.used() == n && ids.available() == N - n && ids.size() == N);
    for (int k = 0; k < 4; ++k) {
      const std::size_t id = in.u16() % (N + 70);
      FUZZ_CHECK(ids.is_allocated(id) == (id < N && used[id]));
    }
  }

  void step(fuzz::Input& in) {
    switch (in.u8() % 8) {
      case 0: case 1: case 2:
        alloc(in.u8() % 3 == 0 ? in.u16() % (N + 8) : in.u8() % 80,
              in.u8() % 16 == 0 ? 6 : std::size_t{1} << (in.u8() % 14));
        break;
      case 3: case 4:  // free a range starting at an allocated id, whole or spilling over
        dealloc(near_used(in), in.u8() % 3 == 0 ? 1 : in.u8() % 70);
        break;
      case 5:
        dealloc(in.u16() % (N + 16), in.u8() % 3 == 0 ? N + 1 : in.u8());
        break;
      case 6:
        fixed(in.u16() % (N + 8));
        break;
      default: {  // drop everything the model holds in runs of 7
        for (std::size_t i = 0; i < N; i += 7) {
          const std::size_t c = i + 7 <= N ? 7 : N - i;
          bool all = true;
          for (std::size_t k = i; k < i + c; ++k) all = all && used[k];
          if (all) dealloc(i, c);
        }
        break;
      }
    }
    check(in);
  }
};

Model<4160> g_big;
Model<70> g_small;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  g_big.reset();
  g_small.reset();
  for (unsigned step = 0; !in.done() && step < 2048; ++step) {
    if (in.u8() & 1) g_big.step(in);
    else g_small.step(in);
  }
  return 0;
}
