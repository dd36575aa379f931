// strata_ctl (mallctl), strata_ctl_nametomib / strata_ctl_bymib: names, types
// and jemalloc's error codes. Linked against libstrata_prefixed.a.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "strata/strata.h"

namespace {
template <class T>
int get(const char* name, T& out) {
  size_t len = sizeof(T);
  const int r = strata_ctl(name, &out, &len, nullptr, 0);
  if (r == 0) {
    EXPECT_EQ(len, sizeof(T)) << name;
  }
  return r;
}

size_t stat(const char* name) {
  uint64_t epoch = 1;
  size_t elen = sizeof epoch;
  EXPECT_EQ(strata_ctl("epoch", &epoch, &elen, &epoch, sizeof epoch), 0);
  size_t v = 0;
  EXPECT_EQ(get(name, v), 0) << name;
  return v;
}

TEST(Ctl, VersionMatchesTheHeader) {
  const char* v = nullptr;
  ASSERT_EQ(get("version", v), 0);
  EXPECT_STREQ(v, STRATA_VERSION_STRING);
  EXPECT_STREQ(strata_version(), STRATA_VERSION_STRING);
}

TEST(Ctl, UnknownNamesAreEnoent) {
  for (const char* name : {"bogus", "stats.bogus", "stats", "opt.bogus", "arena.999.purge", "arena.x.purge",
                           "arena.0", "arenas.bin.999.size", "stats.allocated.x", "", ".", "stats..allocated",
                           "background_thread", "thread.bogus", "prof.bogus", "prof.active.x"})
    EXPECT_EQ(strata_ctl(name, nullptr, nullptr, nullptr, 0), ENOENT) << '"' << name << '"';
}

TEST(Ctl, EpochRefreshesStats) {
  uint64_t e0 = 0, e1 = 0;
  ASSERT_EQ(get("epoch", e0), 0);
  const size_t before = stat("stats.allocated");
  void* p = strata_malloc(8 << 20);
  std::memset(p, 1, 8 << 20);
  // Without an epoch write the figure does not move (jemalloc's semantics).
  size_t stale = 0;
  ASSERT_EQ(get("stats.allocated", stale), 0);
  EXPECT_EQ(stale, before);
  const size_t during = stat("stats.allocated");
  ASSERT_EQ(get("epoch", e1), 0);
  EXPECT_GT(e1, e0);
  EXPECT_GE(during, before + (8 << 20));
  EXPECT_GE(stat("stats.active"), during);
  EXPECT_GE(stat("stats.resident"), size_t{8} << 20);
  EXPECT_GE(stat("stats.mapped"), during);
  EXPECT_GT(stat("stats.metadata"), 0u);
  EXPECT_GT(stat("stats.retained"), 0u);
  strata_free(p);
  EXPECT_LE(stat("stats.allocated"), during - (8 << 20));
  uint64_t bad = 0;
  EXPECT_EQ(strata_ctl("epoch", nullptr, nullptr, &bad, 4), EINVAL);
}

TEST(Ctl, ReadOnlyAndVoidControlsRefuseWrites) {
  size_t v = 1;
  EXPECT_EQ(strata_ctl("stats.allocated", nullptr, nullptr, &v, sizeof v), EPERM);
  bool b = false;
  EXPECT_EQ(strata_ctl("opt.tcache", nullptr, nullptr, &b, sizeof b), EPERM);
  size_t len = sizeof v;
  EXPECT_EQ(strata_ctl("thread.tcache.flush", &v, &len, nullptr, 0), EPERM);
  EXPECT_EQ(strata_ctl("arena.0.purge", nullptr, nullptr, &v, sizeof v), EPERM);
}

TEST(Ctl, WrongSizeIsEinvalAndCopiesWhatFits) {
  uint32_t small = 0;
  size_t len = sizeof small;
  EXPECT_EQ(strata_ctl("arenas.page", &small, &len, nullptr, 0), EINVAL);  // size_t wanted
  EXPECT_EQ(len, sizeof small);
  EXPECT_NE(small, 0u);  // the low bytes of the page size (little-endian)
}

TEST(Ctl, OptionsReadBack) {
  bool b = false;
  ssize_t delay = 0;
  size_t tmax = 0;
  const char* s = nullptr;
  ASSERT_EQ(get("opt.tcache", b), 0);
  ASSERT_EQ(get("opt.abort_conf", b), 0);
  ASSERT_EQ(get("opt.purge_delay_ms", delay), 0);
  EXPECT_GE(delay, -1);
  ASSERT_EQ(get("opt.tcache_max", tmax), 0);
  ASSERT_EQ(get("opt.stats_print_opts", s), 0);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(get("thread.tcache.enabled", b), 0);
}

TEST(Ctl, ConfigAndArenas) {
  bool b = true;
  ASSERT_EQ(get("config.prof", b), 0);
  EXPECT_TRUE(b);  // built with the profiler (opt.prof turns it on)
  ASSERT_EQ(get("config.stats", b), 0);
  EXPECT_TRUE(b);
  ASSERT_EQ(get("config.debug", b), 0);
  const char* conf = nullptr;
  ASSERT_EQ(get("config.malloc_conf", conf), 0);
  unsigned narenas = 0, nbins = 0;
  ASSERT_EQ(get("arenas.narenas", narenas), 0);
  EXPECT_GE(narenas, 1u);
  EXPECT_LE(narenas, 64u);
  ASSERT_EQ(get("arenas.nbins", nbins), 0);
  EXPECT_GT(nbins, 10u);
  size_t quantum = 0, page = 0, tmax = 0;
  ASSERT_EQ(get("arenas.quantum", quantum), 0);
  EXPECT_EQ(quantum, 16u);
  ASSERT_EQ(get("arenas.page", page), 0);
  EXPECT_GE(page, 4096u);
  ASSERT_EQ(get("arenas.tcache_max", tmax), 0);
  size_t prev = 0;
  for (unsigned i = 0; i < nbins; ++i) {
    size_t size = 0;
    const std::string name = "arenas.bin." + std::to_string(i) + ".size";
    ASSERT_EQ(get(name.c_str(), size), 0) << name;
    EXPECT_GT(size, prev);
    prev = size;
  }
  EXPECT_EQ(prev, tmax);
}

TEST(Ctl, PurgeAndFlush) {
  void* blocks[64];
  for (void*& p : blocks) p = strata_malloc(3000);
  for (void* p : blocks) strata_free(p);
  EXPECT_EQ(strata_ctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0), 0);
  EXPECT_EQ(strata_ctl("arena.0.purge", nullptr, nullptr, nullptr, 0), 0);
  unsigned narenas = 0;
  ASSERT_EQ(get("arenas.narenas", narenas), 0);
  const std::string all = "arena." + std::to_string(narenas) + ".purge";  // arena.<narenas>: all (redis)
  EXPECT_EQ(strata_ctl(all.c_str(), nullptr, nullptr, nullptr, 0), 0);
  const std::string beyond = "arena." + std::to_string(narenas + 1) + ".purge";
  EXPECT_EQ(strata_ctl(beyond.c_str(), nullptr, nullptr, nullptr, 0), ENOENT);
  EXPECT_EQ(strata_ctl("arena.4096.purge", nullptr, nullptr, nullptr, 0), 0);  // MALLCTL_ARENAS_ALL
  EXPECT_EQ(strata_ctl("arena.0.decay", nullptr, nullptr, nullptr, 0), 0);
}

