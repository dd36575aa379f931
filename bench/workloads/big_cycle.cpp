// Workload "big_cycle": large buffers of 5..25 MiB allocated, used, freed, again.
//
// Measures: what an allocator does with freed large blocks. A program that
// cycles buffers of this size (image frames, request bodies, compression
// windows) pays a page fault per 4 KiB page every time a freed block went
// back to the OS, and nothing when the allocator keeps it for the next
// request. Returning everything at once is what made jemalloc and mimalloc
// about 3x slower than glibc here, with 15x the minor faults (BENCH.md);
// keeping everything forever is the opposite failure, which peak RSS shows.
// --live buffers are alive at once (a FIFO); each is written over its whole
// length (memset, as a program filling it would) and read back one word per
// page before it is freed. --spread=log draws sizes log-uniformly (as many
// per doubling) instead of uniformly: with --min=64K --max=16M --live=16
// (bench.sh big-cycle-mixed) half the buffers are medium blocks (<= 1 MiB),
// half huge, many of them alive at once.
#include <cmath>

#include "common.hpp"

namespace {

/// Log-uniform size in [min, max]: every doubling equally likely.
std::size_t log_uniform(bench::Rng& rng, std::size_t min, std::size_t max) {
  const double lo = static_cast<double>(min), hi = static_cast<double>(max);
  const auto size = static_cast<std::size_t>(lo * std::pow(hi / lo, rng.unit()));
  return size < min ? min : size > max ? max : size;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "cycle large buffers (5..25 MiB by default)",
                           {{"cycles", "200", "buffers allocated in total"},
                            {"live", "2", "buffers alive at once"},
                            {"min", "5M", "smallest buffer in bytes"},
                            {"max", "25M", "largest buffer in bytes"},
                            {"spread", "uniform", "size distribution: uniform or log (log-uniform)"}});
  const std::size_t cycles = flags.size("cycles");
  const std::size_t live = flags.size("live");
  const std::size_t min = flags.size("min");
  const std::size_t max = flags.size("max");
  const std::string spread = flags.text("spread");
  if (live == 0 || min < 64 || max < min || (spread != "uniform" && spread != "log")) {
    std::fprintf(stderr, "big_cycle: --live > 0, 64 <= min <= max and --spread=uniform|log\n");
    return 2;
  }
  const bench::Stopwatch clock;
  bench::Rng rng(1618);
  struct Buf {
    void* p;
    std::size_t size;
  };
  std::vector<Buf> ring(live, Buf{nullptr, 0});
  std::uint64_t sum = 0;

  for (std::size_t c = 0; c < cycles + live; ++c) {
    Buf& slot = ring[c % live];
    if (slot.p != nullptr) {  // retire the oldest: read one word per page back
      const auto* bytes = static_cast<const unsigned char*>(slot.p);
      for (std::size_t off = 0; off + 8 <= slot.size; off += bench::PAGE) sum += bench::read_tag(bytes + off);
      std::free(slot.p);
      slot.p = nullptr;
    }
    if (c >= cycles) continue;
    slot.size = spread == "log" ? log_uniform(rng, min, max) : rng.range(min, max);
    slot.p = bench::xmalloc(slot.size);
    const std::uint64_t tag = rng.next();
    auto* bytes = static_cast<unsigned char*>(slot.p);
    std::memset(bytes, static_cast<int>(tag & 0xff), slot.size);
    for (std::size_t off = 0; off + 8 <= slot.size; off += bench::PAGE) std::memcpy(bytes + off, &tag, 8);
  }
  bench::note(flags.verbose(), "big_cycle: %zu buffers, %.3f s\n", cycles, clock.seconds());
  bench::print_checksum(sum);
  return 0;
}
