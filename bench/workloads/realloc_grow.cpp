// Workload "realloc_grow": buffers growing by realloc into the megabytes.
//
// Measures: realloc of medium and large blocks, the pattern of a vector or
// string builder, a log buffer or a decompressor's output. --buffers buffers
// grow in turn, each by a factor of 1.25..2 per step (like std::vector or
// CPython's list over-allocation), from 64 bytes to a random final size up to
// --max; then the buffer is freed and a new one starts. Growing several
// buffers in turn, with a small allocation between steps, means the space
// after a block is often taken, so in-place growth, mremap and the cost of
// copying all show. The new tail is written one word per page, so every page
// is committed as a real program would commit it.
#include <algorithm>

#include "common.hpp"

namespace {

struct Buffer {
  void* p = nullptr;
  std::size_t size = 0;
  std::size_t target = 0;
  std::uint64_t tag = 0;
};

/// Writes one word per page over [from, to) of the buffer.
void fill_tail(Buffer& b, std::size_t from) {
  auto* bytes = static_cast<unsigned char*>(b.p);
  for (std::size_t off = from; off + sizeof b.tag <= b.size; off += bench::PAGE)
    std::memcpy(bytes + off, &b.tag, sizeof b.tag);
  std::memcpy(bytes + b.size - sizeof b.tag, &b.tag, sizeof b.tag);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv, "buffers growing by realloc up to --max bytes",
                           {{"buffers", "4", "buffers growing in turn"},
                            {"grown", "80", "buffers grown to their final size, in total"},
                            {"max", "32M", "largest final size in bytes"},
                            {"min", "256K", "smallest final size in bytes"}});
  const std::size_t nbuf = flags.size("buffers");
  const std::size_t grown = flags.size("grown");
  const std::size_t max = flags.size("max");
  const std::size_t min = flags.size("min");
  if (nbuf == 0 || min < 64 || max < min) {
    std::fprintf(stderr, "realloc_grow: --buffers > 0 and 64 <= min <= max\n");
    return 2;
  }
  const bench::Stopwatch clock;
  bench::Rng rng(2718);
  std::vector<Buffer> bufs(nbuf);
  std::vector<void*> litter(64, nullptr);  // small blocks allocated between growth steps
  std::uint64_t sum = 0;
  std::size_t finished = 0, step = 0;

  while (finished < grown) {
    Buffer& b = bufs[step % nbuf];
    if (b.p == nullptr) {  // start a new buffer
      b.size = 64;
      b.target = rng.range(min, max);
      b.tag = rng.next();
      b.p = bench::xmalloc(b.size);
      fill_tail(b, 0);
    } else if (b.size >= b.target) {  // done: check the copy survived, free
      sum = bench::mix(sum, bench::read_tag(b.p) ^ b.size);
      std::free(b.p);
      b.p = nullptr;
      ++finished;
    } else {
      const std::size_t old = b.size;
      b.size = std::min(b.target, old + old * rng.range(1, 4) / 4);
      b.p = bench::xrealloc(b.p, b.size);
      if (bench::read_tag(b.p) != b.tag) {
        std::fprintf(stderr, "realloc_grow: realloc lost the buffer's contents\n");
        return 1;
      }
      fill_tail(b, old);
    }
    // A small allocation between steps, living for a while.
    void*& l = litter[rng.below(litter.size())];
    std::free(l);
    l = bench::xmalloc(rng.range(16, 256));
    std::memset(l, 1, 16);
    ++step;
  }
  for (auto& b : bufs) std::free(b.p);
  for (void* l : litter) std::free(l);
  bench::note(flags.verbose(), "realloc_grow: %zu steps, %.3f s\n", step, clock.seconds());
  bench::print_checksum(sum);
  return 0;
}
