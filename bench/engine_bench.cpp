// Engine-level micro-benchmarks: the engines alone, over memory they are
// given, with no malloc, thread cache, lock or OS in the way.
//
// What each measures (Google Benchmark; names are <engine>/<pattern>/<args>):
//   <byte engine>/pair/<size>        one alloc + dealloc of `size` bytes on an
//                                    otherwise empty engine: the best case
//   <byte engine>/random_free/<n>    n allocations of log-uniform sizes
//                                    16 B..4 KiB, then n deallocations in a
//                                    shuffled order: lists, splitting, merging
//   <byte engine>/fill_churn/<max>   from empty, allocate log-uniform sizes
//                                    16 B..max, freeing a random live block
//                                    before every third allocation, until the
//                                    first NoMemory. Time per operation in a
//                                    fragmenting heap, and the counter `util`:
//                                    requested live bytes / arena bytes at the
//                                    first failure (1.0 = no fragmentation or
//                                    metadata loss at all; higher is better)
//   Pages/pair/<n>, Pages/random_free/<n>, Ids/pair/<n>, Ids/random_free/<n>
//                                    the same shapes for the bitmap page and id
//                                    allocators, in pages or ids
// Byte engines: Buddy<BuddyConfig>, Heap<MallocHeapConfig> (the runtime's slab
// heap), Tlsf<TlsfDefaultConfig>. Run: build-bench/bench/engine_bench
// (--benchmark_filter=Tlsf to pick one); compare two builds' JSON with
// /usr/share/benchmark/compare.py. Deterministic: fixed seeds throughout.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "strata/engine/bitmap_id.hpp"
#include "strata/engine/bitmap_page.hpp"
#include "strata/engine/buddy.hpp"
#include "strata/engine/heap.hpp"
#include "strata/engine/tlsf.hpp"
#include "workloads/common.hpp"

namespace {

using strata::usize;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "engine_bench: %s failed\n", what);
  std::abort();
}

/// An engine over its own anonymous mapping of `bytes` (unmapped on exit).
/// The engine object lives on the heap: Heap and Tlsf carry KiB of lists.
template <class E>
class Arena {
 public:
  explicit Arena(usize bytes) : bytes_(bytes), engine_(std::make_unique<E>()) {
    mem_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem_ == MAP_FAILED) fail("mmap");
    reset();
  }
  ~Arena() { munmap(mem_, bytes_); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  /// Starts the engine over, empty, on the whole mapping.
  void reset() {
    if (!engine_->init(mem_, bytes_).ok()) fail("init");
  }
  E& operator*() { return *engine_; }
  E* operator->() { return engine_.get(); }
  usize bytes() const { return bytes_; }

 private:
  usize bytes_;
  void* mem_ = nullptr;
  std::unique_ptr<E> engine_;
};

constexpr usize ARENA_BYTES = usize{256} << 20;
constexpr usize CHURN_ARENA_BYTES = usize{16} << 20;
constexpr usize ALIGN = 16;

/// Log-uniform size in [lo, hi]: as many 16..32 B requests as 2..4 KiB ones.
usize log_uniform(bench::Rng& rng, usize lo, usize hi) {
  const double span = std::log2(static_cast<double>(hi) / static_cast<double>(lo));
  return std::min(hi, static_cast<usize>(static_cast<double>(lo) * std::exp2(rng.unit() * span)));
}

