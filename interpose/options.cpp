// strata runtime: the STRATA_CONF parser (allocation-free, so it runs inside
// the first malloc).
#include "options.hpp"

#include <stdlib.h>
#include <string.h>

#include "os.hpp"
#include "report.hpp"

#ifndef STRATA_DEFAULT_CONF
#define STRATA_DEFAULT_CONF ""
#endif

namespace strata::rt {

constinit Options g_options{};

namespace {
struct Span {
  const char* p;
  usize n;
  bool is(const char* s) const { return ::strlen(s) == n && ::memcmp(p, s, n) == 0; }
};

bool parse_bool(Span v, bool& out) {
  if (v.is("true") || v.is("1") || v.is("yes") || v.is("on")) return out = true, true;
  if (v.is("false") || v.is("0") || v.is("no") || v.is("off")) return out = false, true;
  return false;
}

// Decimal integer with optional sign and K/M/G (KiB/MiB/GiB) suffix.
bool parse_int(Span v, i64& out) {
  usize i = 0;
  bool neg = false;
  if (i < v.n && (v.p[i] == '-' || v.p[i] == '+')) neg = v.p[i++] == '-';
  if (i == v.n) return false;
  u64 x = 0;
  for (; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; ++i) {
    if (x > (u64{1} << 62) / 10) return false;
    x = x * 10 + static_cast<u64>(v.p[i] - '0');
  }
  u32 shift = 0;
  if (i < v.n) {
    const char c = v.p[i++];
    shift = c == 'K' || c == 'k' ? 10 : c == 'M' || c == 'm' ? 20 : c == 'G' || c == 'g' ? 30 : 99;
    if (shift == 99) return false;
    if (i < v.n && (v.p[i] == 'i' || v.p[i] == 'I')) ++i;  // KiB
    if (i < v.n && (v.p[i] == 'B' || v.p[i] == 'b')) ++i;
    if (i != v.n) return false;
  }
  if (shift != 0 && x > (u64{1} << (62 - shift))) return false;
  x <<= shift;
  out = neg ? -static_cast<i64>(x) : static_cast<i64>(x);
  return true;
}

void report_invalid(const char* kind, Span k, Span v, const Options& opts) {
  char line[200];
  usize n = 0;
  auto put = [&](const char* s, usize len) {
    for (usize i = 0; i < len && n < sizeof(line) - 2; ++i) line[n++] = s[i];
  };
  put(kind, ::strlen(kind));
  put(k.p, k.n);
  if (v.p != nullptr) {
    put(":", 1);
    put(v.p, v.n);
  }
  line[n] = 0;
  warn(line);
  if (opts.abort_conf) {
    warn("Abort (abort_conf:true) on invalid conf value (see above)");
    ::abort();
  }
}

// Applies one key:value pair; false when the key is unknown or the value bad.
enum class Apply { Ok, BadKey, BadValue };
Apply apply(Span k, Span v, Options& o) {
  i64 num = 0;
  if (k.is("purge_delay_ms")) {
    if (!parse_int(v, num) || num < -1) return Apply::BadValue;
    o.purge_delay_ms = num;
  } else if (k.is("tcache_max")) {
    if (!parse_int(v, num) || num < 0 || num > (i64{1} << 26)) return Apply::BadValue;
    o.tcache_class_bytes = static_cast<usize>(num);
  } else if (k.is("tcache")) {
    if (!parse_bool(v, o.tcache_enabled)) return Apply::BadValue;
  } else if (k.is("abort_conf")) {
    if (!parse_bool(v, o.abort_conf)) return Apply::BadValue;
  } else if (k.is("stats_print")) {
    if (!parse_bool(v, o.stats_print)) return Apply::BadValue;
  } else if (k.is("verbose")) {
    if (!parse_bool(v, o.verbose)) return Apply::BadValue;
  } else {
    return Apply::BadKey;
  }
  return Apply::Ok;
}
}  // namespace

usize parse_options(const char* conf, Options& opts) {
  usize bad = 0;
  if (conf == nullptr) return 0;
  // abort_conf may come after the pair it should make fatal: look for it first.
  if (const char* a = ::strstr(conf, "abort_conf:")) {
    const char* v = a + 11;
    if ((a == conf || a[-1] == ',') && (::strncmp(v, "true", 4) == 0 || *v == '1')) opts.abort_conf = true;
  }
  const char* p = conf;
  while (*p != 0) {
    const char* end = p;
    while (*end != 0 && *end != ',') ++end;
    const char* colon = p;
    while (colon < end && *colon != ':') ++colon;
    if (end != p) {
      Span k{p, static_cast<usize>(colon - p)};
      if (colon == end) {
        report_invalid("invalid conf pair: ", k, Span{nullptr, 0}, opts);
        ++bad;
      } else {
        Span v{colon + 1, static_cast<usize>(end - colon - 1)};
        const Apply r = apply(k, v, opts);
        if (r != Apply::Ok) {
          report_invalid(r == Apply::BadKey ? "invalid conf pair: " : "invalid conf value: ", k, v, opts);
          ++bad;
        }
      }
    }
    p = *end == ',' ? end + 1 : end;
  }
  return bad;
}

void load_options() {
  parse_options(STRATA_DEFAULT_CONF, g_options);
  parse_options(::getenv("STRATA_CONF"), g_options);
  const char* s = ::getenv("STRATA_SHOW_STATS");
  if (s != nullptr && *s != 0 && *s != '0') g_options.stats_print = true;
  const char* v = ::getenv("STRATA_VERBOSE");
  if (v != nullptr && *v != 0 && *v != '0') g_options.verbose = true;
  if (g_options.verbose) print_options();
}

void print_options() {
  char line[96];
  auto show = [&](const char* key, i64 val, bool is_bool) {
    usize n = 0;
    for (const char* s = key; *s != 0; ++s) line[n++] = *s;
    line[n++] = ':';
    if (is_bool) {
      const char* b = val != 0 ? "true" : "false";
      for (; *b != 0; ++b) line[n++] = *b;
    } else {
      if (val < 0) line[n++] = '-';
      n += format_dec(line + n, static_cast<u64>(val < 0 ? -val : val));
    }
    line[n] = 0;
    warn(line);
  };
  show("purge_delay_ms", g_options.purge_delay_ms, false);
  show("tcache", g_options.tcache_enabled, true);
  show("tcache_max", static_cast<i64>(g_options.tcache_class_bytes), false);
  show("abort_conf", g_options.abort_conf, true);
  show("stats_print", g_options.stats_print, true);
  show("verbose", g_options.verbose, true);
}

}  // namespace strata::rt
