// strata runtime: named controls, jemalloc's mallctl with strata's names
// (the tree and its leaves; interpose/ctl.cpp exports mallctl and kin).
//
// The namespace is a static tree, as jemalloc's ctl.c: a name such as
// "arena.0.purge" is a path of components; mallctlnametomib turns it into
// indices (a named child's position, or the number itself for "<i>" levels),
// mallctlbymib walks the indices to a leaf and runs it. Names that exist:
//
//   version                    const char*  r-   STRATA_VERSION_STRING
//   epoch                      uint64_t     rw   write: refresh stats.*; read: the epoch
//   config.{debug,stats,prof,fill,xmalloc}  bool r-
//   config.malloc_conf         const char*  r-   the compiled-in default conf
//   opt.<key>                  bool / ssize_t / size_t / const char*  r-   every STRATA_CONF key
//   thread.tcache.flush        void         --   gives this thread's cached blocks back
//   thread.tcache.enabled      bool         r-   opt.tcache
//   thread.arena               unsigned     r-   the small-heap arena this thread refills from
//   arena.<i>.{purge,decay}    void         --   malloc_trim(0) (every arena); i <= narenas or 4096
//   arenas.narenas             unsigned     r-   small-heap arenas in use
//   arenas.{page,quantum,tcache_max}  size_t r-
//   arenas.nbins               unsigned     r-   small size classes
//   arenas.bin.<i>.size        size_t       r-   block size of class i
//   stats.{allocated,active,metadata,resident,mapped,retained}  size_t r-
//                                                 as of the last epoch write
//   stats.huge_moves           size_t       r-   huge reallocs that moved pages rather than
//                                                 copy (as of the last epoch write)
//   limit.hard, limit.soft     size_t       rw   the limit in effect (0 none); a write
//                                                 sets it (0 removes; EINVAL below 16 MiB)
//   limit.{hard,soft}_source   const char*  r-   none / option / mallctl / cgroup
//   limit.cgroup.version       unsigned     r-   0 (none found), 1 or 2
//   limit.cgroup.{max,high}    size_t       r-   the cgroup's limits as last read (0 none)
//   limit.cgroup.reread        void         --   reads the cgroup's files again
//   limit.{hard_hits,hard_failures,soft_passes}  uint64_t r-
//   limit.reclaimed            uint64_t     r-   bytes given back because of a limit
//   thp.mode                   const char*  r-   default / always / never
//   thp.anon_huge              size_t       r-   AnonHugePages of strata's segments
//                                                 (reads /proc/self/smaps: slow)
//   prof.active, prof.gdump    bool         rw   sampling on / gdump dumps on (ENOENT writing with prof off)
//   prof.dump                  const char*  -w   writes a heap profile (null: the next <prefix>... name)
//   prof.dump_peak             const char*  -w   the same, of the live set at the highest live bytes
//   prof.reset                 size_t       -w   forgets samples and counters; sets lg_sample (optional)
//   prof.lg_sample             size_t       r-
//   prof.interval              uint64_t     r-   bytes between interval dumps (0: none)
//   guarded.{samples,slots,in_use,faults}  uint64_t  r-   guarded sampling (runtime/guarded.hpp):
//                                                 blocks placed in a guarded slot, the pool's slots
//                                                 (0: off), slots holding a live block, errors reported
//   thread.{allocated,deallocated}    uint64_t   r-   this thread's bytes (runtime/prof.hpp)
//   thread.{allocatedp,deallocatedp}  uint64_t*  r-   pointers to the same counters, kept current
//   (prof.dump, dump_peak, reset with profiling off: ENOENT, as jemalloc;
//   a profile that cannot be written: EFAULT, with a warning naming the file)
//
// Errors as jemalloc: ENOENT unknown name (or a non-leaf), EPERM writing a
// read-only value (or passing old/new to a void control), EINVAL a wrong
// *oldlenp or newlen (the value is copied up to the smaller size).
#include "runtime/ctl.hpp"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "platform/os.hpp"
#include "runtime/alloc.hpp"
#include "runtime/runtime.hpp"
#include "strata/strata_version.h"

