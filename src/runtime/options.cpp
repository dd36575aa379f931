// strata runtime: the option table and the STRATA_CONF parser (allocation-free,
// so it runs inside the first malloc).
#include "runtime/options.hpp"

#include <stddef.h>
#include <string.h>

#include "platform/os.hpp"
#include "platform/report.hpp"

#ifndef STRATA_DEFAULT_CONF
#define STRATA_DEFAULT_CONF ""
#endif

// A program may set options at link time, as jemalloc's `malloc_conf`:
//   const char* strata_conf = "purge_delay_ms:0";
// Weak and default-visibility, so it is null when no one defines it.
extern "C" __attribute__((weak, visibility("default"))) const char* strata_conf;

namespace strata::rt {


namespace {
constexpr i64 I64_MAX = static_cast<i64>(~u64{0} >> 1);

/// Table entry: the public description plus where the value lives.
struct OptionSlot {
  OptionInfo info;
  usize offset;  ///< offsetof(Options, field); the field's type follows info.type
};

// Table entries, one constructor per type (every field named, none left to
// aggregate defaults).
constexpr OptionSlot opt_bool(const char* name, usize offset) {
  return {{name, OptionType::Bool, 0, 1, false, nullptr}, offset};
}
constexpr OptionSlot opt_int(const char* name, i64 min, i64 max, usize offset) {
  return {{name, OptionType::Int, min, max, false, nullptr}, offset};
}
constexpr OptionSlot opt_size(const char* name, i64 min, i64 max, bool zero_ok, usize offset) {
  return {{name, OptionType::Size, min, max, zero_ok, nullptr}, offset};
}
constexpr OptionSlot opt_string(const char* name, usize max_len, usize offset) {
  return {{name, OptionType::String, 0, static_cast<i64>(max_len), false, nullptr}, offset};
}
constexpr OptionSlot opt_path(const char* name, usize min_len, usize max_len, usize offset) {
  return {{name, OptionType::Path, static_cast<i64>(min_len), static_cast<i64>(max_len), false, nullptr}, offset};
}
constexpr OptionSlot opt_choice(const char* name, const char* const* choices, usize offset) {
  i64 n = 0;
  while (choices[n] != nullptr) ++n;
  return {{name, OptionType::Choice, 0, n - 1, false, choices}, offset};
}

// The one list of options. Int and Choice fields are i64, Size fields usize,
// Bool bool, String and Path char[max + 1].
constexpr OptionSlot OPTIONS[] = {
    opt_int("purge_delay_ms", -1, I64_MAX, offsetof(Options, purge_delay_ms)),
    opt_bool("tcache", offsetof(Options, tcache_enabled)),
    opt_bool("background_purge", offsetof(Options, background_purge)),
    opt_size("tcache_max", 0, i64{1} << 26, false, offsetof(Options, tcache_class_bytes)),
    opt_size("mem_limit", static_cast<i64>(MIN_MEM_LIMIT), I64_MAX, true, offsetof(Options, mem_limit)),
    opt_size("mem_limit_soft", static_cast<i64>(MIN_MEM_LIMIT), I64_MAX, true, offsetof(Options, mem_limit_soft)),
    opt_bool("cgroup_limit", offsetof(Options, cgroup_limit)),
    opt_string("cgroup_dir", CGROUP_DIR_MAX, offsetof(Options, cgroup_dir)),
    opt_choice("thp", THP_CHOICES, offsetof(Options, thp)),
    opt_bool("abort_conf", offsetof(Options, abort_conf)),
    opt_bool("stats_print", offsetof(Options, stats_print)),
    opt_string("stats_print_opts", STATS_OPTS_MAX, offsetof(Options, stats_print_opts)),
    opt_bool("verbose", offsetof(Options, verbose)),
    opt_bool("sized_dealloc_check", offsetof(Options, sized_dealloc_check)),
    opt_bool("huge_guard", offsetof(Options, huge_guard)),
    opt_bool("prof", offsetof(Options, prof)),
    opt_bool("prof_active", offsetof(Options, prof_active)),
    opt_int("lg_prof_sample", 0, PROF_LG_MAX, offsetof(Options, lg_prof_sample)),
    opt_path("prof_prefix", 1, PROF_PREFIX_MAX, offsetof(Options, prof_prefix)),
    opt_bool("prof_final", offsetof(Options, prof_final)),
    opt_int("lg_prof_interval", -1, PROF_LG_MAX, offsetof(Options, lg_prof_interval)),
    opt_bool("prof_gdump", offsetof(Options, prof_gdump)),
    opt_bool("prof_leak", offsetof(Options, prof_leak)),
    opt_int("guarded_sample_rate", 0, i64{1} << 40, offsetof(Options, guarded_sample_rate)),
    opt_int("guarded_slots", 1, i64{1} << 16, offsetof(Options, guarded_slots)),
};
constexpr usize NUM_OPTIONS = sizeof(OPTIONS) / sizeof(OPTIONS[0]);

template <class T>
T* field(Options& o, usize i) {
  return reinterpret_cast<T*>(reinterpret_cast<char*>(&o) + OPTIONS[i].offset);
}
template <class T>
const T* field(const Options& o, usize i) {
  return reinterpret_cast<const T*>(reinterpret_cast<const char*>(&o) + OPTIONS[i].offset);
}

struct Span {
  const char* p;
  usize n;
  bool is(const char* s) const { return ::strlen(s) == n && ::strncasecmp(p, s, n) == 0; }
};

bool parse_bool(Span v, bool& out) {
  if (v.is("true") || v.is("1") || v.is("yes") || v.is("on")) return out = true, true;
  if (v.is("false") || v.is("0") || v.is("no") || v.is("off")) return out = false, true;
  return false;
}

// Integer: optional sign, decimal or 0x hex digits (at least one), optional
// K/M/G suffix with an optional "i" and "B" (powers of 1024).
bool parse_int(Span v, i64& out) {
  usize i = 0;
  bool neg = false;
  if (i < v.n && (v.p[i] == '-' || v.p[i] == '+')) neg = v.p[i++] == '-';
  u32 base = 10;
  if (i + 1 < v.n && v.p[i] == '0' && (v.p[i + 1] == 'x' || v.p[i + 1] == 'X')) base = 16, i += 2;
  const usize first = i;
  u64 x = 0;
  for (; i < v.n; ++i) {
    const char c = v.p[i];
    u32 d = 99;
    if (c >= '0' && c <= '9') d = static_cast<u32>(c - '0');
    if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = static_cast<u32>((c | 0x20) - 'a' + 10);
    if (d >= base) break;
    if (x > ((u64{1} << 62) - d) / base) return false;  // x * base + d stays below 2^62
    x = x * base + d;
  }
  if (i == first) return false;  // no digits
  u32 shift = 0;
  if (i < v.n) {
    const char c = static_cast<char>(v.p[i++] | 0x20);
    shift = c == 'k' ? 10 : c == 'm' ? 20 : c == 'g' ? 30 : 99;
    if (shift == 99) return false;
    if (i < v.n && (v.p[i] | 0x20) == 'i') ++i;
    if (i < v.n && (v.p[i] | 0x20) == 'b') ++i;
    if (i != v.n) return false;
    if (x > (u64{1} << (62 - shift))) return false;
    x <<= shift;
  }
  out = neg ? -static_cast<i64>(x) : static_cast<i64>(x);
  return true;
}

// Letters, digits and the punctuation of file paths (no ',' or ':', which
// the conf syntax uses, no spaces or quotes).
bool is_string_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  for (const char* p = "/._-+~@="; *p != 0; ++p)
    if (c == *p) return true;
  return false;
}
// A path: any printable character but the pair separator, blanks and the
// two that JSON (the stats report) would have to escape.
bool is_path_char(char c) { return c > ' ' && c <= '~' && c != ',' && c != '"' && c != '\\'; }

// Stores value v into option i of o; false (o unchanged) when v does not parse
// or lies outside the option's range.
bool set_option(Options& o, usize i, Span v) {
  const OptionInfo& info = OPTIONS[i].info;
  switch (info.type) {
    case OptionType::Bool: {
      bool b = false;
      if (!parse_bool(v, b)) return false;
      *field<bool>(o, i) = b;
      return true;
    }
    case OptionType::Int:
    case OptionType::Size: {
      i64 x = 0;
      if (!parse_int(v, x)) return false;
      if ((x < info.min || x > info.max) && !(x == 0 && info.zero_ok)) return false;
      if (info.type == OptionType::Int) *field<i64>(o, i) = x;
      else *field<usize>(o, i) = static_cast<usize>(x);
      return true;
    }
    case OptionType::Choice: {
      for (i64 c = 0; info.choices[c] != nullptr; ++c) {
        if (!v.is(info.choices[c])) continue;
        *field<i64>(o, i) = c;
        return true;
      }
      return false;
    }
    case OptionType::String:
    case OptionType::Path: {
      if (v.n > static_cast<usize>(info.max) || v.n < static_cast<usize>(info.min)) return false;
      for (usize k = 0; k < v.n; ++k)
        if (info.type == OptionType::Path ? !is_path_char(v.p[k]) : !is_string_char(v.p[k])) return false;
      char* s = field<char>(o, i);
      ::memcpy(s, v.p, v.n);
      s[v.n] = 0;
      return true;
    }
  }
  return false;
}

// "<strata>: invalid conf <kind>: key[:value][ (keeping key:current)]", then
// the abort when abort_conf is set. One write, so lines do not interleave.
void report_invalid(const char* kind, Span k, Span v, usize opt, const Options& opts) {
  char line[OPTION_TEXT_MAX * 2 + 128];
  usize n = 0;
  auto put = [&](const char* s, usize len) {
    for (usize j = 0; j < len && n < sizeof(line) - 1; ++j) line[n++] = s[j];
  };
  put("invalid conf ", 13);
  put(kind, ::strlen(kind));
  put(": ", 2);
  put(k.p, k.n);
  if (v.p != nullptr) put(":", 1), put(v.p, v.n);
  if (opt < NUM_OPTIONS) {
    char cur[OPTION_TEXT_MAX + 1];
    const usize len = format_option(opts, opt, cur, sizeof cur);
    put(" (keeping ", 10);
    put(k.p, k.n);
    put(":", 1);
    put(cur, len);
    put(")", 1);
    // What would have been accepted, for the limits (a value below the
    // minimum working set is the likely mistake there).
    const OptionInfo& info = OPTIONS[opt].info;
    if (info.zero_ok) {
      char num[24];
      put("; want 0 (none) or at least ", 28);
      put(num, format_dec(num, static_cast<u64>(info.min)));
      put(" bytes (the minimum working set)", 32);
    } else if (info.type == OptionType::Choice) {
      put("; want one of", 13);
      for (usize c = 0; info.choices[c] != nullptr; ++c) put(" ", 1), put(info.choices[c], ::strlen(info.choices[c]));
    }
  }
  line[n] = 0;
  warn(line);
  if (opts.abort_conf) {
    warn("Abort (abort_conf:true) on invalid conf value (see above)");
    os::abort_process();
  }
}

// Calls f(key, value, has_colon) for every non-empty comma-separated item.
template <class F>
void for_each_pair(const char* conf, F f) {
  for (const char* p = conf; *p != 0;) {
    const char* end = p;
    while (*end != 0 && *end != ',') ++end;
    const char* colon = p;
    while (colon < end && *colon != ':') ++colon;
    if (end != p) {
      const Span k{p, static_cast<usize>(colon - p)};
      if (colon == end) f(k, Span{nullptr, 0});
      else f(k, Span{colon + 1, static_cast<usize>(end - colon - 1)});
    }
    p = *end == ',' ? end + 1 : end;
  }
}

bool env_flag(const char* name) {
  const char* s = os::env(name);
  if (s == nullptr || *s == 0) return false;
  bool b = false;
  if (parse_bool(Span{s, ::strlen(s)}, b)) return b;
  char line[96];
  usize n = 0;
  for (const char* t = "invalid value of "; *t != 0; ++t) line[n++] = *t;
  for (; *name != 0 && n < 60; ++name) line[n++] = *name;
  for (const char* t = " (want 1/0, true/false)"; *t != 0; ++t) line[n++] = *t;
  line[n] = 0;
  warn(line);
  return false;
}
}  // namespace

