// The stack walk from the object files (src/platform/file_unwind.hpp) against
// libgcc's _Unwind_Backtrace, which reads the same tables through the
// mappings: the same return addresses, frame for frame, through the test's
// code, libc (qsort's comparator), libstdc++ and a thread's start, up to the
// outermost frame; and, in a fresh child, not one page of libc's unwind
// tables made resident, where libgcc's walk makes some (the control).
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <link.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unwind.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "platform/file_unwind.hpp"
#include "platform/os.hpp"

namespace {

using strata::usize;
using strata::uptr;

struct Walks {
  std::vector<void*> files, libgcc;
  bool files_ok = false;
};

_Unwind_Reason_Code collect(struct _Unwind_Context* ctx, void* arg) {
  auto* v = static_cast<std::vector<void*>*>(arg);
  const uptr ip = _Unwind_GetIP(ctx);
  if (ip == 0) return _URC_END_OF_STACK;  // the file walk stops there too
  v->push_back(reinterpret_cast<void*>(ip));
  return v->size() == 256 ? _URC_END_OF_STACK : _URC_NO_REASON;
}

/// Both walks from the same frame (this function's caller is the first
/// frame both report).
__attribute__((noinline)) Walks walk_both(usize max) {
  Walks w;
  w.files.resize(max);
  usize n = 0;
  w.files_ok = strata::os::backtrace_from_files(w.files.data(), max, 0, 0, n);
  w.files.resize(n);
  _Unwind_Backtrace(collect, &w.libgcc);
  asm volatile("" ::: "memory");  // not a tail call: this frame stays on the stack
  return w;
}

/// The file walk's frames must be libgcc's, from walk_both's caller on: the
/// first frame of each is a different call site in walk_both.
void expect_same(const Walks& w, usize max) {
  ASSERT_TRUE(w.files_ok) << "the file walk gave up";
  ASSERT_GE(w.files.size(), 2u);
  ASSERT_GE(w.libgcc.size(), 2u);
  EXPECT_NE(w.files[0], w.libgcc[0]);
  const usize rest = w.libgcc.size() - 1;
  if (w.files.size() < max) {
    EXPECT_EQ(w.files.size() - 1, rest) << "the walks end at different frames";
  }
  for (usize i = 1; i < w.files.size() && i - 1 < rest; ++i) {
    EXPECT_EQ(w.files[i], w.libgcc[i]) << "frame " << i;
  }
}

__attribute__((noinline)) Walks nested(int depth, usize max) {
  if (depth == 0) return walk_both(max);
  Walks w = nested(depth - 1, max);
  asm volatile("" ::: "memory");
  return w;
}

TEST(FileUnwind, SameFramesAsLibgccInTheProgram) {
  const Walks w = nested(5, 64);
  expect_same(w, 64);
  EXPECT_GE(w.files.size(), 8u);  // nested x6, the test body, gtest's frames...
}

/// Read system calls this process made so far (/proc/self/io syscr: read,
/// pread and kin), less the ones reading it takes.
long reads_so_far() {
  FILE* f = fopen("/proc/self/io", "r");
  if (f == nullptr) return -1;
  char line[128];
  long n = -1;
  while (fgets(line, sizeof line, f) != nullptr)
    if (sscanf(line, "syscr: %ld", &n) == 1) break;
  fclose(f);
  return n;
}

/// Read system calls of one walk by backtrace_from_files alone.
template <class Walk>
long reads_of(Walk walk) {
  const long a = reads_so_far(), b = reads_so_far();  // b - a: reading the counter itself
  walk();
  const long c = reads_so_far();
  return (c - b) - (b - a);
}

__attribute__((noinline)) bool walk_files_only() {
  void* out[64];
  usize n = 0;
  const bool ok = strata::os::backtrace_from_files(out, 64, 0, 0, n);
  asm volatile("" ::: "memory");
  return ok;
}

TEST(FileUnwind, AWalkFromTheCacheIsTheSameAndReadsNothing) {
  // The second walk from the same frames decodes none of them again.
  Walks walks[2];
  for (Walks& w : walks) w = nested(7, 64);
  expect_same(walks[0], 64);
  expect_same(walks[1], 64);
  EXPECT_EQ(walks[0].files, walks[1].files);
  strata::os::forget_decoded_frames();
  bool ok[2] = {};
  long reads[2] = {};
  for (int i = 0; i < 2; ++i) reads[i] = reads_of([&] { ok[i] = walk_files_only(); });
  EXPECT_TRUE(ok[0] && ok[1]);
  EXPECT_GT(reads[0], 0) << "the first walk read no table from the files";
  EXPECT_EQ(reads[1], 0) << "the second walk read the files again";
}

/// Forks `forks` times while another thread walks from the files with an
/// empty cache (every walk opens its objects' files), bracketing each fork
/// with hold_file_walks / release_file_walks when `hold`. Returns how many
/// descriptors the children had open in all that the parent did not have
/// before the walks began (each child counts with fcntl, which a fork child
/// may call, and exits with its count).
int descriptors_forks_copied(bool hold, int forks) {
  constexpr int MAX_FD = 1024;
  std::vector<bool> before(MAX_FD);
  for (int fd = 0; fd < MAX_FD; ++fd) before[fd] = fcntl(fd, F_GETFD) != -1;
  std::atomic<bool> stop{false};
  std::atomic<long> walks{0};
  std::thread walker([&] {
    while (!stop.load()) {
      strata::os::forget_decoded_frames();  // this is the only thread that walks
      walk_files_only();
      walks.fetch_add(1);
    }
  });
  while (walks.load() < 10) std::this_thread::yield();
  int copied = 0;
  for (int i = 0; i < forks; ++i) {
    if (hold) strata::os::hold_file_walks();
    const pid_t pid = fork();
    if (pid == 0) {
      if (hold) strata::os::release_file_walks();
      int extra = 0;
      for (int fd = 0; fd < MAX_FD; ++fd) extra += fcntl(fd, F_GETFD) != -1 && !before[fd];
      _exit(extra > 100 ? 100 : extra);
    }
    if (hold) strata::os::release_file_walks();
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
      copied = -1;
      break;
    }
    copied += WEXITSTATUS(status);
  }
  stop.store(true);
  walker.join();
  return copied;
}

