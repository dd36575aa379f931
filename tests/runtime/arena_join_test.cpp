// SmallArenas::join_arena under threads that join at the same moment (a pool
// of workers started together ends its warm-up together): each must get an
// arena of its own while some arena has no thread. Run on the runtime of
// libstrata_prefixed.a, on arenas of the test's own (no memory is allocated:
// joining an arena only counts its threads).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "runtime/central.hpp"

namespace {

using strata::u32;
using strata::rt::MAX_SMALL_ARENAS;
using strata::rt::SmallArenas;
using strata::rt::SmallHeap;

SmallHeap g_heaps[MAX_SMALL_ARENAS];

TEST(ArenaJoin, ThreadsJoiningAtOnceGetArenasOfTheirOwn) {
  SmallArenas arenas(nullptr, g_heaps);
  arenas.configure(MAX_SMALL_ARENAS / 2);  // every arena in use
  const u32 n = arenas.count();
  ASSERT_EQ(n, MAX_SMALL_ARENAS);
  // 4 threads (2 on 2 CPUs would race less often), released together from a
  // spin barrier into join_arena: without a check that the chosen arena is
  // still the emptiest, two of them took the same one in most trials.
  constexpr u32 THREADS = 4;
  constexpr int TRIALS = 2000;
  int shared = 0;
  for (int trial = 0; trial < TRIALS; ++trial) {
    std::atomic<u32> started{0};
    u32 got[THREADS];
    std::vector<std::thread> threads;
    for (u32 i = 0; i < THREADS; ++i) {
      threads.emplace_back([&, i] {
        started.fetch_add(1);
        while (started.load() < THREADS) {
        }
        got[i] = arenas.join_arena();
      });
    }
    for (std::thread& t : threads) t.join();
    bool seen[MAX_SMALL_ARENAS] = {};
    for (u32 a : got) {
      ASSERT_LT(a, n);
      if (seen[a]) ++shared;
      seen[a] = true;
    }
    for (u32 a : got) arenas.leave_arena(a);
  }
  EXPECT_EQ(shared, 0) << "threads that joined at once shared an arena (" << shared << " times in " << TRIALS
                       << " trials)";
}

TEST(ArenaJoin, JoinsSpreadOverTheArenasAndLeavesFreeThem) {
  SmallArenas arenas(nullptr, g_heaps);
  arenas.configure(2);  // 4 arenas
  ASSERT_EQ(arenas.count(), 4u);
  EXPECT_EQ(arenas.join_arena(), 0u);
  EXPECT_EQ(arenas.join_arena(), 1u);
  EXPECT_EQ(arenas.join_arena(), 2u);
  EXPECT_EQ(arenas.join_arena(), 3u);
  EXPECT_EQ(arenas.join_arena(), 0u);  // all taken: the lowest of the least used
  arenas.leave_arena(2);
  EXPECT_EQ(arenas.join_arena(), 2u);  // the one a thread left
  arenas.leave_arena(MAX_SMALL_ARENAS);  // out of range: ignored
}

}  // namespace
