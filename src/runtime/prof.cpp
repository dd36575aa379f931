// strata runtime: the heap profiler (sampling, tables, dumps, leak report).
#include "runtime/prof.hpp"

#include <errno.h>

#include <algorithm>

#include "platform/os.hpp"
#include "platform/report.hpp"
#include "platform/segment_map.hpp"
#include "runtime/runtime.hpp"
#include "runtime/thread_cache.hpp"

namespace strata::rt {

constinit thread_local ProfThread t_prof{};

namespace {

/// The countdown of a thread while profiling is off: it never reaches zero.
constexpr i64 OFF_DISTANCE = i64{1} << 62;

/// Header in the 16 bytes before a sampled block of the profiler's TLSF heap.
/// `check` ties it to its block (and is cleared on free: a second free fails it).
struct SampleHeader {
  u32 record;  ///< the block's record (0: sampled while the tables were full)
  u32 offset;  ///< block - TLSF block start (the alignment, >= 16)
  u64 check;
};
static_assert(sizeof(SampleHeader) == 16);
constexpr u64 SAMPLE_MAGIC = 0x53545241'50524f46ull;  // "STRAPROF"
u64 check_of(const void* p, u32 record) { return SAMPLE_MAGIC ^ reinterpret_cast<uptr>(p) ^ (u64{record} << 40); }

/// Largest alignment a sampled allocation honours (larger ones are not sampled).
constexpr usize MAX_SAMPLED_ALIGN = MEDIUM_MAX_ALIGN;

// ---- math without libm (a few calls per sample) -----------------------------

constexpr double LN2 = 0.69314718055994530942;

/// Natural logarithm of u in (0, 1]: u = m 2^e with m in [1, 2), and
/// ln m = 2 atanh((m - 1) / (m + 1)) by its series (|s| <= 1/3: 14 terms
/// reach double precision).
double ln_unit(double u) {
  u64 bits = 0;
  __builtin_memcpy(&bits, &u, sizeof bits);
  const i64 e = static_cast<i64>((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & ((u64{1} << 52) - 1)) | (u64{1023} << 52);
  double m = 0;
  __builtin_memcpy(&m, &bits, sizeof m);
  const double s = (m - 1) / (m + 1);
  const double s2 = s * s;
  double term = s, sum = 0;
  for (int k = 1; k < 30; k += 2) {
    sum += term / k;
    term *= s2;
  }
  return 2 * sum + static_cast<double>(e) * LN2;
}

/// e^(-x) for x >= 0: 2^(-k) e^(-r) with x = k ln2 + r, r in [0, ln2).
double exp_neg(double x) {
  if (x > 700) return 0;
  const i64 k = static_cast<i64>(x / LN2);
  const double r = x - static_cast<double>(k) * LN2;
  double term = 1, sum = 1;
  for (int i = 1; i < 20; ++i) {
    term *= -r / i;
    sum += term;
  }
  u64 bits = static_cast<u64>(1023 - k) << 52;  // 2^-k, k <= 1010
  double scale = 0;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return sum * scale;
}

u64 next_random(ProfThread& t) {
  if (t.rng == 0) t.rng = os::random_u64() ^ (reinterpret_cast<uptr>(&t) * 0x9e3779b97f4a7c15ull) ^ 1;
  u64 x = t.rng;  // xorshift64*
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  t.rng = x;
  return x * 0x2545f4914f6cdd1dull;
}

/// Restarts the countdown at `distance`; returns the bytes asked for since the last restart.
u64 reset_countdown(ProfThread& t, i64 distance) {
  const u64 used = static_cast<u64>(t.last_reset) - static_cast<u64>(t_cache.bytes_until_sample);
  t_cache.bytes_until_sample = distance;
  t.last_reset = distance;
  return used;
}
}  // namespace

/// The dump's output: a mapped buffer flushed with write(2) (no malloc).
struct Profiler::DumpBuffer {
  static constexpr usize SIZE = usize{256} << 10;
  char* buf = nullptr;
  usize len = 0;
  int fd = -1;
  bool ok = true;