TEST(FileUnwind, AForkCopiesNoFileOfAWalkUnderWay) {
  // Control: without the hold, forks land in walks and copy their files.
  const int unheld = descriptors_forks_copied(false, 200);
  const int held = descriptors_forks_copied(true, 200);
  ASSERT_GE(unheld, 0) << "fork or a child failed";
  ASSERT_GE(held, 0) << "fork or a child failed";
  EXPECT_GT(unheld, 0) << "control: no fork landed in a walk, so the check proves nothing";
  EXPECT_EQ(held, 0) << "descriptors of a walk in progress reached a fork child";
  printf("descriptors copied into 200 fork children: %d without the hold, %d with it\n", unheld, held);
}

// A function that realigns its stack and also allocates on it: GCC keeps
// the incoming stack pointer in a register (DRAP) and describes the CFA with
// a DWARF expression, which the file walk does not cover.
__attribute__((noinline)) bool walk_from_realigned_frame(int n) {
  alignas(64) volatile char buffer[64];
  volatile char* more = static_cast<volatile char*>(__builtin_alloca(n));
  more[0] = 1;
  buffer[0] = 1;
  const bool ok = walk_files_only();
  asm volatile("" ::: "memory");
  return ok && buffer[0] == 1 && more[0] == 1;
}

TEST(FileUnwind, GivesUpOnExpressionRulesOnceOnly) {
  strata::os::forget_decoded_frames();
  bool ok[2] = {true, true};
  long reads[2] = {};
  for (int i = 0; i < 2; ++i) reads[i] = reads_of([&] { ok[i] = walk_from_realigned_frame(16 + i); });
  EXPECT_FALSE(ok[0]) << "a frame with expression rules was walked";
  EXPECT_FALSE(ok[1]);
  EXPECT_GT(reads[0], 0);
  EXPECT_EQ(reads[1], 0) << "the frame it gave up on was decoded again";
}

TEST(FileUnwind, StopsAtMaxFrames) {
  const Walks w = nested(40, 24);
  ASSERT_TRUE(w.files_ok);
  EXPECT_EQ(w.files.size(), 24u);
  expect_same(w, 24);
}

