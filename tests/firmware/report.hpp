// strata firmware images: reporting scenario results on the serial console.
//
// Every image ends with report_verdict(), whose line the harness
// (run_qemu.sh) requires together with the ISA's pass exit code:
//   strata-fw: PASS <n> checks
//   strata-fw: FAIL <k> of <n> checks failed
#pragma once
#include "boot/common/platform.hpp"
#include "strata/core/types.hpp"
#include "scenarios/byte_model.hpp"
#include "scenarios/checker.hpp"

namespace strata::fw {

/// A scenario Checker whose failures print "strata-fw: check failed at
/// file:line: expr" on the console (the first 32; all are counted).
scenario::Checker console_checker();

/// Prints the verdict line for chk; returns fw_main's result (0: pass).
int report_verdict(const scenario::Checker& chk);

/// The steps of one suite: done(step) prints "strata-fw: <suite> <step>:
/// ok|FAILED (<n> checks)" for the checks made since the previous step.
class Steps {
 public:
  Steps(const char* suite, scenario::Checker& chk) : suite_(suite), chk_(chk) { restart(); }
  /// Reports the step that just finished and starts the next one.
  void done(const char* step);
  scenario::Checker& checker() { return chk_; }

 private:
  void restart() {
    checks_ = chk_.checks;
    failures_ = chk_.failures;
  }
  const char* suite_;
  scenario::Checker& chk_;
  u64 checks_ = 0;
  u64 failures_ = 0;
};

/// Prints " <label>=<value>" (no newline).
void put_field(const char* label, u64 value);

/// Prints one line with the parameters and counters of a byte-model run.
void put_byte_model_stats(const scenario::ByteModelParams& p, const scenario::ByteModelStats& st);

/// Prints one line with the counters of a page- or id-model run (both
/// scenarios count the same things).
template <class Stats>
void put_model_stats(const Stats& st) {
  put_tag(" ");
  put_field("calls", st.ops);
  put_field("allocs", st.allocs);
  put_field("frees", st.frees);
  put_field("refused", st.refused);
  put_field("first_fit_checks", st.first_fit_checks);
  put("\n");
}

}  // namespace strata::fw
