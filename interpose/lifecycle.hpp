// strata runtime: process lifecycle — first-call initialisation, fork
// handlers, the purge clock, statistics at exit.
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

/// Registers the thread-exit key (thread_cache.cpp); called once after init.
void register_thread_exit_key();

/// Gives free pages back to the OS when the purge delay has passed since the
/// last pass (option purge_delay_ms). Cheap when it is not time: a counter and
/// a clock read every 64 calls. Call from slow paths only, with no lock held.
void maybe_purge();

}  // namespace strata::rt
