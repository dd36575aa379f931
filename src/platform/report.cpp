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

// Builds "strata: <a><b> 0x<v>\n" in a stack buffer and writes it at once, so
// concurrent reports do not interleave mid-line.
void fatal_line(const char* a, const char* b, u64 v) {
  char line[256];
  usize n = 0;
  auto put = [&](const char* s) {
    for (; *s != 0 && n < sizeof(line) - 24; ++s) line[n++] = *s;
  };
  put("strata: ");
  put(a);
  put(b);
  line[n++] = ' ';
  n += format_hex(line + n, v);
  line[n++] = '\n';
  os::write_stderr(line, n);
  os::abort_process();
}

void misuse(const char* fn, const char* what, const void* p) {
  char head[96];
  usize n = 0;
  for (const char* s = fn; *s != 0 && n < 80; ++s) head[n++] = *s;
  head[n++] = '(';
  head[n++] = ')';
  head[n++] = ':';
  head[n++] = ' ';
  head[n] = 0;
  fatal_line(head, what, reinterpret_cast<uptr>(p));
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
