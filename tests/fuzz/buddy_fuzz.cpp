// libFuzzer target: Buddy<Cfg> against a shadow model.
//
// The input picks the first region, then a sequence of operations: alloc
// (size, align), dealloc by (size, align), alloc_order/dealloc_order,
// add_memory of a fresh region (sometimes misaligned or too small), and
// bad input the engine must refuse without changing anything: zero or
// non-power-of-two alignment and sizes beyond MAX_OBJECT_SIZE (InvalidParam),
// a double free, a pointer into a live block, a pointer from no region and a
// wrong (size, align) (NotAllocated), a region overlapping one it has
// (MemoryOverlap). Checked after every step: the block is aligned, lies in a
// region, overlaps no live block and keeps its contents; used_bytes() is
// exactly the sum of the live blocks' sizes; used + available == total.
// verify() (the full invariant walk) runs every 64 operations and at the
// end, after everything was freed (used back to 0).
#include "fuzz_common.hpp"

#include "engine/buddy.hpp"

namespace {
// Small blocks and a low top order so that inputs reach NoMemory and merges
// up to the roots quickly.
struct FuzzBuddyConfig {
  static constexpr strata::usize MIN_BLOCK = 16;
  static constexpr strata::u32 MAX_ORDER = 14;  // 256 KiB blocks
};
using Engine = strata::Buddy<FuzzBuddyConfig>;
using strata::AllocError;

constinit Engine g_buddy;
fuzz::Arena<4u << 20> g_arena;
fuzz::Shadow<512> g_live;

fuzz::Regions<64> g_regions;
std::size_t g_model_used = 0;  // sum of the live blocks' sizes

std::size_t block_bytes(std::size_t size, std::size_t align) {
  return Engine::MIN_BLOCK << Engine::order_for(size, align);
}

void check_stats() {
  FUZZ_CHECK(g_buddy.used_bytes() == g_model_used);
  FUZZ_CHECK(g_buddy.used_bytes() + g_buddy.available_bytes() == g_buddy.total_bytes());
}

// add_memory of `size` fresh bytes at `misalign` from a page: the engine's
// answer must match the documented rules.
void add_region(std::size_t size, std::size_t misalign, bool first) {
  if (g_regions.full()) return;
  std::uint8_t* p = g_arena.take(size, misalign);
  if (p == nullptr) return;
  const std::size_t total0 = g_buddy.total_bytes();
  const strata::Result<void> r = first ? g_buddy.init(p, size) : g_buddy.add_memory(p, size);
  if (misalign % Engine::REGION_ALIGN != 0) FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::InvalidParam);
    FUZZ_CHECK(g_buddy.total_bytes() == (first ? 0 : total0));
    return;
  }
  FUZZ_CHECK(g_buddy.total_bytes() > total0 && g_buddy.total_bytes() - total0 <= size);
  g_regions.add(p, size);
}

void do_alloc(std::size_t size, std::size_t align, fuzz::Input& in) {
  const std::size_t used0 = g_buddy.used_bytes();
  const strata::Result<void*> r = g_buddy.alloc(size, align);
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::NoMemory);
    FUZZ_CHECK(g_buddy.used_bytes() == used0);
    return;
  }
  const std::size_t bytes = block_bytes(size, align);
  FUZZ_CHECK(g_regions.contains(r.value(), bytes));
  FUZZ_CHECK(reinterpret_cast<std::uintptr_t>(r.value()) % bytes == 0);  // aligned to its own size
  g_live.add(r.value(), size, align, in.u32(), bytes);
  g_model_used += bytes;
}

void do_free(std::size_t i) {
  g_live.check(i);
  const fuzz::Block b = g_live.remove(i);
  FUZZ_CHECK(g_buddy.dealloc(b.ptr, b.size, b.align).ok());
  g_model_used -= b.tag;
}

// Every refusal leaves the state as it was.
void expect_refused(strata::Result<void> r, AllocError want) {
  FUZZ_CHECK(!r.ok() && r.error() == want);
  check_stats();
}