Walks g_from_qsort;
int compare_and_walk(const void* a, const void* b) {
  if (g_from_qsort.files.empty()) g_from_qsort = walk_both(64);
  return *static_cast<const int*>(a) - *static_cast<const int*>(b);
}

__attribute__((noinline)) void sort_some() {
  int v[64];
  for (int i = 0; i < 64; ++i) v[i] = (i * 37) % 64;
  qsort(v, 64, sizeof v[0], compare_and_walk);
}

TEST(FileUnwind, SameFramesThroughLibc) {
  g_from_qsort = Walks{};
  sort_some();
  expect_same(g_from_qsort, 64);
  // qsort's own frames are in libc.
  strata::os::LoadedObject libc{};
  ASSERT_TRUE(strata::os::find_object(reinterpret_cast<void*>(&qsort), libc));
  usize in_libc = 0;
  for (void* f : g_from_qsort.files) in_libc += reinterpret_cast<uptr>(f) - libc.lo < libc.hi - libc.lo;
  EXPECT_GE(in_libc, 1u);
}

TEST(FileUnwind, SameFramesOnAThreadUpToItsStart) {
  Walks w;
  std::thread t([&] { w = nested(3, 64); });
  t.join();
  expect_same(w, 64);
  EXPECT_LT(w.files.size(), 64u);  // ended at the thread's first frame (clone3), not at max
}

Walks* g_plugin_walks;
void plugin_callback() { *g_plugin_walks = walk_both(64); }

TEST(FileUnwind, ALibraryLoadedWhereAnotherWasUnloaded) {
  // The same address in the second plugin has other rules than in the first:
  // frames cached from the first must not serve the second.
  const char* paths[2] = {FILE_UNWIND_PLUGIN_A, FILE_UNWIND_PLUGIN_B};
  Walks walks[2];
  void* call_at[2] = {};
  for (int i = 0; i < 2; ++i) {
    void* h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr) << dlerror();
    auto call = reinterpret_cast<int (*)(void (*)())>(dlsym(h, "plugin_call"));
    ASSERT_NE(call, nullptr);
    call_at[i] = reinterpret_cast<void*>(call);
    g_plugin_walks = &walks[i];
    EXPECT_EQ(call(plugin_callback), 1);
    ASSERT_EQ(dlclose(h), 0);
  }
  expect_same(walks[0], 64);
  expect_same(walks[1], 64);
  printf("plugin_call at %p, then at %p\n", call_at[0], call_at[1]);
}

