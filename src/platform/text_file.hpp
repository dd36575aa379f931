// strata platform: reading the kernel's small text files (/proc/self/cgroup,
// /proc/self/mountinfo, /proc/self/smaps, cgroup memory.* files) without
// allocating: raw open/read (os.hpp) into a buffer the caller owns (on its
// stack), no stdio. Safe inside malloc.
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

/// Reads a file line by line through a fixed buffer. A line longer than the
/// buffer is skipped whole (the files read here have short lines; a long one
/// is a path nobody needs). Not copyable; closes the file when destroyed.
class LineReader {
 public:
  static constexpr usize BUFFER = 4096;

  /// Opens path; ok() is false when it cannot be opened (then next() ends at once).
  explicit LineReader(const char* path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  bool ok() const { return fd_ >= 0; }

  /// The next line, without its '\n' and NUL-terminated, valid until the next
  /// call; its length in len. Null at the end of the file or on a read error.
  const char* next(usize& len);

 private:
  bool fill();  // reads more after the kept bytes; false when nothing came

  int fd_;
  usize begin_ = 0;  ///< start of the unread bytes in buf_
  usize end_ = 0;    ///< end of the bytes read
  bool eof_ = false;
  char buf_[BUFFER + 1];
};

/// Reads the whole of a small file into buf (cap >= 1 bytes, NUL-terminated,
/// so at most cap - 1 of it) and returns its length; -1 (buf empty) when it
/// cannot be opened or read (a directory, say). Whatever follows the first
/// cap - 1 bytes is ignored.
isize read_small_file(const char* path, char* buf, usize cap);

/// Parses an unsigned decimal at s[0, n) (optionally followed by whitespace):
/// false when there is no digit, anything else follows, or it overflows u64.
bool parse_u64(const char* s, usize n, u64& out);

/// Appends NUL-terminated `s` to dst (length *len, capacity cap, kept
/// NUL-terminated); false (dst unchanged) when it does not fit.
bool append_text(char* dst, usize& len, usize cap, const char* s);

}  // namespace strata::rt
