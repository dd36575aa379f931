// strata platform: Linux implementation of the OS contract.
#include "platform/os.hpp"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

// glibc's lock of the list of all FILEs (public since GLIBC_2.2.5, recursive).
extern "C" void _IO_list_lock(void);
extern "C" void _IO_list_unlock(void);
extern "C" void _IO_list_resetlock(void);

namespace strata::os {
namespace {
/// The page size, read once from the auxiliary vector (an immutable fact of
/// the process, cached: the one mutable global of the platform layer).
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

void stdio_list_lock() { _IO_list_lock(); }
void stdio_list_unlock() { _IO_list_unlock(); }
void stdio_list_reset_in_child() { _IO_list_resetlock(); }

int disable_cancel() {
  int old = 0;
  ::pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  return old;
}
void restore_cancel(int state) { ::pthread_setcancelstate(state, nullptr); }

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

MoveResult move_pages(void* from, usize bytes, void* to, usize to_bytes) {
  const int saved = errno;
  void* r = ::mremap(from, bytes, to_bytes, MREMAP_MAYMOVE | MREMAP_FIXED, to);
  MoveResult out = MoveResult::Moved;
  if (r == MAP_FAILED) out = errno == EFAULT || errno == EINVAL ? MoveResult::Refused : MoveResult::Failed;
  errno = saved;
  return out;
}

void* map_aligned(usize bytes, usize align) { return map_aligned_raw(bytes, align, PROT_READ | PROT_WRITE); }

void advise_huge_pages(void* p, usize bytes, HugePageAdvice advice) {
  const int saved = errno;
  ::madvise(p, bytes, advice == HugePageAdvice::Want ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  errno = saved;
}

usize huge_page_size() { return page_size() * (page_size() / sizeof(void*)); }

int open_read(const char* path) {
  const int saved = errno;
  long fd = -1;
  do {
    // O_NONBLOCK: a path that now names a FIFO (a library's file replaced
    // while the process runs) would otherwise block the open, inside malloc,
    // until some writer opened it; a read then finds it empty. Regular files
    // and /proc and /sys files read as they would without it.
    fd = ::syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  errno = saved;
  return fd < 0 ? -1 : static_cast<int>(fd);
}

isize read_fd(int fd, void* buf, usize n) {
  const int saved = errno;
  long r = -1;
  do {
    r = ::syscall(SYS_read, fd, buf, n);
  } while (r < 0 && errno == EINTR);
  errno = saved;
  return r < 0 ? -1 : static_cast<isize>(r);
}

void close_fd(int fd) {
  const int saved = errno;
  ::syscall(SYS_close, fd);
  errno = saved;
}

isize read_at(int fd, void* buf, usize n, u64 offset) {
  const int saved = errno;
  long r = -1;
  do {
    r = ::syscall(SYS_pread64, fd, buf, n, static_cast<long>(offset));
  } while (r < 0 && errno == EINTR);
  errno = saved;
  return r < 0 ? -1 : static_cast<isize>(r);
}

bool find_object(const void* addr, LoadedObject& out) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  struct dl_find_object f;
  if (::_dl_find_object(const_cast<void*>(addr), &f) != 0 || f.dlfo_link_map == nullptr) return false;
  out.lo = reinterpret_cast<uptr>(f.dlfo_map_start);
  out.hi = reinterpret_cast<uptr>(f.dlfo_map_end);
  out.bias = static_cast<uptr>(f.dlfo_link_map->l_addr);
  out.eh_frame_hdr = reinterpret_cast<uptr>(f.dlfo_eh_frame);
  out.path = f.dlfo_link_map->l_name != nullptr ? f.dlfo_link_map->l_name : "";
  return true;
#else
  (void)addr;
  (void)out;
  return false;
#endif
}

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

usize resident_bytes(const void* p, usize bytes) {
  const usize page = page_size();
  unsigned char vec[(usize{4} << 20) / 4096];
  const usize pages = bytes / page;
  if (pages > sizeof vec || ::mincore(const_cast<void*>(p), bytes, vec) != 0) return 0;
  usize n = 0;
  for (usize i = 0; i < pages; ++i) n += vec[i] & 1u;
  return n * page;
}

u64 random_u64() {
  // 16 random bytes the kernel gives every process (no syscall, no allocation).
  u64 s = 0;
  if (const void* r = reinterpret_cast<const void*>(::getauxval(AT_RANDOM))) {
    u64 w[2];
    __builtin_memcpy(w, r, sizeof w);  // the kernel's bytes need not be 8-aligned
    s = w[0] ^ (w[1] << 1);
  }
  s ^= reinterpret_cast<uptr>(&s) * 0x9e3779b97f4a7c15ull;
  return s == 0 ? 0x5bd1e9955bd1e995ull : s;
}

const char* env(const char* name) { return ::getenv(name); }

void yield() { ::sched_yield(); }

void sleep_ms(u64 ms) {
  struct timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
  ::nanosleep(&ts, nullptr);
}

static_assert(sizeof(pthread_key_t) == sizeof(u32), "thread keys fit a u32");

bool create_thread_key(u32& key, void (*destructor)(void*)) {
  pthread_key_t k;
  if (::pthread_key_create(&k, destructor) != 0) return false;
  key = static_cast<u32>(k);
  return true;
}

void set_thread_key(u32 key, void* value) { ::pthread_setspecific(static_cast<pthread_key_t>(key), value); }

void at_fork(void (*prepare)(), void (*parent)(), void (*child)()) { ::pthread_atfork(prepare, parent, child); }

void at_exit(void (*fn)()) { ::atexit(fn); }

namespace {
void* daemon_main(void* body) {
  sigset_t all;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
  reinterpret_cast<void (*)()>(body)();
  return nullptr;
}
}  // namespace

bool start_daemon_thread(void (*body)()) {
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  ::pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  const bool ok = ::pthread_create(&t, &attr, daemon_main, reinterpret_cast<void*>(body)) == 0;
  ::pthread_attr_destroy(&attr);
  return ok;
}

void abort_process() { ::abort(); }

int open_for_write(const char* path) {
  const int saved = errno;
  int fd = -1;
  do {
    fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  errno = saved;
  return fd;
}

bool write_all(int fd, const void* buf, usize n) {
  const int saved = errno;
  const char* s = static_cast<const char*>(buf);
  bool ok = true;
  while (n > 0) {
    const ssize_t w = ::write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      ok = false;
      break;
    }
    s += w;
    n -= static_cast<usize>(w);
  }
  errno = saved;
  return ok;
}


bool protect(void* p, usize bytes, bool accessible) {
  const int saved = errno;
  const int r = ::mprotect(p, bytes, accessible ? PROT_READ | PROT_WRITE : PROT_NONE);
  errno = saved;
  return r == 0;
}

u32 thread_id() { return static_cast<u32>(::syscall(SYS_gettid)); }

static_assert(sizeof(struct sigaction) <= sizeof(SavedAction::bytes));

bool install_fault_handler(FaultHandler h, SavedAction* old) {
  struct sigaction sa {};
  sa.sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(h);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  const int saved = errno;
  const int r = ::sigaction(SIGSEGV, &sa, reinterpret_cast<struct sigaction*>(old->bytes));
  errno = saved;
  return r == 0;
}

const void* fault_pc(const void* context) {
  const auto* uc = static_cast<const ucontext_t*>(context);
#if defined(__x86_64__)
  return reinterpret_cast<const void*>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return reinterpret_cast<const void*>(uc->uc_mcontext.pc);
#else
  (void)uc;
  return nullptr;
#endif
}

const void* fault_address(const void* info) { return static_cast<const siginfo_t*>(info)->si_addr; }

void restore_fault_handler(const SavedAction& old) {
  const int saved = errno;
  ::sigaction(SIGSEGV, reinterpret_cast<const struct sigaction*>(old.bytes), nullptr);
  errno = saved;
}

void chain_fault(int sig, void* info, void* context, const SavedAction& old) {
  const auto* sa = reinterpret_cast<const struct sigaction*>(old.bytes);
  if ((sa->sa_flags & SA_SIGINFO) != 0) {
    if (sa->sa_sigaction != nullptr) return sa->sa_sigaction(sig, static_cast<siginfo_t*>(info), context);
  } else if (sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN) {
    return sa->sa_handler(sig);
  }
  restore_fault_handler(old);  // default (or ignored, which the kernel overrides for a fault): re-executes and dies
}

u32 process_id() { return static_cast<u32>(::getpid()); }

namespace {
struct UnwindState {
  void** out;
  usize max;
  usize n;
  uptr skip_lo, skip_hi;
  bool skipping;
};

_Unwind_Reason_Code unwind_step(struct _Unwind_Context* ctx, void* arg) {
  auto& s = *static_cast<UnwindState*>(arg);
  const uptr ip = static_cast<uptr>(_Unwind_GetIP(ctx));
  if (ip == 0) return _URC_END_OF_STACK;
  if (s.skipping && ip - s.skip_lo < s.skip_hi - s.skip_lo) return _URC_NO_REASON;
  s.skipping = false;
  s.out[s.n++] = reinterpret_cast<void*>(ip);
  return s.n == s.max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

struct RangeQuery {
  uptr addr;
  uptr lo, hi;
  bool found, main_program;
};

int range_step(struct dl_phdr_info* info, size_t, void* arg) {
  auto& q = *static_cast<RangeQuery*>(arg);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const uptr lo = info->dlpi_addr + ph.p_vaddr;
    const uptr hi = lo + ph.p_memsz;
    if (q.addr >= lo && q.addr < hi) {
      q.lo = lo;
      q.hi = hi;
      q.found = true;
      q.main_program = info->dlpi_name == nullptr || info->dlpi_name[0] == 0;
      return 1;
    }
  }
  return 0;
}
}  // namespace

FastBacktrace load_fast_backtrace() {
#if defined(__SANITIZE_THREAD__)
  // libunwind is not instrumented, and its thread-exit destructor (the trace
  // cache's) locks a mutex after ThreadSanitizer has torn the thread's state
  // down: a crash inside the sanitizer. libgcc's walker serves there.
  return nullptr;
#elif defined(__x86_64__) || defined(__aarch64__)
#if defined(__x86_64__)
#define STRATA_UNW_PREFIX "_ULx86_64_"
#else
#define STRATA_UNW_PREFIX "_ULaarch64_"
#endif
  void* lib = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return nullptr;
  auto fast = reinterpret_cast<FastBacktrace>(::dlsym(lib, "unw_backtrace"));
  using SetPolicy = int (*)(void*, int);
  auto set_policy = reinterpret_cast<SetPolicy>(::dlsym(lib, STRATA_UNW_PREFIX "set_caching_policy"));
  auto* space = static_cast<void**>(::dlsym(lib, STRATA_UNW_PREFIX "local_addr_space"));
#undef STRATA_UNW_PREFIX
  // UNW_CACHE_PER_THREAD (2): no lock shared between threads, so no thread
  // waits for another's walk (and a fork never finds one held).
  if (fast == nullptr || set_policy == nullptr || space == nullptr || set_policy(*space, 2) != 0) return nullptr;
  return fast;
#else
  return nullptr;
#endif
}

usize backtrace(void** out, usize max, uptr skip_lo, uptr skip_hi, FastBacktrace fast) {
  if (max == 0) return 0;
  const int saved = errno;
  usize n = 0;
  if (fast != nullptr) {
    // unw_backtrace fills from its caller outwards; the allocator's frames
    // are dropped here. A few more than max are asked for, to make room for them.
    void* buf[256];
    const usize want = max + 16 < 256 ? max + 16 : 256;
    const int got = fast(buf, static_cast<int>(want));
    usize i = 0;
    while (i < static_cast<usize>(got > 0 ? got : 0) && reinterpret_cast<uptr>(buf[i]) - skip_lo < skip_hi - skip_lo) ++i;
    for (; i < static_cast<usize>(got) && n < max; ++i) out[n++] = buf[i];
  } else {
    UnwindState s{out, max, 0, skip_lo, skip_hi, skip_hi > skip_lo};
    _Unwind_Backtrace(unwind_step, &s);
    n = s.n;
  }
  errno = saved;
  return n;
}

bool code_range_of(const void* addr, uptr& lo, uptr& hi) {
  RangeQuery q{reinterpret_cast<uptr>(addr), 0, 0, false, false};
  ::dl_iterate_phdr(range_step, &q);
  if (!q.found || q.main_program) return false;
  lo = q.lo;
  hi = q.hi;
  return true;
}

const char* symbol_of(const void* addr, uptr& offset, const char*& object) {
  Dl_info info{};
  offset = 0;
  object = nullptr;
  if (::dladdr(addr, &info) == 0) return nullptr;
  object = info.dli_fname;
  if (info.dli_sname == nullptr) {  // no symbol: the offset in the object (for addr2line)
    offset = reinterpret_cast<uptr>(addr) - reinterpret_cast<uptr>(info.dli_fbase);
    return nullptr;
  }
  offset = reinterpret_cast<uptr>(addr) - reinterpret_cast<uptr>(info.dli_saddr);
  return info.dli_sname;
}

}  // namespace strata::os
