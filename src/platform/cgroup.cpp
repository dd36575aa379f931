// strata platform: the memory limit of the process's cgroup (cgroup.hpp).
#include "platform/cgroup.hpp"

#include "platform/text_file.hpp"

namespace strata::rt {
namespace {

/// v1 reports "no limit" as a huge page-rounded number (2^63 - 4096 on x86_64).
constexpr u64 NO_LIMIT_FROM = u64{1} << 62;

using Path = char[CGROUP_PATH_MAX + 1];

bool equal(const char* a, usize n, const char* b) {
  usize i = 0;
  for (; i < n && b[i] != 0; ++i)
    if (a[i] != b[i]) return false;
  return i == n && b[i] == 0;
}

bool copy(Path& dst, const char* s, usize n) {
  if (n > CGROUP_PATH_MAX) return false;
  for (usize i = 0; i < n; ++i) dst[i] = s[i];
  dst[n] = 0;
  return true;
}

usize length(const char* s) {
  usize n = 0;
  while (s[n] != 0) ++n;
  return n;
}

/// True when the comma-separated list s[0, n) holds `word`.
bool list_has(const char* s, usize n, const char* word) {
  for (usize i = 0; i < n;) {
    usize j = i;
    while (j < n && s[j] != ',') ++j;
    if (equal(s + i, j - i, word)) return true;
    i = j + 1;
  }
  return false;
}

/// One limit file of directory dir: its value in bytes; 0 for "max", a
/// value of NO_LIMIT_FROM or more, 0, anything malformed, or no file. `exists`
/// is set when the file could be opened.
u64 read_limit(const char* dir, const char* file, bool& exists) {
  char path[CGROUP_PATH_MAX + 32];
  usize n = 0;
  path[0] = 0;
  if (!append_text(path, n, sizeof path, dir) || !append_text(path, n, sizeof path, "/") ||
      !append_text(path, n, sizeof path, file))
    return 0;
  char buf[64];
  const isize len = read_small_file(path, buf, sizeof buf);
  if (len < 0) return 0;  // not there, or unreadable
  exists = true;
  u64 v = 0;
  if (!parse_u64(buf, static_cast<usize>(len), v) || v >= NO_LIMIT_FROM) return 0;  // "max", garbage, unlimited
  return v;
}

/// The lower of two limits where 0 means none.
u64 lower(u64 a, u64 b) { return a == 0 ? b : b == 0 ? a : (a < b ? a : b); }

/// The process's cgroup paths in /proc/self/cgroup: v2 ("0::path") and the
/// v1 memory hierarchy's. Empty when absent.
void own_cgroups(Path& v2, Path& v1) {
  v2[0] = v1[0] = 0;
  LineReader r("/proc/self/cgroup");
  usize n = 0;
  for (const char* line = r.next(n); line != nullptr; line = r.next(n)) {
    usize c1 = 0;
    while (c1 < n && line[c1] != ':') ++c1;
    usize c2 = c1 + 1;
    while (c2 < n && line[c2] != ':') ++c2;
    if (c2 >= n) continue;
    const char* path = line + c2 + 1;
    const usize plen = n - c2 - 1;
    if (equal(line, c1, "0") && c2 == c1 + 1) (void)copy(v2, path, plen);
    else if (list_has(line + c1 + 1, c2 - c1 - 1, "memory")) (void)copy(v1, path, plen);
  }
}

/// Where a hierarchy is mounted: its mount point and the hierarchy path
/// shown at that mount point (the root field).
struct Mount {
  Path point;
  Path root;
  bool found;
};

/// The cgroup2 mount and the v1 mount carrying the memory controller, from
/// /proc/self/mountinfo: "id parent maj:min root point options [tags] - fstype source superoptions".
void cgroup_mounts(Mount& v2, Mount& v1) {
  v2.found = v1.found = false;
  LineReader r("/proc/self/mountinfo");
  usize n = 0;
  for (const char* line = r.next(n); line != nullptr; line = r.next(n)) {
    const char* field[5] = {};
    usize flen[5] = {};
    usize f = 0, i = 0;
    for (; f < 5 && i < n; ++f) {  // the first five fields
      field[f] = line + i;
      while (i < n && line[i] != ' ') ++i;
      flen[f] = static_cast<usize>(line + i - field[f]);
      ++i;
    }
    if (f < 5) continue;
    // The optional tags end at " - "; fstype, source and super options follow.
    while (i + 1 < n && !(line[i] == '-' && line[i - 1] == ' ' && line[i + 1] == ' ')) ++i;
    if (i + 1 >= n) continue;
    const char* rest = line + i + 2;
    const usize rlen = n - i - 2;
    usize t = 0;
    while (t < rlen && rest[t] != ' ') ++t;  // fstype
    usize s = t + 1;
    while (s < rlen && rest[s] != ' ') ++s;  // source
    const char* super = rest + s + 1;
    const usize slen = s + 1 < rlen ? rlen - s - 1 : 0;
    Mount* m = nullptr;
    if (equal(rest, t, "cgroup2") && !v2.found) m = &v2;
    else if (equal(rest, t, "cgroup") && !v1.found && list_has(super, slen, "memory")) m = &v1;
    if (m != nullptr && copy(m->root, field[3], flen[3]) && copy(m->point, field[4], flen[4])) m->found = true;
  }
}

/// dir = the mount point plus the cgroup path below the mount's root; false
/// when the path lies outside what is mounted there or is too long.
bool cgroup_dir(const Mount& m, const Path& cgroup, Path& dir) {
  if (!m.found || cgroup[0] != '/') return false;
  const usize rlen = length(m.root);
  const char* below = cgroup;
  if (!(rlen == 1 && m.root[0] == '/')) {
    for (usize i = 0; i < rlen; ++i)
      if (cgroup[i] != m.root[i]) return false;
    if (cgroup[rlen] != 0 && cgroup[rlen] != '/') return false;
    below = cgroup + rlen;
  }
  usize n = 0;
  dir[0] = 0;
  if (!append_text(dir, n, sizeof dir, m.point)) return false;
  if (below[0] == '/' && below[1] == 0) return true;  // the mount's root itself
  return append_text(dir, n, sizeof dir, below);
}

/// Reads `file` (and `file2`, when not null) in dir and each parent up to
/// the mount point `top`, keeping the lowest values. True when any was there.
bool walk_up(Path& dir, usize top, const char* file, u64& value, const char* file2, u64& value2) {
  bool exists = false;
  for (usize n = length(dir);;) {
    value = lower(value, read_limit(dir, file, exists));
    if (file2 != nullptr) {
      bool unused = false;
      value2 = lower(value2, read_limit(dir, file2, unused));
    }
    if (n <= top) break;
    while (n > top && dir[n - 1] != '/') --n;  // up one level
    if (n > top) --n;                           // the slash itself
    if (n < top) n = top;
    dir[n] = 0;
  }
  return exists;
}
}  // namespace

CgroupMemory read_cgroup_memory(const char* dir) {
  CgroupMemory out;
  if (dir != nullptr && dir[0] != 0) {  // the directory given: no discovery, no ancestors
    Path d;
    if (!copy(d, dir, length(dir))) return out;
    bool v2 = false, v1 = false;
    out.max = read_limit(d, "memory.max", v2);
    if (v2) {
      bool unused = false;
      out.high = read_limit(d, "memory.high", unused);
      out.version = 2;
      return out;
    }
    out.max = read_limit(d, "memory.limit_in_bytes", v1);
    out.version = v1 ? 1 : 0;
    return out;
  }
  Path own2, own1;
  own_cgroups(own2, own1);
  Mount m2, m1;
  cgroup_mounts(m2, m1);
  Path d;
  if (own2[0] != 0 && cgroup_dir(m2, own2, d)) {
    u64 max = 0, high = 0;
    if (walk_up(d, length(m2.point), "memory.max", max, "memory.high", high)) {
      out.version = 2;
      out.max = max;
      out.high = high;
      return out;
    }
  }
  if (own1[0] != 0 && cgroup_dir(m1, own1, d)) {
    u64 max = 0, unused = 0;
    if (walk_up(d, length(m1.point), "memory.limit_in_bytes", max, nullptr, unused)) {
      out.version = 1;
      out.max = max;
    }
  }
  return out;
}

}  // namespace strata::rt
