// Tlsf latency benchmark: per-operation cycle counts of alloc and dealloc over a
// long random workload, printed as a histogram and percentiles.
//
// Workload (fixed seed, so every run does the same operations): 10^7 operations
// on one Tlsf<TlsfDefaultConfig> over a 64 MiB pool; sizes log-uniform in
// 16 B..64 KiB; the live set hovers around 4096 blocks (alloc below 2048 live,
// free above 6144, a coin flip between), so the free lists hold a realistic mix
// of fragments. Each operation is timed alone with the time-stamp counter
// (lfence; rdtsc ... rdtscp; lfence); the cost of an empty timed region is
// measured the same way and printed as the noise floor (it includes timer
// interrupts and preemption on a shared machine, which also land in the
// allocator's tail). The target is p99.99 <= 4 x median for both operations: a
// TLSF operation has no loop whose length depends on the heap.
//
// Hosted, x86_64 only. Build (the bench CMakeLists wires the same):
//   c++ -std=c++20 -O2 -DNDEBUG -Iinclude -Isrc bench/tlsf_latency.cpp -o tlsf_latency
// Options: tlsf_latency [ops] [seed] [max_size]
#include <sys/mman.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/tlsf.hpp"

// The engine's fatal hook (weak: a program that links a platform hook wins).
extern "C" [[noreturn, gnu::weak]] void strata_fatal(const char* what, strata::uptr value) {
  std::fprintf(stderr, "strata: %s 0x%llx\n", what, static_cast<unsigned long long>(value));
  std::abort();
}

namespace {

using strata::u32;
using strata::u64;
using strata::usize;

constexpr usize POOL_BYTES = usize{64} << 20;
constexpr usize LIVE_TARGET = 4096;
constexpr usize MIN_SIZE = 16;
constexpr usize DEFAULT_MAX_SIZE = usize{64} << 10;

strata::Tlsf<strata::TlsfDefaultConfig> g_tlsf;

/// splitmix64: small, fixed-seed, good enough for a workload.
struct Rng {
  u64 s;
  u64 next() {
    u64 z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  u64 below(u64 n) { return next() % n; }
  /// Log-uniform in [lo, hi]: as many draws per octave at 16 B as at 32 KiB.
  usize log_uniform(usize lo, usize hi) {
    const u32 lo_bits = strata::log2_floor(lo), hi_bits = strata::log2_floor(hi);
    const u32 k = lo_bits + static_cast<u32>(below(hi_bits - lo_bits + 1));
    const usize base = usize{1} << k;
    const usize top = std::min(hi, 2 * base - 1);
    return base + static_cast<usize>(below(top - base + 1));
  }
};

inline u64 tsc_begin() {
  _mm_lfence();
  return __rdtsc();
}
inline u64 tsc_end() {
  unsigned aux = 0;
  const u64 t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}

struct Summary {
  u64 p50, p99, p999, p9999, max;
};

Summary summarize(std::vector<u32>& v) {
  std::sort(v.begin(), v.end());
  auto at = [&v](double q) { return static_cast<u64>(v[static_cast<usize>(q * static_cast<double>(v.size() - 1))]); };
  return {at(0.50), at(0.99), at(0.999), at(0.9999), v.back()};
}

void print_row(const char* name, usize n, const Summary& s, double ns_per_cycle) {
  std::printf("%-8s %9zu  p50 %5llu  p99 %5llu  p99.9 %6llu  p99.99 %7llu  max %9llu cycles"
              "   (p50 %.0f ns, p99.99 %.0f ns)  p99.99/p50 = %.2f\n",
              name, n, static_cast<unsigned long long>(s.p50), static_cast<unsigned long long>(s.p99),
              static_cast<unsigned long long>(s.p999), static_cast<unsigned long long>(s.p9999),
              static_cast<unsigned long long>(s.max), static_cast<double>(s.p50) * ns_per_cycle,
              static_cast<double>(s.p9999) * ns_per_cycle, static_cast<double>(s.p9999) / static_cast<double>(s.p50));
}

/// Power-of-two buckets of the (sorted) samples, with share and cumulative share.
void print_histogram(const char* name, const std::vector<u32>& sorted) {
  std::printf("\n%s latency histogram (cycles, power-of-two buckets)\n", name);
  usize i = 0;
  const double n = static_cast<double>(sorted.size());
  while (i < sorted.size()) {
    const u32 lo = sorted[i] == 0 ? 0 : u32{1} << strata::log2_floor(sorted[i]);
    const u64 hi = lo == 0 ? 1 : u64{lo} * 2;
    usize j = i;
    while (j < sorted.size() && sorted[j] < hi) ++j;
    std::printf("  [%7u, %7llu)  %9zu  %7.4f%%  cum %8.4f%%\n", lo, static_cast<unsigned long long>(hi), j - i,
                100.0 * static_cast<double>(j - i) / n, 100.0 * static_cast<double>(j) / n);
    i = j;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const u64 ops = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000ull;
  const u64 seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 42;
  // A smaller largest size shrinks the working set into the caches: comparing
  // the two runs separates memory latency from the allocator's own work.
  const usize MAX_SIZE = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : DEFAULT_MAX_SIZE;
  if (MAX_SIZE < MIN_SIZE) return 1;

  // 2 MiB-aligned and, where the kernel allows, backed by huge pages: the
  // benchmark is about the allocator, not about page walks over 64 MiB.
  void* pool = std::aligned_alloc(usize{2} << 20, POOL_BYTES);
  if (pool == nullptr) return 1;
  madvise(pool, POOL_BYTES, MADV_HUGEPAGE);
  std::memset(pool, 0, POOL_BYTES);  // fault every page in before timing anything
  if (!g_tlsf.init(pool, POOL_BYTES).ok()) return 1;

  std::vector<void*> live;
  live.reserve(4 * LIVE_TARGET);
  std::vector<u32> alloc_cycles, free_cycles, empty_cycles;
  alloc_cycles.reserve(ops / 2 + 1024);
  free_cycles.reserve(ops / 2 + 1024);
  empty_cycles.reserve(ops / 10);
  Rng rng{seed};
  u64 no_memory = 0;

  // Warm-up: reach the steady live set (not timed).
  while (live.size() < LIVE_TARGET) live.push_back(g_tlsf.alloc(rng.log_uniform(MIN_SIZE, MAX_SIZE)).value());

  const auto wall0 = std::chrono::steady_clock::now();
  const u64 tsc0 = __rdtsc();
  for (u64 op = 0; op < ops; ++op) {
    const bool do_alloc = live.size() < LIVE_TARGET / 2 ||
                          (live.size() < LIVE_TARGET + LIVE_TARGET / 2 && (rng.next() & 1) != 0);
    if (do_alloc) {
      const usize size = rng.log_uniform(MIN_SIZE, MAX_SIZE);
      const u64 t0 = tsc_begin();
      const strata::Result<void*> r = g_tlsf.alloc(size);
      const u64 t1 = tsc_end();
      alloc_cycles.push_back(static_cast<u32>(std::min<u64>(t1 - t0, ~u32{0})));
      if (!r.ok()) {
        ++no_memory;
        continue;
      }
      static_cast<volatile unsigned char*>(r.value())[0] = 1;  // touch it, as a program would
      live.push_back(r.value());
    } else {
      const usize i = static_cast<usize>(rng.below(live.size()));
      void* p = live[i];
      live[i] = live.back();
      live.pop_back();
      const u64 t0 = tsc_begin();
      const strata::Result<void> r = g_tlsf.dealloc(p);
      const u64 t1 = tsc_end();
      free_cycles.push_back(static_cast<u32>(std::min<u64>(t1 - t0, ~u32{0})));
      if (!r.ok()) return 2;
    }
    if (op % 10 == 0) {  // the noise floor, interleaved with the real work
      const u64 t0 = tsc_begin();
      const u64 t1 = tsc_end();
      empty_cycles.push_back(static_cast<u32>(t1 - t0));
    }
  }
  const u64 tsc1 = __rdtsc();
  const double wall_ns =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - wall0).count());
  const double ns_per_cycle = wall_ns / static_cast<double>(tsc1 - tsc0);