  bool open() {
    buf = static_cast<char*>(os::map_aligned(SIZE, os::page_size()));
    return buf != nullptr;
  }
  void close() {
    if (buf != nullptr) os::release(buf, SIZE);
    buf = nullptr;
  }
  void flush() {
    if (len != 0 && ok) ok = os::write_all(fd, buf, len);
    len = 0;
  }
  void room(usize n) {
    if (len + n > SIZE) flush();
  }
  void str(const char* s) {
    usize n = 0;
    while (s[n] != 0) ++n;
    room(n);
    __builtin_memcpy(buf + len, s, n);
    len += n;
  }
  void dec(u64 v) {
    room(24);
    len += format_dec(buf + len, v);
  }
  void hex(u64 v) {
    room(24);
    len += format_hex(buf + len, v);
  }
  void ch(char c) {
    room(1);
    buf[len++] = c;
  }
};

// ---- configuration and switches ---------------------------------------------------

void Profiler::configure(const Options& o) {
  lg_sample_ = static_cast<u32>(o.lg_prof_sample);
  interval_ = o.lg_prof_interval < 0 ? 0 : u64{1} << o.lg_prof_interval;
  prefix_ = o.prof_prefix;
  gdump_ = o.prof_gdump;
  final_ = o.prof_final;
  leak_ = o.prof_leak;
  active_ = o.prof_active;
  if (!o.prof) return;
  const usize page = os::page_size();
  auto round = [page](usize b) { return (b + page - 1) & ~(page - 1); };
  const usize s_stacks = round(sizeof(Stack) * MAX_STACKS), s_slots = round(sizeof(u32) * HASH_SLOTS);
  const usize s_frames = round(sizeof(void*) * MAX_FRAME_WORDS), s_records = round(sizeof(Record) * MAX_RECORDS);
  const usize s_graves = round(sizeof(Grave) * MAX_RECORDS);
  const usize total = s_stacks + s_slots + s_frames + s_records + s_graves;
  char* m = static_cast<char*>(os::map_aligned(total, page));
  if (m == nullptr) {
    warn("prof: cannot map the profiler's tables; profiling stays off");
    return;
  }
  stacks_ = reinterpret_cast<Stack*>(m);
  slots_ = reinterpret_cast<u32*>(m + s_stacks);
  frames_ = reinterpret_cast<void**>(m + s_stacks + s_slots);
  records_ = reinterpret_cast<Record*>(m + s_stacks + s_slots + s_frames);
  graves_ = reinterpret_cast<Grave*>(m + s_stacks + s_slots + s_frames + s_records);
  __atomic_store_n(&enabled_, true, __ATOMIC_RELEASE);
}

bool Profiler::set_active(bool on) {
  if (!enabled()) return false;
  __atomic_store_n(&active_, on, __ATOMIC_RELAXED);
  return true;
}

bool Profiler::set_gdump(bool on) {
  if (!enabled()) return false;
  __atomic_store_n(&gdump_, on, __ATOMIC_RELAXED);
  return true;
}

bool Profiler::reset(u32 lg) {
  if (!enabled() || lg > PROF_LG_MAX) return false;
  LockGuard g(lock_);
  for (u32 i = 1; i < nrecords_; ++i)
    if (records_[i].stack != 0) records_[i].stack = DETACHED;
  for (u32 i = 1; i < nstacks_; ++i) {
    Stack& s = stacks_[i];
    s.live_count = s.live_bytes = s.alloc_count = s.alloc_bytes = 0;
  }
  ngraves_ = 0;
  live_estimate_ = peak_estimate_ = 0;
  peak_seq_ = seq_;
  __atomic_store_n(&lg_sample_, lg, __ATOMIC_RELAXED);
  return true;
}

i64 random_distance(ProfThread& t, double mean) {
  const double u = static_cast<double>((next_random(t) >> 11) + 1) * (1.0 / 9007199254740992.0);  // (0, 1]
  const double d = -ln_unit(u) * mean;
  return d >= static_cast<double>(OFF_DISTANCE) ? OFF_DISTANCE : static_cast<i64>(d);
}

i64 Profiler::next_distance(ProfThread& t) const {
  const u32 lg = lg_sample();
  if (lg == 0) return 0;  // R = 1: every allocation is sampled
  return random_distance(t, static_cast<double>(u64{1} << lg));
}

double Profiler::estimate(u64 n) const {
  const double r = static_cast<double>(u64{1} << lg_sample());
  const double p = 1 - exp_neg(static_cast<double>(n) / r);
  return p > 0 ? static_cast<double>(n) / p : static_cast<double>(n);
}

// ---- the sampling slow path -------------------------------------------------------

// At load time (after libc's constructors, before the program's): with
// profiling on, libunwind's walker replaces libgcc's. Not inside malloc:
// dlopen there could run in the middle of the loader's own work. Samples
// taken before this (from the loader, from earlier constructors) use libgcc's.
__attribute__((constructor)) void prof_load_unwinder() {
  ensure_initialised();
  Profiler& pr = g_runtime.prof;
  if (!pr.enabled() || __atomic_load_n(&pr.fast_backtrace_, __ATOMIC_ACQUIRE) != nullptr) return;
  ProfThread& t = t_prof;
  t.busy = 1;  // dlopen's own allocations are not sampled
  const os::FastBacktrace fast = os::load_fast_backtrace();
  t.busy = 0;
  __atomic_store_n(&pr.fast_backtrace_, fast, __ATOMIC_RELEASE);
}

void* prof_countdown(usize n, usize align) {
  ProfThread& t = t_prof;
  ensure_initialised();
  Profiler& pr = g_runtime.prof;
  if (!pr.enabled()) {
    GuardedPool& gp = g_runtime.guarded;
    if (!gp.enabled()) {
      reset_countdown(t, OFF_DISTANCE);
      return nullptr;
    }
    // Guarded sampling owns the countdown (guarded.hpp). A thread's first
    // countdown only draws its distance (a short-lived thread's one
    // allocation is not a sample: no mprotect per thread).
    reset_countdown(t, gp.next_distance(t));
    if (t.armed == 0 && !gp.every_allocation()) {
      t.armed = 1;
      return nullptr;
    }
    if (t.busy != 0) return nullptr;
    t.busy = 1;
    void* p = gp.alloc(n, align);
    t.busy = 0;
    return p;
  }
  if (t.busy != 0) return nullptr;  // inside the profiler: never sampled (the count stays due)
  if (t.armed == 0) {  // the thread's first countdown: draw its first distance
    t.armed = 1;
    const i64 d = pr.next_distance(t);
    t_cache.bytes_until_sample = static_cast<i64>(static_cast<u64>(t_cache.bytes_until_sample) + static_cast<u64>(d));
    t.last_reset = static_cast<i64>(static_cast<u64>(t.last_reset) + static_cast<u64>(d));
    if (t_cache.bytes_until_sample >= 0) return nullptr;
  }
  const u64 used = reset_countdown(t, pr.next_distance(t));
  void* p = nullptr;
  t.busy = 1;
  if (pr.active() && n < MAX_OBJECT_SIZE && align <= MAX_SAMPLED_ALIGN) p = pr.sample(n, align);
  pr.on_bytes(used);
  t.busy = 0;
  return p;
}

void* Profiler::sample(usize n, usize align) {
  // strata's own code range, found at the first sample rather than at
  // initialisation: dl_iterate_phdr takes the loader's lock, which must not
  // be waited for under strata's init lock. Racing threads find the same range.
  if (!__atomic_load_n(&range_known_, __ATOMIC_ACQUIRE)) {
    uptr lo = 0, hi = 0;
    if (os::code_range_of(reinterpret_cast<const void*>(&prof_countdown), lo, hi)) {
      __atomic_store_n(&skip_lo_, lo, __ATOMIC_RELAXED);
      __atomic_store_n(&skip_hi_, hi, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&range_known_, true, __ATOMIC_RELEASE);
  }
  // libunwind sets up a cache per thread (mapped, torn down at thread exit):
  // worth it for a thread that samples often, not for one that lives for a
  // few samples (thread churn). A thread's first FAST_AFTER walks use libgcc's.
  constexpr u8 FAST_AFTER = 4;
  ProfThread& t = t_prof;
  const os::FastBacktrace fast = t.samples >= FAST_AFTER ? __atomic_load_n(&fast_backtrace_, __ATOMIC_ACQUIRE) : nullptr;
  if (t.samples != 255) ++t.samples;
  void* frames[PROF_MAX_FRAMES];
  const usize depth = os::backtrace(frames, PROF_MAX_FRAMES, __atomic_load_n(&skip_lo_, __ATOMIC_RELAXED),
                                    __atomic_load_n(&skip_hi_, __ATOMIC_RELAXED), fast);
  u64 hash = 0x9ae16a3b2f90404full ^ depth;
  for (usize i = 0; i < depth; ++i) {
    hash ^= reinterpret_cast<uptr>(frames[i]);
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 32;
  }
  // The block first: a sample that cannot have its block is no sample.
  const bool medium = n <= MEDIUM_MAX;
  const usize a = align < MIN_ALIGN ? MIN_ALIGN : align;
  void* p = nullptr;
  if (medium) {
    char* raw = static_cast<char*>(heap_.alloc(n + a, a));
    if (raw == nullptr) return nullptr;
    p = raw + a;
  } else {
    p = huge_->alloc(n, a);
    if (p == nullptr) return nullptr;
  }
  u32 rec = 0;
  {
    LockGuard g(lock_);
    const u32 st = intern(frames, depth, hash);
    if (st != 0) rec = new_record(st, n);
    if (rec == 0) ++dropped_;
  }
  if (medium) {
    auto* h = reinterpret_cast<SampleHeader*>(static_cast<char*>(p) - sizeof(SampleHeader));
    h->record = rec;
    h->offset = static_cast<u32>(a);
    h->check = check_of(p, rec);
    t_prof.allocated += usable_size(p, "malloc");
  } else {
    if (rec != 0) huge_->set_sample(p, rec);
    t_prof.allocated += huge_->usable_size(p, "malloc");
  }
  return p;
}

u32 Profiler::intern(void* const* frames, usize depth, u64 hash) {
  for (u32 i = static_cast<u32>(hash) & (HASH_SLOTS - 1);; i = (i + 1) & (HASH_SLOTS - 1)) {
    const u32 id = slots_[i];
    if (id == 0) {
      if (nstacks_ == MAX_STACKS || nframes_ + depth > MAX_FRAME_WORDS) return 0;
      const u32 nid = nstacks_++;
      Stack& s = stacks_[nid];
      s.hash = hash;
      s.depth = static_cast<u32>(depth);
      s.first = static_cast<u32>(nframes_);
      for (usize k = 0; k < depth; ++k) frames_[nframes_ + k] = frames[k];
      nframes_ += depth;
      slots_[i] = nid;
      return nid;
    }
    const Stack& s = stacks_[id];
    if (s.hash != hash || s.depth != depth) continue;
    bool same = true;
    for (usize k = 0; k < depth && same; ++k) same = frames_[s.first + k] == frames[k];
    if (same) return id;
  }
}

u32 Profiler::new_record(u32 stack, usize n) {
  u32 id = free_record_;
  if (id != 0) {
    free_record_ = records_[id].next_free;
  } else {
    if (nrecords_ == MAX_RECORDS) return 0;
    id = nrecords_++;
  }
  records_[id] = Record{stack, 0, n, seq_++};
  Stack& s = stacks_[stack];
  ++s.live_count;
  s.live_bytes += n;
  ++s.alloc_count;
  s.alloc_bytes += n;
  live_estimate_ += estimate(n);
  if (live_estimate_ > peak_estimate_) {  // a new peak: the live set is the peak set
    peak_estimate_ = live_estimate_;
    peak_seq_ = seq_;
    ngraves_ = 0;
  }
  return id;
}

void Profiler::drop_record(u32 id) {
  Record& r = records_[id];
  if (r.stack != DETACHED) {
    Stack& s = stacks_[r.stack];
    --s.live_count;
    s.live_bytes -= r.size;
    live_estimate_ -= estimate(r.size);
    if (r.seq < peak_seq_ && ngraves_ < MAX_RECORDS) graves_[ngraves_++] = Grave{r.stack, r.size};
  }
  r.stack = 0;
  r.next_free = free_record_;
  free_record_ = id;
}

void Profiler::forget(u32 record) {
  if (record == 0 || !enabled()) return;
  LockGuard g(lock_);
  if (record < nrecords_ && records_[record].stack != 0) drop_record(record);
}

void Profiler::resized(u32 record, usize n) {
  if (record == 0 || !enabled()) return;
  LockGuard g(lock_);
  if (record >= nrecords_) return;
  Record& r = records_[record];
  if (r.stack == 0 || r.stack == DETACHED) return;
  Stack& s = stacks_[r.stack];
  s.live_bytes = s.live_bytes - r.size + n;
  live_estimate_ += estimate(n) - estimate(r.size);
  r.size = n;
}

namespace {
/// The header of sampled block p, validated (p in a Sampled segment).
SampleHeader* sample_header(const void* p, const char* fn) {
  const uptr a = reinterpret_cast<uptr>(p);
  if ((a & (MIN_ALIGN - 1)) != 0 || a - reinterpret_cast<uptr>(segment_base(p)) < 2 * sizeof(SampleHeader))
    misuse(fn, "invalid pointer (not the start of a block)", p);
  auto* h = reinterpret_cast<SampleHeader*>(a - sizeof(SampleHeader));
  if (h->check != check_of(p, h->record)) misuse(fn, "double free or invalid pointer", p);
  return h;
}
}  // namespace

void Profiler::free_sampled(void* p, const char* fn) {
  SampleHeader* h = sample_header(p, fn);
  const u32 rec = h->record;
  t_prof.deallocated += heap_.usable_size(static_cast<char*>(p) - h->offset, fn) - h->offset;
  h->check = 0;
  heap_.dealloc(static_cast<char*>(p) - h->offset, fn);
  forget(rec);
}

usize Profiler::usable_size(const void* p, const char* fn) {
  const SampleHeader* h = sample_header(p, fn);
  return heap_.usable_size(static_cast<const char*>(p) - h->offset, fn) - h->offset;
}

// ---- dumps -------------------------------------------------------------------------

void Profiler::on_bytes(u64 bytes) {
  if (interval_ != 0 &&
      __atomic_add_fetch(&interval_accum_, bytes, __ATOMIC_RELAXED) >= interval_ &&
      __atomic_exchange_n(&dumping_, 1u, __ATOMIC_ACQUIRE) == 0) {
    // Several intervals may have passed: one dump, the count restarts.
    __atomic_store_n(&interval_accum_, 0, __ATOMIC_RELAXED);
    (void)dump(DumpKind::Interval, nullptr);
    __atomic_store_n(&dumping_, 0u, __ATOMIC_RELEASE);
  }
  if (gdump()) {
    const usize mapped = g_runtime.pages.mapped_bytes();
    usize high = __atomic_load_n(&gdump_high_, __ATOMIC_RELAXED);
    if (mapped > high && __atomic_compare_exchange_n(&gdump_high_, &high, mapped, false, __ATOMIC_RELAXED,
                                                     __ATOMIC_RELAXED) &&
        __atomic_exchange_n(&dumping_, 1u, __ATOMIC_ACQUIRE) == 0) {
      (void)dump(DumpKind::Gdump, nullptr);
      __atomic_store_n(&dumping_, 0u, __ATOMIC_RELEASE);
    }
  }
}

namespace {
/// One line of a profile: a stack (by id) and the blocks of one size on it.
struct Entry {
  u32 stack;
  u64 size;
  bool operator<(const Entry& o) const { return stack != o.stack ? stack < o.stack : size < o.size; }
};
}  // namespace

bool Profiler::write_profile(int fd, DumpKind kind, DumpBuffer& out) {
  out.fd = fd;
  // The blocks to report: the live samples, or those of the peak.
  const bool peak = kind == DumpKind::Peak;
  usize n = 0;
  for (u32 i = 1; i < nrecords_; ++i) {
    const Record& r = records_[i];
    if (r.stack != 0 && r.stack != DETACHED && (!peak || r.seq < peak_seq_)) ++n;
  }
  if (peak) n += ngraves_;
  const usize scratch_bytes = (n * sizeof(Entry) + os::page_size()) & ~(os::page_size() - 1);
  Entry* e = static_cast<Entry*>(os::map_aligned(scratch_bytes, os::page_size()));
  if (e == nullptr) return false;
  usize k = 0;
  for (u32 i = 1; i < nrecords_; ++i) {
    const Record& r = records_[i];
    if (r.stack != 0 && r.stack != DETACHED && (!peak || r.seq < peak_seq_)) e[k++] = Entry{r.stack, r.size};
  }
  if (peak)
    for (u32 i = 0; i < ngraves_; ++i) e[k++] = Entry{graves_[i].stack, graves_[i].size};
  std::sort(e, e + k);  // introsort in place: no allocation
  u64 live_n = 0, live_b = 0, all_n = 0, all_b = 0;
  for (usize i = 0; i < k; ++i) live_n += 1, live_b += e[i].size;
  if (!peak)
    for (u32 s = 1; s < nstacks_; ++s) all_n += stacks_[s].alloc_count, all_b += stacks_[s].alloc_bytes;
  out.str("heap profile: ");
  out.dec(live_n);
  out.str(": ");
  out.dec(live_b);
  out.str(" [");
  out.dec(all_n);
  out.str(": ");
  out.dec(all_b);
  out.str("] @ heap_v2/");
  out.dec(u64{1} << lg_sample());
  out.ch('\n');
  auto line = [&](u32 stack, u64 count, u64 bytes, u64 acount, u64 abytes) {
    out.dec(count);
    out.str(": ");
    out.dec(bytes);
    out.str(" [");
    out.dec(acount);
    out.str(": ");
    out.dec(abytes);
    out.str("] @");
    const Stack& s = stacks_[stack];
    for (u32 f = 0; f < s.depth; ++f) {
      // Return addresses: jeprof takes 1 off all but the first, so the
      // first (the allocation's call site) is written as address - 1.
      const uptr pc = reinterpret_cast<uptr>(frames_[s.first + f]);
      out.ch(' ');
      out.hex(f == 0 ? pc - 1 : pc);
    }
    out.ch('\n');
  };
  // Live lines, one per stack and size (the reader's correction is then
  // exact); the stack's cumulative counts go on its first line.
  u32 last = 0;
  for (usize i = 0; i < k;) {
    usize j = i;
    while (j < k && e[j].stack == e[i].stack && e[j].size == e[i].size) ++j;
    const u32 st = e[i].stack;
    const bool first = st != last;
    const Stack& s = stacks_[st];
    line(st, j - i, (j - i) * e[i].size, first && !peak ? s.alloc_count : 0, first && !peak ? s.alloc_bytes : 0);
    last = st;
    i = j;
  }
  // Stacks with samples in the past but none alive now: cumulative only.
  if (!peak) {
    for (u32 s = 1; s < nstacks_; ++s)
      if (stacks_[s].live_count == 0 && stacks_[s].alloc_count != 0)
        line(s, 0, 0, stacks_[s].alloc_count, stacks_[s].alloc_bytes);
  }
  os::release(e, scratch_bytes);
  // The mappings, so that the reader resolves addresses in shared objects and PIE programs.
  out.str("\nMAPPED_LIBRARIES:\n");
  out.flush();
  const int maps = os::open_read("/proc/self/maps");
  if (maps >= 0) {
    for (;;) {
      out.room(4096);
      const isize r = os::read_fd(maps, out.buf + out.len, DumpBuffer::SIZE - out.len);
      if (r <= 0) break;
      out.len += static_cast<usize>(r);
    }
    os::close_fd(maps);
  }
  out.flush();
  return out.ok;
}

int Profiler::dump_locked_path(DumpKind kind, const char* path, char* used, usize cap) {
  // lock_ held. The file name: jemalloc's <prefix>.<pid>.<seq>.<kind><n>.heap.
  usize len = 0;
  auto put = [&](const char* s) {
    for (; *s != 0 && len + 1 < cap; ++s) used[len++] = *s;
  };
  char num[24];
  if (path != nullptr) {
    put(path);
  } else {
    put(prefix_);
    put(".");
    num[format_dec(num, os::process_id())] = 0;
    put(num);
    put(".");
    num[format_dec(num, dump_seq_++)] = 0;
    put(num);
    put(".");
    const char letter[2] = {static_cast<char>(kind), 0};
    put(letter);
    if (kind != DumpKind::Final) {
      const usize slot = kind == DumpKind::Manual ? 0 : kind == DumpKind::Interval ? 1 : kind == DumpKind::Gdump ? 2 : 3;
      num[format_dec(num, kind_seq_[slot]++)] = 0;
      put(num);
    }
    put(".heap");
  }
  used[len] = 0;
  const int fd = os::open_for_write(used);
  if (fd < 0) {
    char msg[320] = "prof: cannot create the heap profile ";
    usize m = 37;
    for (const char* s = used; *s != 0 && m + 1 < sizeof msg; ++s) msg[m++] = *s;
    msg[m] = 0;
    warn(msg);
    return EFAULT;
  }
  DumpBuffer out;
  if (!out.open()) {
    os::close_fd(fd);
    return EFAULT;
  }
  const bool ok = write_profile(fd, kind, out);
  out.close();
  os::close_fd(fd);
  return ok ? 0 : EFAULT;
}

int Profiler::dump(DumpKind kind, const char* path) {
  if (!enabled()) return ENOENT;
  ProfThread& t = t_prof;
  const u8 was_busy = t.busy;
  t.busy = 1;
  char used[PROF_PREFIX_MAX + 64];
  int r = 0;
  {
    LockGuard g(lock_);
    r = dump_locked_path(kind, path, used, sizeof used);
  }
  t.busy = was_busy;
  return r;
}

void Profiler::at_exit() {
  if (!enabled()) return;
  char used[PROF_PREFIX_MAX + 64] = {};
  if (final_) {
    t_prof.busy = 1;
    LockGuard g(lock_);
    if (dump_locked_path(DumpKind::Final, nullptr, used, sizeof used) != 0) used[0] = 0;
  }
  if (leak_) leak_report(used);
}

void Profiler::leak_report(const char* dump_path) {
  // The figures and the ten largest contexts are copied under the lock; the
  // names are looked up after it (dladdr takes the loader's lock, and a
  // thread inside dlopen may be waiting for ours to record a sample).
  constexpr usize TOP = 10, SHOWN = 4;
  struct Top {
    double bytes, objs;
    u32 depth;
    void* frames[SHOWN];
  };
  Top top[TOP] = {};
  usize ntop = 0;
  double bytes = 0, objects = 0;
  u32 contexts = 0;
  {
    LockGuard g(lock_);
    const double r = static_cast<double>(u64{1} << lg_sample());
    for (u32 s = 1; s < nstacks_; ++s) {
      const Stack& st = stacks_[s];
      if (st.live_count == 0) continue;
      ++contexts;
      // The stack's blocks at their mean size (the per-size split is in the dump).
      const double mean = static_cast<double>(st.live_bytes) / static_cast<double>(st.live_count);
      const double p = 1 - exp_neg(mean / r);
      const double b = p > 0 ? static_cast<double>(st.live_bytes) / p : static_cast<double>(st.live_bytes);
      const double o = p > 0 ? static_cast<double>(st.live_count) / p : static_cast<double>(st.live_count);
      bytes += b;
      objects += o;
      usize i = 0;
      while (i < ntop && top[i].bytes >= b) ++i;
      if (i == TOP) continue;
      for (usize j = ntop < TOP ? ntop : TOP - 1; j > i; --j) top[j] = top[j - 1];
      if (ntop < TOP) ++ntop;
      top[i] = Top{b, o, st.depth < SHOWN ? st.depth : static_cast<u32>(SHOWN), {}};
      for (u32 f = 0; f < top[i].depth; ++f) top[i].frames[f] = frames_[st.first + f];
    }
  }
  char line[512];
  usize n = 0;
  auto put = [&](const char* s) {
    for (; *s != 0 && n + 1 < sizeof line; ++s) line[n++] = *s;
  };
  auto num = [&](u64 v) {
    char b[24];
    b[format_dec(b, v)] = 0;
    put(b);
  };
  put("Leak approximation summary: ~");
  num(static_cast<u64>(bytes + 0.5));
  put(" bytes, ~");
  num(static_cast<u64>(objects + 0.5));
  put(" objects, >= ");
  num(contexts);
  put(" contexts");
  line[n] = 0;
  warn(line);
  for (usize i = 0; i < ntop; ++i) {
    n = 0;
    put("leak: ~");
    num(static_cast<u64>(top[i].bytes + 0.5));
    put(" bytes in ~");
    num(static_cast<u64>(top[i].objs + 0.5));
    put(" objects allocated at");
    for (u32 f = 0; f < top[i].depth; ++f) {
      const void* pc = static_cast<const char*>(top[i].frames[f]) - 1;  // the call, not the return address
      uptr off = 0;
      const char* obj = nullptr;
      const char* name = os::symbol_of(pc, off, obj);
      char h[24];
      put(f == 0 ? " " : " <- ");
      if (name != nullptr) {
        put(name);
        put("+");
        h[format_hex(h, off)] = 0;
      } else {
        h[format_hex(h, reinterpret_cast<uptr>(pc))] = 0;
      }
      put(h);
    }
    line[n] = 0;
    warn(line);
  }
  n = 0;
  put("Run jeprof on ");
  put(dump_path != nullptr && dump_path[0] != 0 ? dump_path : "a dump (prof_final:true writes one at exit)");
  put(" for leak detail");
  line[n] = 0;
  warn(line);
}

// ---- component operations ---------------------------------------------------------

void Profiler::collect(Snapshot& s) {
  Snapshot mine{};
  heap_.collect(mine);
  s.sampled = mine.medium;
}

void Profiler::lock() {
  heap_.lock();
  lock_.lock();
}

void Profiler::unlock() {
  lock_.unlock();
  heap_.unlock();
}

void Profiler::reset_lock_in_child() {
  lock_.reset();
  heap_.reset_lock_in_child();
  __atomic_store_n(&dumping_, 0u, __ATOMIC_RELAXED);
}

}  // namespace strata::rt
