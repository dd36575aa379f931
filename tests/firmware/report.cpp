// strata firmware images: console reporting (see report.hpp).
#include "report.hpp"

namespace strata::fw {
namespace {
constexpr u64 MAX_REPORTED = 32;
u64 reported = 0;

void on_check_failed(void*, const char* file, int line, const char* expr) {
  if (reported++ >= MAX_REPORTED) return;
  put_tag("check failed at ");
  put(file);
  put(":");
  put_dec(static_cast<u64>(line));
  put(": ");
  put(expr);
  put("\n");
}
}  // namespace

scenario::Checker console_checker() {
  scenario::Checker c;
  c.on_fail = on_check_failed;
  return c;
}

int report_verdict(const scenario::Checker& chk) {
  if (chk.ok()) {
    put_tag("PASS ");
    put_dec(chk.checks);
    put(" checks\n");
    return 0;
  }
  put_tag("FAIL ");
  put_dec(chk.failures);
  put(" of ");
  put_dec(chk.checks);
  put(" checks failed\n");
  return 1;
}

void Steps::done(const char* step) {
  put_tag(suite_);
  put(" ");
  put(step);
  put(chk_.failures == failures_ ? ": ok (" : ": FAILED (");
  put_dec(chk_.checks - checks_);
  put(" checks)\n");
  restart();
}

void put_field(const char* label, u64 value) {
  put(" ");
  put(label);
  put("=");
  put_dec(value);
}

void put_byte_model_stats(const scenario::ByteModelParams& p, const scenario::ByteModelStats& st) {
  put_tag(" ");
  put(" seed=");
  put_hex(p.seed);
  put_field("ops", p.ops);
  put_field("allocs", st.allocs);
  put_field("frees", st.frees);
  put_field("no_memory", st.no_memory);
  put_field("peak_live", st.peak_live);
  put("\n");
}

}  // namespace strata::fw
