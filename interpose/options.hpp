// strata runtime: run-time options.
//
// Read once at initialisation from, in order, the compiled-in default
// (-DSTRATA_DEFAULT_CONF="..."), then the STRATA_CONF environment variable,
// in jemalloc's syntax: `key:value,key:value`. Shortcuts: STRATA_SHOW_STATS=1
// (stats_print:true) and STRATA_VERBOSE=1 (verbose:true). Sizes take K/M/G
// suffixes. An unknown key or a bad value prints `<strata>: invalid conf ...`
// once on stderr and keeps the default; abort_conf:true makes it fatal.
// The table of keys lives in options.cpp and in the README.
#pragma once
#include "core/types.hpp"

namespace strata::rt {

struct Options {
  i64 purge_delay_ms = 1000;           ///< free pages go back to the OS after this (-1 never, 0 at once)
  usize tcache_class_bytes = 64 * 1024;  ///< bytes a thread may cache per size class
  bool tcache_enabled = true;          ///< per-thread front cache on/off
  bool abort_conf = false;             ///< invalid options abort instead of warning
  bool stats_print = false;            ///< print statistics at exit
  bool verbose = false;                ///< print the options in effect at start
};

extern Options g_options;

/// Parses `conf` (key:value,...) into opts; returns the number of invalid
/// pairs (each reported once on stderr, or fatal with abort_conf). Never allocates.
usize parse_options(const char* conf, Options& opts);

/// Reads the compiled-in default and the environment into g_options.
void load_options();

/// Writes the options in effect as `<strata>: key:value` lines (verbose).
void print_options();

}  // namespace strata::rt
