// libFuzzer target: Heap<MallocHeapConfig> (slabs over a page buddy), the
// engine behind malloc's small sizes, against a shadow model.
//
// Operations decoded from the input: alloc (size, align), alloc_batch of a
// class, the four ways to free (dealloc(p), dealloc(p, size, align),
// dealloc_in_region, dealloc_batch), add_memory of fresh regions,
// release_spare_spans, and bad input the engine must refuse with the state
// unchanged: zero/non-power-of-two alignment and sizes beyond MAX_OBJECT_SIZE
// (InvalidParam); double free, interior and foreign pointers, a (size, align)
// of another class, a region base that does not hold the pointer, usable_size
// of a freed block (NotAllocated); an overlapping region (MemoryOverlap).
// Checked throughout: alignment, no overlap, contents, usable_size >= size,
// lookup_in_region agrees with the class, used_bytes() is exactly the sum of
// the live blocks' usable sizes, used + available == total, free buddy runs
// overlap no live block; verify() every 64 operations and at the end.
#include "fuzz_common.hpp"

#include "engine/heap.hpp"

namespace {
using Engine = strata::Heap<strata::MallocHeapConfig>;
using strata::AllocError;

constinit Engine g_heap;
fuzz::Arena<8u << 20> g_arena;
fuzz::Shadow<1024> g_live;

fuzz::Regions<32> g_regions;
std::size_t g_model_used = 0;

void check_stats() {
  FUZZ_CHECK(g_heap.used_bytes() == g_model_used);
  FUZZ_CHECK(g_heap.used_bytes() + g_heap.available_bytes() == g_heap.total_bytes());
}

void add_region(std::size_t size, std::size_t misalign, bool first) {
  if (g_regions.full()) return;
  std::uint8_t* p = g_arena.take(size, misalign);
  if (p == nullptr) return;
  const std::size_t total0 = first ? 0 : g_heap.total_bytes();
  const strata::Result<void> r = first ? g_heap.init(p, size) : g_heap.add_memory(p, size);
  if (misalign % Engine::REGION_ALIGN != 0) FUZZ_CHECK(!r.ok());
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::InvalidParam);
    FUZZ_CHECK(g_heap.total_bytes() == (first ? 0 : total0));
    return;
  }
  FUZZ_CHECK(g_heap.total_bytes() > total0 && g_heap.total_bytes() - total0 <= size);
  g_regions.add(p, size);
}

// A block the engine just handed out: where it is, what lookup says, its size.
void accept(void* p, std::size_t size, std::size_t align, std::uint32_t cls, fuzz::Input& in) {
  const auto* r = g_regions.holding(p);
  FUZZ_CHECK(r != nullptr);
  const strata::Result<strata::usize> u = g_heap.usable_size(p);
  FUZZ_CHECK(u.ok() && u.value() >= size && r->start + r->size - static_cast<std::uint8_t*>(p) >= u.value());
  const Engine::Lookup lk = Engine::lookup_in_region(r->start, p);
  FUZZ_CHECK(lk.cls == cls);
  if (cls != Engine::NO_CLASS) FUZZ_CHECK(lk.block_start && u.value() == Engine::class_size(cls));
  g_live.add(p, size, align, in.u32(), u.value());
  g_model_used += u.value();
}

void do_alloc(std::size_t size, std::size_t align, fuzz::Input& in) {
  const std::size_t used0 = g_heap.used_bytes();
  const strata::Result<void*> r = g_heap.alloc(size, align);
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == AllocError::NoMemory && g_heap.used_bytes() == used0);
    return;
  }
  accept(r.value(), size, align, Engine::class_for(size == 0 ? 1 : size, align), in);
}

void do_batch(std::uint32_t cls, std::size_t n, fuzz::Input& in) {
  void* out[64];
  if (n > 64) n = 64;
  if (n > 1024 - g_live.count()) n = 1024 - g_live.count();
  const std::size_t got = g_heap.alloc_batch(cls, out, n);
  FUZZ_CHECK(got <= n);
  if (cls >= Engine::num_classes()) FUZZ_CHECK(got == 0);
  for (std::size_t i = 0; i < got; ++i) accept(out[i], Engine::class_size(cls), 16, cls, in);
}

// Frees live block i one of four ways (the model forgets it first).
void do_free(std::size_t i, unsigned how) {
  g_live.check(i);
  const fuzz::Block b = g_live.remove(i);
  strata::Result<void> r = strata::ok();
  switch (how % 4) {
    case 0: r = g_heap.dealloc(b.ptr); break;
    case 1: r = g_heap.dealloc(b.ptr, b.size, b.align); break;
    case 2: r = g_heap.dealloc_in_region(g_regions.holding(b.ptr)->start, b.ptr); break;
    default: {
      void* one[1] = {b.ptr};
      r = g_heap.dealloc_batch(one, 1);
      break;
    }
  }
  FUZZ_CHECK(r.ok());
  g_model_used -= b.tag;
}

