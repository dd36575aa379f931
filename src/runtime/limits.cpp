// strata runtime: memory limits (limits.hpp).
#include "runtime/limits.hpp"

#include "platform/cgroup.hpp"

namespace strata::rt {

static_assert(static_cast<i64>(ThpMode::Default) == 0 && static_cast<i64>(ThpMode::Always) == 1 &&
                  static_cast<i64>(ThpMode::Never) == 2,
              "the thp option's choices (options.hpp) are ThpMode's values in order");
static_assert(CGROUP_DIR_MAX == CGROUP_PATH_MAX, "the cgroup_dir option holds any path cgroup.cpp reads");

namespace {
/// The margin below a cgroup limit: an eighth of it, at least this.
///
/// Why an eighth: the cgroup's memory.max counts all of the container's
/// memory, and strata's mapped bytes are only its heap. The program's code,
/// stacks and page cache (and any other process in the cgroup) need room
/// besides, typically tens of MiB; the soft limit is checked on slow paths,
/// so between checks a few segments per thread may be mapped beyond it; and
/// the kernel starts reclaiming (and, at memory.high, throttling) at the
/// limit itself. Go's documentation suggests a GOMEMLIMIT 5-10% below the
/// container limit for a runtime that accounts everything it maps; strata
/// sees less of the container, so it keeps a little more: 12.5%, at least
/// 8 MiB (two segments) for small containers.
constexpr u64 CGROUP_MARGIN_MIN = u64{8} << 20;

u64 lower(u64 a, u64 b) { return a == 0 ? b : b == 0 ? a : (a < b ? a : b); }
}  // namespace

const char* limit_source_name(LimitSource s) {
  switch (s) {
    case LimitSource::Option: return "option";
    case LimitSource::Mallctl: return "mallctl";
    case LimitSource::Cgroup: return "cgroup";
    case LimitSource::None: break;
  }
  return "none";
}

usize cgroup_soft_limit(u64 bytes) {
  if (bytes == 0) return 0;
  const u64 margin = bytes / 8 > CGROUP_MARGIN_MIN ? bytes / 8 : CGROUP_MARGIN_MIN;
  const u64 soft = bytes > margin ? bytes - margin : 0;
  return soft < MIN_MEM_LIMIT ? MIN_MEM_LIMIT : static_cast<usize>(soft);
}

void MemoryLimits::configure(const Options& o) {
  pages_->set_thp(static_cast<ThpMode>(o.thp));
  if (o.mem_limit != 0) (void)set_hard(o.mem_limit, LimitSource::Option);
  if (o.mem_limit_soft != 0) (void)set_soft(o.mem_limit_soft, LimitSource::Option);
}

void MemoryLimits::read_cgroup(const Options& o) {
  CgroupMemory cg;
  if (o.cgroup_limit) cg = read_cgroup_memory(o.cgroup_dir);
  __atomic_store_n(&cgroup_version_, cg.version, __ATOMIC_RELAXED);
  __atomic_store_n(&cgroup_max_, cg.max, __ATOMIC_RELAXED);
  __atomic_store_n(&cgroup_high_, cg.high, __ATOMIC_RELAXED);
  __atomic_store_n(&soft_cgroup_, cgroup_soft_limit(lower(cg.max, cg.high)), __ATOMIC_RELAXED);
  update_soft();
}

bool MemoryLimits::set_hard(usize bytes, LimitSource from) {
  if (bytes != 0 && bytes < MIN_MEM_LIMIT) return false;
  __atomic_store_n(&hard_, bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&hard_source_, static_cast<u8>(bytes != 0 ? from : LimitSource::None), __ATOMIC_RELAXED);
  pages_->set_map_limit(bytes != 0 ? bytes : USIZE_MAX);
  return true;
}

bool MemoryLimits::set_soft(usize bytes, LimitSource from) {
  if (bytes != 0 && bytes < MIN_MEM_LIMIT) return false;
  __atomic_store_n(&soft_user_, bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&soft_user_source_, static_cast<u8>(bytes != 0 ? from : LimitSource::None), __ATOMIC_RELAXED);
  update_soft();
  return true;
}

void MemoryLimits::update_soft() {
  const usize user = __atomic_load_n(&soft_user_, __ATOMIC_RELAXED);
  const usize cgroup = __atomic_load_n(&soft_cgroup_, __ATOMIC_RELAXED);
  const usize eff = static_cast<usize>(lower(user, cgroup));
  u8 src = static_cast<u8>(LimitSource::None);
  if (eff != 0) src = eff == user ? __atomic_load_n(&soft_user_source_, __ATOMIC_RELAXED) : static_cast<u8>(LimitSource::Cgroup);
  __atomic_store_n(&soft_, eff, __ATOMIC_RELAXED);
  __atomic_store_n(&soft_source_, src, __ATOMIC_RELAXED);
}

void MemoryLimits::count_hard_hit(usize reclaimed) {
  __atomic_fetch_add(&hard_hits_, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&reclaimed_, reclaimed, __ATOMIC_RELAXED);
}

void MemoryLimits::count_soft_pass(usize reclaimed) {
  __atomic_fetch_add(&soft_passes_, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&reclaimed_, reclaimed, __ATOMIC_RELAXED);
}

void MemoryLimits::collect(Snapshot& s) const {
  LimitFigures& f = s.limits;
  f.hard = hard();
  f.soft = soft();
  f.hard_source = static_cast<u8>(hard_source());
  f.soft_source = static_cast<u8>(soft_source());
  f.cgroup_version = __atomic_load_n(&cgroup_version_, __ATOMIC_RELAXED);
  f.cgroup_max = __atomic_load_n(&cgroup_max_, __ATOMIC_RELAXED);
  f.cgroup_high = __atomic_load_n(&cgroup_high_, __ATOMIC_RELAXED);
  f.hard_hits = __atomic_load_n(&hard_hits_, __ATOMIC_RELAXED);
  f.hard_failures = __atomic_load_n(&hard_failures_, __ATOMIC_RELAXED);
  f.soft_passes = __atomic_load_n(&soft_passes_, __ATOMIC_RELAXED);
  f.reclaimed = __atomic_load_n(&reclaimed_, __ATOMIC_RELAXED);
}

}  // namespace strata::rt
