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

#include "strata/engine/heap.hpp"

namespace {
using Engine = strata::Heap<strata::MallocHeapConfig>;
using strata::AllocError;

// A block's tag is its usable size: what used_bytes() counts.
fuzz::EngineFuzz<Engine, 8u << 20, 1024, 32> g;

// A block the engine just handed out: where it is, what lookup says, its size.
void accept(void* p, std::size_t size, std::size_t align, std::uint32_t cls, fuzz::Input& in) {
  const auto* r = g.regions.holding(p);
  FUZZ_CHECK(r != nullptr);
  const strata::Result<strata::usize> u = g.engine.usable_size(p);
  FUZZ_CHECK(u.ok() && u.value() >= size && r->start + r->size - static_cast<std::uint8_t*>(p) >= u.value());
  const Engine::Lookup lk = Engine::lookup_in_region(r->start, p);
  FUZZ_CHECK(lk.cls == cls);
  if (cls != Engine::NO_CLASS) FUZZ_CHECK(lk.block_start && u.value() == Engine::class_size(cls));
  g.live.add(p, size, align, in.u32(), u.value());
  g.used += u.value();
}

void do_alloc(std::size_t size, std::size_t align, fuzz::Input& in) {
  if (void* p = g.alloc(size, align)) accept(p, size, align, Engine::class_for(size == 0 ? 1 : size, align), in);
}

void do_batch(std::uint32_t cls, std::size_t n, fuzz::Input& in) {
  void* out[64];
  if (n > 64) n = 64;
  if (n > 1024 - g.live.count()) n = 1024 - g.live.count();
  const std::size_t got = g.engine.alloc_batch(cls, out, n);
  FUZZ_CHECK(got <= n);
  if (cls >= Engine::num_classes()) FUZZ_CHECK(got == 0);
  for (std::size_t i = 0; i < got; ++i) accept(out[i], Engine::class_size(cls), 16, cls, in);
}

// Frees live block i one of four ways (the model forgets it first).
void do_free(std::size_t i, unsigned how) {
  g.free_block(i, [how](const fuzz::Block& b) -> strata::Result<void> {
    switch (how % 4) {
      case 0: return g.engine.dealloc(b.ptr);
      case 1: return g.engine.dealloc(b.ptr, b.size, b.align);
      case 2: return g.engine.dealloc_in_region(g.regions.holding(b.ptr)->start, b.ptr);
      default: {
        void* one[1] = {b.ptr};
        return g.engine.dealloc_batch(one, 1);
      }
    }
  });
}

void bad_input(fuzz::Input& in) {
  const unsigned what = in.u8() % 8;
  if (what == 0) {
    g.refuse_bad_params(in, true);
    return;
  }
  if (what == 1) {  // pointers the heap never handed out
    int local = 0;
    g.expect_refused(g.engine.dealloc(&local), AllocError::NotAllocated);
    g.expect_refused(g.engine.dealloc(nullptr), AllocError::NotAllocated);
    FUZZ_CHECK(!g.engine.usable_size(g.arena.base() + (8u << 20) - 64).ok());
    return;
  }
  if (what == 2) {  // a region overlapping one the heap has
    g.refuse_overlap(in, 8192);
    return;
  }
  g.with_live_block(in, [&in, what](std::size_t i, const fuzz::Block& b) {
    switch (what) {
      case 3:  // double free, then the freed block's usable size
        do_free(i, in.u8());
        g.expect_refused(g.engine.dealloc(b.ptr), AllocError::NotAllocated);
        FUZZ_CHECK(!g.engine.usable_size(b.ptr).ok());
        break;
      case 4: {  // a pointer into the block
        const std::size_t off = 1 + in.u16() % (b.tag - 1);
        g.expect_refused(g.engine.dealloc(b.ptr + off), AllocError::NotAllocated);
        break;
      }
      case 5: {  // a size of another class (or another large order)
        const std::size_t other = b.tag < 64 ? b.tag * 4 : b.tag / 4;
        if (Engine::class_for(other, 1) == Engine::class_for(b.size == 0 ? 1 : b.size, b.align)) break;
        g.expect_refused(g.engine.dealloc(b.ptr, other, 1), AllocError::NotAllocated);
        break;
      }
      case 6: {  // dealloc_in_region naming another region
        const auto* mine = g.regions.holding(b.ptr);
        for (std::size_t k = 0; k < g.regions.count(); ++k)
          if (&g.regions.at(k) != mine) {
            g.expect_refused(g.engine.dealloc_in_region(g.regions.at(k).start, b.ptr), AllocError::NotAllocated);
            break;
          }
        break;
      }
      default:  // free runs hold no live byte
        g.check_free_runs(0);
        break;
    }
  });
}

// The operations, weighted by repetition (one input byte picks one; the code
// after the last is the full check).
void op_alloc(fuzz::Input& in) {
  if (!g.live.full()) do_alloc(in.size(17), in.align(13), in);
}
void op_batch(fuzz::Input& in) { do_batch(in.u8() % (Engine::num_classes() + 2), 1 + in.u8() % 64, in); }
void op_free(fuzz::Input& in) {
  if (g.live.count() != 0) do_free(in.index(g.live.count()), in.u8());
}
void op_add_region(fuzz::Input& in) { g.add_fresh_region(in.size(18), (in.u8() % 8) * 8, false); }
void op_release(fuzz::Input&) {
  g.engine.release_spare_spans();
  FUZZ_CHECK(g.engine.spare_bytes() == 0);
}

constexpr fuzz::Op OPS[] = {op_alloc, op_alloc, op_alloc,      op_alloc,   op_batch, op_free,
                            op_free,  op_free,  op_add_region, op_release, bad_input};

void first_region(fuzz::Input& in) { g.add_fresh_region(8192 + in.size(20), (in.u8() % 4) * 16, true); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  g.run(fuzz::Input(data, size), OPS, first_region, [](std::size_t i) { do_free(i, g.live.count()); });
  // Empty: every span goes back to the page buddy.
  g.engine.release_spare_spans();
  FUZZ_CHECK(g.engine.free_run_bytes() == g.engine.total_bytes());
  FUZZ_CHECK(g.engine.verify());
  return 0;
}
