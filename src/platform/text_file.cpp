// strata platform: allocation-free text file reading (text_file.hpp).
#include "platform/text_file.hpp"

#include "platform/os.hpp"

namespace strata::rt {

LineReader::LineReader(const char* path) : fd_(os::open_read(path)) { eof_ = fd_ < 0; }

LineReader::~LineReader() {
  if (fd_ >= 0) os::close_fd(fd_);
}

bool LineReader::fill() {
  if (eof_) return false;
  if (begin_ != 0) {  // keep the partial line at the front
    for (usize i = begin_; i < end_; ++i) buf_[i - begin_] = buf_[i];
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == BUFFER) return false;  // a full buffer with no newline
  const isize r = os::read_fd(fd_, buf_ + end_, BUFFER - end_);
  if (r <= 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<usize>(r);
  return true;
}

const char* LineReader::next(usize& len) {
  for (;;) {
    for (usize i = begin_; i < end_; ++i) {
      if (buf_[i] != '\n') continue;
      char* line = buf_ + begin_;
      len = i - begin_;
      buf_[i] = 0;
      begin_ = i + 1;
      return line;
    }
    if (fill()) continue;
    if (end_ == BUFFER && begin_ == 0) {
      // A line longer than the buffer: drop what we have and its remainder.
      end_ = 0;
      while (fill()) {
        usize i = 0;
        while (i < end_ && buf_[i] != '\n') ++i;
        if (i < end_) {
          begin_ = i + 1;
          break;
        }
        end_ = 0;
      }
      continue;
    }
    if (begin_ < end_) {  // the last line has no newline
      char* line = buf_ + begin_;
      len = end_ - begin_;
      buf_[end_] = 0;
      begin_ = end_;
      return line;
    }
    return nullptr;
  }
}

isize read_small_file(const char* path, char* buf, usize cap) {
  buf[0] = 0;
  const int fd = os::open_read(path);
  if (fd < 0) return -1;
  usize n = 0;
  bool failed = false;
  while (n + 1 < cap) {
    const isize r = os::read_fd(fd, buf + n, cap - 1 - n);
    failed = r < 0;
    if (r <= 0) break;
    n += static_cast<usize>(r);
  }
  os::close_fd(fd);
  if (failed) n = 0;
  buf[n] = 0;
  return failed ? -1 : static_cast<isize>(n);
}

bool parse_u64(const char* s, usize n, u64& out) {
  usize i = 0;
  u64 v = 0;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i) {
    const u64 d = static_cast<u64>(s[i] - '0');
    if (v > (~u64{0} - d) / 10) return false;
    v = v * 10 + d;
  }
  if (i == 0) return false;
  for (; i < n; ++i)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n') return false;
  out = v;
  return true;
}

bool append_text(char* dst, usize& len, usize cap, const char* s) {
  usize n = 0;
  while (s[n] != 0) ++n;
  if (len + n + 1 > cap) return false;
  for (usize i = 0; i < n; ++i) dst[len + i] = s[i];
  len += n;
  dst[len] = 0;
  return true;
}

}  // namespace strata::rt