namespace strata::rt {
namespace {

// ---- the tree machinery ------------------------------------------------------
//
// A control name is a path through a static tree of CtlNode. A node is:
//   Inner    named children, reached by name (mib entry: the child's position);
//   Indexed  the one child of an Inner node reached by a number ("arena.<i>"),
//            accepted by its index_ok (mib entry: the number itself);
//   Options  children are the STRATA_CONF options, reached by key (mib entry:
//            the option's index); its single child is the leaf that reads them;
//   Leaf     a control: fn(mib, io) reads and/or writes its value.

/// A leaf: mib holds the whole path (numbers of Indexed levels, option indices).
using CtlLeaf = int (*)(const usize* mib, const CtlIo& io);

struct CtlNode {
  enum class Kind : u8 { Inner, Indexed, Options, Leaf };
  const char* name;
  Kind kind;
  CtlLeaf fn;
  const CtlNode* children;
  usize nchildren;
  bool (*index_ok)(usize);

  static constexpr CtlNode leaf(const char* name, CtlLeaf fn) { return {name, Kind::Leaf, fn, nullptr, 0, nullptr}; }
  template <usize N>
  static constexpr CtlNode inner(const char* name, const CtlNode (&c)[N]) {
    return {name, Kind::Inner, nullptr, c, N, nullptr};
  }
  template <usize N>
  static constexpr CtlNode indexed(bool (*ok)(usize), const CtlNode (&c)[N]) {
    return {nullptr, Kind::Indexed, nullptr, c, N, ok};
  }
  template <usize N>
  static constexpr CtlNode options(const char* name, const CtlNode (&leaf)[N]) {
    return {name, Kind::Options, nullptr, leaf, N, nullptr};
  }
};

/// True when the call writes (newp or newlen given).
bool writes(const CtlIo& io) { return io.newp != nullptr || io.newlen != 0; }

/// Copies v to oldp when oldp and oldlenp are given. *oldlenp must be
/// sizeof(T): otherwise the first min(*oldlenp, sizeof(T)) bytes are copied,
/// *oldlenp is set to that and the answer is EINVAL (jemalloc's rule).
template <class T>
int read_value(const CtlIo& io, T v) {
  if (io.oldp == nullptr || io.oldlenp == nullptr) return 0;
  if (*io.oldlenp != sizeof(T)) {
    const size_t n = *io.oldlenp < sizeof(T) ? *io.oldlenp : sizeof(T);
    __builtin_memcpy(io.oldp, &v, n);
    *io.oldlenp = n;
    return EINVAL;
  }
  __builtin_memcpy(io.oldp, &v, sizeof(T));
  return 0;
}

/// read_value for a read-only control: EPERM when the call writes.
template <class T>
int read_only(const CtlIo& io, T v) {
  return writes(io) ? EPERM : read_value(io, v);
}

/// The child of `n` that the component value `v` (a position, a number or an
/// option index, by n's kind) leads to; null when there is none.
const CtlNode* child_by_index(const CtlNode& n, usize v) {
  if (n.kind == CtlNode::Kind::Leaf || n.nchildren == 0) return nullptr;
  if (n.kind == CtlNode::Kind::Options) return v < option_count() ? &n.children[0] : nullptr;
  const CtlNode& first = n.children[0];
  if (first.kind == CtlNode::Kind::Indexed) return first.index_ok(v) ? &first : nullptr;
  return v < n.nchildren ? &n.children[v] : nullptr;
}

/// Decimal number of the whole component [s, s + len); false otherwise.
bool parse_number(const char* s, usize len, usize& out) {
  usize v = 0;
  for (usize i = 0; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9' || v > (USIZE_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<usize>(s[i] - '0');
  }
  out = v;
  return len != 0;
}

/// The mib value of component [s, s + len) under node n (by n's kind).
bool component_value(const CtlNode& n, const char* s, usize len, usize& out) {
  if (n.kind == CtlNode::Kind::Options) {
    out = find_option(s, len);
    return out < option_count();
  }
  if (n.nchildren != 0 && n.children[0].kind == CtlNode::Kind::Indexed) return parse_number(s, len, out);
  for (usize i = 0; i < n.nchildren; ++i) {
    const char* name = n.children[i].name;
    if (name != nullptr && ::strlen(name) == len && ::memcmp(name, s, len) == 0) return out = i, true;
  }
  return false;
}

/// Translates name into mib (capacity *miblen, set to the depth). 0, or
/// ENOENT for an unknown name, an empty component or too many components.
int resolve_name(const CtlNode& root, const char* name, size_t* mib, size_t* miblen) {
  const CtlNode* n = &root;
  usize depth = 0;
  for (const char* s = name;;) {
    const char* e = s;
    while (*e != 0 && *e != '.') ++e;
    usize v = 0;
    if (depth == *miblen || !component_value(*n, s, static_cast<usize>(e - s), v)) return ENOENT;
    n = child_by_index(*n, v);
    if (n == nullptr) return ENOENT;
    mib[depth++] = v;
    if (*e == 0) break;
    s = e + 1;
  }
  *miblen = depth;
  return 0;
}

/// Runs the leaf at mib[0, len). ENOENT when the path is unknown or ends
/// before a leaf; otherwise the leaf's answer.
int run_path(const CtlNode& root, const size_t* mib, size_t len, const CtlIo& io) {
  if (len == 0 || len > CTL_MAX_DEPTH) return ENOENT;
  const CtlNode* n = &root;
  for (usize d = 0; d < len; ++d) {
    n = child_by_index(*n, mib[d]);
    if (n == nullptr) return ENOENT;
  }
  if (n->kind != CtlNode::Kind::Leaf) return ENOENT;
  usize path[CTL_MAX_DEPTH];
  for (usize d = 0; d < len; ++d) path[d] = mib[d];
  return n->fn(path, io);
}

// ---- stats.* as of the last epoch ------------------------------------------

using StatIndex = StatsEpoch::Index;

void refresh_stats() {
  StatsEpoch& e = g_runtime.stats_epoch;
  const Snapshot s = g_runtime.snapshot();
  const u64 v[StatsEpoch::COUNT] = {s.allocated, s.active, s.metadata, s.resident, s.mapped, s.retained, s.huge_moves};
  for (usize i = 0; i < StatsEpoch::COUNT; ++i) __atomic_store_n(&e.values[i], v[i], __ATOMIC_RELAXED);
  __atomic_fetch_add(&e.epoch, 1, __ATOMIC_RELEASE);
}

int ctl_epoch(const usize*, const CtlIo& io) {
  if (writes(io)) {
    if (io.newlen != sizeof(u64)) return EINVAL;
    refresh_stats();
  }
  return read_value(io, __atomic_load_n(&g_runtime.stats_epoch.epoch, __ATOMIC_ACQUIRE));
}

template <StatIndex I>
int ctl_stat(const usize*, const CtlIo& io) {
  const StatsEpoch& e = g_runtime.stats_epoch;
  if (__atomic_load_n(&e.epoch, __ATOMIC_ACQUIRE) == 0) refresh_stats();  // first read: fresh figures
  return read_only(io, static_cast<size_t>(__atomic_load_n(&e.values[I], __ATOMIC_RELAXED)));
}

// ---- leaves -------------------------------------------------------------------

int ctl_version(const usize*, const CtlIo& io) { return read_only(io, static_cast<const char*>(STRATA_VERSION_STRING)); }

template <bool V>
int ctl_const_bool(const usize*, const CtlIo& io) {
  return read_only(io, V);
}

int ctl_default_conf(const usize*, const CtlIo& io) { return read_only(io, default_conf()); }

/// opt.<key>: mib[1] is the option's index in the option table.
int ctl_opt(const usize* mib, const CtlIo& io) {
  const usize i = mib[1];
  switch (option_info(i).type) {
    case OptionType::Bool: return read_only(io, option_int(g_runtime.options, i) != 0);
    case OptionType::Int: return read_only(io, static_cast<ssize_t>(option_int(g_runtime.options, i)));
    case OptionType::Size: return read_only(io, static_cast<size_t>(option_int(g_runtime.options, i)));
    case OptionType::String:
    case OptionType::Choice:
    case OptionType::Path: return read_only(io, option_string(g_runtime.options, i));
  }
  return ENOENT;
}

int ctl_tcache_flush(const usize*, const CtlIo& io) {
  if (io.oldp != nullptr || io.oldlenp != nullptr || writes(io)) return EPERM;
  t_cache.flush_all();
  return 0;
}

int ctl_tcache_enabled(const usize*, const CtlIo& io) { return read_only(io, g_runtime.options.tcache_enabled); }
int ctl_thread_arena(const usize*, const CtlIo& io) { return read_only(io, static_cast<unsigned>(t_cache.arena())); }

// ---- heap profiling (runtime/prof.hpp) ----------------------------------------

/// A write-only control's value: EPERM when the call reads, EINVAL for a
/// wrong newlen; false (and `out` untouched) when the call writes nothing.
template <class T>
int write_only(const CtlIo& io, T& out, bool& written) {
  written = false;
  if (io.oldp != nullptr || io.oldlenp != nullptr) return EPERM;
  if (io.newp == nullptr) return io.newlen == 0 ? 0 : EINVAL;
  if (io.newlen != sizeof(T)) return EINVAL;
  __builtin_memcpy(&out, io.newp, sizeof(T));
  written = true;
  return 0;
}

/// prof.active / prof.gdump: read the old value, write a new one (jemalloc).
template <bool (Profiler::*Get)() const, bool (Profiler::*Set)(bool)>
int ctl_prof_flag(const usize*, const CtlIo& io) {
  Profiler& p = g_runtime.prof;
  const bool old = p.enabled() && (p.*Get)();
  if (writes(io)) {
    if (!p.enabled()) return ENOENT;
    if (io.newp == nullptr || io.newlen != sizeof(bool)) return EINVAL;
    bool v = false;
    __builtin_memcpy(&v, io.newp, sizeof v);
    (void)(p.*Set)(v);
  }
  return read_value(io, old);
}

template <DumpKind K>
int ctl_prof_dump(const usize*, const CtlIo& io) {
  if (!g_runtime.prof.enabled()) return ENOENT;
  const char* path = nullptr;
  bool written = false;
  if (const int r = write_only(io, path, written); r != 0) return r;
  return g_runtime.prof.dump(K, path);
}

int ctl_prof_reset(const usize*, const CtlIo& io) {
  if (!g_runtime.prof.enabled()) return ENOENT;
  size_t lg = g_runtime.prof.lg_sample();
  bool written = false;
  if (const int r = write_only(io, lg, written); r != 0) return r;
  return g_runtime.prof.reset(lg > static_cast<size_t>(PROF_LG_MAX) ? ~0u : static_cast<u32>(lg)) ? 0 : EINVAL;
}

int ctl_prof_lg_sample(const usize*, const CtlIo& io) {
  return read_only(io, static_cast<size_t>(g_runtime.prof.lg_sample()));
}
int ctl_prof_interval(const usize*, const CtlIo& io) { return read_only(io, static_cast<u64>(g_runtime.prof.interval())); }

int ctl_thread_allocated(const usize*, const CtlIo& io) { return read_only(io, t_prof.allocated); }
int ctl_thread_deallocated(const usize*, const CtlIo& io) { return read_only(io, t_prof.deallocated); }
int ctl_thread_allocatedp(const usize*, const CtlIo& io) { return read_only(io, &t_prof.allocated); }
int ctl_thread_deallocatedp(const usize*, const CtlIo& io) { return read_only(io, &t_prof.deallocated); }

int ctl_arena_purge(const usize*, const CtlIo& io) {
  if (io.oldp != nullptr || io.oldlenp != nullptr || writes(io)) return EPERM;
  (void)trim();
  return 0;
}

/// jemalloc's MALLCTL_ARENAS_ALL; also arena.<narenas> means "all" (redis uses it).
constexpr usize ARENAS_ALL = 4096;
bool arena_index_ok(usize i) { return i <= g_runtime.small.count() || i == ARENAS_ALL; }
bool bin_index_ok(usize i) { return i < NUM_SMALL_CLASSES; }

int ctl_narenas(const usize*, const CtlIo& io) { return read_only(io, static_cast<unsigned>(g_runtime.small.count())); }
int ctl_page(const usize*, const CtlIo& io) { return read_only(io, static_cast<size_t>(os::page_size())); }
int ctl_quantum(const usize*, const CtlIo& io) { return read_only(io, static_cast<size_t>(MIN_ALIGN)); }
int ctl_tcache_max(const usize*, const CtlIo& io) { return read_only(io, static_cast<size_t>(SMALL_MAX)); }
int ctl_nbins(const usize*, const CtlIo& io) { return read_only(io, static_cast<unsigned>(NUM_SMALL_CLASSES)); }
/// arenas.bin.<i>.size: mib[2] is the class.
int ctl_bin_size(const usize* mib, const CtlIo& io) {
  return read_only(io, static_cast<size_t>(small_class_size(static_cast<u32>(mib[2]))));
}

// ---- limit.* and thp.* ----------------------------------------------------------

/// limit.hard / limit.soft: reads the limit in effect; a write (size_t) sets
/// the user's limit (source "mallctl"), then gives memory back at once when
/// strata is already above the new limit.
template <bool HARD>
int ctl_limit(const usize*, const CtlIo& io) {
  ensure_initialised();
  MemoryLimits& l = g_runtime.limits;
  const size_t old = HARD ? l.hard() : l.soft();
  if (writes(io)) {
    if (io.newp == nullptr || io.newlen != sizeof(size_t)) return EINVAL;
    size_t v = 0;
    __builtin_memcpy(&v, io.newp, sizeof v);
    if (!(HARD ? l.set_hard(v, LimitSource::Mallctl) : l.set_soft(v, LimitSource::Mallctl))) return EINVAL;
    if (v != 0 && g_runtime.pages.mapped_bytes() > v) (void)trim();
  }
  return read_value(io, old);
}

template <bool HARD>
int ctl_limit_source(const usize*, const CtlIo& io) {
  const MemoryLimits& l = g_runtime.limits;
  return read_only(io, limit_source_name(HARD ? l.hard_source() : l.soft_source()));
}

int ctl_cgroup_reread(const usize*, const CtlIo& io) {
  if (io.oldp != nullptr || io.oldlenp != nullptr || writes(io)) return EPERM;
  ensure_initialised();
  g_runtime.limits.read_cgroup(g_runtime.options);
  if (g_runtime.limits.over_soft()) (void)trim();
  return 0;
}

/// Figures of the limits, read fresh (not as of the epoch: they are counters).
LimitFigures limit_figures() {
  Snapshot s{};
  g_runtime.limits.collect(s);
  return s.limits;
}
int ctl_cgroup_version(const usize*, const CtlIo& io) {
  return read_only(io, static_cast<unsigned>(limit_figures().cgroup_version));
}
int ctl_cgroup_max(const usize*, const CtlIo& io) { return read_only(io, static_cast<size_t>(limit_figures().cgroup_max)); }
int ctl_cgroup_high(const usize*, const CtlIo& io) {
  return read_only(io, static_cast<size_t>(limit_figures().cgroup_high));
}
template <u64 GuardedFigures::*F>
int ctl_guarded(const usize*, const CtlIo& io) {
  return read_only(io, static_cast<uint64_t>(g_runtime.guarded.figures().*F));
}
int ctl_hard_hits(const usize*, const CtlIo& io) { return read_only(io, static_cast<uint64_t>(limit_figures().hard_hits)); }
int ctl_hard_failures(const usize*, const CtlIo& io) {
  return read_only(io, static_cast<uint64_t>(limit_figures().hard_failures));
}
int ctl_soft_passes(const usize*, const CtlIo& io) {
  return read_only(io, static_cast<uint64_t>(limit_figures().soft_passes));
}
int ctl_reclaimed(const usize*, const CtlIo& io) { return read_only(io, static_cast<uint64_t>(limit_figures().reclaimed)); }

int ctl_thp_mode(const usize*, const CtlIo& io) {
  return read_only(io, static_cast<const char*>(THP_CHOICES[static_cast<usize>(g_runtime.pages.thp())]));
}
int ctl_thp_anon_huge(const usize*, const CtlIo& io) {
  return writes(io) ? EPERM : read_value(io, static_cast<size_t>(g_runtime.pages.anon_huge_bytes()));
}

// ---- the tree (children before parents) --------------------------------------

constexpr CtlNode CONFIG[] = {
    CtlNode::leaf("debug", ctl_const_bool<
#ifdef NDEBUG
                               false
#else
                               true
#endif
                               >),
    CtlNode::leaf("fill", ctl_const_bool<false>),
    CtlNode::leaf("malloc_conf", ctl_default_conf),
    CtlNode::leaf("prof", ctl_const_bool<true>),
    CtlNode::leaf("stats", ctl_const_bool<true>),
    CtlNode::leaf("xmalloc", ctl_const_bool<false>),
};
constexpr CtlNode OPT_LEAF[] = {CtlNode::leaf(nullptr, ctl_opt)};
constexpr CtlNode TCACHE[] = {CtlNode::leaf("enabled", ctl_tcache_enabled), CtlNode::leaf("flush", ctl_tcache_flush)};
constexpr CtlNode THREAD[] = {
    CtlNode::leaf("allocated", ctl_thread_allocated),     CtlNode::leaf("allocatedp", ctl_thread_allocatedp),
    CtlNode::leaf("deallocated", ctl_thread_deallocated), CtlNode::leaf("deallocatedp", ctl_thread_deallocatedp),
    CtlNode::inner("tcache", TCACHE),                     CtlNode::leaf("arena", ctl_thread_arena),
};
constexpr CtlNode PROF[] = {
    CtlNode::leaf("active", ctl_prof_flag<&Profiler::active, &Profiler::set_active>),
    CtlNode::leaf("dump", ctl_prof_dump<DumpKind::Manual>),
    CtlNode::leaf("dump_peak", ctl_prof_dump<DumpKind::Peak>),
    CtlNode::leaf("gdump", ctl_prof_flag<&Profiler::gdump, &Profiler::set_gdump>),
    CtlNode::leaf("interval", ctl_prof_interval),
    CtlNode::leaf("lg_sample", ctl_prof_lg_sample),
    CtlNode::leaf("reset", ctl_prof_reset),
};
constexpr CtlNode ARENA_I[] = {CtlNode::leaf("decay", ctl_arena_purge), CtlNode::leaf("purge", ctl_arena_purge)};
constexpr CtlNode ARENA[] = {CtlNode::indexed(arena_index_ok, ARENA_I)};
constexpr CtlNode BIN_I[] = {CtlNode::leaf("size", ctl_bin_size)};
constexpr CtlNode BIN[] = {CtlNode::indexed(bin_index_ok, BIN_I)};
constexpr CtlNode ARENAS[] = {
    CtlNode::inner("bin", BIN),          CtlNode::leaf("narenas", ctl_narenas), CtlNode::leaf("nbins", ctl_nbins),
    CtlNode::leaf("page", ctl_page),     CtlNode::leaf("quantum", ctl_quantum),
    CtlNode::leaf("tcache_max", ctl_tcache_max),
};
constexpr CtlNode STATS[] = {
    CtlNode::leaf("active", ctl_stat<StatsEpoch::ACTIVE>),     CtlNode::leaf("allocated", ctl_stat<StatsEpoch::ALLOCATED>),
    CtlNode::leaf("huge_moves", ctl_stat<StatsEpoch::HUGE_MOVES>),
    CtlNode::leaf("mapped", ctl_stat<StatsEpoch::MAPPED>),     CtlNode::leaf("metadata", ctl_stat<StatsEpoch::METADATA>),
    CtlNode::leaf("resident", ctl_stat<StatsEpoch::RESIDENT>), CtlNode::leaf("retained", ctl_stat<StatsEpoch::RETAINED>),
};
constexpr CtlNode CGROUP[] = {
    CtlNode::leaf("high", ctl_cgroup_high), CtlNode::leaf("max", ctl_cgroup_max),
    CtlNode::leaf("reread", ctl_cgroup_reread), CtlNode::leaf("version", ctl_cgroup_version),
};
constexpr CtlNode LIMIT[] = {
    CtlNode::inner("cgroup", CGROUP),
    CtlNode::leaf("hard", ctl_limit<true>),
    CtlNode::leaf("hard_failures", ctl_hard_failures),
    CtlNode::leaf("hard_hits", ctl_hard_hits),
    CtlNode::leaf("hard_source", ctl_limit_source<true>),
    CtlNode::leaf("reclaimed", ctl_reclaimed),
    CtlNode::leaf("soft", ctl_limit<false>),
    CtlNode::leaf("soft_passes", ctl_soft_passes),
    CtlNode::leaf("soft_source", ctl_limit_source<false>),
};
constexpr CtlNode GUARDED[] = {
    CtlNode::leaf("faults", ctl_guarded<&GuardedFigures::faults>),
    CtlNode::leaf("in_use", ctl_guarded<&GuardedFigures::in_use>),
    CtlNode::leaf("samples", ctl_guarded<&GuardedFigures::samples>),
    CtlNode::leaf("slots", ctl_guarded<&GuardedFigures::slots>),
};
constexpr CtlNode THP[] = {CtlNode::leaf("anon_huge", ctl_thp_anon_huge), CtlNode::leaf("mode", ctl_thp_mode)};
constexpr CtlNode ROOT_CHILDREN[] = {
    CtlNode::inner("arena", ARENA),   CtlNode::inner("arenas", ARENAS), CtlNode::inner("config", CONFIG),
    CtlNode::leaf("epoch", ctl_epoch), CtlNode::inner("guarded", GUARDED), CtlNode::inner("limit", LIMIT),   CtlNode::options("opt", OPT_LEAF),
    CtlNode::inner("prof", PROF),      CtlNode::inner("stats", STATS),    CtlNode::inner("thp", THP),
    CtlNode::inner("thread", THREAD),  CtlNode::leaf("version", ctl_version),
};
constexpr CtlNode ROOT = CtlNode::inner(nullptr, ROOT_CHILDREN);

}  // namespace

int ctl_name_to_mib(const char* name, size_t* mib, size_t* miblen) { return resolve_name(ROOT, name, mib, miblen); }

int ctl_by_mib(const size_t* mib, size_t len, const CtlIo& io) {
  ensure_initialised();  // the options (opt.*, prof.*) are read at the first allocation: maybe none yet
  return run_path(ROOT, mib, len, io);
}

}  // namespace strata::rt
