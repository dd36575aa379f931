// Workload "tight_loop": the malloc/free fast path of small mixed sizes, nothing else.
//
// Defaults (bench.sh tight-loop-1/-2 run them at --threads=1 and 2): each
// thread runs the same loop of --ops=100M malloc+free pairs (per thread, not
// split: two threads do twice the work in about the same wall time on two
// cores) over a ring of --live=16 live blocks, sizes 16..512 bytes drawn from a
// fixed table of 4096 random sizes, first word of each block written and read.
//
// Measures: the cost of one malloc and one free when both hit the thread's
// own cache every time, with the size varying call to call so the class
// lookup and several free lists are exercised (a parser or an interpreter in
// its inner loop). Nothing else happens per operation (no generator call, a
// table read), so the time is almost all allocator. With --threads=2 the
// threads share nothing: any slowdown over one thread is contention inside
// the allocator (shared counters, false sharing of per-thread state, locks).
#include "common.hpp"

namespace {

std::uint64_t loop(std::size_t ops, std::size_t live, const std::vector<std::uint32_t>& sizes) {
  std::vector<void*> ring(live, nullptr);
  std::uint64_t sum = 0;
  const std::size_t mask = sizes.size() - 1;
  std::size_t k = 0;  // i % live without a division per operation
  for (std::size_t i = 0; i < ops; ++i, k = k + 1 == live ? 0 : k + 1) {
    void*& slot = ring[k];
    if (slot != nullptr) {
      sum += bench::read_tag(slot);
      std::free(slot);
    }
    slot = bench::xmalloc(sizes[i & mask]);
    const std::uint64_t tag = i;
    std::memcpy(slot, &tag, sizeof tag);
  }
  for (void* p : ring)
    if (p != nullptr) {
      sum += bench::read_tag(p);
      std::free(p);
    }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "tight malloc/free loop of small mixed sizes, per thread",
                           {{"threads", "1", "threads, each running the whole loop"},
                            {"ops", "100M", "malloc+free pairs per thread"},
                            {"live", "16", "blocks alive at once per thread (a ring)"},
                            {"min", "16", "smallest block in bytes"},
                            {"max", "512", "largest block in bytes"}});
  const std::size_t threads = flags.size("threads");
  const std::size_t ops = flags.size("ops");
  const std::size_t live = flags.size("live");
  const std::size_t min = flags.size("min");
  const std::size_t max = flags.size("max");
  if (threads == 0 || live == 0 || min < 8 || max < min) {
    std::fprintf(stderr, "tight_loop: need threads, live > 0 and 8 <= min <= max\n");
    return 2;
  }
  // One table for every thread: the same sizes in the same order.
  bench::Rng rng(4711);
  std::vector<std::uint32_t> sizes(4096);  // a power of two: index by mask
  for (auto& s : sizes) s = static_cast<std::uint32_t>(rng.range(min, max));
  const bench::Stopwatch clock;
  std::vector<std::uint64_t> sums(threads, 0);
  bench::run_threads(threads, [&](std::size_t t) { sums[t] = loop(ops, live, sizes); });
  std::uint64_t total = 0;
  for (auto s : sums) total = bench::mix(total, s);
  bench::note(flags.verbose(), "tight_loop: %zu threads x %zu ops, %.3f s\n", threads, ops, clock.seconds());
  bench::print_checksum(total);
  return 0;
}
