// libFuzzer target: Tlsf<TlsfDefaultConfig> (malloc's medium engine) against
// a shadow model.
//
// Operations decoded from the input: alloc (size, align), dealloc(p) and
// dealloc(p, size, align), try_resize_in_place (grow or shrink: contents up
// to the smaller size survive), add_memory of a fresh pool or of one that
// touches the previous pool (the engine joins them), and bad input refused
// with the state unchanged: zero/non-power-of-two alignment and sizes beyond
// MAX_OBJECT_SIZE (InvalidParam), double free, pointers into a block,
// pointers from no pool, a size larger than the block (NotAllocated), an
// overlapping pool (MemoryOverlap). Checked throughout: alignment, no
// overlap, contents, usable_size >= size, used_bytes() is exactly the sum of
// the live blocks (usable + header), used + available == total, free runs
// overlap no live block; verify() every 64 operations and at the end.
#include "fuzz_common.hpp"

#include "strata/engine/tlsf.hpp"

namespace {
using Engine = strata::Tlsf<strata::TlsfDefaultConfig>;
using strata::AllocError;
using LiveSet = fuzz::Shadow<1024>;

// A block's tag is its usable size plus its header: what used_bytes() counts.
// The regions are the pools (joined where they touch, as the engine joins them).
fuzz::EngineFuzz<Engine, 8u << 20, 1024, 32> g;

void add_pool(std::uint8_t* p, std::size_t size, bool first) {
  // The engine ignores the tail beyond the granule and joins touching pools.
  const std::size_t kept = size & ~(Engine::ALIGN - 1);
  const bool invalid = reinterpret_cast<std::uintptr_t>(p) % Engine::ALIGN != 0 || kept < Engine::MIN_POOL_SIZE;
  g.add_region(p, size, first, invalid, kept, true);
}

// usable_size of live block i; also checks it against the model.
std::size_t usable(const fuzz::Block& b) {
  const strata::Result<strata::usize> u = g.engine.usable_size(b.ptr);
  FUZZ_CHECK(u.ok() && u.value() >= b.size &&
             g.regions.contains(b.ptr - Engine::BLOCK_OVERHEAD, u.value() + Engine::BLOCK_OVERHEAD));
  return u.value();
}

void do_alloc(std::size_t size, std::size_t align, fuzz::Input& in) {
  void* p = g.alloc(size, align);
  if (p == nullptr) return;
  fuzz::Block& b = g.live.add(p, size, align, in.u32());
  b.tag = usable(b) + Engine::BLOCK_OVERHEAD;
  g.used += b.tag;
}

void do_free(std::size_t i, bool sized) {
  g.free_block(i, [sized](const fuzz::Block& b) {
    return sized ? g.engine.dealloc(b.ptr, b.size, b.align) : g.engine.dealloc(b.ptr);
  });
}

void do_resize(std::size_t i, std::size_t new_size) {
  fuzz::Block& b = g.live.at(i);
  g.live.check(i);
  const strata::Result<void*> r = g.engine.try_resize_in_place(b.ptr, new_size);
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::NoMemory && new_size > b.tag - Engine::BLOCK_OVERHEAD);
    return;
  }
  FUZZ_CHECK(r.value() == b.ptr);
  LiveSet::check(b, new_size);  // the bytes both sizes share are intact
  b.size = new_size;
  LiveSet::fill(b);
  // Growing may have taken the free block after it: no live block is there.
  const std::size_t span = new_size == 0 ? 1 : new_size;
  for (std::size_t k = 0; k < g.live.count(); ++k) {
    const fuzz::Block& o = g.live.at(k);
    if (k != i) FUZZ_CHECK(o.ptr + (o.size == 0 ? 1 : o.size) <= b.ptr || b.ptr + span <= o.ptr);
  }
  g.used -= b.tag;
  b.tag = usable(b) + Engine::BLOCK_OVERHEAD;
  g.used += b.tag;
}

void bad_input(fuzz::Input& in) {
  const unsigned what = in.u8() % 7;
  if (what == 0) {
    g.refuse_bad_params(in, true);
    const strata::Result<void*> valid = g.engine.alloc(strata::MAX_OBJECT_SIZE - in.u16(), 16);
    FUZZ_CHECK(!valid.ok() && valid.error() == AllocError::NoMemory);
    return;
  }
  if (what == 1) {
    int local[8] = {};
    g.expect_refused(g.engine.dealloc(&local[4]), AllocError::NotAllocated);
    FUZZ_CHECK(!g.engine.usable_size(g.arena.base() + (8u << 20) - 64).ok());
    return;
  }
  if (what == 2) {
    g.refuse_overlap(in, 4096);
    return;
  }
  g.with_live_block(in, [&in, what](std::size_t i, const fuzz::Block& b) {
    switch (what) {
      case 3:  // double free, then usable_size and resize of the freed block
        do_free(i, false);
        g.expect_refused(g.engine.dealloc(b.ptr), AllocError::NotAllocated);
        FUZZ_CHECK(!g.engine.usable_size(b.ptr).ok());
        FUZZ_CHECK(!g.engine.try_resize_in_place(b.ptr, 16).ok());
        g.check_stats();
        break;
      case 4: {  // into the block: inside its patterned head, aligned or not
        const std::size_t limit = b.tag - Engine::BLOCK_OVERHEAD;
        const std::size_t off = 1 + in.u8() % (limit < 256 ? limit - 1 : 255);
        if (off >= limit) break;
        g.expect_refused(g.engine.dealloc(b.ptr + off), AllocError::NotAllocated);
        break;
      }
      case 5:  // more bytes than the block holds
        g.expect_refused(g.engine.dealloc(b.ptr, b.tag, 1), AllocError::NotAllocated);
        break;
      default:  // free runs hold no live byte (headers included)
        g.check_free_runs(Engine::BLOCK_OVERHEAD);
        break;
    }
  });
}

// The operations, weighted by repetition (one input byte picks one; the code
// after the last is the full check).
void op_alloc(fuzz::Input& in) {
  if (!g.live.full()) do_alloc(in.size(18), in.align(12), in);
}
void op_free(fuzz::Input& in) {
  if (g.live.count() != 0) do_free(in.index(g.live.count()), in.u8() & 1);
}
void op_resize(fuzz::Input& in) {
  if (g.live.count() != 0) do_resize(in.index(g.live.count()), in.size(18));
}
void op_add_pool(fuzz::Input& in) {  // a fresh pool, or one touching the previous pool
  if (g.regions.full()) return;
  const std::size_t n = in.size(17);
  const bool touching = in.u8() & 1;
  add_pool(touching ? g.arena.take_next(n) : g.arena.take(n, (in.u8() % 4) * 8), n, false);
}

constexpr fuzz::Op OPS[] = {op_alloc, op_alloc, op_alloc,  op_alloc,    op_free,  op_free,
                            op_free,  op_resize, op_add_pool, bad_input, bad_input};

void first_pool(fuzz::Input& in) {
  const std::size_t first = 64 + in.size(20);
  add_pool(g.arena.take(first, (in.u8() % 4) * 8), first, true);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  g.run(fuzz::Input(data, size), OPS, first_pool, [](std::size_t i) { do_free(i, false); });
  return 0;
}