void bad_input(fuzz::Input& in) {
  switch (in.u8() % 7) {
    case 0: {  // alignment 0 or not a power of two
      const std::size_t align = in.u8() % 2 == 0 ? 0 : 3 + 2 * std::size_t{in.u8()};
      const strata::Result<void*> r = g_buddy.alloc(in.size(12), align);
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
      break;
    }
    case 1: {  // beyond MAX_OBJECT_SIZE, and valid but larger than any block
      const strata::Result<void*> r = g_buddy.alloc(strata::MAX_OBJECT_SIZE + 1 + in.u8(), 16);
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
      const strata::Result<void*> big = g_buddy.alloc(Engine::MAX_BLOCK + 1 + in.u16(), 16);
      FUZZ_CHECK(!big.ok() && big.error() == AllocError::NoMemory);
      break;
    }
    case 2: {  // double free: a block freed right now
      if (g_live.count() == 0) break;
      const std::size_t i = in.index(g_live.count());
      const fuzz::Block b = g_live.at(i);
      do_free(i);
      expect_refused(g_buddy.dealloc(b.ptr, b.size, b.align), AllocError::NotAllocated);
      break;
    }
    case 3: {  // a pointer into a live block, with its own (size, align)
      if (g_live.count() == 0) break;
      const fuzz::Block& b = g_live.at(in.index(g_live.count()));
      const std::size_t off = 1 + in.u16() % (b.tag - 1);
      expect_refused(g_buddy.dealloc(b.ptr + off, b.size, b.align), AllocError::NotAllocated);
      break;
    }
    case 4: {  // a live block with a (size, align) of another order
      if (g_live.count() == 0) break;
      const fuzz::Block& b = g_live.at(in.index(g_live.count()));
      const std::size_t other = b.tag * 2;
      if (Engine::order_for(other, 1) == Engine::NO_ORDER) break;
      expect_refused(g_buddy.dealloc(b.ptr, other, 1), AllocError::NotAllocated);
      break;
    }
    case 5: {  // a pointer from no region: the stack, the arena's unused end
      int local = 0;
      expect_refused(g_buddy.dealloc(&local, 16, 16), AllocError::NotAllocated);
      expect_refused(g_buddy.dealloc(g_arena.base() + (4u << 20) - 4096, 16, 16), AllocError::NotAllocated);
      break;
    }
    default: {  // a region overlapping one the engine has
      if (g_regions.count() == 0) break;
      const auto& r = g_regions.at(in.index(g_regions.count()));
      const std::size_t off = (in.u16() % r.size) & ~std::size_t{15};
      expect_refused(g_buddy.add_memory(r.start + off, 4096), AllocError::MemoryOverlap);
      break;
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  g_arena.reset();
  while (g_live.count() != 0) g_live.remove(0);
  g_regions.clear();
  g_model_used = 0;
  g_buddy.reset();
  add_region(4096 + in.size(18), (in.u8() % 4) * 16, true);
  for (unsigned step = 0; !in.done() && step < 4096; ++step) {
    switch (in.u8() % 10) {
      case 0: case 1: case 2:
        if (!g_live.full()) do_alloc(in.size(16), in.align(12), in);
        break;
      case 3: case 4:
        if (g_live.count() != 0) do_free(in.index(g_live.count()));
        break;
      case 5: {  // by order
        const std::uint32_t order = in.u8() % (Engine::MAX_ORDER + 2);
        const strata::Result<void*> r = g_buddy.alloc_order(order);
        if (!r.ok()) {
          FUZZ_CHECK(r.error() == AllocError::NoMemory);
          break;
        }
        const std::size_t bytes = Engine::MIN_BLOCK << order;
        FUZZ_CHECK(order <= Engine::MAX_ORDER && g_regions.contains(r.value(), bytes));
        g_live.add(r.value(), bytes, bytes, in.u32(), bytes);
        g_model_used += bytes;
        break;
      }
      case 6:
        add_region(in.size(16), (in.u8() % 8) * 8, false);
        break;
      case 7: case 8:
        bad_input(in);
        break;
      default:
        for (std::size_t i = 0; i < g_live.count(); ++i) g_live.check(i);
        FUZZ_CHECK(g_buddy.verify());
        break;
    }
    check_stats();
    if (step % 64 == 63) FUZZ_CHECK(g_buddy.verify());
  }
  while (g_live.count() != 0) do_free(g_live.count() - 1);
  FUZZ_CHECK(g_buddy.used_bytes() == 0);
  FUZZ_CHECK(g_buddy.verify());
  return 0;
}
