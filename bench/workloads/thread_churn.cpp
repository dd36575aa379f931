// Workload "thread_churn": many short-lived threads, a few allocations each.
//
// Measures: the per-thread costs an allocator hides from long-running
// benchmarks: setting up a thread cache, tearing it down, and reclaiming what
// a dead thread left behind. Threads run in waves of --threads; each thread
// allocates --allocs objects (16..2048 bytes, written), frees most of them
// itself, hands --handoff objects to the main thread (which frees them after
// the thread has exited: frees into an abandoned cache) and leaks --leak
// small objects (16..64 bytes) outright, as real programs do. An allocator that never reclaims an
// exited thread's cached or partly used memory grows with every wave, which
// shows in peak RSS; a slow thread set-up shows in the time.
#include <algorithm>
#include <mutex>

#include "common.hpp"

namespace {

/// Objects handed from exiting threads to the main thread.
struct Handoff {
  std::mutex lock;
  std::vector<void*> blocks;
};

/// The body of one short-lived thread, `id` a global thread number.
std::uint64_t live_briefly(std::size_t id, std::size_t allocs, std::size_t handoff, std::size_t leak,
                           Handoff& out) {
  bench::Rng rng(9000 + id);
  std::vector<void*> mine;
  mine.reserve(allocs);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < allocs; ++i) {
    const std::size_t size = i < leak ? rng.range(16, 64) : rng.range(16, 2048);  // leaks are small
    void* p = bench::xmalloc(size);
    bench::stamp(p, size, rng.next());
    mine.push_back(p);
  }
  std::size_t i = 0;
  for (; i < leak && i < mine.size(); ++i) sum += bench::read_tag(mine[i]);  // never freed
  {
    const std::lock_guard<std::mutex> guard(out.lock);
    for (std::size_t k = 0; k < handoff && i < mine.size(); ++k, ++i) out.blocks.push_back(mine[i]);
  }
  for (; i < mine.size(); ++i) {
    sum += bench::read_tag(mine[i]);
    std::free(mine[i]);
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "waves of short-lived threads that allocate, hand off and leak",
                           {{"threads", "4", "threads alive at once (one wave)"},
                            {"total", "8000", "threads created in total"},
                            {"allocs", "200", "objects each thread allocates"},
                            {"handoff", "8", "objects each thread leaves for the main thread to free"},
                            {"leak", "1", "objects each thread never frees"}});
  const std::size_t wave = flags.size("threads");
  const std::size_t total = flags.size("total");
  const std::size_t allocs = flags.size("allocs");
  const std::size_t handoff = flags.size("handoff");
  const std::size_t leak = flags.size("leak");
  if (wave == 0) {
    std::fprintf(stderr, "thread_churn: --threads must be > 0\n");
    return 2;
  }
  const bench::Stopwatch clock;
  Handoff handed;
  std::vector<std::uint64_t> sums(total, 0);
  std::uint64_t handed_sum = 0;

  for (std::size_t first = 0; first < total; first += wave) {
    const std::size_t n = std::min(wave, total - first);
    bench::run_threads(n, [&](std::size_t i) {
      sums[first + i] = live_briefly(first + i, allocs, handoff, leak, handed);
    });
    // Every thread of the wave has exited: free what they handed over.
    for (void* p : handed.blocks) {
      handed_sum += bench::read_tag(p);
      std::free(p);
    }
    handed.blocks.clear();
  }

  std::uint64_t checksum = handed_sum;
  for (auto s : sums) checksum = bench::mix(checksum, s);
  bench::note(flags.verbose(), "thread_churn: %zu threads, %.3f s\n", total, clock.seconds());
  bench::print_checksum(checksum);
  return 0;
}
