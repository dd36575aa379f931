// strata runtime: run-time options.
//
// Read once at initialisation from, in order: the compiled-in default
// (-DSTRATA_DEFAULT_CONF="..."), the program's `const char* strata_conf`
// (a weak reference: define it to set options at link time), then the
// STRATA_CONF environment variable. Syntax is jemalloc's: `key:value,...`.
// Shortcuts: STRATA_SHOW_STATS=1 (stats_print:true) and STRATA_VERBOSE=1
// (verbose:true). Integers take an optional sign, 0x for hex, and a K/M/G
// suffix (KiB/MiB/GiB; "K", "Ki", "KiB", "KB" all mean 1024). An unknown key or
// a bad value prints `<strata>: invalid conf pair: ...` or `<strata>: invalid
// conf value: ...` once on stderr and keeps the previous value;
// abort_conf:true (anywhere in the same string, or earlier) makes it fatal.
//
// The option table (names, types, ranges) lives in options.cpp and is the one
// list that the parser, `verbose`, the statistics' "Run-time option settings"
// block and mallctl("opt.<key>") all read. The README's Options table mirrors it.
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

/// Longest stats_print_opts value (jemalloc's opts letters, e.g. "J" or "gbl").
inline constexpr usize STATS_OPTS_MAX = 15;
/// Longest cgroup_dir value (platform/cgroup.hpp's CGROUP_PATH_MAX).
inline constexpr usize CGROUP_DIR_MAX = 255;


/// Smallest memory limit accepted (mem_limit, mem_limit_soft; 0 means none):
/// a process needs a segment of the small heap, one of the medium heap and
/// room for a huge block or a second arena before a limit can mean anything.
inline constexpr usize MIN_MEM_LIMIT = usize{16} << 20;
/// Longest prof_prefix (a path: the heap profiles are <prefix>.<pid>.<seq>.<kind>.heap).
inline constexpr usize PROF_PREFIX_MAX = 255;
/// Largest lg_prof_sample / lg_prof_interval (jemalloc's bound: 2^62 bytes).
inline constexpr i64 PROF_LG_MAX = 62;
/// Longest text of any option value (format_option's buffer: this + 1).
inline constexpr usize OPTION_TEXT_MAX = CGROUP_DIR_MAX > PROF_PREFIX_MAX ? CGROUP_DIR_MAX : PROF_PREFIX_MAX;

struct Options {
  i64 purge_delay_ms = 1000;             ///< free pages go back to the OS after this (-1 never, 0 at once)
  usize tcache_class_bytes = 32 * 1024;  ///< bytes a thread may cache per size class (32K: bench/ RSS 0.97 -> 0.95 of jemalloc, time equal)
  usize mem_limit = 0;                   ///< hard limit on strata's mapped bytes (0: none)
  usize mem_limit_soft = 0;              ///< soft limit: above it free pages go back at once (0: none)
  i64 thp = 0;                           ///< index into THP_CHOICES (platform ThpMode): default, always, never
  bool tcache_enabled = true;            ///< per-thread front cache on/off
  bool background_purge = true;          ///< a purge thread, started once more than 64 MiB is mapped
  bool cgroup_limit = true;              ///< derive a soft limit from the cgroup's memory.max / memory.high
  bool abort_conf = false;               ///< invalid options abort instead of warning
  bool stats_print = false;              ///< print statistics at exit
  bool verbose = false;                  ///< print the options in effect at start
  bool sized_dealloc_check = true;       ///< sized/aligned frees whose claim the block contradicts abort
  bool huge_guard = true;                ///< an inaccessible page after every huge block's usable end
  char stats_print_opts[STATS_OPTS_MAX + 1] = {};  ///< opts for the exit report (strata_stats_print letters)
  char cgroup_dir[CGROUP_DIR_MAX + 1] = {};        ///< the cgroup directory to read ("": find the process's own)
  // Heap profiling (runtime/prof.hpp; jemalloc's names and defaults, prefix "strata").
  bool prof = false;            ///< sample allocations and keep their stacks
  bool prof_active = true;      ///< sampling on at start (prof.active toggles it)
  bool prof_final = false;      ///< dump <prefix>.<pid>.<seq>.f.heap at exit
  bool prof_gdump = false;      ///< dump (u) whenever mapped memory reaches a new high
  bool prof_leak = false;       ///< print a leak summary on stderr at exit
  // Guarded sampling (runtime/guarded.hpp).
  i64 guarded_sample_rate = 1000000;  ///< one in N allocations (of ~64 bytes: a sample per ~64 MB) guarded; 0 off
  i64 guarded_slots = 256;      ///< slots in the guarded pool (each a page and a guard page)
  i64 lg_prof_sample = 19;      ///< mean bytes between samples: 2^lg_prof_sample
  i64 lg_prof_interval = -1;    ///< dump (i) every 2^N bytes allocated; -1 never
  char prof_prefix[PROF_PREFIX_MAX + 1] = "strata";  ///< path prefix of the dump files
};

/// How an option's value parses, prints and reads through mallctl.
enum class OptionType : u8 {
  Bool,    ///< true/false (also 1/0, yes/no, on/off); mallctl type bool
  Int,     ///< signed integer; mallctl type ssize_t
  Size,    ///< unsigned byte count with K/M/G suffixes; mallctl type size_t
  String,  ///< string of letters, digits and / . _ - + ~ @ = (at most `max` bytes); mallctl type const char*
  Choice,  ///< one of the names in `choices` (stored as its index, an i64); mallctl type const char*
  Path,    ///< a file path prefix (printable, no ',' or blank; at least `min` bytes); mallctl type const char*
};

/// One entry of the option table.
struct OptionInfo {
  const char* name;  ///< STRATA_CONF key, and the mallctl name after "opt."
  OptionType type;
  i64 min;           ///< accepted range of Int/Size values (inclusive); String: 0
  i64 max;           ///< ... ; String: longest value
  bool zero_ok;      ///< Size: 0 ("none") is accepted besides [min, max]
  const char* const* choices;  ///< Choice: the names, null-terminated; else null
};

/// The names of the thp option's values, in ThpMode order.
inline constexpr const char* THP_CHOICES[] = {"default", "always", "never", nullptr};

/// Number of options in the table.
usize option_count();

/// The i-th option (i < option_count()).
const OptionInfo& option_info(usize i);

/// Index of the option whose key is name[0, n), or option_count() when none.
usize find_option(const char* name, usize n);

/// Value of option i in opts as an integer (Bool as 0/1; String: 0).
i64 option_int(const Options& opts, usize i);

/// Value of String, Choice or Path option i in opts (empty for other types).
const char* option_string(const Options& opts, usize i);

/// Writes option i's value in opts as text (true/false, decimal, or the
/// string) into buf of `cap` bytes (OPTION_TEXT_MAX + 1 holds any), NUL-terminated; returns its length.
usize format_option(const Options& opts, usize i, char* buf, usize cap);

/// Parses `conf` (key:value,...) into opts; returns the number of invalid
/// pairs (each reported once on stderr, or fatal with abort_conf). Null conf
/// is empty. Never allocates.
usize parse_options(const char* conf, Options& opts);

/// The compiled-in default conf string (-DSTRATA_DEFAULT_CONF; "" when none).
const char* default_conf();

/// Reads the compiled-in default, strata_conf and the environment into opts
/// (the Runtime's, once at initialisation). Never allocates.
void load_options(Options& opts);

/// Writes opts as `<strata>: opt.key:value` lines (verbose).
void print_options(const Options& opts);

}  // namespace strata::rt
