// Standard containers over the engines, through both adaptors: StlAllocator
// (include/strata/stl_allocator.hpp) and PmrResource (pmr_resource.hpp).
//
// Typed over (engine, adaptor): a test-only bump allocator, Buddy, Heap (seed
// and malloc class tables) and Tlsf, each with StlAllocator and with
// std::pmr::polymorphic_allocator over a PmrResource. Every test runs on one
// static arena, re-initialised per test, and (except for the bump allocator,
// which never reuses memory) checks that the engine's used_bytes() is back to
// its start value once the containers are gone: no leak, no double free.
#include <gtest/gtest.h>

#include <map>
#include <memory_resource>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "strata/core/spin_lock.hpp"
#include "strata/engine/buddy.hpp"
#include "strata/engine/heap.hpp"
#include "strata/engine/tlsf.hpp"
#include "gtest_checker.hpp"
#include "scenarios/rng.hpp"
#include "strata/pmr_resource.hpp"
#include "strata/stl_allocator.hpp"

using namespace strata;

namespace {

/// Test-only ByteAllocator: bumps a cursor through one region; dealloc only
/// reclaims the topmost block. used = cursor - start, available = end - cursor.
class BumpEngine {
 public:
  Result<void> init(void* start, usize size) {
    begin_ = cur_ = reinterpret_cast<uptr>(start);
    end_ = begin_ + size;
    return ok();
  }
  Result<void> add_memory(void*, usize) { return AllocError::InvalidParam; }  // one region only
  Result<void*> alloc(usize size, usize align) {
    if (!is_pow2(align)) return AllocError::InvalidParam;
    const uptr p = align_up(cur_, align);
    if (p > end_ || size > end_ - p) return AllocError::NoMemory;
    cur_ = p + size;
    return reinterpret_cast<void*>(p);
  }
  Result<void> dealloc(void* ptr, usize size, usize) {
    const uptr p = reinterpret_cast<uptr>(ptr);
    if (p < begin_ || p >= cur_) return AllocError::NotAllocated;
    if (p + size == cur_) cur_ = p;
    return ok();
  }
  usize total_bytes() const { return end_ - begin_; }
  usize used_bytes() const { return cur_ - begin_; }
  usize available_bytes() const { return end_ - cur_; }

 private:
  uptr begin_ = 0, cur_ = 0, end_ = 0;
};
static_assert(ByteAllocator<BumpEngine>);
static_assert(ByteAllocator<AllocatorRc<Tlsf<>>>);  // a handle is an engine too

constexpr usize ARENA = usize{64} << 20;
test::Arena<ARENA> g_arena;

/// The two adaptors, as a way to make an allocator of T for engine E.
struct StlMode {
  template <class T, class E>
  using Alloc = StlAllocator<T, E>;
  template <class T, class E>
  static Alloc<T, E> make(const AllocatorRc<E>& rc, PmrResource<E>&) { return Alloc<T, E>(rc); }
};
struct PmrMode {
  template <class T, class E>
  using Alloc = std::pmr::polymorphic_allocator<T>;
  template <class T, class E>
  static Alloc<T, E> make(const AllocatorRc<E>&, PmrResource<E>& res) { return Alloc<T, E>(&res); }
};

template <class E, class M, bool Frees = true>
struct Case {
  using Engine = E;
  using Mode = M;
  static constexpr bool FREES = Frees;  ///< used_bytes() returns to its start value
};

template <class C>
class Containers : public ::testing::Test {
 protected:
  using Engine = typename C::Engine;
  template <class T>
  using A = typename C::Mode::template Alloc<T, Engine>;
  template <class T>
  using Vec = std::vector<T, A<T>>;
  template <class K, class V>
  using Map = std::map<K, V, std::less<K>, A<std::pair<const K, V>>>;
  using String = std::basic_string<char, std::char_traits<char>, A<char>>;

  AllocatorRc<Engine> rc;
  PmrResource<Engine> res{rc};
  usize used0 = 0;

