// Workload "frag_churn": fragmentation; the metric that matters is peak RSS.
//
// Measures: how much memory the allocator holds beyond the live bytes when
// scattered long-lived survivors pin otherwise empty memory and the size mix
// keeps changing. Each round fills about --budget bytes with objects of one
// size tier (16..64, 64..512, 512..4K, 4K..32K bytes, rotating), then frees
// them in random order except one in --keep, which joins a bounded pool of
// long-lived survivors (the oldest survivor is freed when the pool is full).
// The live set never exceeds budget + pool, so an ideal allocator's peak RSS
// stays near that; one that cannot reuse a tier's pages for the next tier, or
// never returns them, grows with the number of tiers and rounds.
#include "common.hpp"

namespace {

struct Block {
  void* p;
  std::size_t size;
};

/// Size tiers the rounds rotate through: [lo, hi] bytes.
constexpr std::size_t TIERS[][2] = {{16, 64}, {64, 512}, {512, 4096}, {4096, 32768}};

/// Bounded FIFO of long-lived survivors.
class SurvivorPool {
 public:
  explicit SurvivorPool(std::size_t capacity) : ring_(capacity, Block{nullptr, 0}) {}

  /// Adds b; frees the oldest survivor when full. Returns the tag of what left.
  std::uint64_t add(Block b) {
    Block& slot = ring_[next_++ % ring_.size()];
    std::uint64_t tag = 0;
    if (slot.p != nullptr) {
      tag = bench::read_tag(slot.p) ^ slot.size;
      std::free(slot.p);
    }
    slot = b;
    return tag;
  }

  /// Frees everything left; returns the tags.
  std::uint64_t clear() {
    std::uint64_t sum = 0;
    for (auto& b : ring_)
      if (b.p != nullptr) {
        sum += bench::read_tag(b.p) ^ b.size;
        std::free(b.p);
        b.p = nullptr;
      }
    return sum;
  }

 private:
  std::vector<Block> ring_;
  std::size_t next_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "fragmentation churn across size tiers with long-lived survivors",
                           {{"rounds", "16", "fill/free rounds (tiers rotate each round)"},
                            {"budget", "32M", "bytes allocated per round"},
                            {"keep", "25", "one object in this many survives the round"},
                            {"pool", "40000", "long-lived survivors kept at most"}});
  const std::size_t rounds = flags.size("rounds");
  const std::size_t budget = flags.size("budget");
  const std::size_t keep = flags.size("keep");
  const std::size_t pool_size = flags.size("pool");
  if (keep == 0 || pool_size == 0) {
    std::fprintf(stderr, "frag_churn: --keep and --pool must be > 0\n");
    return 2;
  }
  const bench::Stopwatch clock;
  bench::Rng rng(4242);
  SurvivorPool pool(pool_size);
  std::vector<Block> round;
  std::uint64_t sum = 0;

  for (std::size_t r = 0; r < rounds; ++r) {
    const auto& tier = TIERS[r % std::size(TIERS)];
    round.clear();
    for (std::size_t bytes = 0; bytes < budget;) {
      const std::size_t size = rng.range(tier[0], tier[1]);
      void* p = bench::xmalloc(size);
      bench::stamp(p, size, rng.next());
      round.push_back({p, size});
      bytes += size;
    }
    // Free in random order (Fisher-Yates as we go); every keep-th survives.
    for (std::size_t left = round.size(); left > 0; --left) {
      const std::size_t i = rng.below(left);
      const Block b = round[i];
      round[i] = round[left - 1];
      if (rng.below(keep) == 0) {
        sum += pool.add(b);
      } else {
        sum += bench::read_tag(b.p) ^ b.size;
        std::free(b.p);
      }
    }
    bench::note(flags.verbose(), "round %zu tier %zu..%zu: %.3f s\n", r, tier[0], tier[1], clock.seconds());
  }
  sum += pool.clear();
  bench::print_checksum(sum);
  return 0;
}
