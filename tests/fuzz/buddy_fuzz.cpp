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

#include "strata/engine/buddy.hpp"

namespace {
// Small blocks and a low top order so that inputs reach NoMemory and merges
// up to the roots quickly.
struct FuzzBuddyConfig {
  static constexpr strata::usize MIN_BLOCK = 16;
  static constexpr strata::u32 MAX_ORDER = 14;  // 256 KiB blocks
};
using Engine = strata::Buddy<FuzzBuddyConfig>;
using strata::AllocError;

// A block's tag is its block size (MIN_BLOCK << order): what used_bytes() counts.
fuzz::EngineFuzz<Engine, 4u << 20, 512, 64> g;

std::size_t block_bytes(std::size_t size, std::size_t align) {
  return Engine::MIN_BLOCK << Engine::order_for(size, align);
}

void do_alloc(std::size_t size, std::size_t align, fuzz::Input& in) {
  void* p = g.alloc(size, align);
  if (p == nullptr) return;
  const std::size_t bytes = block_bytes(size, align);
  FUZZ_CHECK(g.regions.contains(p, bytes));
  FUZZ_CHECK(reinterpret_cast<std::uintptr_t>(p) % bytes == 0);  // aligned to its own size
  g.live.add(p, size, align, in.u32(), bytes);
  g.used += bytes;
}

void do_free(std::size_t i) {
  g.free_block(i, [](const fuzz::Block& b) { return g.engine.dealloc(b.ptr, b.size, b.align); });
}

void bad_input(fuzz::Input& in) {
  switch (in.u8() % 7) {
    case 0:  // alignment 0 or not a power of two
      g.refuse_bad_params(in, false);
      break;
    case 1: {  // beyond MAX_OBJECT_SIZE, and valid but larger than any block
      const strata::Result<void*> r = g.engine.alloc(strata::MAX_OBJECT_SIZE + 1 + in.u8(), 16);
      FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
      const strata::Result<void*> big = g.engine.alloc(Engine::MAX_BLOCK + 1 + in.u16(), 16);
      FUZZ_CHECK(!big.ok() && big.error() == AllocError::NoMemory);
      break;
    }
    case 2:  // double free: a block freed right now
      g.with_live_block(in, [](std::size_t i, const fuzz::Block& b) {
        do_free(i);
        g.expect_refused(g.engine.dealloc(b.ptr, b.size, b.align), AllocError::NotAllocated);
      });
      break;
    case 3:  // a pointer into a live block, with its own (size, align)
      g.with_live_block(in, [&in](std::size_t, const fuzz::Block& b) {
        const std::size_t off = 1 + in.u16() % (b.tag - 1);
        g.expect_refused(g.engine.dealloc(b.ptr + off, b.size, b.align), AllocError::NotAllocated);
      });
      break;
    case 4:  // a live block with a (size, align) of another order
      g.with_live_block(in, [](std::size_t, const fuzz::Block& b) {
        const std::size_t other = b.tag * 2;
        if (Engine::order_for(other, 1) == Engine::NO_ORDER) return;
        g.expect_refused(g.engine.dealloc(b.ptr, other, 1), AllocError::NotAllocated);
      });
      break;
    case 5: {  // a pointer from no region: the stack, the arena's unused end
      int local = 0;
      g.expect_refused(g.engine.dealloc(&local, 16, 16), AllocError::NotAllocated);
      g.expect_refused(g.engine.dealloc(g.arena.base() + (4u << 20) - 4096, 16, 16), AllocError::NotAllocated);
      break;
    }
    default:  // a region overlapping one the engine has
      g.refuse_overlap(in, 4096);
      break;
  }
}

// The operations, weighted by repetition (one input byte picks one; the code
// after the last is the full check).
void op_alloc(fuzz::Input& in) {
  if (!g.live.full()) do_alloc(in.size(16), in.align(12), in);
}
void op_free(fuzz::Input& in) {
  if (g.live.count() != 0) do_free(in.index(g.live.count()));
}
void op_alloc_order(fuzz::Input& in) {
  const std::uint32_t order = in.u8() % (Engine::MAX_ORDER + 2);
  const strata::Result<void*> r = g.engine.alloc_order(order);
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::NoMemory);
    return;
  }
  const std::size_t bytes = Engine::MIN_BLOCK << order;
  FUZZ_CHECK(order <= Engine::MAX_ORDER && g.regions.contains(r.value(), bytes));
  g.live.add(r.value(), bytes, bytes, in.u32(), bytes);
  g.used += bytes;
}
void op_add_region(fuzz::Input& in) { g.add_fresh_region(in.size(16), (in.u8() % 8) * 8, false); }

constexpr fuzz::Op OPS[] = {op_alloc,       op_alloc,      op_alloc,  op_free,  op_free,
                            op_alloc_order, op_add_region, bad_input, bad_input};

// The first region, on an engine reset from the previous input.
void first_region(fuzz::Input& in) {
  g.engine.reset();
  g.add_fresh_region(4096 + in.size(18), (in.u8() % 4) * 16, true);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  g.run(fuzz::Input(data, size), OPS, first_region, [](std::size_t i) { do_free(i); });
  return 0;
}