  void SetUp() override {
    ASSERT_TRUE(rc.init(g_arena.data(), ARENA).ok());
    used0 = rc.used_bytes();
  }
  void TearDown() override {
    if (C::FREES) {
      EXPECT_EQ(rc.used_bytes(), used0) << "containers gone, blocks still held";
    }
    EXPECT_EQ(rc.used_bytes() + rc.available_bytes(), rc.total_bytes());
  }
  template <class T>
  A<T> make() {
    return C::Mode::template make<T, Engine>(rc, res);
  }
};

using Cases = ::testing::Types<Case<BumpEngine, StlMode, false>, Case<BumpEngine, PmrMode, false>,
                               Case<Buddy<BuddyConfig>, StlMode>, Case<Buddy<BuddyConfig>, PmrMode>,
                               Case<Heap<SeedHeapConfig>, StlMode>, Case<Heap<SeedHeapConfig>, PmrMode>,
                               Case<Heap<MallocHeapConfig>, StlMode>, Case<Heap<MallocHeapConfig>, PmrMode>,
                               Case<Tlsf<>, StlMode>, Case<Tlsf<>, PmrMode>>;
TYPED_TEST_SUITE(Containers, Cases);

TYPED_TEST(Containers, VectorGrowsLarge) {
  typename TestFixture::template Vec<u64> v(this->template make<u64>());
  constexpr u64 N = u64{1} << 20;  // 8 MiB of elements, regrown 21 times
  for (u64 i = 0; i < N; ++i) v.push_back(i * 7);
  for (u64 i = 0; i < N; i += 997) ASSERT_EQ(v[i], i * 7);
  EXPECT_GE(this->rc.used_bytes(), this->used0 + N * sizeof(u64));
  v.shrink_to_fit();
  EXPECT_EQ(v.back(), (N - 1) * 7);
}

TYPED_TEST(Containers, VectorPushPopMany) {
  typename TestFixture::template Vec<u32> v(this->template make<u32>());
  for (int round = 0; round < 4; ++round) {
    for (u32 i = 0; i < 200'000; ++i) v.push_back(i ^ 0x5a5a5a5au);
    for (u32 i = 200'000; i-- > 0;) {
      ASSERT_EQ(v.back(), i ^ 0x5a5a5a5au);
      v.pop_back();
    }
    EXPECT_TRUE(v.empty());
  }
}

TYPED_TEST(Containers, RandomFreeOfManyAllocations) {
  struct Block {
    u8* p;
    usize n;
  };
  auto bytes = this->template make<u8>();
  using Traits = std::allocator_traits<decltype(bytes)>;
  typename TestFixture::template Vec<Block> blocks(this->template make<Block>());
  scenario::Rng rng(11);
  for (int i = 0; i < 50'000; ++i) {
    const usize n = static_cast<usize>(rng.log_uniform(2048));
    u8* p = Traits::allocate(bytes, n);
    for (usize k = 0; k < n; k += 7) p[k] = static_cast<u8>(i + k);
    blocks.push_back(Block{p, n});
  }
  for (usize i = blocks.size(); i > 1; --i) std::swap(blocks[i - 1], blocks[static_cast<usize>(rng.below(i))]);
  for (const Block& b : blocks) {
    for (usize k = 0; k < b.n; k += 7) ASSERT_EQ(b.p[k], static_cast<u8>(b.p[0] + k));
    Traits::deallocate(bytes, b.p, b.n);
  }
}

TYPED_TEST(Containers, MapRandomInsertErase) {
  typename TestFixture::template Map<u64, u64> m(this->template make<std::pair<const u64, u64>>());
  std::set<u64> ref;  // plain std::allocator reference
  scenario::Rng rng(12);
  for (int i = 0; i < 100'000; ++i) {
    const u64 k = rng.below(20'000);
    if (rng.chance(3, 5)) {
      m.emplace(k, k * 3);
      ref.insert(k);
    } else {
      ASSERT_EQ(m.erase(k), ref.erase(k));
    }
  }
  ASSERT_EQ(m.size(), ref.size());
  auto it = m.begin();
  for (u64 k : ref) {
    ASSERT_EQ(it->first, k);
    ASSERT_EQ(it->second, k * 3);
    ++it;
  }
}

TYPED_TEST(Containers, UnorderedMap) {
  using Pair = std::pair<const u64, std::string>;
  std::unordered_map<u64, std::string, std::hash<u64>, std::equal_to<u64>, typename TestFixture::template A<Pair>> m(
      this->template make<Pair>());
  for (u64 i = 0; i < 100'000; ++i) m.emplace(i * 2654435761u, std::to_string(i));
  for (u64 i = 0; i < 100'000; i += 2) m.erase(i * 2654435761u);
  ASSERT_EQ(m.size(), 50'000u);
  for (u64 i = 1; i < 100'000; i += 2) ASSERT_EQ(m.at(i * 2654435761u), std::to_string(i));
}

TYPED_TEST(Containers, Strings) {
  using Str = typename TestFixture::String;
  Str s(this->template make<char>());
  std::string ref;
  for (int i = 0; i < 20'000; ++i) {
    const std::string piece = std::to_string(i * 31) + ",";
    s += piece.c_str();
    ref += piece;
  }
  EXPECT_EQ(std::string_view(s), std::string_view(ref));
  // Many short and long strings side by side (small-string buffer and heap).
  typename TestFixture::template Vec<Str> many(this->template make<Str>());
  for (usize i = 0; i < 5'000; ++i) many.push_back(Str(i % 97, static_cast<char>('a' + i % 26), this->template make<char>()));
  for (usize i = 0; i < many.size(); ++i) ASSERT_EQ(many[i].size(), i % 97);
}

struct alignas(64) Aligned64 {
  u64 v[3];
};
struct alignas(256) Aligned256 {
  u64 v[5];
};

TYPED_TEST(Containers, OverAlignedElements) {
  typename TestFixture::template Vec<Aligned64> a(this->template make<Aligned64>());
  typename TestFixture::template Vec<Aligned256> b(this->template make<Aligned256>());
  for (u64 i = 0; i < 3'000; ++i) {
    a.push_back(Aligned64{{i, i, i}});
    b.push_back(Aligned256{{i, i, i, i, i}});
    ASSERT_TRUE(is_ptr_aligned(a.data(), 64));
    ASSERT_TRUE(is_ptr_aligned(b.data(), 256));
  }
  // Node containers carry the alignment into their rebound node type.
  typename TestFixture::template Map<u32, Aligned256> m(this->template make<std::pair<const u32, Aligned256>>());
  for (u32 i = 0; i < 2'000; ++i) m.emplace(i, Aligned256{{i, 0, 0, 0, 0}});
  for (const auto& [k, v] : m) {
    ASSERT_TRUE(is_ptr_aligned(&v, 256)) << k;
    ASSERT_EQ(v.v[0], k);
  }
  EXPECT_EQ(b[2999].v[4], 2999u);
}

TYPED_TEST(Containers, ExhaustionThrowsBadAlloc) {
  // A small arena: a request beyond it must throw, and the container survive.
  ASSERT_TRUE(this->rc.init(g_arena.data(), 1 << 20).ok());
  this->used0 = this->rc.used_bytes();
  typename TestFixture::template Vec<u64> v(this->template make<u64>());
  v.push_back(1);
  EXPECT_THROW(v.reserve((usize{4} << 20) / sizeof(u64)), std::bad_alloc);
  EXPECT_EQ(v.size(), 1u);
  v.push_back(2);
  EXPECT_EQ(v[1], 2u);
}

// ---- Handle and adaptor semantics ------------------------------------------

TEST(AllocatorRc, CopiesShareOneEngine) {
  AllocatorRc<Tlsf<>> a;
  ASSERT_TRUE(a.init(g_arena.data(), 1 << 20).ok());
  AllocatorRc<Tlsf<>> b = a;
  AllocatorRc<Tlsf<>> c;
  EXPECT_EQ(a.use_count(), 2u);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  Result<void*> p = b.alloc(100, 16);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(a.used_bytes(), b.used_bytes());
  EXPECT_TRUE(a.dealloc(p.value(), 100, 16).ok());  // freed through the other handle
  EXPECT_EQ(a.locked([](Tlsf<>& e) { return e.verify(); }), true);
  c = a;
  c = c;  // self-assignment keeps the count
  EXPECT_EQ(a.use_count(), 3u);
  AllocatorRc<Tlsf<>> moved = std::move(c);  // moving is copying: c stays valid
  EXPECT_TRUE(c == moved);
  EXPECT_EQ(a.use_count(), 4u);
}

TEST(StlAllocator, RebindEqualityAndLimits) {
  AllocatorRc<Tlsf<>> rc, other;
  ASSERT_TRUE(rc.init(g_arena.data(), 1 << 20).ok());
  StlAllocator<int, Tlsf<>> ints(rc);
  StlAllocator<double, Tlsf<>> doubles(ints);
  StlAllocator<int, Tlsf<>> elsewhere(other);
  EXPECT_TRUE(ints == doubles);
  EXPECT_TRUE(ints != elsewhere);
  using Rebound = std::allocator_traits<StlAllocator<int, Tlsf<>>>::rebind_alloc<char>;
  static_assert(std::is_same_v<Rebound, StlAllocator<char, Tlsf<>>>);
  EXPECT_THROW((void)ints.allocate(ints.max_size() + 1), std::bad_array_new_length);
  EXPECT_THROW((void)elsewhere.allocate(1), std::bad_alloc);  // an engine without memory
  int* zero = ints.allocate(0);  // a real block, given back like any other
  ints.deallocate(zero, 0);
  EXPECT_EQ(rc.used_bytes(), 0u);
  // Swapping containers swaps their allocators (propagate_on_container_swap).
  std::vector<int, StlAllocator<int, Tlsf<>>> x({1, 2}, ints), y(elsewhere);
  x.swap(y);
  EXPECT_TRUE(y.get_allocator() == ints);
  EXPECT_EQ(y.size(), 2u);
}

TEST(PmrResource, EqualityFollowsTheEngine) {
  AllocatorRc<Buddy<BuddyConfig>> rc, other;
  ASSERT_TRUE(rc.init(g_arena.data(), 1 << 20).ok());
  PmrResource<Buddy<BuddyConfig>> r1(rc), r2(rc), r3(other);
  EXPECT_TRUE(r1.is_equal(r2));
  EXPECT_FALSE(r1.is_equal(r3));
  EXPECT_FALSE(r1.is_equal(*std::pmr::new_delete_resource()));
  void* p = r1.allocate(300, 128);
  EXPECT_TRUE(is_ptr_aligned(p, 128));
  r2.deallocate(p, 300, 128);  // equal resources free each other's memory
  EXPECT_EQ(rc.used_bytes(), 0u);
  EXPECT_THROW((void)r3.allocate(8), std::bad_alloc);
}

TEST(StlAllocatorDeathTest, RefusedDeallocateIsFatal) {
  // Buddy tells a double free from a live block: the adaptors must not swallow it.
  AllocatorRc<Buddy<BuddyConfig>> rc;
  ASSERT_TRUE(rc.init(g_arena.data(), 1 << 20).ok());
  StlAllocator<u64, Buddy<BuddyConfig>> alloc(rc);
  u64* p = alloc.allocate(4);
  alloc.deallocate(p, 4);
  EXPECT_DEATH(alloc.deallocate(p, 4), "StlAllocator::deallocate: the engine refused the block");
  PmrResource<Buddy<BuddyConfig>> res(rc);
  void* q = res.allocate(64, 8);
  res.deallocate(q, 64, 8);
  EXPECT_DEATH(res.deallocate(q, 64, 8), "PmrResource::deallocate: the engine refused the block");
}

TEST(AllocatorRc, SpinLockSharesOneEngineAcrossThreads) {
  AllocatorRc<Tlsf<>, SpinLock> rc;
  ASSERT_TRUE(rc.init(g_arena.data(), 16 << 20).ok());
  // Each thread works through its own copy of the handle.
  auto work = [](AllocatorRc<Tlsf<>, SpinLock> handle, u64 seed) {
    StlAllocator<u64, Tlsf<>, SpinLock> alloc(handle);
    scenario::Rng rng(seed);
    for (int round = 0; round < 200; ++round) {
      std::vector<u64, StlAllocator<u64, Tlsf<>, SpinLock>> v(alloc);
      const u64 n = rng.range(1, 2000);
      for (u64 i = 0; i < n; ++i) v.push_back(seed + i);
      for (u64 i = 0; i < n; ++i) ASSERT_EQ(v[i], seed + i);
    }
  };
  std::thread t1(work, rc, 1), t2(work, rc, 2);
  t1.join();
  t2.join();
  EXPECT_EQ(rc.used_bytes(), 0u);
  EXPECT_EQ(rc.use_count(), 1u);
  EXPECT_TRUE(rc.locked([](Tlsf<>& e) { return e.verify(); }));
}

}  // namespace
