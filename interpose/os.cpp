// strata runtime: Linux implementation of the OS layer.
#include "os.hpp"

#include <errno.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace strata::os {
namespace {
constinit usize g_page_size = 0;

void* map_raw(usize bytes, int prot) {
  void* p = ::mmap(nullptr, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// Maps bytes+align-page, then unmaps the misaligned head and the tail, so the
// result is aligned without wasting address space.
void* map_aligned_raw(usize bytes, usize align, int prot) {
  if (align <= page_size()) return map_raw(bytes, prot);
  usize span = 0;
  if (__builtin_add_overflow(bytes, align - page_size(), &span)) return nullptr;
  char* raw = static_cast<char*>(map_raw(span, prot));
  if (raw == nullptr) return nullptr;
  const uptr start = reinterpret_cast<uptr>(raw);
  const uptr aligned = (start + align - 1) & ~(static_cast<uptr>(align) - 1);
  const usize head = aligned - start;
  const usize tail = span - head - bytes;
  if (head != 0) ::munmap(raw, head);
  if (tail != 0) ::munmap(reinterpret_cast<char*>(aligned) + bytes, tail);
  return reinterpret_cast<void*>(aligned);
}
}  // namespace

usize page_size() {
  if (g_page_size == 0) {
    unsigned long v = ::getauxval(AT_PAGESZ);
    g_page_size = v != 0 ? static_cast<usize>(v) : 4096;
  }
  return g_page_size;
}

void* reserve_aligned(usize bytes, usize align) { return map_aligned_raw(bytes, align, PROT_NONE); }

bool commit(void* p, usize bytes) { return ::mprotect(p, bytes, PROT_READ | PROT_WRITE) == 0; }

void purge(void* p, usize bytes) {
  const int saved = errno;  // free() must preserve errno
  ::madvise(p, bytes, MADV_DONTNEED);
  errno = saved;
}

void release(void* p, usize bytes) {
  const int saved = errno;
  ::munmap(p, bytes);
  errno = saved;
}

MapResult map_fixed(void* p, usize bytes) {
  const int saved = errno;
  void* r = ::mmap(p, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                   -1, 0);
  MapResult out = MapResult::Mapped;
  if (r == MAP_FAILED) {
    out = errno == EEXIST ? MapResult::Taken : MapResult::NoMemory;
  } else if (r != p) {  // a kernel without MAP_FIXED_NOREPLACE took it as a hint
    ::munmap(r, bytes);
    out = MapResult::Taken;
  }
  errno = saved;
  return out;
}

void* map_aligned(usize bytes, usize align) { return map_aligned_raw(bytes, align, PROT_READ | PROT_WRITE); }

void write_stderr(const char* s, usize n) {
  while (n > 0) {
    ssize_t w = ::write(2, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<usize>(w);
  }
}

u64 now_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<u64>(ts.tv_sec) * 1000u + static_cast<u64>(ts.tv_nsec) / 1000000u;
}

u32 cpu_count() {
  // The raw system call fills a fixed mask; glibc's CPU_COUNT helpers would
  // be fine too, but sysconf/get_nprocs may read /proc through stdio.
  unsigned long mask[16] = {};
  const long r = ::syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
  if (r <= 0) return 1;
  u32 n = 0;
  for (usize i = 0; i < static_cast<usize>(r) / sizeof(unsigned long); ++i) n += static_cast<u32>(__builtin_popcountl(mask[i]));
  return n == 0 ? 1 : n;
}

}  // namespace strata::os
