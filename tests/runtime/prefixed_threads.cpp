// prefixed_threads: the thread caches and the central heaps under concurrent
// use, through the prefixed API (libstrata_prefixed.a: strata_* beside the
// system malloc), written to be clean under ThreadSanitizer.
//
// Six threads stand in a ring. Each allocates blocks of every kind (small
// classes, medium, huge; strata_malloc / calloc / realloc / aligned_alloc /
// posix_memalign / strata_new), fills them with a pattern and passes them to
// its right-hand neighbour through a single-producer single-consumer queue
// (release/acquire indices: the only synchronisation between the threads,
// so any other happens-before TSan needs must come from strata itself). Each
// thread verifies what its left-hand neighbour sent, reallocs some of those
// blocks and frees them all (cross-thread frees, both through its cache and
// in batches to the central heap). Meanwhile threads call strata_malloc_trim
// (flush + purge of the central heaps) and strata_mallinfo2 concurrently, and
// short-lived helper threads allocate blocks that the main thread frees after
// they exit. At the end every block arrived intact, and the heaps' in-use
// bytes are back near their starting point.
//
// Meaningful under TSan: configure with
//   cmake -S . -B /tmp/build-tsan -G Ninja -DSTRATA_SANITIZE=thread -DSTRATA_BUILD_BENCH=OFF
//   cmake --build /tmp/build-tsan -j2 --target runtime_prefixed_threads
//   cd /tmp/build-tsan && ctest -R runtime.prefixed_threads --output-on-failure
// (the whole build, libstrata_prefixed.a included, is then instrumented).
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include <strata/strata.h>

#include "preload_check.h"

namespace {

constexpr int RING = 6;
#if defined(__SANITIZE_THREAD__)
constexpr int PER_THREAD = 6000;  // TSan costs 5-15x; the interleavings matter, not the count
#else
constexpr int PER_THREAD = 20000;
#endif
constexpr std::size_t QCAP = 256;

struct Block {
  std::uint32_t sender;
  std::uint32_t seq;
  std::uint32_t kind;  // how it was allocated (selects the matching free)
  std::uint32_t size;  // bytes after the header carrying the pattern
  std::uint64_t seed;
};

/// Single-producer single-consumer queue of block pointers.
struct Spsc {
  Block* slots[QCAP];
  alignas(64) std::atomic<std::size_t> head{0};  // consumer
  alignas(64) std::atomic<std::size_t> tail{0};  // producer
  std::atomic<bool> closed{false};