TEST(Ctl, NameToMibAndByMib) {
  size_t mib[8];
  size_t len = 8;
  ASSERT_EQ(strata_ctl_nametomib("arenas.bin.0.size", mib, &len), 0);
  ASSERT_EQ(len, 4u);
  size_t first = 0, second = 0, vlen = sizeof first;
  ASSERT_EQ(strata_ctl_bymib(mib, len, &first, &vlen, nullptr, 0), 0);
  mib[2] = 1;  // the jemalloc idiom: change the index, run again
  ASSERT_EQ(strata_ctl_bymib(mib, len, &second, &vlen, nullptr, 0), 0);
  EXPECT_LT(first, second);
  mib[2] = 100000;
  EXPECT_EQ(strata_ctl_bymib(mib, len, &second, &vlen, nullptr, 0), ENOENT);
  // A prefix translates too; running it is ENOENT (not a leaf).
  len = 8;
  ASSERT_EQ(strata_ctl_nametomib("stats", mib, &len), 0);
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(strata_ctl_bymib(mib, len, nullptr, nullptr, nullptr, 0), ENOENT);
  // Too little room for the name: ENOENT.
  len = 2;
  EXPECT_EQ(strata_ctl_nametomib("arenas.bin.0.size", mib, &len), ENOENT);
  len = 8;
  ASSERT_EQ(strata_ctl_nametomib("opt.tcache_max", mib, &len), 0);
  size_t tmax = 0, tlen = sizeof tmax;
  EXPECT_EQ(strata_ctl_bymib(mib, len, &tmax, &tlen, nullptr, 0), 0);
  EXPECT_GT(tmax, 0u);
}

