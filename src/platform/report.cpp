// strata platform: fatal reports and the platform fatal hook for the engines.
#include "platform/report.hpp"

#include "platform/os.hpp"
#include "strata/core/check.hpp"

namespace strata::rt {

usize format_hex(char* buf, u64 v) {
  static constexpr char DIGITS[] = "0123456789abcdef";
  char tmp[16];
  usize n = 0;
  do {
    tmp[n++] = DIGITS[v & 15];
    v >>= 4;
  } while (v != 0);
  buf[0] = '0';
  buf[1] = 'x';
  for (usize i = 0; i < n; ++i) buf[2 + i] = tmp[n - 1 - i];
  return n + 2;
}

usize format_dec(char* buf, u64 v) {
  char tmp[20];
  usize n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (usize i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  return n;
}

namespace {
/// One report line in a stack buffer, written at once so that concurrent
/// reports do not interleave mid-line. Text past the buffer is cut.
struct FatalLine {
  char buf[320];
  usize n = 0;
  void put(const char* s) {
    for (; *s != 0 && n < sizeof(buf) - 24; ++s) buf[n++] = *s;
  }
  void hex(u64 v) {
    if (n < sizeof(buf) - 24) n += format_hex(buf + n, v);
  }
  void dec(u64 v) {
    if (n < sizeof(buf) - 24) n += format_dec(buf + n, v);
  }
  /// "strata: <fn>(): <what>"
  void misuse_head(const char* fn, const char* what) {
    put("strata: ");
    put(fn);
    put("(): ");
    put(what);
  }
  [[noreturn]] void die() {
    buf[n++] = '\n';
    os::write_stderr(buf, n);
    os::abort_process();
  }
};
}  // namespace

void fatal_line(const char* a, const char* b, u64 v) {
  FatalLine l;
  l.put("strata: ");
  l.put(a);
  l.put(b);
  l.put(" ");
  l.hex(v);
  l.die();
}

void misuse(const char* fn, const char* what, const void* p) {
  FatalLine l;
  l.misuse_head(fn, what);
  l.put(" ");
  l.hex(reinterpret_cast<uptr>(p));
  l.die();
}

void misuse_figures(const char* fn, const char* what, const void* p, const char* k1, u64 v1, const char* k2,
                    u64 v2) {
  FatalLine l;
  l.misuse_head(fn, what);
  l.put(" (");
  l.put(k1);
  l.put(" ");
  l.dec(v1);
  l.put(", ");
  l.put(k2);
  l.put(" ");
  l.dec(v2);
  l.put(") ");
  l.hex(reinterpret_cast<uptr>(p));
  l.die();
}

void warn(const char* text) {
  os::write_stderr("<strata>: ", 10);
  usize n = 0;
  while (text[n] != 0) ++n;
  os::write_stderr(text, n);
  os::write_stderr("\n", 1);
}

}  // namespace strata::rt

// Engines report broken invariants here (include/strata/core/check.hpp).
extern "C" [[noreturn]] void strata_fatal(const char* what, strata::uptr value) {
  strata::rt::fatal_line("internal error: ", what, value);
}
