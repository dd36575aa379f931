// Workload "remote_random": random sizes up to 16 KiB, a share freed by another thread.
//
// Defaults (bench.sh remote-random-2/-4 run them at --threads=2 and 4): each
// thread keeps a window of --live=1000 blocks of uniformly random size
// 16..16384 bytes (about 8 MiB a thread) and replaces one at random per
// operation; --ops=4M allocations in total, split evenly over the threads. Of
// the blocks that die, --remote=50 percent are handed to the next thread (in
// batches of --batch=64, at most --depth=8 batches queued per receiver), which
// frees them; the rest are freed by their own thread. The run is split into
// --generations=20 generations of threads: at each boundary the threads exit
// and new ones take over their windows (--generations=1: the same threads
// throughout).
//
// Measures: throughput and memory when every thread both allocates and frees
// and half its garbage is someone else's, over the whole range of sizes a
// thread cache holds (classes of 16 B up to 16 KiB, many pages per span at the
// top). Blocks freed remotely land wherever the freeing allocator puts them
// (the freeing thread's cache, the owner's queue, the central heap), so an
// allocator that strands them, whose caches hold many large blocks per class,
// or whose memory stays with the arena of a thread that has exited, shows it in
// peak RSS; one whose remote free is slow shows it in time. A sender whose
// receiver's queue is full frees its own queue meanwhile, so no cycle of
// threads can block, and oversubscribed runs stay fair.
#include <mutex>

#include "common.hpp"

namespace {

struct Batch {
  void** blocks;
  std::size_t n;
};

/// Batches posted to one thread, freed by it.
class Mailbox {
 public:
  /// Queues b unless `depth` batches are already waiting; false when full.
  bool try_post(Batch b, std::size_t depth) {
    const std::lock_guard<std::mutex> guard(lock_);
    if (queued_.size() >= depth) return false;
    queued_.push_back(b);
    return true;
  }

  /// Frees every queued batch and its blocks; returns the sum of their tags.
  std::uint64_t drain() {
    {
      const std::lock_guard<std::mutex> guard(lock_);
      taken_.swap(queued_);
    }
    std::uint64_t sum = 0;
    for (const Batch& b : taken_) {
      for (std::size_t i = 0; i < b.n; ++i) {
        sum += bench::read_tag(b.blocks[i]);
        std::free(b.blocks[i]);
      }
      std::free(b.blocks);
    }
    taken_.clear();
    return sum;
  }

 private:
  std::mutex lock_;
  std::vector<Batch> queued_;
  std::vector<Batch> taken_;  // the receiver's only
};

struct Params {
  std::size_t ops, live, remote, batch, depth, min, max;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "random sizes 16 B..16 KiB, a share of the frees on another thread",
                           {{"threads", "2", "threads, each allocating and freeing"},
                            {"ops", "4M", "allocations in total, over all threads"},
                            {"live", "1000", "live blocks per thread"},
                            {"generations", "20", "thread generations (1: the same threads throughout)"},
                            {"remote", "50", "percent of dead blocks freed by the next thread"},
                            {"batch", "64", "blocks per hand-over"},
                            {"depth", "8", "batches queued per receiver at most"},
                            {"min", "16", "smallest block in bytes"},
                            {"max", "16K", "largest block in bytes"}});
  const std::size_t threads = flags.size("threads");
  const Params prm{flags.size("ops") / (threads == 0 ? 1 : threads), flags.size("live"), flags.size("remote"),
                   flags.size("batch"), flags.size("depth"), flags.size("min"), flags.size("max")};
  if (threads == 0 || prm.live == 0 || prm.remote > 100 || prm.batch == 0 || prm.depth == 0 || prm.min < 8 ||
      prm.max < prm.min) {
    std::fprintf(stderr, "remote_random: need threads, live, batch, depth > 0, remote <= 100, 8 <= min <= max\n");
    return 2;
  }
  const std::size_t generations = flags.size("generations");
  if (generations == 0 || generations > prm.ops) {
    std::fprintf(stderr, "remote_random: need 1 <= generations <= ops per thread\n");
    return 2;
  }
  const bench::Stopwatch clock;
  std::vector<Mailbox> mail(threads);
  std::vector<std::atomic<bool>> done(threads);
  std::vector<std::uint64_t> sums(threads, 0);
  std::vector<bench::Rng> rngs;
  for (std::size_t t = 0; t < threads; ++t) rngs.emplace_back(8086 + t);
  std::vector<std::vector<void*>> windows(threads, std::vector<void*>(prm.live, nullptr));

  // Each generation of threads runs its share of the operations, then exits;
  // the next takes over the windows (and the blocks the old threads allocated).
  for (std::size_t g = 0; g < generations; ++g) {
    const std::size_t first = prm.ops * g / generations, last = prm.ops * (g + 1) / generations;
    for (auto& d : done) d.store(false, std::memory_order_relaxed);
    bench::run_threads(threads, [&](std::size_t t) {
      bench::Rng& rng = rngs[t];
      std::vector<void*>& window = windows[t];
      Mailbox& in = mail[t];
      Mailbox& out = mail[(t + 1) % threads];
      std::uint64_t sum = 0;
      auto post = [&](Batch b) {
        while (!out.try_post(b, prm.depth)) {  // receiver behind: do our own share meanwhile
          sum += in.drain();
          std::this_thread::yield();
        }
      };
      auto new_batch = [&] { return Batch{static_cast<void**>(bench::xmalloc(prm.batch * sizeof(void*))), 0}; };
      Batch outgoing = new_batch();
      for (std::size_t op = first; op < last; ++op) {
        void*& slot = window[rng.below(prm.live)];
        if (slot != nullptr) {
          if (rng.below(100) < prm.remote) {
            outgoing.blocks[outgoing.n++] = slot;
            if (outgoing.n == prm.batch) {
              post(outgoing);
              outgoing = new_batch();
              sum += in.drain();
            }
          } else {
            sum += bench::read_tag(slot);
            std::free(slot);
          }
        }
        const std::size_t size = rng.range(prm.min, prm.max);
        slot = bench::xmalloc(size);
        bench::stamp(slot, size, rng.next());
      }
      if (last == prm.ops)
        for (void* p : window)
          if (p != nullptr) {
            sum += bench::read_tag(p);
            std::free(p);
          }
      post(outgoing);  // the last, partial batch (possibly empty)
      done[t].store(true, std::memory_order_release);
      // Free what the previous thread sends until it has sent everything.
      const std::size_t prev = (t + threads - 1) % threads;
      while (!done[prev].load(std::memory_order_acquire)) {
        sum += in.drain();
        std::this_thread::yield();
      }
      sum += in.drain();
      sums[t] += sum;
    });
  }

  std::uint64_t total = 0;
  for (auto s : sums) total = bench::mix(total, s);
  bench::note(flags.verbose(), "remote_random: %zu threads, %zu ops each, %.3f s\n", threads, prm.ops, clock.seconds());
  bench::print_checksum(total);
  return 0;
}
