// strata runtime: the statistics emitter (text or JSON into a stack buffer).
//
// JSON: the document is one object; begin() at the outermost level opens it
// first and the matching end() closes it. Text: begin() with a title prints
// the title and indents what follows by two spaces (the outermost title is a
// header line and indents nothing); begin() without a title groups members
// for JSON only and leaves the text flat.
#include "runtime/stats_emit.hpp"

#include <string.h>

#include "platform/report.hpp"

namespace strata::rt {

namespace {
constexpr usize COL_WIDTH = 12;
}

void Emitter::flush() {
  if (n_ == 0) return;
  buf_[n_] = 0;
  cb_(opaque_, buf_);
  n_ = 0;
}

void Emitter::put_char(char c) {
  if (n_ + 1 >= sizeof buf_) flush();
  buf_[n_++] = c;
}

void Emitter::put(const char* s) {
  for (; *s != 0; ++s) put_char(*s);
}

void Emitter::put_u64(u64 v) {
  char num[24];
  num[format_dec(num, v)] = 0;
  put(num);
}

void Emitter::put_padded(const char* s, usize width) {
  for (usize len = ::strlen(s); len < width; ++len) put_char(' ');
  put(s);
}

void Emitter::indent(u32 levels) {
  for (u32 i = 0; i < levels; ++i) put("  ");
}

void Emitter::json_member(const char* key) {
  if (!first_) put_char(',');
  first_ = false;
  put_char('\n');
  indent(depth_);
  if (key == nullptr) return;
  put_char('"');
  put(key);
  put("\": ");
}

void Emitter::begin(const char* key, const char* title) {
  const bool titled = title != nullptr;
  const bool indents = titled && opens_ > 0;  // the outermost title is a header line
  if (opens_ < 64 && indents) titled_ |= u64{1} << opens_;
  ++opens_;
  if (json_) {
    if (depth_ == 0) {
      put_char('{');  // the document's outer object
      depth_ = 1;
    }
    json_member(key);
    put_char('{');
    first_ = true;
    ++depth_;
  } else if (titled) {
    indent(text_depth_);
    put(title);
    put_char('\n');
    if (indents) ++text_depth_;
  }
}

void Emitter::end(const char* footer) {
  if (opens_ == 0) return;
  --opens_;
  const bool indented = opens_ < 64 && (titled_ >> opens_ & 1) != 0;
  titled_ &= ~(u64{1} << (opens_ & 63));
  if (json_) {
    --depth_;
    put_char('\n');
    indent(depth_);
    put_char('}');
    first_ = false;
    if (opens_ == 0) {  // the outermost object: close the document too
      put("\n}\n");
      depth_ = 0;
      first_ = true;
    }
    return;
  }
  if (indented && text_depth_ > 0) --text_depth_;
  if (footer != nullptr) {
    indent(text_depth_);
    put(footer);
    put_char('\n');
  }
}

void Emitter::kv_raw(const char* key, const char* label, const char* text, bool is_string) {
  if (json_) {
    json_member(key);
    if (!is_string) return put(text);
    put_char('"');
    for (const char* s = text; *s != 0; ++s) {
      if (*s == '"' || *s == '\\') put_char('\\');
      put_char(static_cast<unsigned char>(*s) < 0x20 ? '?' : *s);
    }
    put_char('"');
    return;
  }
  indent(text_depth_);
  put(label != nullptr ? label : key);
  put(": ");
  put(text);
  put_char('\n');
}

void Emitter::kv(const char* key, const char* label, u64 v) {
  char num[24];
  num[format_dec(num, v)] = 0;
  kv_raw(key, label, num, false);
}

void Emitter::kv_signed(const char* key, const char* label, i64 v) {
  char num[24];
  usize n = 0;
  if (v < 0) num[n++] = '-';
  n += format_dec(num + n, v < 0 ? 0 - static_cast<u64>(v) : static_cast<u64>(v));
  num[n] = 0;
  kv_raw(key, label, num, false);
}

void Emitter::kv_bool(const char* key, const char* label, bool v) { kv_raw(key, label, v ? "true" : "false", false); }

void Emitter::kv_str(const char* key, const char* label, const char* v) { kv_raw(key, label, v, true); }

void Emitter::kv_line(const char* const* keys, const char* const* labels, const u64* values, usize n) {
  if (json_) {
    for (usize i = 0; i < n; ++i) kv(keys[i], labels[i], values[i]);
    return;
  }
  indent(text_depth_);
  for (usize i = 0; i < n; ++i) {
    if (i != 0) put(", ");
    put(labels[i]);
    put(": ");
    put_u64(values[i]);
  }
  put_char('\n');
}

void Emitter::table_begin(const char* key, const char* title, const char* const* cols, usize ncols) {
  cols_ = cols;
  ncols_ = ncols;
  if (json_) {
    json_member(key);
    put_char('[');
    first_ = true;
    ++depth_;
    return;
  }
  indent(text_depth_);
  put(title);
  put_char('\n');
  indent(text_depth_ + 1);
  for (usize c = 0; c < ncols; ++c) put_padded(cols[c], COL_WIDTH);
  put_char('\n');
}

void Emitter::table_row(const u64* values) {
  if (json_) {
    json_member(nullptr);
    put_char('{');
    for (usize c = 0; c < ncols_; ++c) {
      if (c != 0) put(", ");
      put_char('"');
      put(cols_[c]);
      put("\": ");
      put_u64(values[c]);
    }
    put_char('}');
    return;
  }
  indent(text_depth_ + 1);
  for (usize c = 0; c < ncols_; ++c) {
    char num[24];
    num[format_dec(num, values[c])] = 0;
    put_padded(num, COL_WIDTH);
  }
  put_char('\n');
}

void Emitter::table_end() {
  if (json_) {
    --depth_;
    put_char('\n');
    indent(depth_);
    put_char(']');
    first_ = false;
  }
  cols_ = nullptr;
  ncols_ = 0;
}

}  // namespace strata::rt
