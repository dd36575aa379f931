// Heap engine, typed over the seed-like and the malloc configuration: the
// shared scenarios (bad input, exhaustion and span return, batches and
// lookups, alignment, regions), the randomized shadow model and the
// randomized pointer-only run (>= 10^6 operations each per config), and the
// hosted extras (spare span, free runs, corruption check, constinit).
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>

#include "strata/engine/heap.hpp"
#include "gtest_checker.hpp"
#include "scenarios/byte_model.hpp"
#include "scenarios/heap_scenarios.hpp"

using namespace strata;

namespace {

// The program's arena (as in firmware): tests take slices of it.
constexpr usize ARENA_BYTES = usize{12} << 20;
test::Arena<ARENA_BYTES, usize{4} << 20> g_arena;  // 4 MiB-aligned, like runtime segments
void* g_slots[(usize{1} << 20) / 16];
scenario::LiveBlock g_live[2048];
constexpr usize NSLOTS = sizeof g_slots / sizeof *g_slots;

u8* arena() { return g_arena.bytes; }

template <class H>
class HeapTest : public ::testing::Test {
 protected:
  H heap;
  scenario::Checker chk = test::gtest_checker();
  void TearDown() override {
    const char* why = "";
    EXPECT_TRUE(heap.verify([&](const char* w, const void*) { why = w; })) << why;
  }
};
using Configs = ::testing::Types<Heap<SeedHeapConfig>, Heap<MallocHeapConfig>>;
TYPED_TEST_SUITE(HeapTest, Configs);

TYPED_TEST(HeapTest, BadInput) { scenario::heap_bad_input(this->heap, arena(), usize{256} << 10, this->chk); }

TYPED_TEST(HeapTest, ExhaustionAndEmptySpansReturned) {
  scenario::heap_exhaustion(this->heap, arena(), usize{256} << 10, g_slots, NSLOTS, this->chk);
}

TYPED_TEST(HeapTest, BatchesAndLookups) {
  scenario::heap_batches(this->heap, arena(), usize{1} << 20, g_slots, NSLOTS, this->chk);
}

TYPED_TEST(HeapTest, AlignmentOneTo4096AndBeyond) {
  scenario::heap_alignment(this->heap, arena(), usize{2} << 20, 16384, this->chk);
}

TYPED_TEST(HeapTest, DisjointRegions) {
  scenario::heap_regions(this->heap, arena(), usize{4} << 20, g_slots, NSLOTS, this->chk);
}

// dealloc_in_region: the runtime's O(1) free for a caller that knows the
// region. Frees live blocks of either region; refuses a double free, a
// pointer into a block, a wrong region base and a pointer outside the region.
TYPED_TEST(HeapTest, DeallocInRegion) {
  u8* r0 = arena();
  u8* r1 = arena() + (usize{4} << 20);
  ASSERT_TRUE(this->heap.init(r0, usize{4} << 20).ok());
  ASSERT_TRUE(this->heap.add_memory(r1, usize{4} << 20).ok());
  const usize used0 = this->heap.used_bytes();
  void* a = this->heap.alloc(64, 16).value();
  void* big = this->heap.alloc(usize{64} << 10, 16).value();  // a large (buddy) block
  u8* base_a = reinterpret_cast<u8*>(reinterpret_cast<uptr>(a) & ~((usize{4} << 20) - 1));
  u8* other = base_a == r0 ? r1 : r0;
  EXPECT_EQ(this->heap.dealloc_in_region(base_a, static_cast<u8*>(a) + 16).error(), AllocError::NotAllocated);
  EXPECT_EQ(this->heap.dealloc_in_region(other, a).error(), AllocError::NotAllocated);
  EXPECT_EQ(this->heap.dealloc_in_region(base_a + 4096, a).error(), AllocError::NotAllocated);
  EXPECT_TRUE(this->heap.dealloc_in_region(base_a, a).ok());
  EXPECT_EQ(this->heap.dealloc_in_region(base_a, a).error(), AllocError::NotAllocated);  // double free
  u8* base_big = reinterpret_cast<u8*>(reinterpret_cast<uptr>(big) & ~((usize{4} << 20) - 1));
  EXPECT_TRUE(this->heap.dealloc_in_region(base_big, big).ok());
  EXPECT_EQ(this->heap.used_bytes(), used0);
}

/// Two regions: 4 MiB aligned to 4 MiB (the runtime's shape) and an odd one.
void two_regions(scenario::Region (&r)[2]) {
  r[0] = {reinterpret_cast<uptr>(arena() + (usize{4} << 20)), usize{4} << 20};
  r[1] = {reinterpret_cast<uptr>(arena() + (usize{1} << 20)), (usize{5} << 19) + 4096 + 16};
}

// The second region is cleared first and promised as Contents::Zero (the
// runtime's fresh segments), so the model also covers metadata left uncleared.
TYPED_TEST(HeapTest, RandomModelMillionOps) {
  scenario::Region regions[2];
  two_regions(regions);
  mem_set(reinterpret_cast<void*>(regions[1].start), 0, regions[1].size);
  ASSERT_TRUE(this->heap.init(reinterpret_cast<void*>(regions[0].start), regions[0].size).ok());
  ASSERT_TRUE(this->heap.add_memory(reinterpret_cast<void*>(regions[1].start), regions[1].size, Contents::Zero).ok());
  scenario::ByteModelParams p;
  p.seed = 0x5eedu;
  p.ops = 1'000'000;
  p.max_size = 1 << 15;
  p.max_align_log2 = 8;
  const scenario::ByteModelStats st =
      scenario::run_byte_model(this->heap, regions, 2, g_live, 2048, p, this->chk);
  EXPECT_GE(st.allocs + st.frees + st.no_memory, p.ops);
  this->heap.release_spare_spans();
  EXPECT_EQ(this->heap.free_run_bytes(), this->heap.total_bytes());
  std::printf("heap model: %llu allocs, %llu frees, %llu NoMemory, peak %zu live\n",
              static_cast<unsigned long long>(st.allocs), static_cast<unsigned long long>(st.frees),
              static_cast<unsigned long long>(st.no_memory), st.peak_live);
}

TYPED_TEST(HeapTest, RandomPointerOnlyMillionOps) {
  scenario::Region regions[2];
  two_regions(regions);
  ASSERT_TRUE(this->heap.init(reinterpret_cast<void*>(regions[0].start), regions[0].size).ok());
  ASSERT_TRUE(this->heap.add_memory(reinterpret_cast<void*>(regions[1].start), regions[1].size).ok());
  scenario::HeapRunParams p;
  p.seed = 0xf4eeu;
  p.ops = 1'000'000;
  const scenario::HeapRunStats st = scenario::heap_random_run(this->heap, regions, 2, g_live, 768, p, this->chk);
  EXPECT_GT(st.no_memory, 0u) << "the run should also exercise exhaustion";
  EXPECT_GT(st.batch_frees, 0u);
  EXPECT_GT(st.probes, 0u);
  std::printf("heap pointer-only: %llu allocs, %llu frees (%llu batched), %llu NoMemory, %llu misuse probes\n",
              static_cast<unsigned long long>(st.allocs), static_cast<unsigned long long>(st.frees),
              static_cast<unsigned long long>(st.batch_frees), static_cast<unsigned long long>(st.no_memory),
              static_cast<unsigned long long>(st.probes));
}

TYPED_TEST(HeapTest, SpareSpanAbsorbsThrash) {
  ASSERT_TRUE(this->heap.init(arena(), usize{1} << 20).ok());
  const usize free0 = this->heap.free_run_bytes();
  const u32 cls = TypeParam::class_for(100, 1);
  const usize span = TypeParam::class_span_bytes(cls);
  for (int i = 0; i < 1000; ++i) {
    Result<void*> r = this->heap.alloc(100, 1);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(this->heap.free_run_bytes(), free0 - span);
    ASSERT_TRUE(this->heap.dealloc(r.value()).ok());
    EXPECT_EQ(this->heap.free_run_bytes(), free0 - (TypeParam::KEEP_SPARE_SPAN ? span : 0));
  }
  // A second span emptied while the spare is taken goes straight back.
  const usize per_span = span / TypeParam::class_size(cls);
  const usize n = per_span + 1;
  ASSERT_EQ(this->heap.alloc_batch(cls, g_slots, n), n);
  EXPECT_EQ(this->heap.free_run_bytes(), free0 - 2 * span);
  ASSERT_TRUE(this->heap.dealloc_batch(g_slots, n).ok());
  EXPECT_EQ(this->heap.free_run_bytes(), free0 - span);
  this->heap.release_spare_spans();
  EXPECT_EQ(this->heap.free_run_bytes(), free0);
}

TYPED_TEST(HeapTest, UsableSizeAndSizedDealloc) {
  ASSERT_TRUE(this->heap.init(arena(), usize{2} << 20).ok());
  for (usize s = 1; s <= 40000; s = s * 3 / 2 + 1) {
    Result<void*> r = this->heap.alloc(s, 8);
    ASSERT_TRUE(r.ok());
    const usize u = this->heap.usable_size(r.value()).value();
    const u32 c = TypeParam::class_for(s, 8);
    EXPECT_EQ(u, c == TypeParam::NO_CLASS ? usize{next_pow2(s)} : TypeParam::class_size(c)) << s;
    EXPECT_EQ(this->heap.used_bytes(), u);
    // Any size alloc would have put in the same class (or order) frees it.
    ASSERT_TRUE(this->heap.dealloc(r.value(), u, 8).ok()) << s;
  }
}

TYPED_TEST(HeapTest, FreeRunsCoverTheFreePages) {
  ASSERT_TRUE(this->heap.init(arena(), usize{4} << 20).ok());
  Result<void*> a = this->heap.alloc(50, 16);
  Result<void*> b = this->heap.alloc(100000, 16);
  ASSERT_TRUE(a.ok() && b.ok());
  usize bytes = 0;
  this->heap.for_each_free_run(0, [&](void* p, usize n) {
    EXPECT_TRUE(is_ptr_aligned(p, TypeParam::PAGE_SIZE));
    EXPECT_EQ(TypeParam::lookup_in_region(arena(), p).cls, TypeParam::NO_CLASS);
    bytes += n;
  });
  EXPECT_EQ(bytes, this->heap.free_run_bytes());
  ASSERT_TRUE(this->heap.dealloc(a.value()).ok());
  ASSERT_TRUE(this->heap.dealloc(b.value()).ok());
}

TYPED_TEST(HeapTest, VerifyCatchesCorruptedMetadata) {
  ASSERT_TRUE(this->heap.init(arena(), usize{1} << 20).ok());
  void* p[3];
  ASSERT_EQ(this->heap.alloc_batch(1, p, 3), 3u);
  ASSERT_TRUE(this->heap.dealloc(p[1]).ok());
  auto* reg = reinterpret_cast<detail::HeapRegion*>(arena());
  const usize page = (reinterpret_cast<uptr>(p[0]) >> TypeParam::PAGE_SHIFT) - reg->first_page;
  u8* cls = detail::class_table(reg->start) + page;
  u64* live = reg->live + ((reinterpret_cast<uptr>(p[0]) - (reg->first_page << TypeParam::PAGE_SHIFT)) >>
                          log2_floor(TypeParam::class_size(0))) / 64;  // granule = smallest class
  detail::SpanRecord* rec = reg->spans + page;
  const char* why = nullptr;
  auto expect_caught = [&](auto& field, auto bad) {
    const auto saved = field;
    field = bad;
    why = nullptr;
    EXPECT_FALSE(this->heap.verify([&](const char* w, const void*) { why = w; }));
    EXPECT_NE(why, nullptr);
    field = saved;
  };
  expect_caught(*cls, u8{0});           // wrong class byte
  expect_caught(cls[-1], u8{1});        // class byte on a page before the span
  expect_caught(*live, ~u64{0});        // live bits off the slots
  expect_caught(rec->used, u16{1});     // used count
  expect_caught(rec->hint, u16{1});     // search hint past a word with a free slot
  expect_caught(rec->hint, u16{999});   // search hint out of range
  EXPECT_TRUE(this->heap.verify());
  ASSERT_TRUE(this->heap.dealloc(p[0]).ok());
  ASSERT_TRUE(this->heap.dealloc(p[2]).ok());
}

using HeapSlotTest = HeapTest<Heap<MallocHeapConfig>>;

// Free blocks hold nothing of the heap's: scribbling over them (a write after
// free) changes nothing the heap reads, and the slots are handed out again.
TEST_F(HeapSlotTest, WriteAfterFreeCannotCorruptTheHeap) {
  ASSERT_TRUE(heap.init(arena(), usize{1} << 20).ok());
  void* p[3];  // p[2] stays live, so the span stays partial
  ASSERT_EQ(heap.alloc_batch(0, p, 3), 3u);
  ASSERT_TRUE(heap.dealloc(p[0]).ok());
  ASSERT_TRUE(heap.dealloc(p[1]).ok());
  mem_set(p[0], 0xa5, heap.class_size(0));
  mem_set(p[1], 0x5a, heap.class_size(0));
  EXPECT_TRUE(heap.verify());
  void* q[2];
  ASSERT_EQ(heap.alloc_batch(0, q, 2), 2u);
  EXPECT_EQ(q[0], p[0]);  // lowest free slot first
  EXPECT_EQ(q[1], p[1]);
  EXPECT_TRUE(heap.verify());
  for (void* b : {q[0], q[1], p[2]}) ASSERT_TRUE(heap.dealloc(b).ok());
}

// A constinit global heap: no constructor runs, init() later.
constinit Heap<MallocHeapConfig> g_heap;

TEST(HeapGlobal, ConstinitAndReinit) {
  ASSERT_TRUE(g_heap.init(arena(), usize{1} << 20).ok());
  Result<void*> r = g_heap.alloc(1000, 64);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(g_heap.init(arena(), usize{1} << 20).ok());
  EXPECT_EQ(g_heap.used_bytes(), 0u);
  EXPECT_EQ(g_heap.dealloc(r.value()).error(), AllocError::NotAllocated);
  EXPECT_TRUE(g_heap.verify());
}

// Contents::Zero on a fresh mapping: the span records and slot bits (64 KiB
// of a 4 MiB region) stay untouched, so a heap that has served one block has
// a handful of resident pages; without the promise it clears them all.
usize resident_pages_after_one_block(Contents contents) {
  constexpr usize BYTES = usize{4} << 20;
  void* m = ::mmap(nullptr, BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(m, MAP_FAILED);
  if (m == MAP_FAILED) return 0;
  Heap<MallocHeapConfig> heap;
  EXPECT_TRUE(heap.init(m, BYTES, contents).ok());
  Result<void*> r = heap.alloc(32, 16);
  EXPECT_TRUE(r.ok());
  const usize page = static_cast<usize>(::sysconf(_SC_PAGESIZE));
  unsigned char vec[BYTES / 4096];
  EXPECT_EQ(::mincore(m, BYTES, vec), 0);
  usize resident = 0;
  for (usize i = 0; i < BYTES / page; ++i) resident += vec[i] & 1;
  EXPECT_TRUE(heap.dealloc(r.value()).ok());
  EXPECT_TRUE(heap.verify());
  ::munmap(m, BYTES);
  return resident;
}

TEST(HeapResidency, ZeroedRegionLeavesMetadataUntouched) {
  const usize zero = resident_pages_after_one_block(Contents::Zero);
  const usize unknown = resident_pages_after_one_block(Contents::Unknown);
  std::printf("resident pages after one block: %zu (Contents::Zero), %zu (Unknown)\n", zero, unknown);
  // Zero: the header, the class bytes, one page each of span records and slot
  // bits, and the buddy's free-list links in its root blocks (~8 pages).
  // Unknown clears 64 KiB more, of which a few pages Zero touches as well.
  EXPECT_LE(zero, 16u);
  EXPECT_GE(unknown, zero + 12u);
}

}  // namespace