usize option_count() { return NUM_OPTIONS; }

const OptionInfo& option_info(usize i) { return OPTIONS[i].info; }

usize find_option(const char* name, usize n) {
  for (usize i = 0; i < NUM_OPTIONS; ++i)
    if (::strlen(OPTIONS[i].info.name) == n && ::memcmp(OPTIONS[i].info.name, name, n) == 0) return i;
  return NUM_OPTIONS;
}

i64 option_int(const Options& opts, usize i) {
  switch (OPTIONS[i].info.type) {
    case OptionType::Bool: return *field<bool>(opts, i) ? 1 : 0;
    case OptionType::Int:
    case OptionType::Choice: return *field<i64>(opts, i);
    case OptionType::Size: return static_cast<i64>(*field<usize>(opts, i));
    case OptionType::String:
    case OptionType::Path: break;
  }
  return 0;
}

const char* option_string(const Options& opts, usize i) {
  const OptionInfo& info = OPTIONS[i].info;
  if (info.type == OptionType::Choice) return info.choices[*field<i64>(opts, i)];
  return info.type == OptionType::String || info.type == OptionType::Path ? field<char>(opts, i) : "";
}

usize format_option(const Options& opts, usize i, char* buf, usize cap) {
  char tmp[32];
  const char* s = tmp;
  const i64 v = option_int(opts, i);
  switch (OPTIONS[i].info.type) {
    case OptionType::Bool: s = v != 0 ? "true" : "false"; break;
    case OptionType::String:
    case OptionType::Choice:
    case OptionType::Path: s = option_string(opts, i); break;
    default: {
      usize n = 0;
      if (v < 0) tmp[n++] = '-';
      n += format_dec(tmp + n, v < 0 ? 0 - static_cast<u64>(v) : static_cast<u64>(v));
      tmp[n] = 0;
    }
  }
  usize n = 0;
  for (; s[n] != 0 && n + 1 < cap; ++n) buf[n] = s[n];
  buf[n] = 0;
  return n;
}

