// strata runtime: memory limits — a component of the Runtime (runtime.hpp).
//
// Two limits on strata's mapped memory (PageSource::mapped_bytes(): every
// segment handed to a heap, the huge cache's runs, free pages inside
// segments; an upper bound of strata's resident memory):
//
//  - hard (option mem_limit, mallctl limit.hard): the page source refuses a
//    segment run that would take mapped memory above it. The allocation that
//    met it reclaims (this thread's cache, wholly free segments, the huge
//    cache, every free page: alloc.cpp) and tries once more, then fails:
//    null, so ENOMEM / std::bad_alloc at the export layer. The process goes
//    on working once memory is freed.
//  - soft (option mem_limit_soft, mallctl limit.soft, or derived from the
//    cgroup): while mapped memory is above it, every free page goes back at
//    once (the purge policy, purge.hpp, runs passes as if purge_delay_ms were
//    0, and freed huge runs are not kept), until it is below it again.
//
// The cgroup (option cgroup_limit, on by default): at start (post-init) and
// on mallctl limit.cgroup.reread, memory.max and memory.high of the process's
// own cgroup v2 (or v1's memory.limit_in_bytes) are read (platform/cgroup.hpp)
// and a soft limit is set a margin below the lower of them: an eighth of it,
// at least 8 MiB (CGROUP_MARGIN below). The soft limit in effect is the lower
// of that and the user's (option or mallctl).
//
// Values are atomics: readers (the purge policy's checks, statistics) take
// no lock; the writers (initialisation, mallctl) are rare, and two concurrent
// writes leave one of them in effect.
#pragma once
#include "platform/page_source.hpp"
#include "runtime/options.hpp"
#include "runtime/stats.hpp"

namespace strata::rt {

/// Where a limit in effect came from.
enum class LimitSource : u8 { None = 0, Option = 1, Mallctl = 2, Cgroup = 3 };

/// "none", "option", "mallctl" or "cgroup".
const char* limit_source_name(LimitSource s);

/// The soft limit derived from a cgroup limit of `bytes` (0: none): `bytes`
/// less an eighth, at least 8 MiB less; never below MIN_MEM_LIMIT.
usize cgroup_soft_limit(u64 bytes);

class MemoryLimits {
 public:
  explicit constexpr MemoryLimits(PageSource* pages) : pages_(pages) {}

  /// At initialisation, options loaded, nothing mapped yet: the hard limit
  /// and the THP mode go to the page source, the soft limit option is noted.
  void configure(const Options& o);

  /// Reads the cgroup's limits (the option's directory, or the process's
  /// own cgroup) and derives the soft limit from them; with cgroup_limit off,
  /// forgets any cgroup limit. A few system calls and no allocation: call it
  /// with no strata lock held (post-init, mallctl).
  void read_cgroup(const Options& o);

  /// mallctl writes of the hard and soft limits (0 removes the user's limit).
  /// False, nothing changed, when 0 < bytes < MIN_MEM_LIMIT.
  bool set_hard(usize bytes, LimitSource from);
  bool set_soft(usize bytes, LimitSource from);

  /// The limits in effect (0: none) and their sources.
  usize hard() const { return __atomic_load_n(&hard_, __ATOMIC_RELAXED); }
  usize soft() const { return __atomic_load_n(&soft_, __ATOMIC_RELAXED); }
  LimitSource hard_source() const { return static_cast<LimitSource>(__atomic_load_n(&hard_source_, __ATOMIC_RELAXED)); }
  LimitSource soft_source() const { return static_cast<LimitSource>(__atomic_load_n(&soft_source_, __ATOMIC_RELAXED)); }

  /// True when strata maps more than the soft limit: two loads and a compare.
  bool over_soft() const {
    const usize s = soft();
    return s != 0 && pages_->mapped_bytes() > s;
  }

  /// Counters: an allocation met the hard limit and reclaiming gave back
  /// `reclaimed` bytes; such an allocation still failed; a purge pass forced
  /// by the soft limit gave back `reclaimed` bytes.
  void count_hard_hit(usize reclaimed);
  void count_hard_failure() { __atomic_fetch_add(&hard_failures_, 1, __ATOMIC_RELAXED); }
  void count_soft_pass(usize reclaimed);

  /// Component operation (Runtime::snapshot): the figures into s.limits.
  void collect(Snapshot& s) const;

 private:
  void update_soft();  // soft_ = the lower of the user's and the cgroup's

  PageSource* pages_;
  // Sources are LimitSource values kept as u8 (atomics take integers only).
  usize hard_ = 0;
  u8 hard_source_ = 0;
  usize soft_user_ = 0;  ///< option or mallctl (0: none)
  u8 soft_user_source_ = 0;
  usize soft_cgroup_ = 0;  ///< derived from the cgroup (0: none)
  usize soft_ = 0;         ///< in effect
  u8 soft_source_ = 0;
  u32 cgroup_version_ = 0;
  u64 cgroup_max_ = 0;
  u64 cgroup_high_ = 0;
  u64 hard_hits_ = 0;
  u64 hard_failures_ = 0;
  u64 soft_passes_ = 0;
  u64 reclaimed_ = 0;
};

}  // namespace strata::rt