/// A fixed shuffled order of 0..n-1.
std::vector<usize> shuffled(usize n, std::uint64_t seed) {
  std::vector<usize> order(n);
  for (usize i = 0; i < n; ++i) order[i] = i;
  bench::Rng rng(seed);
  for (usize i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

/// The value of an engine call that must succeed in these patterns.
template <class T>
T must(strata::Result<T> r, const char* what) {
  if (!r.ok()) fail(what);
  return r.value();
}
void must(strata::Result<void> r, const char* what) {
  if (!r.ok()) fail(what);
}

// ---- byte engines (ByteAllocator) ---------------------------------------------

template <class E>
void byte_pair(benchmark::State& state) {
  Arena<E> arena(ARENA_BYTES);
  const auto size = static_cast<usize>(state.range(0));
  for (auto _ : state) {
    void* p = must(arena->alloc(size, ALIGN), "alloc");
    benchmark::DoNotOptimize(p);
    must(arena->dealloc(p, size, ALIGN), "dealloc");
  }
  state.SetItemsProcessed(state.iterations());
}

template <class E>
void byte_random_free(benchmark::State& state) {
  Arena<E> arena(ARENA_BYTES);
  const auto n = static_cast<usize>(state.range(0));
  std::vector<usize> sizes(n);
  bench::Rng rng(5150);
  for (auto& s : sizes) s = log_uniform(rng, 16, 4096);
  const std::vector<usize> order = shuffled(n, 6160);
  std::vector<void*> blocks(n);
  for (auto _ : state) {
    for (usize i = 0; i < n; ++i) blocks[i] = must(arena->alloc(sizes[i], ALIGN), "alloc");
    for (usize i : order) must(arena->dealloc(blocks[i], sizes[i], ALIGN), "dealloc");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

template <class E>
void byte_fill_churn(benchmark::State& state) {
  Arena<E> arena(CHURN_ARENA_BYTES);
  const auto max = static_cast<usize>(state.range(0));
  struct Live {
    void* p;
    usize size;
  };
  std::vector<Live> live;
  std::int64_t ops = 0;
  double util = 0;
  for (auto _ : state) {
    state.PauseTiming();
    arena.reset();
    live.clear();
    bench::Rng rng(8086);
    usize live_bytes = 0;
    state.ResumeTiming();
    for (std::uint64_t step = 0;; ++step) {
      if (step % 3 == 0 && !live.empty()) {
        const usize i = rng.below(live.size());
        must(arena->dealloc(live[i].p, live[i].size, ALIGN), "dealloc");
        live_bytes -= live[i].size;
        live[i] = live.back();
        live.pop_back();
        ++ops;
      }
      const usize size = log_uniform(rng, 16, max);
      const strata::Result<void*> r = arena->alloc(size, ALIGN);
      ++ops;
      if (!r.ok()) break;
      live.push_back({r.value(), size});
      live_bytes += size;
    }
    util += static_cast<double>(live_bytes) / static_cast<double>(arena.bytes());
  }
  state.SetItemsProcessed(ops);
  state.counters["util"] = util / static_cast<double>(state.iterations());
}

template <class E>
void register_byte_engine(const std::string& name) {
  benchmark::RegisterBenchmark((name + "/pair").c_str(), byte_pair<E>)->RangeMultiplier(8)->Range(16, 256 << 10);
  benchmark::RegisterBenchmark((name + "/random_free").c_str(), byte_random_free<E>)->Arg(256)->Arg(4096);
  benchmark::RegisterBenchmark((name + "/fill_churn").c_str(), byte_fill_churn<E>)->Arg(1024)->Arg(64 << 10);
}

// ---- bitmap page and id allocators ------------------------------------------------

using Pages = strata::BitmapPageAllocator<4096, (ARENA_BYTES >> 12)>;
using Ids = strata::BitmapIdAllocator<65536>;

void pages_pair(benchmark::State& state) {
  Arena<Pages> arena(ARENA_BYTES);
  const auto n = static_cast<usize>(state.range(0));
  for (auto _ : state) {
    const strata::uptr at = must(arena->alloc_pages(n, Pages::PAGE_SIZE), "alloc_pages");
    benchmark::DoNotOptimize(at);
    must(arena->dealloc_pages(at, n), "dealloc_pages");
  }
  state.SetItemsProcessed(state.iterations());
}

void pages_random_free(benchmark::State& state) {
  Arena<Pages> arena(ARENA_BYTES);
  const auto n = static_cast<usize>(state.range(0));
  std::vector<usize> counts(n);
  bench::Rng rng(4004);
  for (auto& c : counts) c = log_uniform(rng, 1, 16);
  const std::vector<usize> order = shuffled(n, 4040);
  std::vector<strata::uptr> runs(n);
  for (auto _ : state) {
    for (usize i = 0; i < n; ++i) runs[i] = must(arena->alloc_pages(counts[i], Pages::PAGE_SIZE), "alloc_pages");
    for (usize i : order) must(arena->dealloc_pages(runs[i], counts[i]), "dealloc_pages");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

void ids_pair(benchmark::State& state) {
  auto ids = std::make_unique<Ids>();
  const auto n = static_cast<usize>(state.range(0));
  for (auto _ : state) {
    const usize id = must(ids->alloc_id(n, 1), "alloc_id");
    benchmark::DoNotOptimize(id);
    must(ids->dealloc_id(id, n), "dealloc_id");
  }
  state.SetItemsProcessed(state.iterations());
}

void ids_random_free(benchmark::State& state) {
  auto ids = std::make_unique<Ids>();
  const auto n = static_cast<usize>(state.range(0));
  const std::vector<usize> order = shuffled(n, 7007);
  std::vector<usize> got(n);
  for (auto _ : state) {
    for (usize i = 0; i < n; ++i) got[i] = must(ids->alloc_id(1, 1), "alloc_id");
    for (usize i : order) must(ids->dealloc_id(got[i], 1), "dealloc_id");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
  register_byte_engine<strata::Buddy<strata::BuddyConfig>>("Buddy");
  register_byte_engine<strata::Heap<strata::MallocHeapConfig>>("Heap");
  register_byte_engine<strata::Tlsf<strata::TlsfDefaultConfig>>("Tlsf");
  benchmark::RegisterBenchmark("Pages/pair", pages_pair)->Arg(1)->Arg(16)->Arg(256);
  benchmark::RegisterBenchmark("Pages/random_free", pages_random_free)->Arg(256)->Arg(4096);
  benchmark::RegisterBenchmark("Ids/pair", ids_pair)->Arg(1)->Arg(64);
  benchmark::RegisterBenchmark("Ids/random_free", ids_random_free)->Arg(256)->Arg(4096);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
