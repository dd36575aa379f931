// The heap profiler through the prefixed API (libstrata_prefixed.a), run with
// STRATA_CONF=prof:true,lg_prof_sample:0 (every allocation sampled: counts
// are exact) and prof_prefix pointing into the build tree. Only strata_*
// calls reach strata here (GoogleTest allocates from the system malloc), so
// the profile holds exactly the blocks these tests made.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/strata.h"

namespace {

struct Header {
  uint64_t objs = 0, bytes = 0, all_objs = 0, all_bytes = 0, rate = 0;
  std::vector<std::string> lines;  // the stack lines
  bool has_maps = false;
};

Header read_profile(const std::string& path) {
  Header h;
  std::ifstream in(path);
  std::string line;
  EXPECT_TRUE(std::getline(in, line)) << path;
  EXPECT_EQ(std::sscanf(line.c_str(), "heap profile: %lu: %lu [%lu: %lu] @ heap_v2/%lu", &h.objs, &h.bytes,
                        &h.all_objs, &h.all_bytes, &h.rate),
            5)
      << line;
  while (std::getline(in, line)) {
    if (line == "MAPPED_LIBRARIES:") {
      h.has_maps = true;
      break;
    }
    if (!line.empty()) h.lines.push_back(line);
  }
  return h;
}

int dump(const std::string& path, const char* ctl = "prof.dump") {
  const char* p = path.c_str();
  return strata_ctl(ctl, nullptr, nullptr, &p, sizeof p);
}

std::string tmp(const char* name) { return std::string(STRATA_PROF_TEST_DIR) + "/" + name; }

// A known allocation site, kept out of tail position (its frame must stay).
[[gnu::noinline]] void* site(size_t n) {
  void* p = strata_malloc(n);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}

TEST(Prof, OnWithEverySampled) {
  bool on = false;
  size_t len = sizeof on;
  ASSERT_EQ(strata_ctl("opt.prof", &on, &len, nullptr, 0), 0);
  ASSERT_TRUE(on) << "run with STRATA_CONF=prof:true,lg_prof_sample:0";
  size_t lg = 99;
  len = sizeof lg;
  ASSERT_EQ(strata_ctl("prof.lg_sample", &lg, &len, nullptr, 0), 0);
  ASSERT_EQ(lg, 0u);
}

TEST(Prof, SampledBlocksBehaveAsBlocks) {
  // Every size class and kind, sampled: contents, usable size, realloc both
  // ways, alignment, calloc zeroing, the jemalloc sized free.
  std::vector<void*> blocks;
  for (size_t n : {1, 16, 17, 100, 4096, 40000, 300000, 1 << 20, 5 << 20}) {
    auto* p = static_cast<unsigned char*>(strata_malloc(n));
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    ASSERT_GE(strata_malloc_usable_size(p), n);
    std::memset(p, 0x5a, strata_malloc_usable_size(p));
    auto* q = static_cast<unsigned char*>(strata_realloc(p, n * 2 + 1));
    ASSERT_NE(q, nullptr);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(q[i], 0x5a) << n << " " << i;
    q = static_cast<unsigned char*>(strata_realloc(q, n / 2 + 1));
    ASSERT_NE(q, nullptr);
    for (size_t i = 0; i < n / 2 + 1; ++i) ASSERT_EQ(q[i], 0x5a);
    blocks.push_back(q);
  }
  for (size_t align : {32, 64, 4096, 65536}) {
    void* p = nullptr;
    ASSERT_EQ(strata_posix_memalign(&p, align, 1000), 0);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    std::memset(p, 1, 1000);
    blocks.push_back(p);
  }
  auto* z = static_cast<unsigned char*>(strata_calloc(1000, 3));
  ASSERT_NE(z, nullptr);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(z[i], 0);
  strata_sdallocx(z, 3000, 0);
  for (void* p : blocks) strata_free(p);
}

TEST(Prof, ExactCountsWithEveryAllocationSampled) {
  const Header h0 = read_profile((dump(tmp("exact0.heap")), tmp("exact0.heap")));
  ASSERT_EQ(h0.rate, 1u);
  ASSERT_TRUE(h0.has_maps);
  std::vector<void*> blocks;
  uint64_t bytes = 0;
  for (int i = 0; i < 3000; ++i) {
    const size_t n = 16 + static_cast<size_t>(i) * 37 % 70000;
    blocks.push_back(site(n));
    bytes += n;
  }
  ASSERT_EQ(dump(tmp("exact1.heap")), 0);
  const Header h1 = read_profile(tmp("exact1.heap"));
  EXPECT_EQ(h1.objs - h0.objs, 3000u);
  EXPECT_EQ(h1.bytes - h0.bytes, bytes);
  EXPECT_GE(h1.all_bytes - h0.all_bytes, bytes);
  // The site's frame is on the stacks: some line holds a return address inside site().
  const uintptr_t lo = reinterpret_cast<uintptr_t>(&site), hi = lo + 256;
  uint64_t at_site = 0;
  for (const std::string& l : h1.lines) {
    std::istringstream in(l.substr(l.find('@') + 1));
    std::string a;
    bool here = false;
    while (in >> a) {
      const uintptr_t pc = std::strtoull(a.c_str(), nullptr, 16);
      here |= pc >= lo && pc < hi;
    }
    if (here) at_site += std::strtoull(l.substr(l.find(':') + 1).c_str(), nullptr, 10);
  }
  EXPECT_EQ(at_site, bytes);
  for (void* p : blocks) strata_free(p);
  ASSERT_EQ(dump(tmp("exact2.heap")), 0);
  const Header h2 = read_profile(tmp("exact2.heap"));
  EXPECT_EQ(h2.objs, h0.objs);
  EXPECT_EQ(h2.bytes, h0.bytes);
}

TEST(Prof, PeakProfileHoldsTheHighWaterSet) {
  size_t lg = 0;  // a reset also forgets any earlier peak
  ASSERT_EQ(strata_ctl("prof.reset", nullptr, nullptr, &lg, sizeof lg), 0);
  const Header base = read_profile((dump(tmp("peak0.heap")), tmp("peak0.heap")));
  std::vector<void*> big;
  for (int i = 0; i < 64; ++i) big.push_back(site(256 << 10));  // 16 MiB at once
  for (void* p : big) strata_free(p);
  void* small = site(1 << 20);
  ASSERT_EQ(dump(tmp("peak1.heap"), "prof.dump_peak"), 0);
  const Header peak = read_profile(tmp("peak1.heap"));
  EXPECT_GE(peak.bytes, uint64_t{64} * (256 << 10));
  EXPECT_LT(peak.bytes, uint64_t{64} * (256 << 10) + base.bytes + (4 << 20));
  ASSERT_EQ(dump(tmp("peak2.heap")), 0);
  const Header now = read_profile(tmp("peak2.heap"));
  EXPECT_EQ(now.bytes - base.bytes, uint64_t{1} << 20);
  strata_free(small);
}

TEST(Prof, ActiveSwitchAndReset) {
  const Header h0 = read_profile((dump(tmp("act0.heap")), tmp("act0.heap")));
  bool off = false, old = false;
  size_t len = sizeof old;
  ASSERT_EQ(strata_ctl("prof.active", &old, &len, &off, sizeof off), 0);
  EXPECT_TRUE(old);
  void* p = site(5000);
  ASSERT_EQ(dump(tmp("act1.heap")), 0);
  EXPECT_EQ(read_profile(tmp("act1.heap")).bytes, h0.bytes);  // not sampled while inactive
  bool on = true;
  ASSERT_EQ(strata_ctl("prof.active", nullptr, nullptr, &on, sizeof on), 0);
  void* q = site(7000);
  ASSERT_EQ(dump(tmp("act2.heap")), 0);
  EXPECT_EQ(read_profile(tmp("act2.heap")).bytes, h0.bytes + 7000);
  // prof.reset forgets every sample; the blocks stay valid.
  size_t lg = 0;
  ASSERT_EQ(strata_ctl("prof.reset", nullptr, nullptr, &lg, sizeof lg), 0);
  ASSERT_EQ(dump(tmp("act3.heap")), 0);
  const Header h3 = read_profile(tmp("act3.heap"));
  EXPECT_EQ(h3.bytes, 0u);
  EXPECT_EQ(h3.all_bytes, 0u);
  strata_free(p);
  strata_free(q);
  void* r = site(3000);
  ASSERT_EQ(dump(tmp("act4.heap")), 0);
  EXPECT_EQ(read_profile(tmp("act4.heap")).bytes, 3000u);
  strata_free(r);
  size_t bad = 63;
  EXPECT_EQ(strata_ctl("prof.reset", nullptr, nullptr, &bad, sizeof bad), EINVAL);
  EXPECT_EQ(strata_ctl("prof.reset", nullptr, nullptr, &bad, 4), EINVAL);
  size_t cur = 9;
  len = sizeof cur;
  ASSERT_EQ(strata_ctl("prof.lg_sample", &cur, &len, nullptr, 0), 0);
  EXPECT_EQ(cur, 0u);
}

TEST(Prof, BadDumpRequestsAnswerErrors) {
  EXPECT_EQ(dump("/nonexistent-strata-dir/x.heap"), EFAULT);
  const char* p = "x";
  size_t len = sizeof p;
  EXPECT_EQ(strata_ctl("prof.dump", &p, &len, nullptr, 0), EPERM);  // write-only
  EXPECT_EQ(strata_ctl("prof.dump", nullptr, nullptr, &p, 3), EINVAL);
  bool b = true;
  EXPECT_EQ(strata_ctl("prof.active", nullptr, nullptr, &b, 4), EINVAL);
}

TEST(Prof, DefaultNamesFollowJemalloc) {
  ASSERT_EQ(strata_ctl("prof.dump", nullptr, nullptr, nullptr, 0), 0);
  // <prefix>.<pid>.<seq>.m<mseq>.heap, prefix from STRATA_CONF.
  bool found = false;
  for (int seq = 0; seq < 100 && !found; ++seq)
    for (int m = 0; m < 100 && !found; ++m)
      found = access((tmp("prof") + "." + std::to_string(getpid()) + "." + std::to_string(seq) + ".m" +
                      std::to_string(m) + ".heap")
                         .c_str(),
                     R_OK) == 0;
  EXPECT_TRUE(found);
}

TEST(Prof, ThreadsAndForkKeepTheTablesConsistent) {
  const Header h0 = read_profile((dump(tmp("thr0.heap")), tmp("thr0.heap")));
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([t] {
      std::vector<void*> live;
      for (int i = 0; i < 20000; ++i) {
        live.push_back(site(16 + static_cast<size_t>(i * (t + 3)) % 5000));
        if (live.size() > 64) {
          strata_free(live[static_cast<size_t>(i) % live.size()]);
          live[static_cast<size_t>(i) % live.size()] = live.back();
          live.pop_back();
        }
      }
      for (void* p : live) strata_free(p);
    });
  // A fork while the others sample: the child allocates, dumps and exits.
  const pid_t pid = fork();
  if (pid == 0) {
    void* p = site(1234);
    const int r = dump(tmp("thr-child.heap"));
    strata_free(p);
    _exit(r == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (auto& t : ts) t.join();
  ASSERT_EQ(dump(tmp("thr1.heap")), 0);
  const Header h1 = read_profile(tmp("thr1.heap"));
  EXPECT_EQ(h1.objs, h0.objs);
  EXPECT_EQ(h1.bytes, h0.bytes);
}

}  // namespace
