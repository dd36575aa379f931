// strata firmware images: reporting scenario results on the serial console.
//
// Every image ends with report_verdict(), whose line the harness
// (run_qemu.sh) requires together with the ISA's pass exit code:
//   strata-fw: PASS <n> checks
//   strata-fw: FAIL <k> of <n> checks failed
#pragma once
#include "boot/common/console.hpp"
#include "core/types.hpp"
#include "scenarios/byte_model.hpp"
#include "scenarios/checker.hpp"

namespace strata::fw {

/// A scenario Checker whose failures print "strata-fw: check failed at
/// file:line: expr" on the console (the first 32; all are counted).
scenario::Checker console_checker();

/// Prints the verdict line for chk; returns fw_main's result (0: pass).
int report_verdict(const scenario::Checker& chk);

/// Prints "strata-fw: <suite> <step>: ok|FAILED (<n> checks)", counting the
/// checks and failures made since `checks_before` / `failures_before`.
void step_done(const char* suite, const char* step, const scenario::Checker& chk, u64 checks_before,
               u64 failures_before);

/// Prints " <label>=<value>" (no newline).
void put_field(const char* label, u64 value);

/// Prints one line with the parameters and counters of a byte-model run.
void put_byte_model_stats(const scenario::ByteModelParams& p, const scenario::ByteModelStats& st);

}  // namespace strata::fw
