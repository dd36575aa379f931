// Workload "prodcons": producer threads allocate, consumer threads free.
//
// Measures: the cost of remote frees in bulk, the pattern that separates
// allocators most (message queues, pipelines, request objects built by an
// acceptor and retired by a worker). --threads is split into pairs; in each
// pair the producer allocates batches of objects (random sizes --min..--max,
// written), and the consumer reads and frees every object of every batch. The
// producer never frees, so its allocator must get the memory back from the
// consumer's frees or keep growing. A bounded queue (--depth batches) stops
// the producer from running arbitrarily far ahead; both sides block (futex
// wait, bench::SpscRing) rather than spin, so oversubscribed runs stay
// meaningful.
#include "common.hpp"

namespace {

/// A batch is a malloc'd array of --batch object pointers: allocated by the
/// producer, freed (with its objects) by the consumer.
using Batch = void*;

struct Pair {
  explicit Pair(std::size_t depth) : ring(depth) {}
  bench::SpscRing<Batch*> ring;
  std::uint64_t sum = 0;  // written by the consumer only
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "producer threads allocate, consumer threads free",
                           {{"threads", "2", "threads, split into producer/consumer pairs (even)"},
                            {"objects", "8M", "objects in total, over all pairs"},
                            {"batch", "256", "objects per batch handed over"},
                            {"depth", "16", "batches in flight per pair"},
                            {"min", "16", "smallest object in bytes"},
                            {"max", "1024", "largest object in bytes"}});
  const std::size_t threads = flags.size("threads");
  const std::size_t batch = flags.size("batch");
  const std::size_t depth = flags.size("depth");
  const std::size_t min = flags.size("min");
  const std::size_t max = flags.size("max");
  if (threads < 2 || threads % 2 != 0 || batch == 0 || depth == 0 || min < 8 || max < min) {
    std::fprintf(stderr, "prodcons: need an even --threads >= 2, batch, depth > 0, 8 <= min <= max\n");
    return 2;
  }
  const std::size_t pairs = threads / 2;
  const std::size_t batches = flags.size("objects") / pairs / batch;
  const bench::Stopwatch clock;

  std::vector<Pair*> links;
  for (std::size_t i = 0; i < pairs; ++i) links.push_back(new Pair(depth));

  bench::run_threads(threads, [&](std::size_t t) {
    Pair& pair = *links[t / 2];
    if (t % 2 == 0) {  // producer
      bench::Rng rng(77 + t);
      for (std::size_t b = 0; b < batches; ++b) {
        auto* out = static_cast<Batch*>(bench::xmalloc(batch * sizeof(Batch)));
        for (std::size_t i = 0; i < batch; ++i) {
          const std::size_t size = rng.range(min, max);
          out[i] = bench::xmalloc(size);
          bench::stamp(out[i], size, rng.next());
        }
        pair.ring.push(out);
      }
    } else {  // consumer
      std::uint64_t sum = 0;
      for (std::size_t b = 0; b < batches; ++b) {
        Batch* in = pair.ring.pop();
        for (std::size_t i = 0; i < batch; ++i) {
          sum += bench::read_tag(in[i]);
          std::free(in[i]);
        }
        std::free(in);
      }
      pair.sum = sum;
    }
  });

  std::uint64_t total = 0;
  for (Pair* p : links) {
    total = bench::mix(total, p->sum);
    delete p;
  }
  bench::note(flags.verbose(), "prodcons: %zu pairs x %zu batches, %.3f s\n", pairs, batches, clock.seconds());
  bench::print_checksum(total);
  return 0;
}