usize parse_options(const char* conf, Options& opts) {
  if (conf == nullptr) return 0;
  // abort_conf may come after the pair it should make fatal: apply it first.
  const usize abort_idx = find_option("abort_conf", 10);
  for_each_pair(conf, [&](Span k, Span v) {
    if (v.p != nullptr && k.n == 10 && ::memcmp(k.p, "abort_conf", 10) == 0) (void)set_option(opts, abort_idx, v);
  });
  usize bad = 0;
  for_each_pair(conf, [&](Span k, Span v) {
    const usize i = find_option(k.p, k.n);
    if (v.p == nullptr || i == NUM_OPTIONS) {
      ++bad;
      report_invalid("pair", k, v, NUM_OPTIONS, opts);
    } else if (!set_option(opts, i, v)) {
      ++bad;
      report_invalid("value", k, v, i, opts);
    }
  });
  return bad;
}

const char* default_conf() { return STRATA_DEFAULT_CONF; }

void load_options(Options& opts) {
  parse_options(STRATA_DEFAULT_CONF, opts);
  if (&strata_conf != nullptr) parse_options(strata_conf, opts);
  parse_options(os::env("STRATA_CONF"), opts);
  if (env_flag("STRATA_SHOW_STATS")) opts.stats_print = true;
  if (env_flag("STRATA_VERBOSE")) opts.verbose = true;
  if (opts.verbose) print_options(opts);
}

void print_options(const Options& opts) {
  for (usize i = 0; i < NUM_OPTIONS; ++i) {
    char line[OPTION_TEXT_MAX + 64] = "opt.";
    usize n = 4;
    for (const char* s = OPTIONS[i].info.name; *s != 0; ++s) line[n++] = *s;
    line[n++] = ':';
    format_option(opts, i, line + n, sizeof(line) - n);
    warn(line);
  }
}

}  // namespace strata::rt
