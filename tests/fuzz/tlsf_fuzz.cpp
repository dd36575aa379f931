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

#include "engine/tlsf.hpp"

namespace {
using Engine = strata::Tlsf<strata::TlsfDefaultConfig>;
using strata::AllocError;

constinit Engine g_tlsf;
fuzz::Arena<8u << 20> g_arena;
fuzz::Shadow<1024> g_live;

fuzz::Regions<32> g_pools;
std::size_t g_model_used = 0;

void check_stats() {
  FUZZ_CHECK(g_tlsf.used_bytes() == g_model_used);
  FUZZ_CHECK(g_tlsf.used_bytes() + g_tlsf.available_bytes() == g_tlsf.total_bytes());
}

void add_pool(std::uint8_t* p, std::size_t size, bool first) {
  if (p == nullptr) return;
  const std::size_t total0 = first ? 0 : g_tlsf.total_bytes();
  const strata::Result<void> r = first ? g_tlsf.init(p, size) : g_tlsf.add_memory(p, size);
  if (reinterpret_cast<std::uintptr_t>(p) % Engine::ALIGN != 0 || (size & ~(Engine::ALIGN - 1)) < Engine::MIN_POOL_SIZE)
    FUZZ_CHECK(!r.ok());
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::InvalidParam && g_tlsf.total_bytes() == total0);
    return;
  }
  FUZZ_CHECK(g_tlsf.total_bytes() > total0 && g_tlsf.total_bytes() - total0 <= size);
  // The engine ignores the tail beyond the granule and joins touching pools.
  g_pools.add(p, size & ~(Engine::ALIGN - 1), true);
}

// usable_size of live block i; also checks it against the model.
std::size_t usable(const fuzz::Block& b) {
  const strata::Result<strata::usize> u = g_tlsf.usable_size(b.ptr);
  FUZZ_CHECK(u.ok() && u.value() >= b.size && g_pools.contains(b.ptr - Engine::BLOCK_OVERHEAD, u.value() + Engine::BLOCK_OVERHEAD));
  return u.value();
}

void do_alloc(std::size_t size, std::size_t align, fuzz::Input& in) {
  const std::size_t used0 = g_tlsf.used_bytes();
  const strata::Result<void*> r = g_tlsf.alloc(size, align);
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::NoMemory && g_tlsf.used_bytes() == used0);
    return;
  }
  fuzz::Block& b = g_live.add(r.value(), size, align, in.u32());
  b.tag = usable(b) + Engine::BLOCK_OVERHEAD;
  g_model_used += b.tag;
}

void do_free(std::size_t i, bool sized) {
  g_live.check(i);
  const fuzz::Block b = g_live.remove(i);
  FUZZ_CHECK((sized ? g_tlsf.dealloc(b.ptr, b.size, b.align) : g_tlsf.dealloc(b.ptr)).ok());
  g_model_used -= b.tag;
}

void do_resize(std::size_t i, std::size_t new_size) {
  fuzz::Block& b = g_live.at(i);
  g_live.check(i);
  const strata::Result<void*> r = g_tlsf.try_resize_in_place(b.ptr, new_size);
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::NoMemory && new_size > b.tag - Engine::BLOCK_OVERHEAD);
    return;
  }
  FUZZ_CHECK(r.value() == b.ptr);
  fuzz::Shadow<1024>::check(b, new_size);  // the bytes both sizes share are intact
  b.size = new_size;
  fuzz::Shadow<1024>::fill(b);
  // Growing may have taken the free block after it: no live block is there.
  const std::size_t span = new_size == 0 ? 1 : new_size;
  for (std::size_t k = 0; k < g_live.count(); ++k) {
    const fuzz::Block& o = g_live.at(k);
    if (k != i) FUZZ_CHECK(o.ptr + (o.size == 0 ? 1 : o.size) <= b.ptr || b.ptr + span <= o.ptr);
  }
  g_model_used -= b.tag;
  b.tag = usable(b) + Engine::BLOCK_OVERHEAD;
  g_model_used += b.tag;
}

void expect_refused(strata::Result<void> r, AllocError want) {
  FUZZ_CHECK(!r.ok() && r.error() == want);
  check_stats();
}

