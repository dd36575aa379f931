// strata bench: what every whole-program workload shares.
//
// A workload is a small deterministic program: fixed seeds, a fixed amount of
// work chosen by its flags, and on stdout at most one line, "checksum <hex>".
// The checksum depends only on the flags, never on the allocator or on thread
// scheduling, so scripts/bench.sh can tell a broken allocator from a slow one
// by comparing outputs across allocators. Time and peak RSS are measured from
// outside (/usr/bin/time), so nothing here times the hot paths; Stopwatch only
// serves --verbose phase notes on stderr.
//
// The programs call malloc/free/realloc directly and are built with
// -fno-builtin (and -fno-allocation-dce where the compiler has it) so that the
// compiler cannot fold allocation pairs away.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "scenarios/rng.hpp"

namespace bench {

/// Deterministic 64-bit generator: the tests' xoshiro256** seeded through
/// splitmix64 (tests/scenarios/rng.hpp), with the draws the workloads use.
/// Same seed, same sequence, on every allocator and machine.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : core_(seed) {}

  /// Next raw 64-bit value.
  std::uint64_t next() { return core_.next(); }

  /// Uniform in [0, n); n > 0. (Multiply-shift: bias is far below what matters here.)
  std::uint64_t below(std::uint64_t n) {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }

  /// Uniform in [lo, hi] inclusive; lo <= hi.
  std::size_t range(std::size_t lo, std::size_t hi) { return lo + below(hi - lo + 1); }

  /// Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// True with probability p.
  bool chance(double p) { return unit() < p; }

 private:
  strata::scenario::Rng core_;
};

/// One command-line flag: --name=value. Values are integers with an optional
/// K/M/G suffix (powers of 1024), or words where the program asks for text().
struct Flag {
  const char* name;
  const char* value;  ///< default, as it would be typed
  const char* help;
};

/// Parses --name=value flags against a fixed list; --help prints the list.
/// Every program also gets --verbose=0|1 (phase notes on stderr). An unknown
/// flag or a malformed number prints the usage and exits with 2.
class Flags {
 public:
  Flags(int argc, char** argv, const char* summary, std::vector<Flag> flags) : summary_(summary) {
    flags.push_back({"verbose", "0", "1 = phase notes on stderr"});
    for (const auto& f : flags) entries_.push_back({f, f.value});
    program_ = argv[0];
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") usage(0);
      const auto eq = arg.find('=');
      Entry* e = arg.rfind("--", 0) == 0 && eq != std::string::npos ? find(arg.substr(2, eq - 2)) : nullptr;
      if (e == nullptr) {
        std::fprintf(stderr, "%s: unknown argument '%s'\n", program_, arg.c_str());
        usage(2);
      }
      e->value = arg.substr(eq + 1);
    }
  }

  /// Integer value of a flag (with a K/M/G suffix applied).
  long num(const char* name) const {
    const std::string& text = value(name);
    char* end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    switch (*end) {
      case 'K': v <<= 10; ++end; break;
      case 'M': v <<= 20; ++end; break;
      case 'G': v <<= 30; ++end; break;
      default: break;
    }
    if (end == text.c_str() || *end != '\0' || v < 0) {
      std::fprintf(stderr, "%s: --%s wants a non-negative number, got '%s'\n", program_, name, text.c_str());
      std::exit(2);
    }
    return v;
  }

  /// Unsigned convenience for counts and sizes.
  std::size_t size(const char* name) const { return static_cast<std::size_t>(num(name)); }

  /// Text value of a flag.
  const std::string& text(const char* name) const { return value(name); }

  /// True under --verbose=1.
  bool verbose() const { return num("verbose") != 0; }

 private:
  struct Entry {
    Flag flag;
    std::string value;
  };
  Entry* find(const std::string& name) {
    for (auto& e : entries_)
      if (name == e.flag.name) return &e;
    return nullptr;
  }
  const std::string& value(const char* name) const {
    const Entry* e = const_cast<Flags*>(this)->find(name);
    if (e == nullptr) {
      std::fprintf(stderr, "internal: no flag --%s\n", name);
      std::exit(2);
    }
    return e->value;
  }
  [[noreturn]] void usage(int code) const {
    std::FILE* out = code == 0 ? stdout : stderr;
    std::fprintf(out, "%s: %s\nflags (--name=value):\n", program_, summary_);
    for (const auto& e : entries_) std::fprintf(out, "  --%-12s %s (default %s)\n", e.flag.name, e.flag.help, e.flag.value);
    std::exit(code);
  }

  const char* summary_;
  const char* program_;
  std::vector<Entry> entries_;
};