// Memory governance (#18): the limit.* and thp.* names. Each test runs in a
// process of its own (gtest_discover_tests), so a limit set here ends with it.
TEST(Ctl, LimitNamesAndTypes) {
  size_t v = 1;
  const char* s = nullptr;
  unsigned u = 9;
  uint64_t c = 1;
  ASSERT_EQ(get("limit.hard", v), 0);
  ASSERT_EQ(get("limit.soft", v), 0);
  ASSERT_EQ(get("limit.hard_source", s), 0);
  ASSERT_EQ(get("limit.soft_source", s), 0);
  ASSERT_EQ(get("limit.cgroup.version", u), 0);
  EXPECT_LE(u, 2u);
  ASSERT_EQ(get("limit.cgroup.max", v), 0);
  ASSERT_EQ(get("limit.cgroup.high", v), 0);
  for (const char* name : {"limit.hard_hits", "limit.hard_failures", "limit.soft_passes", "limit.reclaimed"})
    ASSERT_EQ(get(name, c), 0) << name;
  ASSERT_EQ(get("thp.mode", s), 0);
  EXPECT_TRUE(std::string(s) == "default" || std::string(s) == "always" || std::string(s) == "never") << s;
  ASSERT_EQ(get("opt.thp", s), 0);
  ASSERT_EQ(get("opt.cgroup_dir", s), 0);
  bool b = false;
  ASSERT_EQ(get("opt.cgroup_limit", b), 0);
  ASSERT_EQ(get("opt.mem_limit", v), 0);
  ASSERT_EQ(get("opt.mem_limit_soft", v), 0);
  EXPECT_EQ(strata_ctl("limit.hard_hits", nullptr, nullptr, &c, sizeof c), EPERM);
  EXPECT_EQ(strata_ctl("thp.anon_huge", nullptr, nullptr, &v, sizeof v), EPERM);
  EXPECT_EQ(strata_ctl("opt.mem_limit", nullptr, nullptr, &v, sizeof v), EPERM);  // opt.* stay read-only
  EXPECT_EQ(strata_ctl("limit.cgroup.reread", nullptr, nullptr, nullptr, 0), 0);
  EXPECT_EQ(strata_ctl("limit.cgroup.reread", &v, nullptr, nullptr, 0), EPERM);
}

