// governance: strata's memory limits, cgroup awareness and THP advice, under
// LD_PRELOAD=libstrata.so (ctest label `governance`; governance_test.sh sets
// up the environment of each case: STRATA_CONF, fake or real cgroups).
//
//   hard <small|medium|huge>  (mem_limit:64M) malloc, operator new and
//        new(nothrow) of 4 KiB / 256 KiB / 8 MiB blocks until the first
//        failure: ENOMEM (bad_alloc; null), with strata's mapped bytes at the
//        limit within the segments of one request; the earlier blocks intact;
//        everything freed, as many blocks again; limit.hard_hits counted.
//   hard realloc  one block grown by realloc until it fails: ENOMEM, the block
//        intact and still the caller's.
//   hard ctl     (no option) limit.hard written at run time: refused below
//        16 MiB (EINVAL), obeyed at 32 MiB, removed with 0.
//   churn <phase MiB> <rounds> [bound MiB]  a live set of 16 MiB, then rounds
//        that each allocate, touch and free 4 x <phase> MiB: <phase> MiB of
//        256-byte blocks, of 4 KiB blocks from a second thread (another
//        arena), of 64 KiB blocks (medium) and of ~4 MiB blocks (huge). Prints
//        the peak RSS (VmHWM less the RSS at start) and the time; with a
//        bound, checks that the peak stays within it and that the soft limit
//        forced purge passes (governance_test.sh passes the soft limit plus
//        the peak live set plus a slack, or a cgroup's memory.max).
//   soft_realloc  (mem_limit_soft:64M) a huge block grown by realloc past
//        the soft limit while the huge cache holds freed runs: its pages
//        move (stats.huge_moves), and that realloc itself starts the soft
//        pass that brings strata back under the limit.
//   limits <hard> <hard_src> <soft> <soft_src> <cgroup_version> <cgroup_max> <cgroup_high>
//        the limit.* figures must be these (bytes; "-" skips one).
//   reread <file> <bytes> <soft>  writes <bytes> into the fake cgroup file,
//        mallctl limit.cgroup.reread, the soft limit must then be <soft>.
//   thp <always|never|default>  64 MiB of 1 KiB blocks, touched: strata's
//        mappings carry the advice (smaps VmFlags hg / nh / neither) and, when
//        the system's THP mode allows, AnonHugePages > 0 with always and 0
//        with never; with always (and purge_delay_ms:0) the timed purge gives
//        back a wholly free huge page but splits none that still holds live
//        blocks, and malloc_trim(0) gives those back too.
#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <new>
#include <vector>

#include "preload_check.h"

namespace {

using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);
MallctlFn g_ctl;

constexpr size_t MiB = size_t{1} << 20;
constexpr size_t SEGMENT = 4 * MiB;

template <class T>
T ctl_get(const char* name) {
  T v{};
  size_t len = sizeof v;
  const int r = g_ctl(name, &v, &len, nullptr, 0);
  ST_CHECKF(r == 0, "mallctl(%s) = %d", name, r);
  return v;
}

size_t stat(const char* name) {
  uint64_t e = 1;
  size_t el = sizeof e;
  ST_CHECK(g_ctl("epoch", &e, &el, &e, sizeof e) == 0);
  return ctl_get<size_t>(name);
}

int ctl_set_size(const char* name, size_t v) { return g_ctl(name, nullptr, nullptr, &v, sizeof v); }

size_t parse_size(const char* s) { return (size_t)strtoull(s, nullptr, 10); }

/// Peak and current RSS of the process in KiB (VmHWM, VmRSS).
size_t status_kib(const char* key) {
  FILE* f = fopen("/proc/self/status", "r");
  ST_CHECK(f != nullptr);
  char line[256];
  size_t v = 0;
  const size_t klen = strlen(key);
  while (fgets(line, sizeof line, f) != nullptr)
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') v = strtoull(line + klen + 1, nullptr, 10);
  fclose(f);
  return v;
}

// ---- hard limit ------------------------------------------------------------

struct Entry {
  const char* name;
  int kind;  // 0 malloc, 1 operator new, 2 new(nothrow)
};
const Entry ENTRIES[] = {{"malloc", 0}, {"operator new", 1}, {"new(nothrow)", 2}};