void expect_refused(strata::Result<void> r, AllocError want) {
  FUZZ_CHECK(!r.ok() && r.error() == want);
  check_stats();
}

void bad_input(fuzz::Input& in) {
  const unsigned what = in.u8() % 8;
  if (what == 0) {
    const std::size_t align = in.u8() % 2 == 0 ? 0 : 3 + 2 * std::size_t{in.u8()};
    const strata::Result<void*> r = g_heap.alloc(in.size(12), align);
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
    const strata::Result<void*> big = g_heap.alloc(strata::MAX_OBJECT_SIZE + 1, 16);
    FUZZ_CHECK(!big.ok() && big.error() == AllocError::InvalidParam);
    return;
  }
  if (what == 1) {  // pointers the heap never handed out
    int local = 0;
    expect_refused(g_heap.dealloc(&local), AllocError::NotAllocated);
    expect_refused(g_heap.dealloc(nullptr), AllocError::NotAllocated);
    FUZZ_CHECK(!g_heap.usable_size(g_arena.base() + (8u << 20) - 64).ok());
    return;
  }
  if (what == 2) {  // a region overlapping one the heap has
    if (g_regions.count() == 0) return;
    const auto& r = g_regions.at(in.index(g_regions.count()));
    expect_refused(g_heap.add_memory(r.start + ((in.u16() % r.size) & ~std::size_t{15}), 8192),
                   AllocError::MemoryOverlap);
    return;
  }
  if (g_live.count() == 0) return;
  const std::size_t i = in.index(g_live.count());
  const fuzz::Block b = g_live.at(i);
  switch (what) {
    case 3:  // double free, then the freed block's usable size
      do_free(i, in.u8());
      expect_refused(g_heap.dealloc(b.ptr), AllocError::NotAllocated);
      FUZZ_CHECK(!g_heap.usable_size(b.ptr).ok());
      break;
    case 4: {  // a pointer into the block
      const std::size_t off = 1 + in.u16() % (b.tag - 1);
      expect_refused(g_heap.dealloc(b.ptr + off), AllocError::NotAllocated);
      break;
    }
    case 5: {  // a size of another class (or another large order)
      const std::size_t other = b.tag < 64 ? b.tag * 4 : b.tag / 4;
      if (Engine::class_for(other, 1) == Engine::class_for(b.size == 0 ? 1 : b.size, b.align)) break;
      expect_refused(g_heap.dealloc(b.ptr, other, 1), AllocError::NotAllocated);
      break;
    }
    case 6: {  // dealloc_in_region naming another region
      const auto* mine = g_regions.holding(b.ptr);
      for (std::size_t k = 0; k < g_regions.count(); ++k)
        if (&g_regions.at(k) != mine) {
          expect_refused(g_heap.dealloc_in_region(g_regions.at(k).start, b.ptr), AllocError::NotAllocated);
          break;
        }
      break;
    }
    default: {  // free runs hold no live byte
      g_heap.for_each_free_run(0, [&](void* run, strata::usize bytes) {
        auto* c = static_cast<std::uint8_t*>(run);
        for (std::size_t k = 0; k < g_live.count(); ++k) {
          const fuzz::Block& l = g_live.at(k);
          FUZZ_CHECK(l.ptr + l.tag <= c || c + bytes <= l.ptr);
        }
      });
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
  add_region(8192 + in.size(20), (in.u8() % 4) * 16, true);
  for (unsigned step = 0; !in.done() && step < 4096; ++step) {
    switch (in.u8() % 12) {
      case 0: case 1: case 2: case 3:
        if (!g_live.full()) do_alloc(in.size(17), in.align(13), in);
        break;
      case 4:
        do_batch(in.u8() % (Engine::num_classes() + 2), 1 + in.u8() % 64, in);
        break;
      case 5: case 6: case 7:
        if (g_live.count() != 0) do_free(in.index(g_live.count()), in.u8());
        break;
      case 8:
        add_region(in.size(18), (in.u8() % 8) * 8, false);
        break;
      case 9:
        g_heap.release_spare_spans();
        FUZZ_CHECK(g_heap.spare_bytes() == 0);
        break;
      case 10:
        bad_input(in);
        break;
      default:
        for (std::size_t i = 0; i < g_live.count(); ++i) g_live.check(i);
        FUZZ_CHECK(g_heap.verify());
        break;
    }
    check_stats();
    if (step % 64 == 63) FUZZ_CHECK(g_heap.verify());
  }
  while (g_live.count() != 0) do_free(g_live.count() - 1, g_live.count());
  FUZZ_CHECK(g_heap.used_bytes() == 0);
  g_heap.release_spare_spans();
  FUZZ_CHECK(g_heap.free_run_bytes() == g_heap.total_bytes());
  FUZZ_CHECK(g_heap.verify());
  return 0;
}