TEST(Ctl, HardLimitAtRunTime) {
  const size_t MiB = size_t{1} << 20;
  size_t v = MiB;
  EXPECT_EQ(strata_ctl("limit.hard", nullptr, nullptr, &v, sizeof v), EINVAL);  // below the minimum
  EXPECT_EQ(strata_ctl("limit.hard", nullptr, nullptr, &v, 4), EINVAL);         // not a size_t
  v = 32 * MiB;
  size_t old = 1, olen = sizeof old;
  ASSERT_EQ(strata_ctl("limit.hard", &old, &olen, &v, sizeof v), 0);
  EXPECT_EQ(old, 0u);  // the previous value, as jemalloc's read-and-write
  const char* src = nullptr;
  ASSERT_EQ(get("limit.hard_source", src), 0);
  EXPECT_STREQ(src, "mallctl");
  std::vector<void*> got;
  for (void* p; (p = strata_malloc(MiB)) != nullptr;) {
    got.push_back(p);
    ASSERT_LT(got.size(), 64u) << "no failure under a 32 MiB hard limit";
  }
  EXPECT_GE(got.size(), 16u);
  EXPECT_LE(stat("stats.mapped"), 32 * MiB);
  uint64_t hits = 0, failures = 0;
  ASSERT_EQ(get("limit.hard_hits", hits), 0);
  ASSERT_EQ(get("limit.hard_failures", failures), 0);
  EXPECT_GE(hits, 1u);
  EXPECT_GE(failures, 1u);
  for (void* p : got) strata_free(p);
  void* p = strata_malloc(8 * MiB);  // room again
  EXPECT_NE(p, nullptr);
  strata_free(p);
  v = 0;
  ASSERT_EQ(strata_ctl("limit.hard", nullptr, nullptr, &v, sizeof v), 0);
  ASSERT_EQ(get("limit.hard", v), 0);
  EXPECT_EQ(v, 0u);
}

TEST(Ctl, SoftLimitGivesMemoryBack) {
  const size_t MiB = size_t{1} << 20;
  size_t v = 16 * MiB;
  ASSERT_EQ(strata_ctl("limit.soft", nullptr, nullptr, &v, sizeof v), 0);
  ASSERT_EQ(get("limit.soft", v), 0);
  EXPECT_EQ(v, 16 * MiB);
  std::vector<void*> blocks;
  for (int i = 0; i < 48; ++i) blocks.push_back(strata_malloc(MiB / 2));  // 24 MiB of medium blocks
  for (void* p : blocks) std::memset(p, 1, MiB / 2), strata_free(p);
  for (int i = 0; i < 256; ++i) strata_free(strata_malloc(100000));  // slow paths: the soft checks
  uint64_t passes = 0;
  ASSERT_EQ(get("limit.soft_passes", passes), 0);
  EXPECT_GE(passes, 1u);
  EXPECT_LE(stat("stats.mapped"), 16 * MiB);  // back under the limit
}
}  // namespace

// Heap profiling is off by default (opt.prof false): the prof.* controls
// answer as jemalloc's do then, and never crash.
TEST(Ctl, ProfilingOffAnswersEnoent) {
  bool on = true;
  ASSERT_EQ(get("opt.prof", on), 0);
  ASSERT_FALSE(on) << "this test runs without STRATA_CONF=prof:true";
  bool active = true;
  ASSERT_EQ(get("prof.active", active), 0);
  EXPECT_FALSE(active);
  bool t = true;
  EXPECT_EQ(strata_ctl("prof.active", nullptr, nullptr, &t, sizeof t), ENOENT);
  EXPECT_EQ(strata_ctl("prof.gdump", nullptr, nullptr, &t, sizeof t), ENOENT);
  const char* path = "/tmp/strata-ctl-test-never.heap";
  EXPECT_EQ(strata_ctl("prof.dump", nullptr, nullptr, &path, sizeof path), ENOENT);
  EXPECT_EQ(strata_ctl("prof.dump", nullptr, nullptr, nullptr, 0), ENOENT);
  EXPECT_EQ(strata_ctl("prof.dump_peak", nullptr, nullptr, nullptr, 0), ENOENT);
  size_t lg = 10;
  EXPECT_EQ(strata_ctl("prof.reset", nullptr, nullptr, &lg, sizeof lg), ENOENT);
  size_t cur = 0;
  ASSERT_EQ(get("prof.lg_sample", cur), 0);
  EXPECT_EQ(cur, 19u);  // jemalloc's default
  uint64_t interval = 1;
  ASSERT_EQ(get("prof.interval", interval), 0);
  EXPECT_EQ(interval, 0u);
  ssize_t lgs = 0;
  ASSERT_EQ(get("opt.lg_prof_sample", lgs), 0);
  EXPECT_EQ(lgs, 19);
  const char* prefix = nullptr;
  ASSERT_EQ(get("opt.prof_prefix", prefix), 0);
  EXPECT_STREQ(prefix, "strata");
  EXPECT_EQ(strata_ctl("prof.lg_sample", nullptr, nullptr, &lg, sizeof lg), EPERM);
}

