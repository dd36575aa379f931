// strata firmware self-test: what the suites share (memory, progress lines).
//
// The boot image (selftest_main.cpp) runs one suite per engine, each in its
// own file (suite_<engine>.cpp), all over the same static memory, one after
// the other. The suites call the very scenario templates of tests/scenarios
// that the host GoogleTest suite runs; only the workload sizes differ (fewer
// random operations, see *_OPS below).
#pragma once
#include "strata/core/types.hpp"
#include "report.hpp"
#include "scenarios/byte_model.hpp"
#include "scenarios/checker.hpp"

namespace strata::fw {

/// Fixed seed of every randomized run, so a failure replays exactly.
inline constexpr u64 SEED = 0x5eed'f1'2024;

/// Operations of the randomized runs. The host runs 10^6 of each; under TCG
/// emulation these keep a whole boot at 2.5-4.5 s on an idle machine, far
/// from the harness's timeout when CI runs builds alongside.
inline constexpr u64 TLSF_MODEL_OPS = 500'000;
inline constexpr u64 BUDDY_MODEL_OPS = 200'000;
inline constexpr u64 HEAP_RUN_OPS = 200'000;
inline constexpr u64 HEAP_MODEL_OPS = 100'000;
inline constexpr u64 PAGE_MODEL_OPS = 150'000;
inline constexpr u64 ID_MODEL_OPS = 150'000;

/// The static arena the suites carve their pools from (page-aligned): 20 MiB,
/// or what the board has room for (STRATA_FW_TEST_ARENA_MIB, set by the
/// toolchain file: 14 MiB on the Cortex-M boards, whose largest RAM is 16 MiB).
#ifndef STRATA_FW_TEST_ARENA_MIB
#define STRATA_FW_TEST_ARENA_MIB 20
#endif
inline constexpr usize ARENA_SIZE = usize{STRATA_FW_TEST_ARENA_MIB} << 20;
u8* arena();

/// Scratch storage for the scenario models (a suite owns it while it runs).
inline constexpr usize LIVE_CAPACITY = 4096;
inline constexpr usize SLOT_CAPACITY = 16384;
scenario::LiveBlock* live_blocks();
void** slots();

/// The suites (one per engine built; each prints its own step lines).
void suite_tlsf(scenario::Checker& chk);
void suite_buddy(scenario::Checker& chk);
void suite_heap(scenario::Checker& chk);
void suite_bitmap(scenario::Checker& chk);
void suite_fw_api(scenario::Checker& chk);
void suite_fw_heaps(scenario::Checker& chk);

/// Runs the byte model on `a` over the single region [mem, mem + n) as the
/// next step of `steps`, and prints its counters. `a` must already be
/// initialised over the region.
template <ByteAllocator A>
void byte_model_step(Steps& steps, A& a, u8* mem, usize n, const scenario::ByteModelParams& p) {
  const scenario::Region region{reinterpret_cast<uptr>(mem), n};
  const scenario::ByteModelStats st =
      scenario::run_byte_model(a, &region, 1, live_blocks(), LIVE_CAPACITY, p, steps.checker());
  steps.done("byte_model");
  put_byte_model_stats(p, st);
}

}  // namespace strata::fw