void* try_alloc(const Entry& e, size_t n) {
  errno = 0;
  if (e.kind == 1) {
    try {
      return st_launder(::operator new(n));
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
  }
  void* p = st_launder(e.kind == 0 ? malloc(n) : ::operator new(n, std::nothrow));
  if (p == nullptr && e.kind == 0) ST_CHECKF(errno == ENOMEM, "%s(%zu): errno %d, want ENOMEM", e.name, n, errno);
  return p;
}

void release(const Entry& e, void* p) {
  if (e.kind == 0) free(p);
  else ::operator delete(p);
}

/// Segments one block of n bytes needs at most (huge: with its header).
size_t segments_for(size_t n) { return n > MiB ? (n + 64 + SEGMENT - 1) / SEGMENT : 1; }

std::vector<void*> exhaust(const Entry& e, size_t n, size_t limit, size_t& mapped_at_failure) {
  std::vector<void*> got;
  for (;;) {
    void* p = try_alloc(e, n);
    if (p == nullptr) break;
    memset(p, 0x11, 64);
    got.push_back(p);
    ST_CHECKF(got.size() * n < 4 * limit, "%s(%zu) never fails under mem_limit", e.name, n);
  }
  mapped_at_failure = stat("stats.mapped");
  return got;
}

int hard(const char* what) {
  const size_t limit = ctl_get<size_t>("limit.hard");
  ST_CHECKF(limit == 64 * MiB, "limit.hard = %zu, want 64 MiB (mem_limit:64M)", limit);
  ST_CHECK(strcmp(ctl_get<const char*>("limit.hard_source"), "option") == 0);
  if (strcmp(what, "realloc") == 0) {
    size_t n = MiB;
    char* p = (char*)malloc(n);
    ST_CHECK(p != nullptr);
    st_fill(p, n, 7);
    for (;;) {
      errno = 0;
      char* q = (char*)realloc(p, n + 4 * MiB);
      if (q == nullptr) {
        ST_CHECKF(errno == ENOMEM, "failed realloc: errno %d", errno);
        break;
      }
      p = q;
      st_fill_from(p, n, n + 4 * MiB, 7);
      n += 4 * MiB;
      ST_CHECKF(n < 2 * limit, "realloc never fails under mem_limit");
    }
    ST_CHECKF(st_verify(p, n, 7) == (size_t)-1, "the block did not survive the failed realloc");
    ST_CHECK(malloc_usable_size(p) >= n);
    const size_t mapped = stat("stats.mapped");
    ST_CHECKF(mapped <= limit, "mapped %zu MiB above the limit", mapped / MiB);
    printf("hard realloc: grew to %zu MiB, then ENOMEM with the block intact (mapped %zu MiB of %zu)\n", n / MiB,
           mapped / MiB, limit / MiB);
    free(p);
    p = (char*)malloc(n + 4 * MiB);  // fits once the old block is gone
    ST_CHECKF(p != nullptr, "no %zu MiB block after freeing", (n + 4 * MiB) / MiB);
    free(p);
    printf("hard realloc: PASS\n");
    return 0;
  }
  const size_t n = strcmp(what, "small") == 0 ? 4096 : strcmp(what, "medium") == 0 ? 256 * 1024 : 8 * MiB;
  ST_CHECKF(n != 8 * MiB || strcmp(what, "huge") == 0, "unknown case %s", what);
  void* witness = malloc(100);
  st_fill(witness, 100, 3);
  const uint64_t hits0 = ctl_get<uint64_t>("limit.hard_hits");
  for (const Entry& e : ENTRIES) {
    size_t mapped = 0;
    std::vector<void*> first = exhaust(e, n, limit, mapped);
    // At the limit within one request: the next request's segments did not fit.
    ST_CHECKF(mapped <= limit, "%s: mapped %zu MiB, above the %zu MiB limit", e.name, mapped / MiB, limit / MiB);
    ST_CHECKF(limit - mapped < segments_for(n) * SEGMENT, "%s: failed with %zu MiB mapped, %zu MiB below the limit",
              e.name, mapped / MiB, (limit - mapped) / MiB);
    ST_CHECKF(first.size() * n >= limit / 2, "%s: only %zu blocks before the limit", e.name, first.size());
    ST_CHECK(st_verify(witness, 100, 3) == (size_t)-1);
    for (void* p : first) release(e, p);
    size_t again_mapped = 0;
    std::vector<void*> again = exhaust(e, n, limit, again_mapped);
    ST_CHECKF(again.size() * 4 >= first.size() * 3, "%s: %zu blocks before freeing, %zu after", e.name, first.size(),
              again.size());
    for (void* p : again) release(e, p);
    printf("hard %s: %-12s %8zu B: %5zu blocks (%3zu MiB) then failure with %zu MiB mapped of %zu; %5zu again\n", what,
           e.name, n, first.size(), first.size() * n / MiB, mapped / MiB, limit / MiB, again.size());
  }
  const uint64_t hits = ctl_get<uint64_t>("limit.hard_hits") - hits0;
  const uint64_t failures = ctl_get<uint64_t>("limit.hard_failures");
  ST_CHECKF(hits >= 6 && failures >= 6, "limit.hard_hits %llu, limit.hard_failures %llu: want >= 6 each",
            (unsigned long long)hits, (unsigned long long)failures);
  void* p = malloc(n);  // still working
  ST_CHECK(p != nullptr);
  free(p);
  free(witness);
  printf("hard %s: PASS (%llu hits, %llu MiB reclaimed)\n", what, (unsigned long long)hits,
         (unsigned long long)(ctl_get<uint64_t>("limit.reclaimed") / MiB));
  return 0;
}

int hard_ctl() {
  ST_CHECK(ctl_get<size_t>("limit.hard") == 0);
  ST_CHECKF(ctl_set_size("limit.hard", MiB) == EINVAL, "a 1 MiB hard limit must be refused");
  ST_CHECK(ctl_get<size_t>("limit.hard") == 0);
  ST_CHECK(ctl_set_size("limit.hard", 32 * MiB) == 0);
  ST_CHECK(ctl_get<size_t>("limit.hard") == 32 * MiB);
  ST_CHECK(strcmp(ctl_get<const char*>("limit.hard_source"), "mallctl") == 0);
  size_t mapped = 0;
  std::vector<void*> got = exhaust(ENTRIES[0], 4096, 32 * MiB, mapped);
  ST_CHECKF(mapped <= 32 * MiB && 32 * MiB - mapped < SEGMENT, "mapped %zu MiB at the failure", mapped / MiB);
  ST_CHECK(ctl_set_size("limit.hard", 0) == 0);
  ST_CHECK(strcmp(ctl_get<const char*>("limit.hard_source"), "none") == 0);
  for (int i = 0; i < 4096; ++i) {  // 16 MiB more than the old limit allowed
    void* p = malloc(4096);
    ST_CHECKF(p != nullptr, "allocation %d failed after the limit was removed", i);
    got.push_back(p);
  }
  for (void* p : got) free(p);
  printf("hard ctl: 1 MiB refused (EINVAL); 32 MiB obeyed (failure at %zu MiB mapped); removed: PASS\n", mapped / MiB);
  return 0;
}

// ---- soft limit: the churn ---------------------------------------------------

/// Allocates `bytes` in blocks of n, touches each, frees them all. The
/// pointer array is the caller's (mmapped and touched before the RSS baseline).
void churn_phase(void** slots, size_t bytes, size_t n) {
  const size_t count = bytes / n;
  for (size_t i = 0; i < count; ++i) {
    slots[i] = malloc(n);
    ST_CHECK(slots[i] != nullptr);
    memset(slots[i], (int)(i & 0xff), n);
  }
  for (size_t i = 0; i < count; ++i) free(slots[i]);
}

struct PhaseArgs {
  void** slots;
  size_t bytes, n;
};

void* phase_thread(void* a) {
  const PhaseArgs* p = (const PhaseArgs*)a;
  churn_phase(p->slots, p->bytes, p->n);
  return nullptr;
}

int churn(size_t phase_mib, int rounds, size_t bound_mib) {
  const size_t S = phase_mib * MiB, live_bytes = 16 * MiB;
  const size_t slots_n = S / 256 + 1;
  void** slots = (void**)mmap(nullptr, slots_n * sizeof(void*), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                              -1, 0);
  ST_CHECK(slots != MAP_FAILED);
  memset(slots, 0, slots_n * sizeof(void*));
  const size_t base_kib = status_kib("VmRSS");
  std::vector<void*> live;
  live.reserve(live_bytes / 1024);
  for (size_t i = 0; i < live_bytes / 1024; ++i) {
    live.push_back(malloc(1024));
    memset(live.back(), 1, 1024);
  }
  const uint64_t t0 = st_now_ms();
  const size_t huge_n = 4 * MiB - 4096;  // one segment with its header
  for (int r = 0; r < rounds; ++r) {
    churn_phase(slots, S, 256);
    PhaseArgs a{slots, S, 4096};
    pthread_t t;
    ST_CHECK(pthread_create(&t, nullptr, phase_thread, &a) == 0);
    ST_CHECK(pthread_join(t, nullptr) == 0);
    churn_phase(slots, S, 64 * 1024);
    churn_phase(slots, S, huge_n);
  }
  const uint64_t ms = st_now_ms() - t0;
  const size_t peak_kib = status_kib("VmHWM") - base_kib;
  const size_t soft = ctl_get<size_t>("limit.soft");
  const uint64_t passes = ctl_get<uint64_t>("limit.soft_passes");
  const size_t peak_live = live_bytes + S;
  printf("churn: soft limit %zu MiB (%s), live set 16 MiB, %d rounds of 4 x %zu MiB: peak RSS %zu MiB, %llu ms "
         "(%.1f ms a round), %llu soft passes, %llu MiB reclaimed\n",
         soft / MiB, ctl_get<const char*>("limit.soft_source"), rounds, phase_mib, peak_kib / 1024,
         (unsigned long long)ms, (double)ms / rounds, (unsigned long long)passes,
         (unsigned long long)(ctl_get<uint64_t>("limit.reclaimed") / MiB));
  for (void* p : live) free(p);
  if (bound_mib == 0) return 0;
  ST_CHECKF(soft != 0, "no soft limit in effect");
  ST_CHECKF(peak_kib / 1024 <= bound_mib, "peak RSS %zu MiB above the bound %zu MiB (peak live set %zu MiB)",
            peak_kib / 1024, bound_mib, peak_live / MiB);
  ST_CHECKF(passes > 0, "the soft limit forced no purge pass");
  printf("churn: PASS (peak RSS %zu MiB <= %zu MiB; peak live set %zu MiB)\n", peak_kib / 1024, bound_mib,
         peak_live / MiB);
  return 0;
}

// ---- soft limit: a realloc that moves a huge block's pages --------------------

/// A huge block grown by realloc takes a new run (its pages move there, not
/// copied): that run counts against the soft limit as an allocation's does,
/// so the realloc that carries strata past the limit starts a soft pass by
/// itself, which gives back the freed runs the huge cache holds.
int soft_realloc() {
  const size_t soft = ctl_get<size_t>("limit.soft");
  ST_CHECKF(soft == 64 * MiB, "limit.soft = %zu, want 64 MiB (mem_limit_soft:64M)", soft);
  size_t old_n = 4 * MiB;
  char* p = (char*)malloc(old_n);
  ST_CHECK(p != nullptr);
  st_fill(p, old_n, 5);
  // Freed runs the huge cache keeps (the limit is not reached yet).
  void* cached[3];
  for (void*& c : cached) {
    c = malloc(8 * MiB);
    ST_CHECK(c != nullptr);
    memset(c, 1, 8 * MiB);
  }
  for (void* c : cached) free(c);
  const size_t mapped0 = stat("stats.mapped");
  const uint64_t passes0 = ctl_get<uint64_t>("limit.soft_passes");
  const size_t moves0 = stat("stats.huge_moves");
  ST_CHECKF(mapped0 < soft, "mapped %zu MiB before the realloc, already above the soft limit", mapped0 / MiB);
  // Large enough that the new run carries the mapped bytes 8 MiB past the limit.
  const size_t n = (soft - mapped0) + old_n + 8 * MiB;
  char* q = (char*)realloc(p, n);
  ST_CHECK(q != nullptr);
  const size_t moves = stat("stats.huge_moves") - moves0;
  const uint64_t passes = ctl_get<uint64_t>("limit.soft_passes") - passes0;
  const size_t mapped = stat("stats.mapped");
  printf("soft realloc: %zu -> %zu MiB with %zu MiB mapped before: %zu page moves, %llu soft passes, %zu MiB mapped "
         "after\n",
         old_n / MiB, n / MiB, mapped0 / MiB, moves, (unsigned long long)passes, mapped / MiB);
  ST_CHECKF(moves == 1, "the realloc did not move the block's pages (%zu moves)", moves);
  ST_CHECKF(st_verify(q, old_n, 5) == (size_t)-1, "the block's bytes did not survive the move");
  ST_CHECKF(passes >= 1, "the realloc carried strata past the soft limit and no soft pass ran");
  ST_CHECKF(mapped <= soft, "mapped %zu MiB after the soft pass, above the limit", mapped / MiB);
  free(q);
  printf("soft realloc: PASS\n");
  return 0;
}

// ---- limits in effect ----------------------------------------------------------

void expect_size(const char* name, const char* want) {
  if (strcmp(want, "-") == 0) return;
  const size_t v = ctl_get<size_t>(name);
  ST_CHECKF(v == parse_size(want), "%s = %zu, want %s", name, v, want);
}

void expect_str(const char* name, const char* want) {
  if (strcmp(want, "-") == 0) return;
  const char* v = ctl_get<const char*>(name);
  ST_CHECKF(strcmp(v, want) == 0, "%s = %s, want %s", name, v, want);
}

int limits(char** a) {
  expect_size("limit.hard", a[0]);
  expect_str("limit.hard_source", a[1]);
  expect_size("limit.soft", a[2]);
  expect_str("limit.soft_source", a[3]);
  if (strcmp(a[4], "-") != 0) {
    const unsigned v = ctl_get<unsigned>("limit.cgroup.version");
    ST_CHECKF(v == (unsigned)atoi(a[4]), "limit.cgroup.version = %u, want %s", v, a[4]);
  }
  expect_size("limit.cgroup.max", a[5]);
  expect_size("limit.cgroup.high", a[6]);
  printf("limits: hard %zu (%s), soft %zu (%s), cgroup v%u max %zu high %zu: as expected\n",
         ctl_get<size_t>("limit.hard"), ctl_get<const char*>("limit.hard_source"), ctl_get<size_t>("limit.soft"),
         ctl_get<const char*>("limit.soft_source"), ctl_get<unsigned>("limit.cgroup.version"),
         ctl_get<size_t>("limit.cgroup.max"), ctl_get<size_t>("limit.cgroup.high"));
  return 0;
}

int reread(const char* file, const char* bytes, const char* soft) {
  FILE* f = fopen(file, "w");
  ST_CHECKF(f != nullptr, "cannot write %s", file);
  fprintf(f, "%s\n", bytes);
  fclose(f);
  ST_CHECK(g_ctl("limit.cgroup.reread", nullptr, nullptr, nullptr, 0) == 0);
  expect_size("limit.soft", soft);
  printf("reread: %s = %s -> soft limit %zu: as expected\n", file, bytes, ctl_get<size_t>("limit.soft"));
  return 0;
}

// ---- THP ---------------------------------------------------------------------

/// The smaps entry of the mapping holding address a: its AnonHugePages (KiB)
/// and whether its VmFlags carry hg (MADV_HUGEPAGE) and nh (MADV_NOHUGEPAGE).
struct VmaFacts {
  size_t anon_huge_kib;
  bool hg, nh, found;
};

VmaFacts vma_of(const void* a) {
  VmaFacts out{};
  FILE* f = fopen("/proc/self/smaps", "r");
  ST_CHECK(f != nullptr);
  char line[512];
  bool in = false;
  const uintptr_t x = (uintptr_t)a;
  while (fgets(line, sizeof line, f) != nullptr) {
    unsigned long lo = 0, hi = 0;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') != nullptr && line[0] != 'V') {
      in = x >= lo && x < hi;
      out.found = out.found || in;
      continue;
    }
    if (!in) continue;
    if (strncmp(line, "AnonHugePages:", 14) == 0) out.anon_huge_kib = strtoull(line + 14, nullptr, 10);
    if (strncmp(line, "VmFlags:", 8) == 0) {
      out.hg = strstr(line, " hg") != nullptr;
      out.nh = strstr(line, " nh") != nullptr;
    }
  }
  fclose(f);
  return out;
}

