// Workload "powerlaw": the heap of a C++ program or a language interpreter.
//
// Measures: single-thread throughput and memory on the size and lifetime mix
// such programs show: sizes follow a power law (most objects 16..64 bytes, a
// long tail up to --max), and most objects die young (generational
// hypothesis). Every new object enters a small nursery (a FIFO of --nursery
// objects); when it leaves, it usually dies, but with probability --promote
// percent it moves to a long-lived old generation of --old objects, replacing
// a random resident. A few objects grow by realloc (strings, vectors), and
// now and then a "scope exit" frees a run of recent old objects at once.
// --threads runs independent copies (no sharing), like several interpreters.
#include <cmath>

#include "common.hpp"

namespace {

struct Object {
  void* p = nullptr;
  std::size_t size = 0;
};

/// Pareto-distributed size, alpha --alpha/100, from 16 bytes up, capped at max
/// and rounded to 8 bytes.
class SizeDist {
 public:
  SizeDist(double alpha, std::size_t max) : inv_alpha_(1.0 / alpha), max_(max) {}

  std::size_t operator()(bench::Rng& rng) const {
    const double u = 1.0 - rng.unit();  // (0, 1]
    const double s = 16.0 * std::pow(u, -inv_alpha_);
    const std::size_t size = s >= static_cast<double>(max_) ? max_ : static_cast<std::size_t>(s);
    return (size + 7) & ~std::size_t{7};
  }

 private:
  double inv_alpha_;
  std::size_t max_;
};

struct Params {
  std::size_t steps, nursery, old, promote_pct, max;
  double alpha;
};

/// Frees o (reading its tag into the sum) and clears it.
void retire(Object& o, std::uint64_t& sum) {
  if (o.p == nullptr) return;
  sum += bench::read_tag(o.p) ^ o.size;
  std::free(o.p);
  o = Object{};
}

std::uint64_t run_heap(const Params& prm, std::uint64_t seed) {
  bench::Rng rng(seed);
  const SizeDist dist(prm.alpha, prm.max);
  std::vector<Object> nursery(prm.nursery), old(prm.old);
  std::uint64_t sum = 0;
  std::size_t head = 0;

  for (std::size_t step = 0; step < prm.steps; ++step) {
    // Allocate the new object into the nursery slot; the previous occupant leaves.
    Object& slot = nursery[head];
    head = (head + 1) % nursery.size();
    if (slot.p != nullptr) {
      if (rng.below(100) < prm.promote_pct) {
        Object& victim = old[rng.below(old.size())];
        retire(victim, sum);
        victim = slot;
        slot = Object{};
      } else {
        retire(slot, sum);
      }
    }
    slot.size = dist(rng);
    slot.p = bench::xmalloc(slot.size);
    bench::stamp(slot.p, slot.size, rng.next());

    // 1 in 64 steps: an old object grows by half (string append, vector push_back).
    if ((rng.next() & 63) == 0) {
      Object& grow = old[rng.below(old.size())];
      if (grow.p != nullptr && grow.size < prm.max * 4) {
        const std::uint64_t tag = bench::read_tag(grow.p);
        grow.size += grow.size / 2 + 8;
        grow.p = bench::xrealloc(grow.p, grow.size);
        bench::stamp(grow.p, grow.size, tag);
      }
    }
    // Now and then a scope exits and a run of 1/32 of the old objects dies
    // together. Rare enough (1 in 2^19 steps) that promotion keeps the old
    // generation about 90% full: refill 6% x empty share = frees 1/32 x 2^-19.
    if ((rng.next() & ((1u << 19) - 1)) == 0) {
      const std::size_t start = rng.below(old.size());
      const std::size_t run = old.size() / 32;
      for (std::size_t i = 0; i < run; ++i) retire(old[(start + i) % old.size()], sum);
    }
  }
  for (auto& o : nursery) retire(o, sum);
  for (auto& o : old) retire(o, sum);
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "interpreter-like heap: power-law sizes, generational lifetimes",
                           {{"threads", "1", "independent heaps, one per thread"},
                            {"steps", "12M", "objects allocated per thread"},
                            {"nursery", "256", "young objects alive at once"},
                            {"old", "100000", "long-lived objects alive at once"},
                            {"promote", "6", "percent of young objects that become old"},
                            {"alpha", "130", "power-law exponent x100 (smaller = heavier tail)"},
                            {"max", "64K", "largest fresh object in bytes"}});
  const Params prm{flags.size("steps"), flags.size("nursery"), flags.size("old"), flags.size("promote"),
                   flags.size("max"), static_cast<double>(flags.num("alpha")) / 100.0};
  const std::size_t threads = flags.size("threads");
  if (threads == 0 || prm.nursery == 0 || prm.old == 0 || prm.alpha <= 0.0 || prm.max < 16) {
    std::fprintf(stderr, "powerlaw: threads, nursery, old, alpha > 0 and max >= 16\n");
    return 2;
  }
  const bench::Stopwatch clock;
  std::vector<std::uint64_t> sums(threads);
  bench::run_threads(threads, [&](std::size_t t) { sums[t] = run_heap(prm, 31337 + t); });
  std::uint64_t total = 0;
  for (auto s : sums) total = bench::mix(total, s);
  bench::note(flags.verbose(), "powerlaw: %zu threads, %.3f s\n", threads, clock.seconds());
  bench::print_checksum(total);
  return 0;
}