// thread.allocated / deallocated: usable bytes the thread took from and gave
// back to the central heaps (small blocks a cache batch at a time, larger
// ones at each call); the p variants point at the same live counters.
TEST(Ctl, ThreadCounters) {
  uint64_t* ap = nullptr;
  uint64_t* dp = nullptr;
  ASSERT_EQ(get("thread.allocatedp", ap), 0);
  ASSERT_EQ(get("thread.deallocatedp", dp), 0);
  ASSERT_NE(ap, nullptr);
  ASSERT_NE(dp, nullptr);
  uint64_t a0 = 0, d0 = 0;
  ASSERT_EQ(get("thread.allocated", a0), 0);
  ASSERT_EQ(get("thread.deallocated", d0), 0);
  EXPECT_EQ(a0, *ap);
  EXPECT_EQ(d0, *dp);
  // Medium and huge blocks count at each call, at their usable size.
  void* m = strata_malloc(200000);
  void* h = strata_malloc(3 << 20);
  ASSERT_NE(m, nullptr);
  ASSERT_NE(h, nullptr);
  const uint64_t large = strata_malloc_usable_size(m) + strata_malloc_usable_size(h);
  EXPECT_EQ(*ap - a0, large);
  strata_free(m);
  strata_free(h);
  EXPECT_EQ(*dp - d0, large);
  // Small blocks count as the cache refills and flushes.
  const uint64_t a1 = *ap, d1 = *dp;
  constexpr int N = 20000;
  static void* blocks[N];
  for (auto& b : blocks) b = strata_malloc(64);
  const uint64_t got = *ap - a1;
  EXPECT_GE(got + 256 * 64, uint64_t{N} * 64);  // at most a bin's worth was cached before
  EXPECT_LE(got, uint64_t{N} * 64 + 256 * 64);
  for (auto& b : blocks) strata_free(b);
  ASSERT_EQ(strata_ctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0), 0);
  EXPECT_GE(*dp - d1, uint64_t{N} * 64);
  uint64_t v = 0;
  EXPECT_EQ(strata_ctl("thread.allocated", nullptr, nullptr, &v, sizeof v), EPERM);
}

TEST(Ctl, ThreadArenaIsEachThreadsOwn) {
  // thread.arena: the calling thread's arena; read-only. Threads that live
  // at the same time, fewer than the arenas (this thread may hold one), are
  // each on an arena of their own once past their warm-up (the race of
  // threads joining at the same moment: runtime/arena_join_test.cpp).
  unsigned narenas = 0;
  ASSERT_EQ(get("arenas.narenas", narenas), 0);
  unsigned mine = 0;
  ASSERT_EQ(get("thread.arena", mine), 0);
  EXPECT_LT(mine, narenas);
  EXPECT_EQ(strata_ctl("thread.arena", nullptr, nullptr, &mine, sizeof mine), EPERM);
  const unsigned n = narenas - 1;
  for (int trial = 0; trial < 20; ++trial) {
    std::barrier started(n), joined(n);
    std::vector<unsigned> got(n, ~0u);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        started.arrive_and_wait();
        for (int k = 0; k < 300; ++k) strata_free(strata_malloc(16));  // past the warm-up
        get("thread.arena", got[i]);
        joined.arrive_and_wait();  // no thread leaves its arena before all have joined one
      });
    }
    for (std::thread& t : threads) t.join();
    std::vector<unsigned> seen = got;
    std::sort(seen.begin(), seen.end());
    ASSERT_LT(seen.back(), narenas);
    ASSERT_EQ(std::unique(seen.begin(), seen.end()), seen.end())
        << "trial " << trial << ": two threads on one arena (" << ::testing::PrintToString(got) << ")";
  }
}