/// The system-wide THP mode: the bracketed word of .../transparent_hugepage/enabled.
void system_thp(char* out, size_t cap) {
  snprintf(out, cap, "unknown");
  FILE* f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (f == nullptr) return;
  char line[128] = {};
  if (fgets(line, sizeof line, f) != nullptr) {
    char* l = strchr(line, '[');
    char* r = l != nullptr ? strchr(l, ']') : nullptr;
    if (r != nullptr) snprintf(out, cap, "%.*s", (int)(r - l - 1), l + 1);
  }
  fclose(f);
}

int thp(const char* mode) {
  char sys[32];
  system_thp(sys, sizeof sys);
  expect_str("thp.mode", mode);
  const size_t n = 1024, count = 64 * MiB / n;
  std::vector<void*> v(count);
  for (size_t i = 0; i < count; ++i) {
    v[i] = malloc(n);
    ST_CHECK(v[i] != nullptr);
    memset(v[i], 7, n);
  }
  const VmaFacts f = vma_of(v[count / 2]);
  ST_CHECK(f.found);
  const size_t strata_huge = ctl_get<size_t>("thp.anon_huge");
  printf("thp %s (system mode %s): strata's mapping has VmFlags%s%s, AnonHugePages %zu KiB; thp.anon_huge %zu KiB\n",
         mode, sys, f.hg ? " hg" : "", f.nh ? " nh" : "", f.anon_huge_kib, strata_huge / 1024);
  const bool sys_never = strcmp(sys, "never") == 0;
  if (strcmp(mode, "always") == 0) {
    ST_CHECKF(f.hg && !f.nh, "thp:always: the mapping lacks the MADV_HUGEPAGE flag (hg)");
    if (sys_never) {
      printf("thp always: the system's THP mode is never: no huge page can appear, AnonHugePages not checked\n");
    } else {
      ST_CHECKF(strata_huge > 0, "thp:always with system mode %s: AnonHugePages of strata's segments is 0", sys);
      ST_CHECKF(strata_huge >= f.anon_huge_kib * 1024, "thp.anon_huge %zu < the mapping's own %zu KiB", strata_huge,
                f.anon_huge_kib);
      // The purge rule. Free 256 KiB of blocks in each 2 MiB (whole spans, in
      // huge pages that keep live blocks) and every block of one whole huge
      // page (the second half of a segment in the middle). The timed purge
      // (purge_delay_ms:0) must give back the wholly free huge page (2 MiB
      // less AnonHugePages: the pass ran) and split no other one;
      // malloc_trim(0) then gives back the partly free ones too.
      std::sort(v.begin(), v.end());
      const uintptr_t window = ((uintptr_t)v[count / 2] & ~(uintptr_t)(SEGMENT - 1)) + 2 * MiB;
      for (void*& p : v) {
        const uintptr_t a = (uintptr_t)p;
        if ((a & (2 * MiB - 1)) < 256 * 1024 || (a >= window && a < window + 2 * MiB)) free(p), p = nullptr;
      }
      for (int i = 0; i < 256; ++i) free(st_launder(malloc(200 * 1024)));  // slow paths: purge ticks
      const size_t after_purge = ctl_get<size_t>("thp.anon_huge");
      malloc_trim(0);
      const size_t after_trim = ctl_get<size_t>("thp.anon_huge");
      printf("thp always: AnonHugePages %zu KiB full, %zu KiB after the timed purge, %zu KiB after malloc_trim(0)\n",
             strata_huge / 1024, after_purge / 1024, after_trim / 1024);
      ST_CHECKF(after_purge + 2 * MiB <= strata_huge, "the timed purge did not give the wholly free huge page back");
      ST_CHECKF(after_purge + 4 * MiB >= strata_huge, "the timed purge split huge pages that hold live blocks");
      ST_CHECKF(after_trim < after_purge, "malloc_trim(0) gave back no partly free huge page");
    }
  } else if (strcmp(mode, "never") == 0) {
    ST_CHECKF(f.nh && !f.hg, "thp:never: the mapping lacks the MADV_NOHUGEPAGE flag (nh)");
    ST_CHECKF(strata_huge == 0 && f.anon_huge_kib == 0, "thp:never: AnonHugePages %zu KiB", strata_huge / 1024);
  } else {
    ST_CHECKF(!f.hg && !f.nh, "thp:default: the mapping carries THP advice");
  }
  for (void* p : v) free(p);
  printf("thp %s: PASS\n", mode);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  st_require_strata();
  g_ctl = (MallctlFn)st_sym("mallctl");
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "hard") == 0 && argc == 3) return strcmp(argv[2], "ctl") == 0 ? hard_ctl() : hard(argv[2]);
  if (strcmp(mode, "soft_realloc") == 0 && argc == 2) return soft_realloc();
  if (strcmp(mode, "churn") == 0 && (argc == 4 || argc == 5))
    return churn(parse_size(argv[2]), atoi(argv[3]), argc == 5 ? parse_size(argv[4]) : 0);
  if (strcmp(mode, "limits") == 0 && argc == 9) return limits(argv + 2);
  if (strcmp(mode, "reread") == 0 && argc == 5) return reread(argv[2], argv[3], argv[4]);
  if (strcmp(mode, "thp") == 0 && argc == 3) return thp(argv[2]);
  fprintf(stderr,
          "usage: %s hard small|medium|huge|realloc|ctl | churn <phase MiB> <rounds> [bound MiB] | limits <7 values> |"
          " reread <file> <bytes> <soft> | thp always|never|default\n",
          argv[0]);
  return 2;
}
