// The runtime's own small-block lookup (src/runtime/config.hpp:
// small_lookup, the free() fast path's class and block-start answer) must
// agree with the Heap engine's lookup_in_region for every class and every
// 16-byte offset of a span, and reject what is not a slab page.
#include <gtest/gtest.h>

#include "runtime/config.hpp"

using namespace strata;
using namespace strata::rt;

namespace {
// One Small segment's worth of memory, aligned like a runtime segment.
struct alignas(SEGMENT_SIZE) Segment {
  unsigned char bytes[SEGMENT_SIZE];
};
Segment g_segment;
SmallEngine g_heap;
}  // namespace

TEST(SmallLookup, MatchesTheEngineForEveryClassAndOffset) {
  ASSERT_TRUE(g_heap.init(g_segment.bytes, SEGMENT_SIZE).ok());
  const void* base = g_segment.bytes;
  for (u32 cls = 0; cls < NUM_SMALL_CLASSES; ++cls) {
    void* block = nullptr;
    ASSERT_EQ(g_heap.alloc_batch(cls, &block, 1), 1u) << "class " << cls;
    const usize span = SmallClasses::get(cls).span_bytes;
    const uptr span_base = reinterpret_cast<uptr>(block) & ~(uptr{span} - 1);
    usize starts = 0;
    for (usize off = 0; off < span; off += 16) {
      const void* p = reinterpret_cast<const void*>(span_base + off);
      const SmallLookup mine = small_lookup(p);
      const auto engine = SmallEngine::lookup_in_region(base, p);
      ASSERT_EQ(mine.cls, engine.cls == SmallEngine::NO_CLASS ? detail::NO_CLASS_BYTE : engine.cls)
          << "class " << cls << " offset " << off;
      ASSERT_EQ(mine.block_start, engine.block_start) << "class " << cls << " offset " << off;
      starts += mine.block_start ? 1 : 0;
    }
    EXPECT_EQ(starts, SmallClasses::get(cls).blocks) << "class " << cls;
    ASSERT_TRUE(g_heap.dealloc(block).ok());
  }
  // The region's metadata page holds no block.
  const SmallLookup meta = small_lookup(g_segment.bytes);
  EXPECT_EQ(meta.cls, detail::NO_CLASS_BYTE);
  EXPECT_FALSE(meta.block_start);
}
