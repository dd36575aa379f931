// Workload "gen_churn": generational churn across threads; the metric to watch is peak RSS.
//
// Defaults (bench.sh gen-churn-2/-4 run them at --threads=2 and 4): each thread
// keeps a rolling window of --live=10000 blocks of mixed small sizes (uniform
// 16..1024 bytes, about 5 MiB a thread); --ops=12M replacements in total, split
// evenly over the threads and --rounds=400 rounds; --remote=30 percent of the
// dead blocks are freed by the next thread; the run is split into
// --generations=20 generations of threads (every 20 rounds the threads exit
// and new ones take over their windows).
//
// Measures: what an allocator holds beyond the live set when a pool of worker
// threads keeps a steady population of objects alive, the threads retire each
// other's objects, and the threads themselves are recycled while their objects
// live on (worker pools that replace workers). Each round, every thread
// replaces a random share of its window: for each slot chosen it either frees
// the old block itself or posts it to the next thread's mailbox, then allocates
// the replacement. After the round barrier each thread frees what the previous
// thread posted to it. A block's age is geometric (a random share dies every
// round), so the window mixes young and old blocks on the same pages; after a
// generation change the new threads free what the old ones allocated. The live
// set is constant (threads x --live blocks plus one round's mailbox), so an
// ideal allocator's RSS stays flat near it; remote frees kept in the freeing
// thread's cache, pages pinned by a few old blocks, memory kept per size class
// or per arena of a thread that has gone all show as RSS above it.
// --generations=1 keeps the same threads throughout. Work is fixed in total, so
// 2- and 4-thread runs do the same work.
#include <barrier>

#include "common.hpp"

namespace {

/// What one thread posts to the next during a round; drained by the receiver
/// after the round barrier, so only the sender writes it during the round.
struct Mailbox {
  std::vector<void*> blocks;
};

struct Worker {
  explicit Worker(std::uint64_t seed) : rng(seed) {}
  bench::Rng rng;
  std::vector<void*> window;
  std::uint64_t sum = 0;
};

void* make_block(bench::Rng& rng, std::size_t min, std::size_t max) {
  const std::size_t size = rng.range(min, max);
  void* p = bench::xmalloc(size);
  bench::stamp(p, size, rng.next());
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "generational churn: rolling windows of live blocks, part freed by another thread",
                           {{"threads", "2", "worker threads, one window each"},
                            {"ops", "12M", "replacements in total, over all threads"},
                            {"rounds", "400", "rounds (a barrier and a mailbox drain each)"},
                            {"generations", "20", "thread generations (1: the same threads throughout)"},
                            {"live", "10000", "live blocks per thread"},
                            {"remote", "30", "percent of dead blocks freed by the next thread"},
                            {"min", "16", "smallest block in bytes"},
                            {"max", "1024", "largest block in bytes"}});
  const std::size_t threads = flags.size("threads");
  const std::size_t rounds = flags.size("rounds");
  const std::size_t live = flags.size("live");
  const std::size_t generations = flags.size("generations");
  const std::size_t remote = flags.size("remote");
  const std::size_t min = flags.size("min");
  const std::size_t max = flags.size("max");
  if (threads == 0 || rounds == 0 || live == 0 || generations == 0 || generations > rounds || remote > 100 ||
      min < 8 || max < min) {
    std::fprintf(stderr,
                 "gen_churn: need threads, rounds, live > 0, 1 <= generations <= rounds, remote <= 100 and "
                 "8 <= min <= max\n");
    return 2;
  }
  const std::size_t per_round = flags.size("ops") / threads / rounds;
  const bench::Stopwatch clock;

  std::vector<Worker> workers;
  std::vector<Mailbox> mail(threads);
  for (std::size_t t = 0; t < threads; ++t) workers.emplace_back(5150 + t);

  // Each generation of threads runs its share of the rounds, then exits; the
  // next takes over the windows (and the blocks the old threads allocated).
  std::barrier round_end(static_cast<std::ptrdiff_t>(threads));
  for (std::size_t g = 0; g < generations; ++g) {
    const std::size_t first = rounds * g / generations, last = rounds * (g + 1) / generations;
    bench::run_threads(threads, [&](std::size_t t) {
      Worker& w = workers[t];
      Mailbox& out = mail[(t + 1) % threads];
      Mailbox& in = mail[t];
      if (first == 0) {
        w.window.reserve(live);
        for (std::size_t i = 0; i < live; ++i) w.window.push_back(make_block(w.rng, min, max));
        round_end.arrive_and_wait();
      }
      for (std::size_t r = first; r < last; ++r) {
        for (std::size_t i = 0; i < per_round; ++i) {
          void*& slot = w.window[w.rng.below(live)];
          if (w.rng.below(100) < remote) {
            out.blocks.push_back(slot);  // the receiver reads its tag
          } else {
            w.sum += bench::read_tag(slot);
            std::free(slot);
          }
          slot = make_block(w.rng, min, max);
        }
        round_end.arrive_and_wait();  // every mailbox is complete
        for (void* p : in.blocks) {
          w.sum += bench::read_tag(p);
          std::free(p);
        }
        in.blocks.clear();
        round_end.arrive_and_wait();  // every mailbox is drained before it fills again
      }
      if (last == rounds)
        for (void* p : w.window) {
          w.sum += bench::read_tag(p);
          std::free(p);
        }
    });
  }

  std::uint64_t total = 0;
  for (const auto& w : workers) total = bench::mix(total, w.sum);
  bench::note(flags.verbose(), "gen_churn: %zu threads, %zu replacements/round, %.3f s\n", threads, per_round,
              clock.seconds());
  bench::print_checksum(total);
  return 0;
}