/// Wall-clock stopwatch for --verbose notes.
class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// printf to stderr when enabled; for --verbose phase notes.
inline void note(bool enabled, const char* fmt, ...) {
  if (!enabled) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
}

/// Mixes v into an order-sensitive running hash.
inline std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

/// Prints the program's only output line.
inline void print_checksum(std::uint64_t sum) {
  std::printf("checksum %016llx\n", static_cast<unsigned long long>(sum));
}

inline constexpr std::size_t PAGE = 4096;

/// Writes `tag` into a block the way a program would use it: small blocks
/// are filled completely, larger ones get their first and last 8 bytes plus
/// one word per page, so every page is committed but the allocator, not
/// memset, dominates. n >= 8.
inline void stamp(void* p, std::size_t n, std::uint64_t tag) {
  auto* bytes = static_cast<unsigned char*>(p);
  if (n <= 256) {
    std::memset(bytes, static_cast<int>(tag & 0xff), n);
    std::memcpy(bytes, &tag, sizeof tag);
    return;
  }
  for (std::size_t off = PAGE; off + sizeof tag <= n; off += PAGE) std::memcpy(bytes + off, &tag, sizeof tag);
  std::memcpy(bytes, &tag, sizeof tag);
  std::memcpy(bytes + n - sizeof tag, &tag, sizeof tag);
}

/// Reads back what stamp() wrote at the start of the block.
inline std::uint64_t read_tag(const void* p) {
  std::uint64_t tag;
  std::memcpy(&tag, p, sizeof tag);
  return tag;
}

/// malloc that ends the program on failure (workloads never expect null).
inline void* xmalloc(std::size_t n) {
  void* p = std::malloc(n);
  if (p == nullptr) {
    std::fprintf(stderr, "malloc(%zu) failed\n", n);
    std::abort();
  }
  return p;
}

/// realloc that ends the program on failure.
inline void* xrealloc(void* old, std::size_t n) {
  void* p = std::realloc(old, n);
  if (p == nullptr) {
    std::fprintf(stderr, "realloc(%zu) failed\n", n);
    std::abort();
  }
  return p;
}

/// Single-producer single-consumer bounded ring. Positions only grow; a
/// blocked side sleeps in a futex wait (std::atomic::wait) on the other
/// side's position instead of spinning, so oversubscribed runs stay fair.
template <class T>
class SpscRing {
 public:
  explicit SpscRing(std::size_t depth) : slots_(depth) {}

  /// Appends v, waiting while the ring is full. Producer thread only.
  void push(T v) {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t head = head_.load(std::memory_order_acquire);
      if (tail - head < slots_.size()) break;
      head_.wait(head, std::memory_order_acquire);
    }
    slots_[tail % slots_.size()] = v;
    tail_.store(tail + 1, std::memory_order_release);
    tail_.notify_one();
  }

  /// Takes the oldest element, waiting while the ring is empty. Consumer thread only.
  T pop() {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t tail = tail_.load(std::memory_order_acquire);
      if (tail != head) break;
      tail_.wait(tail, std::memory_order_acquire);
    }
    T v = slots_[head % slots_.size()];
    head_.store(head + 1, std::memory_order_release);
    head_.notify_one();
    return v;
  }

 private:
  std::vector<T> slots_;
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
};

/// Runs body(i) on n threads (i = 0..n-1) and joins them all.
template <class Body>
void run_threads(std::size_t n, Body body) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i) threads.emplace_back(body, i);
  for (auto& t : threads) t.join();
}

}  // namespace bench