  bool try_push(Block* b) {
    const std::size_t t = tail.load(std::memory_order_relaxed);
    if (t - head.load(std::memory_order_acquire) == QCAP) return false;
    slots[t % QCAP] = b;
    tail.store(t + 1, std::memory_order_release);
    return true;
  }
  Block* try_pop() {
    const std::size_t h = head.load(std::memory_order_relaxed);
    if (h == tail.load(std::memory_order_acquire)) return nullptr;
    Block* b = slots[h % QCAP];
    head.store(h + 1, std::memory_order_release);
    return b;
  }
};

Spsc g_queues[RING];  // g_queues[i]: from thread i-1 to thread i
std::atomic<std::uint64_t> g_received{0};

enum Kind : std::uint32_t { MALLOC, CALLOC, ALIGNED, POSIX, NEW, KINDS };

Block* make_block(std::uint32_t sender, std::uint32_t seq, std::uint64_t* rng) {
  const std::uint64_t r = st_rng(rng) % 1000;
  const std::size_t body = r < 975 ? st_rng(rng) % 1500 : r < 997 ? 2000 + st_rng(rng) % 120000 : (1u << 20) + 4096;
  const std::size_t n = sizeof(Block) + body;
  const auto kind = static_cast<Kind>(st_rng(rng) % KINDS);
  void* p = nullptr;
  switch (kind) {
    case MALLOC: p = strata_malloc(n); break;
    case CALLOC:
      p = strata_calloc(1, n);
      ST_CHECK(p != nullptr && st_all_zero(p, n));
      break;
    case ALIGNED: p = strata_aligned_alloc(std::size_t{64} << (seq % 7), n); break;
    case POSIX: ST_CHECK(strata_posix_memalign(&p, 128, n) == 0); break;
    default: p = strata_new(n); break;
  }
  ST_CHECK(p != nullptr && strata_malloc_usable_size(p) >= n);
  auto* b = static_cast<Block*>(p);
  *b = Block{sender, seq, kind, static_cast<std::uint32_t>(body), st_rng(rng)};
  st_fill(b + 1, body, b->seed);
  return b;
}

void release_block(Block* b) {
  if (b->kind == NEW)
    strata_delete(b);
  else
    strata_free(b);
}

void consume(Block* b, std::uint64_t* rng) {
  ST_CHECKF(st_verify(b + 1, b->size, b->seed) == static_cast<std::size_t>(-1), "block %u/%u corrupted", b->sender,
            b->seq);
  if (b->kind != NEW && st_rng(rng) % 6 == 0) {  // realloc another thread's block
    const std::size_t keep = b->size / 2;
    const Block head = *b;
    auto* r = static_cast<Block*>(strata_realloc(b, sizeof(Block) + keep));
    ST_CHECK(r != nullptr && r->seed == head.seed && r->seq == head.seq);
    ST_CHECK(st_verify(r + 1, keep, head.seed) == static_cast<std::size_t>(-1));
    b = r;
  }
  release_block(b);
  g_received.fetch_add(1, std::memory_order_relaxed);
}

void ring_thread(int id) {
  std::uint64_t rng = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(id + 1);
  Spsc& out = g_queues[(id + 1) % RING];
  Spsc& in = g_queues[id];
  for (int seq = 0; seq < PER_THREAD; ++seq) {
    Block* b = make_block(static_cast<std::uint32_t>(id), static_cast<std::uint32_t>(seq), &rng);
    while (!out.try_push(b)) {
      if (Block* got = in.try_pop()) consume(got, &rng);  // drain while waiting: no deadlock
      else std::this_thread::yield();
    }
    if (Block* got = in.try_pop()) consume(got, &rng);
    void* local = strata_malloc(1 + seq % 700);  // local traffic beside the remote
    ST_CHECK(local != nullptr);
    strata_free(local);
    if (seq % 2000 == id * 300) {
      (void)strata_malloc_trim(0);
      const struct mallinfo2 mi = strata_mallinfo2();
      ST_CHECK(mi.arena >= mi.uordblks);
    }
  }
  out.closed.store(true, std::memory_order_release);
  // Drain until the left-hand neighbour is done and its queue is empty.
  for (;;) {
    const bool done = in.closed.load(std::memory_order_acquire);
    Block* got = in.try_pop();
    if (got != nullptr) {
      consume(got, &rng);
    } else if (done) {
      break;
    } else {
      std::this_thread::yield();
    }
  }
}

void helper_threads() {
  for (int round = 0; round < 8; ++round) {
    std::vector<void*> gifts(8, nullptr);
    std::vector<std::thread> helpers;
    for (int i = 0; i < 8; ++i)
      helpers.emplace_back([&gifts, i] {
        std::uint64_t rng = 77u + static_cast<std::uint64_t>(i);
        for (int k = 0; k < 200; ++k) strata_free(strata_malloc(st_rng_size(&rng, 4096)));
        gifts[static_cast<std::size_t>(i)] = strata_malloc(100 + static_cast<std::size_t>(i));
        st_fill(gifts[static_cast<std::size_t>(i)], 100, static_cast<std::uint64_t>(i));
      });
    for (auto& t : helpers) t.join();
    for (int i = 0; i < 8; ++i) {
      ST_CHECK(st_verify(gifts[static_cast<std::size_t>(i)], 100, static_cast<std::uint64_t>(i)) ==
               static_cast<std::size_t>(-1));
      strata_free(gifts[static_cast<std::size_t>(i)]);
    }
  }
}

}  // namespace

int main() {
  strata_free(strata_malloc(1));  // initialise, then measure from a settled state
  (void)strata_malloc_trim(0);
  const std::size_t used0 = strata_mallinfo2().uordblks + strata_mallinfo2().hblkhd;
  {  // the counters the final check relies on do move
    std::vector<void*> probe(512);
    for (void*& p : probe) p = strata_malloc(1000);
    const std::size_t during = strata_mallinfo2().uordblks;
    ST_CHECKF(during >= used0 + 256 * 1000, "mallinfo2 uordblks %zu after 512 KB of blocks", during);
    for (void* p : probe) strata_free(p);
    (void)strata_malloc_trim(0);
  }

  std::vector<std::thread> ring;
  for (int i = 0; i < RING; ++i) ring.emplace_back(ring_thread, i);
  helper_threads();
  for (auto& t : ring) t.join();

  const std::uint64_t expected = static_cast<std::uint64_t>(RING) * PER_THREAD;
  ST_CHECKF(g_received.load() == expected, "%llu of %llu blocks received",
            static_cast<unsigned long long>(g_received.load()), static_cast<unsigned long long>(expected));
  (void)strata_malloc_trim(0);
  const std::size_t used1 = strata_mallinfo2().uordblks + strata_mallinfo2().hblkhd;
  std::printf("prefixed_threads: %llu blocks crossed threads; in use %zu -> %zu KiB\n",
              static_cast<unsigned long long>(expected), used0 >> 10, used1 >> 10);
  ST_CHECKF(used1 <= used0 + (std::size_t{1} << 20), "in-use bytes grew from %zu to %zu KiB", used0 >> 10,
            used1 >> 10);
  return 0;
}
