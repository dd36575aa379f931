// Micro-benchmarks of the malloc interface, in google/tcmalloc's shapes.
//
// One binary, run once per allocator: glibc as built, the others through
// LD_PRELOAD (scripts/bench.sh --micro), JSON results compared with
// /usr/share/benchmark/compare.py. Names follow tcmalloc_benchmark.cc so the
// numbers line up with published ones:
//   BM_malloc_free/<size>         one malloc+free pair per iteration (hot cache)
//   BM_new_delete/<size>          ::operator new + sized ::operator delete
//   BM_batch/<n>/<size>           n allocations, then n frees in the same order
//   BM_batch_random/<n>/<size>    same, frees in a shuffled (fixed) order
//   BM_realloc_grow/<max>         grow one block by 1.5x from 16 bytes to max
//   BM_producer_consumer/<size>   thread pairs: even threads allocate batches,
//                                 odd threads free them (every free is remote)
// The multi-threaded variants (/threads:N) report wall time: on a shared
// 2-core machine 4 threads are oversubscribed on purpose.
//
// Every call goes through a volatile function pointer, and the file is built
// with -fno-builtin, so the compiler can neither pair nor elide allocations.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <vector>

#include "workloads/common.hpp"

namespace {

void* (*volatile malloc_fn)(std::size_t) = std::malloc;
void (*volatile free_fn)(void*) = std::free;
void* (*volatile realloc_fn)(void*, std::size_t) = std::realloc;

constexpr int MAX_SIZE = 1 << 20;

void BM_malloc_free(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = malloc_fn(size);
    benchmark::DoNotOptimize(p);
    free_fn(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_malloc_free)->Range(8, MAX_SIZE);
BENCHMARK(BM_malloc_free)->Arg(64)->Arg(4096)->Threads(2)->Threads(4)->UseRealTime();

void BM_new_delete(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = ::operator new(size);
    benchmark::DoNotOptimize(p);
    ::operator delete(p, size);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_new_delete)->Range(8, MAX_SIZE);

/// n blocks of `size` bytes, allocated then freed in the order given by `order`
/// (identity or a fixed shuffle); each block's first word is written.
void batch(benchmark::State& state, bool shuffled) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto size = static_cast<std::size_t>(state.range(1));
  std::vector<void*> blocks(n);
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  if (shuffled) {
    bench::Rng rng(99 + static_cast<std::uint64_t>(state.thread_index()));
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  }
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) {
      blocks[i] = malloc_fn(size);
      *static_cast<std::size_t*>(blocks[i]) = i;
    }
    benchmark::ClobberMemory();
    for (std::size_t i : order) free_fn(blocks[i]);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

void BM_batch(benchmark::State& state) { batch(state, false); }
void BM_batch_random(benchmark::State& state) { batch(state, true); }
BENCHMARK(BM_batch)->ArgsProduct({{16, 256, 4096}, {16, 256, 4096}});
BENCHMARK(BM_batch)->Args({256, 64})->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(BM_batch_random)->ArgsProduct({{256, 4096}, {16, 256, 4096}});
BENCHMARK(BM_batch_random)->Args({4096, 64})->Threads(2)->Threads(4)->UseRealTime();

void BM_realloc_grow(benchmark::State& state) {
  const auto max = static_cast<std::size_t>(state.range(0));
  std::int64_t steps = 0;
  for (auto _ : state) {
    std::size_t size = 16;
    auto* p = static_cast<char*>(malloc_fn(size));
    p[0] = 1;
    while (size < max) {
      size = std::min(max, size + size / 2);
      p = static_cast<char*>(realloc_fn(p, size));
      p[size - 1] = 1;
      ++steps;
    }
    benchmark::DoNotOptimize(p);
    free_fn(p);
  }
  state.SetItemsProcessed(steps);
}
BENCHMARK(BM_realloc_grow)->Arg(4096)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20);

/// Blocks per batch handed from producer to consumer.
constexpr std::size_t HANDOFF = 64;
/// One ring per thread pair (Threads(4) at most gives 2 pairs). Each run
/// leaves its rings empty: both sides run the same number of iterations.
bench::SpscRing<void**>* pair_rings[2] = {new bench::SpscRing<void**>(32), new bench::SpscRing<void**>(32)};

void BM_producer_consumer(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto& ring = *pair_rings[state.thread_index() / 2];
  const bool producer = state.thread_index() % 2 == 0;
  for (auto _ : state) {
    if (producer) {
      auto** batch = static_cast<void**>(malloc_fn(HANDOFF * sizeof(void*)));
      for (std::size_t i = 0; i < HANDOFF; ++i) {
        batch[i] = malloc_fn(size);
        *static_cast<std::size_t*>(batch[i]) = i;
      }
      ring.push(batch);
    } else {
      void** batch = ring.pop();
      for (std::size_t i = 0; i < HANDOFF; ++i) free_fn(batch[i]);
      free_fn(batch);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(HANDOFF));
}
BENCHMARK(BM_producer_consumer)->Arg(32)->Arg(512)->Threads(2)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