TEST(FileUnwind, AFileReplacedByAFifoIsNotWaitedFor) {
  // A loaded library whose file is replaced by a FIFO (nothing ever writes
  // to it): the walk, which runs inside malloc, must not wait in open or
  // read for a writer. In a child, which an alarm ends if it waits.
  char dir[] = "/tmp/strata-unwind-fifo.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string copy = std::string(dir) + "/plugin.so";
  {
    std::vector<char> bytes;
    FILE* in = fopen(FILE_UNWIND_PLUGIN_A, "rb");
    ASSERT_NE(in, nullptr);
    for (int c; (c = fgetc(in)) != EOF;) bytes.push_back(static_cast<char>(c));
    fclose(in);
    FILE* out = fopen(copy.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(fwrite(bytes.data(), 1, bytes.size(), out), bytes.size());
    ASSERT_EQ(fclose(out), 0);
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(20);
    void* h = dlopen(copy.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) _exit(2);
    auto call = reinterpret_cast<int (*)(void (*)())>(dlsym(h, "plugin_call"));
    if (call == nullptr || unlink(copy.c_str()) != 0 || mkfifo(copy.c_str(), 0600) != 0) _exit(3);
    strata::os::forget_decoded_frames();  // the plugin's frames are read from its path, not a cache
    Walks w;
    g_plugin_walks = &w;
    call(plugin_callback);
    // The walk gave up at the plugin's frame (its file is unreadable now) or
    // stopped there: either way it returned, and libgcc's went on past it.
    _exit(w.files.size() < w.libgcc.size() || !w.files_ok ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  unlink(copy.c_str());
  rmdir(dir);
  ASSERT_FALSE(WIFSIGNALED(status)) << "the walk waited on the FIFO (killed by signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(FileUnwind, SkipsTheInnermostFramesInTheRange) {
  // Skip this test program's own code: what is left starts outside it (libc's __libc_start_call_main).
  strata::os::LoadedObject self{};
  ASSERT_TRUE(strata::os::find_object(reinterpret_cast<void*>(&walk_both), self));
  void* out[64];
  usize n = 0;
  ASSERT_TRUE(strata::os::backtrace_from_files(out, 64, self.lo, self.hi, n));
  ASSERT_GE(n, 1u);
  EXPECT_FALSE(reinterpret_cast<uptr>(out[0]) - self.lo < self.hi - self.lo);
}

TEST(FileUnwind, NotUnderASeccompFilter) {
  EXPECT_TRUE(strata::os::file_walk_allowed());
  // A child under a filter that allows everything: /proc/self/status says
  // "Seccomp: 2", and the walk from files is not allowed there.
  const pid_t pid = fork();
  if (pid == 0) {
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {1, &allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(2);
    _exit(strata::os::file_walk_allowed() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: allowed under a filter; 2: the filter could not be installed";
}

// ---- residency ----------------------------------------------------------------------

/// Pages of [lo, hi) present in this process's page table (/proc/self/pagemap).
usize present_pages(uptr lo, uptr hi) {
  const int fd = open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) return ~usize{0};
  usize n = 0;
  for (uptr p = lo & ~uptr{4095}; p < hi; p += 4096) {
    uint64_t e = 0;
    if (pread(fd, &e, 8, static_cast<off_t>(p / 4096 * 8)) == 8 && (e >> 63) != 0) ++n;
  }
  close(fd);
  return n;
}

/// libc's read-only segment that holds its unwind tables.
bool libc_table_segment(uptr& lo, uptr& hi) {
  struct Q {
    uptr hdr, lo, hi;
  } q{0, 0, 0};
  strata::os::LoadedObject libc{};
  if (!strata::os::find_object(reinterpret_cast<void*>(&qsort), libc) || libc.eh_frame_hdr == 0) return false;
  q.hdr = libc.eh_frame_hdr;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* arg) {
        auto* found = static_cast<Q*>(arg);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          const uptr start = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && found->hdr >= start && found->hdr < start + ph.p_memsz) {
            found->lo = start;
            found->hi = start + ph.p_memsz;
            return 1;
          }
        }
        return 0;
      },
      &q);
  lo = q.lo;
  hi = q.hi;
  return lo != 0;
}

int g_walk_with_libgcc;
int compare_only_walk(const void* a, const void* b) {
  static int done;
  if (!done) {
    done = 1;
    void* out[64];
    usize n = 0;
    if (g_walk_with_libgcc) {
      std::vector<void*> v;
      _Unwind_Backtrace(collect, &v);
    } else if (!strata::os::backtrace_from_files(out, 64, 0, 0, n)) {
      _exit(3);
    }
  }
  return *static_cast<const int*>(a) - *static_cast<const int*>(b);
}

/// In a fresh child (fork copies no page-table entries of unwritten file
/// mappings): the pages of libc's table segment made present by one walk
/// through qsort.
long pages_made_present(bool libgcc) {
  uptr lo = 0, hi = 0;
  if (!libc_table_segment(lo, hi)) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    g_walk_with_libgcc = libgcc;
    strata::os::forget_decoded_frames();  // every frame from the files
    const usize before = present_pages(lo, hi);
    int v[16];
    for (int i = 0; i < 16; ++i) v[i] = 16 - i;
    qsort(v, 16, sizeof v[0], compare_only_walk);
    const usize after = present_pages(lo, hi);
    _exit(after >= before ? static_cast<int>(after - before > 100 ? 100 : after - before) : 101);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -2;
  return WEXITSTATUS(status);
}

TEST(FileUnwind, MakesNoPageOfTheTablesResident) {
  const long files = pages_made_present(false);
  const long libgcc = pages_made_present(true);
  ASSERT_GE(files, 0) << "the child failed (3: the file walk gave up)";
  ASSERT_GE(libgcc, 0);
  EXPECT_EQ(files, 0) << "pages of libc's unwind tables made present by the file walk";
  EXPECT_GT(libgcc, 0) << "control: libgcc's walk made none present, so the check proves nothing";
  printf("pages of libc's table segment made present by one walk: %ld from files, %ld by libgcc\n", files, libgcc);
}

}  // namespace
