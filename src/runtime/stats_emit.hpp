// strata runtime: the statistics emitter. The report is written once, as a
// sequence of emitter calls, and comes out either as indented text or as JSON
// (the shape of jemalloc's emitter.h): every call names both its JSON key and
// its text label, so the two formats cannot drift apart.
//
// Output goes through a fixed stack buffer to the caller's callback in
// NUL-terminated pieces: nothing here allocates.
#pragma once
#include "runtime/stats_report.hpp"

namespace strata::rt {

class Emitter {
 public:
  /// json: JSON instead of text. The callback receives the output in pieces.
  Emitter(WriteCb cb, void* opaque, bool json) : cb_(cb), opaque_(opaque), json_(json) {}
  ~Emitter() { flush(); }
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;

  /// Opens a nested object: JSON `"key": {`; text: `title` on its own line,
  /// then one more level of indentation (title null: text stays flat).
  void begin(const char* key, const char* title);
  /// Closes what begin() opened; text: prints `footer` on its own line (when not null).
  void end(const char* footer = nullptr);

  /// One scalar: JSON `"key": value`; text `label: value` (label null: key).
  void kv(const char* key, const char* label, u64 v);
  void kv_signed(const char* key, const char* label, i64 v);
  void kv_bool(const char* key, const char* label, bool v);
  void kv_str(const char* key, const char* label, const char* v);
  /// As kv, with the value already formatted; quoted (and escaped) in JSON when is_string.
  void kv_raw(const char* key, const char* label, const char* text, bool is_string);

  /// n scalars: JSON as n members of the current object; text as one line
  /// `Label0: v0, label1: v1, ...` (jemalloc's summary line).
  void kv_line(const char* const* keys, const char* const* labels, const u64* values, usize n);

  /// A table of rows with `ncols` unsigned columns named `cols` (JSON keys and
  /// text headers): JSON `"key": [{...}, ...]`; text: title, header, aligned rows.
  void table_begin(const char* key, const char* title, const char* const* cols, usize ncols);
  void table_row(const u64* values);
  void table_end();

  /// Writes whatever is buffered to the callback.
  void flush();

 private:
  void put(const char* s);
  void put_char(char c);
  void put_u64(u64 v);
  void put_padded(const char* s, usize width);  // right-aligned in width columns
  void indent(u32 levels);                       // two spaces per level
  void json_member(const char* key);             // separator, newline, indent, "key": (null key: none)

  WriteCb cb_;
  void* opaque_;
  bool json_;
  bool first_ = true;    ///< JSON: nothing written yet at this level
  u32 depth_ = 0;        ///< JSON nesting
  u32 text_depth_ = 0;   ///< text indentation levels
  u32 opens_ = 0;        ///< begin() calls not yet ended
  u64 titled_ = 0;       ///< bit i: the i-th open begin() indented the text
  const char* const* cols_ = nullptr;
  usize ncols_ = 0;
  usize n_ = 0;
  char buf_[2048];
};

}  // namespace strata::rt
