// Known allocation sites for the heap-profiler tests (tests/prof/prof_check.py),
// run under LD_PRELOAD=libstrata.so with STRATA_CONF=prof:true,...
//
// Built -O2 without frame pointers (-fomit-frame-pointer, as Debian builds
// its programs): stacks must come from the unwind tables. The sites are
// extern "C" and noinline, and never call malloc in tail position (a tail
// call would drop their frame: SAMPLING.md's pitfall).
//
//   prof_sites accuracy <out-prefix>   4 threads; site_a, site_b, site_c hold
//        60%, 30%, 10% of 6 GiB (virtual: only block heads are touched), sizes
//        16 B..1 MiB. Writes <out>.truth (site bytes), dumps <out>.1.heap at
//        that point; then frees site_c's blocks, site_a allocates 1 GiB more,
//        dumps <out>.2.heap (growth for a --base diff) and appends the
//        changes to the truth file.
//   prof_sites leak                    leaves leak_site's blocks live at exit.
//   prof_sites churn <MiB>             allocates and frees <MiB> MiB in 64 KiB
//        blocks while the heap grows (interval and gdump dumps).
//   prof_sites stacks <out>            4096 blocks of 64 bytes, each from its own
//        stack (12 calls through stack_left or stack_right by the bits of its
//        index), then dumps <out>: a profile of thousands of stacks.
#include <dlfcn.h>
#include <pthread.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
void* (*volatile malloc_fn)(size_t) = malloc;
void (*volatile free_fn)(void*) = free;

void touch(void* p, size_t n) {
  if (p == nullptr) {
    std::fprintf(stderr, "prof_sites: out of memory\n");
    std::exit(1);
  }
  std::memset(p, 0x5a, n < 64 ? n : 64);  // the head only: RSS stays small
}

/// xorshift: the sizes are the same every run (the truth is computed, not read).
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  /// log-uniform in [lo, hi]
  size_t log_uniform(size_t lo, size_t hi) {
    const double u = static_cast<double>(next() >> 11) / 9007199254740992.0;
    return static_cast<size_t>(static_cast<double>(lo) * __builtin_pow(static_cast<double>(hi) / lo, u));
  }
};
}  // namespace

// Four identical sites: distinct functions, so each has its own stacks.
#define PROF_SITE(name)                                       \
  extern "C" __attribute__((noinline)) void name(size_t n, void** slot) { \
    void* p = malloc_fn(n);                                   \
    touch(p, n);                                              \
    *slot = p;                                                \
  }
PROF_SITE(site_a)
PROF_SITE(site_b)
PROF_SITE(site_c)
PROF_SITE(leak_site)

