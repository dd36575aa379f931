// The runtime's small-block lookups (src/runtime/config.hpp) must agree
// with the Heap engine's lookup_in_region for every class and every 16-byte
// offset of a span, and reject what is not a slab page: page_lookup (free()'s
// fast path, through the page map) for a region in the page source's window,
// small_lookup (the slow path) for regions in and out of it.
#include <gtest/gtest.h>

#include "runtime/config.hpp"
#include "strata/engine/heap_verify.hpp"

using namespace strata;
using namespace strata::rt;

namespace {
// Two Small segments' worth of memory, aligned like runtime segments: the
// first plays a segment in the window, the second one mapped outside it.
struct alignas(SEGMENT_SIZE) Segment {
  unsigned char bytes[SEGMENT_SIZE];
};
Segment g_in_window;
Segment g_outside;
SmallEngine g_heap_in;
SmallEngine g_heap_out;

// Checks both lookups against the engine's for every class of heap h over
// segment s; `in_window` says whether page_lookup must find the blocks.
void check_every_class(SmallEngine& h, Segment& s, bool in_window) {
  const void* base = s.bytes;
  for (u32 cls = 0; cls < NUM_SMALL_CLASSES; ++cls) {
    void* block = nullptr;
    ASSERT_EQ(h.alloc_batch(cls, &block, 1), 1u) << "class " << cls;
    const usize span = SmallClasses::get(cls).span_bytes;
    const uptr span_base = reinterpret_cast<uptr>(block) & ~(uptr{span} - 1);
    usize starts = 0;
    for (usize off = 0; off < span; off += 16) {
      const void* p = reinterpret_cast<const void*>(span_base + off);
      const auto engine = SmallEngine::lookup_in_region(base, p);
      const usize want_code = engine.cls == SmallEngine::NO_CLASS ? 0 : code_of_class(engine.cls);
      const SmallLookup slow = small_lookup(p);
      ASSERT_EQ(slow.code, want_code) << "class " << cls << " offset " << off;
      ASSERT_EQ(slow.block_start, engine.block_start) << "class " << cls << " offset " << off;
      const SmallLookup fast = page_lookup(p);
      if (in_window) {
        ASSERT_EQ(fast.code, want_code) << "class " << cls << " offset " << off;
        ASSERT_EQ(fast.block_start, engine.block_start) << "class " << cls << " offset " << off;
      } else {
        ASSERT_FALSE(fast.block_start) << "outside the window, class " << cls << " offset " << off;
      }
      starts += slow.block_start ? 1 : 0;
    }
    EXPECT_EQ(starts, SmallClasses::get(cls).blocks) << "class " << cls;
    ASSERT_TRUE(h.dealloc(block).ok());
  }
  // The region's metadata page holds no block.
  EXPECT_EQ(small_lookup(s.bytes).code, 0u);
  EXPECT_FALSE(page_lookup(s.bytes).block_start);
}
}  // namespace

TEST(SmallLookup, MatchesTheEngineForEveryClassAndOffset) {
  // The window is the first segment (as the page source sets it up).
  g_page_map.base = reinterpret_cast<uptr>(g_in_window.bytes);
  g_page_map.bytes = SEGMENT_SIZE;
  ASSERT_TRUE(g_heap_in.init(g_in_window.bytes, SEGMENT_SIZE).ok());
  ASSERT_TRUE(g_heap_out.init(g_outside.bytes, SEGMENT_SIZE).ok());
  // Class bytes of the window's region live in the page map, the others' in their metadata.
  EXPECT_EQ(SmallEngine::class_bytes(reinterpret_cast<uptr>(g_in_window.bytes)), &g_page_map.code[0]);
  EXPECT_EQ(SmallEngine::class_bytes(reinterpret_cast<uptr>(g_outside.bytes)),
            detail::class_table(reinterpret_cast<uptr>(g_outside.bytes)));
  check_every_class(g_heap_in, g_in_window, true);
  check_every_class(g_heap_out, g_outside, false);
  // A pointer far from the window, and null, are not small block starts.
  EXPECT_FALSE(page_lookup(nullptr).block_start);
  EXPECT_FALSE(page_lookup(reinterpret_cast<const void*>(~uptr{0} - 15)).block_start);
  ASSERT_TRUE(g_heap_in.verify());
  ASSERT_TRUE(g_heap_out.verify());
}
