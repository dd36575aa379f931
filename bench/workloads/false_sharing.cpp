// Workload "false_sharing": do small objects of different threads share cache lines?
//
// Measures: whether the allocator places small blocks used by different
// threads on the same cache line, after Hoard's cache-thrash and
// cache-scratch probes (Berger et al., ASPLOS 2000). Each thread repeatedly
// takes a small object, writes every byte of it many times, and frees it.
// The writes dominate the run, so the time only blows up when objects of two
// threads share a line and the line bounces between cores.
//   --mode=thrash   active false sharing: threads allocate concurrently from
//                   the start; an allocator that carves consecutive small
//                   blocks for different threads out of one line loses.
//   --mode=scratch  passive false sharing: the main thread allocates one
//                   object per worker, back to back (so they share lines),
//                   and hands them over; each worker frees its object and
//                   then allocates its own. An allocator that recycles a
//                   freed block into the freeing thread's cache gives the
//                   worker the very block that sits beside another worker's.
// Work is fixed in total (--iterations split over the threads).
#include "common.hpp"

namespace {

/// Allocates, writes every byte `writes` times, frees; `iterations` times.
/// The volatile accesses keep every write a real store to the object.
std::uint64_t churn(std::size_t iterations, std::size_t size, std::size_t writes) {
  std::uint64_t sum = 0;
  for (std::size_t it = 0; it < iterations; ++it) {
    auto* obj = static_cast<volatile unsigned char*>(bench::xmalloc(size));
    for (std::size_t i = 0; i < size; ++i) obj[i] = 0;
    for (std::size_t w = 0; w < writes; ++w)
      for (std::size_t i = 0; i < size; ++i) obj[i] = static_cast<unsigned char>(obj[i] + 1);
    for (std::size_t i = 0; i < size; ++i) sum += obj[i];
    std::free(const_cast<unsigned char*>(obj));
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "cache-thrash / cache-scratch false-sharing probe",
                           {{"mode", "thrash", "thrash (active) or scratch (passive)"},
                            {"threads", "2", "worker threads"},
                            {"iterations", "100K", "objects taken in total, over all threads"},
                            {"size", "8", "object size in bytes"},
                            {"writes", "2000", "passes writing every byte of an object"}});
  const std::string mode = flags.text("mode");
  const std::size_t threads = flags.size("threads");
  const std::size_t size = flags.size("size");
  const std::size_t writes = flags.size("writes");
  if ((mode != "thrash" && mode != "scratch") || threads == 0 || size == 0) {
    std::fprintf(stderr, "false_sharing: --mode=thrash|scratch, threads and size > 0\n");
    return 2;
  }
  const std::size_t per_thread = flags.size("iterations") / threads;
  const bench::Stopwatch clock;

  // scratch: the main thread's objects, allocated back to back.
  std::vector<void*> handed(threads, nullptr);
  if (mode == "scratch")
    for (auto& p : handed) p = bench::xmalloc(size);

  std::vector<std::uint64_t> sums(threads, 0);
  bench::run_threads(threads, [&](std::size_t t) {
    if (handed[t] != nullptr) std::free(handed[t]);  // remote free of a neighbour's line
    sums[t] = churn(per_thread, size, writes);
  });

  std::uint64_t total = 0;
  for (auto s : sums) total = bench::mix(total, s);
  bench::note(flags.verbose(), "false_sharing %s: %zu threads, %.3f s\n", mode.c_str(), threads, clock.seconds());
  bench::print_checksum(total);
  return 0;
}