namespace {
using Site = void (*)(size_t, void**);
constexpr int THREADS = 4;
constexpr uint64_t TOTAL = uint64_t{6} << 30;  // bytes over the three sites

/// One thread's share of one site: 1% of its bytes in blocks of 16 B..4 KiB,
/// the rest in blocks of 4 KiB..1 MiB (log-uniform sizes).
struct Share {
  Site site;
  uint64_t bytes;  // target
  uint64_t got = 0;
  std::vector<void*> blocks;
};

struct Worker {
  pthread_t th;
  int id;
  Share shares[3];
};

void* run(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  Rng rng{0x9e3779b97f4a7c15ull * static_cast<uint64_t>(w->id + 1)};
  // Interleave the sites so no site owns a phase of the run.
  for (bool more = true; more;) {
    more = false;
    for (Share& s : w->shares) {
      if (s.got >= s.bytes) continue;
      more = true;
      const bool small = rng.next() % 100 < 72;  // ~1% of the bytes (mean sizes 736 B vs 188 KiB)
      size_t n = small ? rng.log_uniform(16, 4096) : rng.log_uniform(4096, 1 << 20);
      if (s.got + n > s.bytes) n = static_cast<size_t>(s.bytes - s.got) < 16 ? 16 : static_cast<size_t>(s.bytes - s.got);
      s.blocks.push_back(nullptr);
      s.site(n, &s.blocks.back());
      s.got += n;
    }
  }
  return nullptr;
}

int dump(const std::string& path) {
  using Ctl = int (*)(const char*, void*, size_t*, void*, size_t);
  auto ctl = reinterpret_cast<Ctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (ctl == nullptr) {
    std::fprintf(stderr, "prof_sites: no mallctl (not running on strata?)\n");
    return 1;
  }
  const char* p = path.c_str();
  const int r = ctl("prof.dump", nullptr, nullptr, &p, sizeof p);
  if (r != 0) std::fprintf(stderr, "prof_sites: prof.dump(%s) = %d\n", p, r);
  return r;
}

int accuracy(const std::string& out) {
  static Worker workers[THREADS];
  const Site sites[3] = {site_a, site_b, site_c};
  const uint64_t pct[3] = {60, 30, 10};
  for (int t = 0; t < THREADS; ++t) {
    workers[t].id = t;
    for (int s = 0; s < 3; ++s) {
      workers[t].shares[s].site = sites[s];
      workers[t].shares[s].bytes = TOTAL * pct[s] / 100 / THREADS;
    }
    pthread_create(&workers[t].th, nullptr, run, &workers[t]);
  }
  for (Worker& w : workers) pthread_join(w.th, nullptr);
  uint64_t truth[3] = {};
  for (Worker& w : workers)
    for (int s = 0; s < 3; ++s) truth[s] += w.shares[s].got;
  if (dump(out + ".1.heap") != 0) return 1;
  FILE* f = std::fopen((out + ".truth").c_str(), "w");
  std::fprintf(f, "site_a %llu\nsite_b %llu\nsite_c %llu\n", (unsigned long long)truth[0],
               (unsigned long long)truth[1], (unsigned long long)truth[2]);
  // Growth: site_c's blocks go, site_a takes 1 GiB more.
  for (Worker& w : workers)
    for (void* p : w.shares[2].blocks) free_fn(p);
  Rng rng{42};
  std::vector<void*> more;
  uint64_t grown = 0;
  while (grown < (uint64_t{1} << 30)) {
    const size_t n = rng.log_uniform(4096, 1 << 20);
    more.push_back(nullptr);
    site_a(n, &more.back());
    grown += n;
  }
  if (dump(out + ".2.heap") != 0) return 1;
  std::fprintf(f, "growth_site_a %llu\ngrowth_site_c -%llu\n", (unsigned long long)grown,
               (unsigned long long)truth[2]);
  std::fclose(f);
  return 0;
}

int leak() {
  static void* keep[400];
  for (int i = 0; i < 400; ++i) leak_site(i % 2 == 0 ? 65536 : 48, &keep[i]);
  void* gone[100];
  for (int i = 0; i < 100; ++i) site_b(65536, &gone[i]);
  for (void* p : gone) free_fn(p);
  std::printf("leaked %d blocks\n", 400);
  return 0;
}

extern "C" void* stack_left(unsigned depth, unsigned bits);
extern "C" void* stack_right(unsigned depth, unsigned bits);
/// One step of a path: the next bit picks the function of the next frame.
void* stack_step(unsigned depth, unsigned bits) {
  if (depth == 0) return malloc_fn(64);
  return (bits & 1) != 0 ? stack_right(depth - 1, bits >> 1) : stack_left(depth - 1, bits >> 1);
}
}  // namespace
// Work after the call keeps each frame (no tail call).
extern "C" __attribute__((noinline)) void* stack_left(unsigned depth, unsigned bits) {
  void* p = stack_step(depth, bits);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
extern "C" __attribute__((noinline)) void* stack_right(unsigned depth, unsigned bits) {
  void* p = stack_step(depth, bits);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
namespace {

int stacks(const std::string& out) {
  constexpr unsigned DEPTH = 12;
  std::vector<void*> held;
  for (unsigned i = 0; i < (1u << DEPTH); ++i) held.push_back(stack_left(DEPTH, i));
  const int r = dump(out);
  for (void* p : held) free_fn(p);
  return r;
}

int churn(uint64_t mib) {
  std::vector<void*> held;
  for (uint64_t i = 0; i < mib * 16; ++i) {
    held.push_back(nullptr);
    site_c(64 << 10, &held.back());
    if (i % 4 == 3) {  // a quarter goes again: the heap grows while it churns
      free_fn(held[held.size() / 2]);
      held[held.size() / 2] = held.back();
      held.pop_back();
    }
  }
  for (void* p : held) free_fn(p);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "accuracy" && argc == 3) return accuracy(argv[2]);
  if (mode == "leak") return leak();
  if (mode == "churn" && argc == 3) return churn(std::strtoull(argv[2], nullptr, 10));
  if (mode == "stacks" && argc == 3) return stacks(argv[2]);
  std::fprintf(stderr, "usage: prof_sites accuracy OUT | leak | churn MIB | stacks OUT\n");
  return 2;
}