void bad_input(fuzz::Input& in) {
  const unsigned what = in.u8() % 7;
  if (what == 0) {
    const std::size_t align = in.u8() % 2 == 0 ? 0 : 3 + 2 * std::size_t{in.u8()};
    const strata::Result<void*> r = g_tlsf.alloc(in.size(12), align);
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
    const strata::Result<void*> big = g_tlsf.alloc(strata::MAX_OBJECT_SIZE + 1 + in.u8(), 16);
    FUZZ_CHECK(!big.ok() && big.error() == AllocError::InvalidParam);
    const strata::Result<void*> valid = g_tlsf.alloc(strata::MAX_OBJECT_SIZE - in.u16(), 16);
    FUZZ_CHECK(!valid.ok() && valid.error() == AllocError::NoMemory);
    return;
  }
  if (what == 1) {
    int local[8] = {};
    expect_refused(g_tlsf.dealloc(&local[4]), AllocError::NotAllocated);
    FUZZ_CHECK(!g_tlsf.usable_size(g_arena.base() + (8u << 20) - 64).ok());
    return;
  }
  if (what == 2) {
    if (g_pools.count() == 0) return;
    const auto& p = g_pools.at(in.index(g_pools.count()));
    expect_refused(g_tlsf.add_memory(p.start + ((in.u16() % p.size) & ~std::size_t{15}), 4096),
                   AllocError::MemoryOverlap);
    return;
  }
  if (g_live.count() == 0) return;
  const std::size_t i = in.index(g_live.count());
  const fuzz::Block b = g_live.at(i);
  switch (what) {
    case 3:  // double free, then usable_size and resize of the freed block
      do_free(i, false);
      expect_refused(g_tlsf.dealloc(b.ptr), AllocError::NotAllocated);
      FUZZ_CHECK(!g_tlsf.usable_size(b.ptr).ok());
      FUZZ_CHECK(!g_tlsf.try_resize_in_place(b.ptr, 16).ok());
      check_stats();
      break;
    case 4: {  // into the block: inside its patterned head, aligned or not
      const std::size_t limit = b.tag - Engine::BLOCK_OVERHEAD;
      const std::size_t off = 1 + in.u8() % (limit < 256 ? limit - 1 : 255);
      if (off >= limit) break;
      expect_refused(g_tlsf.dealloc(b.ptr + off), AllocError::NotAllocated);
      break;
    }
    case 5:  // more bytes than the block holds
      expect_refused(g_tlsf.dealloc(b.ptr, b.tag, 1), AllocError::NotAllocated);
      break;
    default:  // free runs hold no live byte (headers included)
      g_tlsf.for_each_free_run(0, [&](void* run, strata::usize bytes) {
        auto* c = static_cast<std::uint8_t*>(run);
        for (std::size_t k = 0; k < g_live.count(); ++k) {
          const fuzz::Block& l = g_live.at(k);
          FUZZ_CHECK(l.ptr + l.tag - Engine::BLOCK_OVERHEAD <= c || c + bytes <= l.ptr - Engine::BLOCK_OVERHEAD);
        }
      });
      break;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  g_arena.reset();
  while (g_live.count() != 0) g_live.remove(0);
  g_pools.clear();
  g_model_used = 0;
  {
    const std::size_t first = 64 + in.size(20);
    add_pool(g_arena.take(first, (in.u8() % 4) * 8), first, true);
  }
  for (unsigned step = 0; !in.done() && step < 4096; ++step) {
    switch (in.u8() % 12) {
      case 0: case 1: case 2: case 3:
        if (!g_live.full()) do_alloc(in.size(18), in.align(12), in);
        break;
      case 4: case 5: case 6:
        if (g_live.count() != 0) do_free(in.index(g_live.count()), in.u8() & 1);
        break;
      case 7:
        if (g_live.count() != 0) do_resize(in.index(g_live.count()), in.size(18));
        break;
      case 8:
        if (!g_pools.full()) {
          const std::size_t n = in.size(17);
          const bool touching = in.u8() & 1;
          add_pool(touching ? g_arena.take_next(n) : g_arena.take(n, (in.u8() % 4) * 8), n, false);
        }
        break;
      case 9: case 10:
        bad_input(in);
        break;
      default:
        for (std::size_t i = 0; i < g_live.count(); ++i) g_live.check(i);
        FUZZ_CHECK(g_tlsf.verify());
        break;
    }
    check_stats();
    if (step % 64 == 63) FUZZ_CHECK(g_tlsf.verify());
  }
  while (g_live.count() != 0) do_free(g_live.count() - 1, false);
  FUZZ_CHECK(g_tlsf.used_bytes() == 0);
  FUZZ_CHECK(g_tlsf.verify());
  return 0;
}
