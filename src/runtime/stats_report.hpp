// strata runtime: the statistics report (text or JSON), written from one
// Runtime::snapshot without allocating. Implemented in stats_report.cpp.
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

/// Writer callback of the report (jemalloc's write_cb): text, NUL-terminated.
using WriteCb = void (*)(void* opaque, const char* text);

/// Writes the statistics report to cb in pieces of at most a few KiB, built
/// in a stack buffer (never allocates; cb may allocate). opts takes jemalloc's
/// letters: J (JSON instead of text), g (no general information: version,
/// build and run-time options), m or a (no engine figures), b (no size-class
/// rows), l (no huge-block figures), L (no memory limits and THP figures:
/// the THP figure reads /proc/self/smaps). Null opts means "".
void write_stats(WriteCb cb, void* opaque, const char* opts);

/// write_stats to stderr with opts from the stats_print_opts option (exit report).
void print_stats_to_stderr();

/// write_stats's writer for stderr (opaque unused).
void write_to_stderr(void* opaque, const char* text);

}  // namespace strata::rt