  for (void* p : live)
    if (!g_tlsf.dealloc(p).ok()) return 2;
  if (!g_tlsf.verify() || g_tlsf.used_bytes() != 0) return 3;

  std::printf("tlsf_latency: %llu ops (seed %llu), sizes %zu..%zu B log-uniform, live ~%zu blocks, pool %zu MiB,"
              " %llu NoMemory, TSC %.2f GHz, %.1f s\n\n",
              static_cast<unsigned long long>(ops), static_cast<unsigned long long>(seed), MIN_SIZE, MAX_SIZE,
              LIVE_TARGET, POOL_BYTES >> 20, static_cast<unsigned long long>(no_memory), 1.0 / ns_per_cycle,
              wall_ns * 1e-9);
  const Summary a = summarize(alloc_cycles);
  const Summary f = summarize(free_cycles);
  const Summary e = summarize(empty_cycles);
  print_row("alloc", alloc_cycles.size(), a, ns_per_cycle);
  print_row("free", free_cycles.size(), f, ns_per_cycle);
  print_row("(empty)", empty_cycles.size(), e, ns_per_cycle);
  std::printf("\ntarget p99.99 <= 4 x p50: alloc %s (%.2f), free %s (%.2f)\n",
              a.p9999 <= 4 * a.p50 ? "met" : "MISSED", static_cast<double>(a.p9999) / static_cast<double>(a.p50),
              f.p9999 <= 4 * f.p50 ? "met" : "MISSED", static_cast<double>(f.p9999) / static_cast<double>(f.p50));
  print_histogram("alloc", alloc_cycles);
  print_histogram("free", free_cycles);
  std::free(pool);
  return 0;
}
