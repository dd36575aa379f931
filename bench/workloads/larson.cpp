// Workload "larson": a server whose connections migrate between worker threads.
//
// Measures: malloc/free throughput when most frees happen on a thread other
// than the one that allocated the block, with a steady live set, the pattern
// of Larson & Krishnan's server benchmark ("Memory allocation for long-running
// server applications", ISMM'98). Each connection owns a table of live objects
// (random sizes between --min and --max bytes); serving it means replacing
// random entries: free the old object, allocate a new one, write it. Workers
// serve one connection per round and hand it to the next worker at the round
// barrier, so after the first round nearly every free is a remote free.
//
// Unlike the original (fixed time, throughput printed), the amount of work is
// fixed: --ops replacements in total, split evenly over the connections, so
// that elapsed time is the metric and 2- and 4-thread runs do the same work.
#include <barrier>

#include "common.hpp"

namespace {

/// One connection: its live objects and the generator that drives it, so the
/// sequence of sizes does not depend on which worker serves it.
struct Connection {
  explicit Connection(std::uint64_t seed) : rng(seed) {}
  bench::Rng rng;
  std::vector<void*> slots;
  std::vector<std::size_t> sizes;
  std::uint64_t sum = 0;
};

void* make_object(Connection& c, std::size_t size) {
  void* p = bench::xmalloc(size);
  bench::stamp(p, size, c.rng.next() | 1);
  return p;
}

/// Serves `ops` replacements on connection c.
void serve(Connection& c, std::size_t ops, std::size_t min, std::size_t max) {
  const std::size_t n = c.slots.size();
  for (std::size_t i = 0; i < ops; ++i) {
    const std::size_t slot = c.rng.below(n);
    c.sum += bench::read_tag(c.slots[slot]) ^ c.sizes[slot];
    std::free(c.slots[slot]);
    const std::size_t size = c.rng.range(min, max);
    c.slots[slot] = make_object(c, size);
    c.sizes[slot] = size;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "larson-style server: connections migrate between worker threads",
                           {{"threads", "2", "worker threads (one connection each)"},
                            {"ops", "24M", "replacements in total, over all connections"},
                            {"rounds", "40", "hand-overs between workers"},
                            {"slots", "2000", "live objects per connection"},
                            {"min", "16", "smallest object in bytes"},
                            {"max", "512", "largest object in bytes"}});
  const std::size_t threads = flags.size("threads");
  const std::size_t rounds = flags.size("rounds");
  const std::size_t slots = flags.size("slots");
  const std::size_t min = flags.size("min");
  const std::size_t max = flags.size("max");
  if (threads == 0 || rounds == 0 || slots == 0 || min < 8 || max < min) {
    std::fprintf(stderr, "larson: need threads, rounds, slots > 0 and 8 <= min <= max\n");
    return 2;
  }
  const std::size_t ops_per_round = flags.size("ops") / threads / rounds;
  const bench::Stopwatch clock;

  // Connections are filled by the worker that serves them first.
  std::vector<Connection> connections;
  for (std::size_t i = 0; i < threads; ++i) connections.emplace_back(1000 + i);

  std::barrier round_end(static_cast<std::ptrdiff_t>(threads));
  bench::run_threads(threads, [&](std::size_t worker) {
    Connection& own = connections[worker];
    own.slots.resize(slots);
    own.sizes.resize(slots);
    for (std::size_t s = 0; s < slots; ++s) {
      own.sizes[s] = own.rng.range(min, max);
      own.slots[s] = make_object(own, own.sizes[s]);
    }
    round_end.arrive_and_wait();
    for (std::size_t r = 0; r < rounds; ++r) {
      serve(connections[(worker + r) % threads], ops_per_round, min, max);
      round_end.arrive_and_wait();
    }
    // Close the connection this worker would serve next: one more remote free each.
    Connection& last = connections[(worker + rounds) % threads];
    for (std::size_t s = 0; s < slots; ++s) {
      last.sum += bench::read_tag(last.slots[s]) ^ last.sizes[s];
      std::free(last.slots[s]);
    }
  });

  std::uint64_t total = 0;
  for (const auto& c : connections) total = bench::mix(total, c.sum);
  bench::note(flags.verbose(), "larson: %zu threads, %zu ops/round, %.3f s\n", threads, ops_per_round, clock.seconds());
  bench::print_checksum(total);
  return 0;
}
