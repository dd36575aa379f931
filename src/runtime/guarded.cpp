// strata runtime: the guarded pool (guarded.hpp).
#include "runtime/guarded.hpp"

#include "platform/file_unwind.hpp"
#include "platform/layout.hpp"
#include "platform/report.hpp"
#include "platform/segment_map.hpp"
#include "runtime/alloc.hpp"
#include "runtime/prof.hpp"
#include "runtime/runtime.hpp"

namespace strata::rt {

namespace {
constexpr u8 PAD = 0xac;  // the pattern after a block, up to its slot's end

/// A report line built in a fixed buffer and written with one write(2).
struct Line {
  char b[512];
  usize n = 0;
  void put(const char* s) {
    while (*s != 0 && n < sizeof b - 1) b[n++] = *s++;
  }
  void hex(u64 v) { n += n + 19 < sizeof b ? format_hex(b + n, v) : 0; }
  void dec(u64 v) { n += n + 21 < sizeof b ? format_dec(b + n, v) : 0; }
  void flush() {
    b[n++] = '\n';
    os::write_stderr(b, n);
    n = 0;
  }
};

// exact: the faulting instruction itself (a return address otherwise, looked up one byte back).
void print_stack(void* const* frames, usize depth, const void* exact = nullptr) {
  for (usize i = 0; i < depth; ++i) {
    Line l;
    l.put("    #");
    l.dec(i);
    l.put(" ");
    const usize back = frames[i] == exact ? 0 : 1;
    const void* pc = static_cast<const char*>(frames[i]) - back;  // the call, not the return address
    l.hex(reinterpret_cast<uptr>(frames[i]));
    uptr off = 0;
    const char* obj = nullptr;
    const char* name = os::symbol_of(pc, off, obj);
    if (name != nullptr) {
      l.put(" in ");
      l.put(name);
      l.put("+");
      l.hex(off + back);
    }
    if (obj != nullptr) {
      l.put(" (");
      l.put(obj);
      if (name == nullptr) {  // addr2line -e <object> <offset>
        l.put("+");
        l.hex(off + back);
      }
      l.put(")");
    }
    l.flush();
  }
}

const char* kind_name(int k) {
  static constexpr const char* NAMES[] = {"heap-buffer-overflow", "heap-buffer-underflow", "use-after-free",
                                          "double-free",          "invalid-free",          "wild-access"};
  return NAMES[k];
}
}  // namespace

usize GuardedPool::table_bytes() const {
  return (usize{nslots_} * (sizeof(Slot) + sizeof(u32)) + page_ - 1) & ~(page_ - 1);
}

bool GuardedPool::map_pool(usize slots) {
  page_ = os::page_size();
  nslots_ = static_cast<u32>(slots);
  const usize want = (2 * usize{nslots_} + 1) * page_;
  bytes_ = (want + SEGMENT_SIZE - 1) & ~SEGMENT_MASK;
  base_ = static_cast<char*>(os::map_aligned(bytes_, SEGMENT_SIZE));
  void* meta = base_ != nullptr ? os::map_aligned(table_bytes(), page_) : nullptr;
  if (meta == nullptr || !os::protect(base_, bytes_, false)) {
    warn("guarded pool: no memory; guarded sampling off");
    base_ = nullptr;
    return false;
  }
  slots_ = static_cast<Slot*>(meta);
  fifo_ = reinterpret_cast<u32*>(slots_ + nslots_);
  for (u32 i = 0; i < nslots_; ++i) fifo_[i] = i;
  fifo_count_ = nslots_;
  set_segment_tag(base_, bytes_ / SEGMENT_SIZE, segment_tag_for(SegmentKind::Guarded, 0));
  return true;
}

void GuardedPool::lock() {
  os::hold_file_walks();
  lock_.lock();
}

void GuardedPool::unlock() {
  lock_.unlock();
  os::release_file_walks();
}

void GuardedPool::reset_lock_in_child() {
  lock_.reset();
  os::reset_file_unwind_in_child();
  os::release_file_walks();
}

void GuardedPool::configure(const Options& o, bool profiling) {
  bool pool = false;
  if (o.guarded_sample_rate != 0 && profiling) {
    warn("guarded_sample_rate ignored: prof:true owns the sampling countdown");
  } else if (o.guarded_sample_rate != 0) {
    pool = map_pool(o.guarded_slots);
  }
  // The handler reports faults in the pool and on huge blocks' guard pages.
  if (!pool && !o.huge_guard) return;
  if (!os::install_fault_handler(&GuardedPool::on_fault, &old_action_)) {
    warn("guarded pool: sigaction failed; guarded sampling off, huge guard faults unreported");
    return;
  }
  if (pool) {
    rate_ = static_cast<u64>(o.guarded_sample_rate);
    walk_files_ = os::file_walk_allowed();
  }
}

i64 GuardedPool::next_distance(ProfThread& t) const {
  if (rate_ <= 1) return 0;
  return random_distance(t, static_cast<double>(rate_ - 1) * static_cast<double>(GUARDED_MEAN_BYTES));
}

usize GuardedPool::capture(void** out) const {
  // strata's own frames are left out (as the profiler's); their range is
  // looked up at the first capture, not at initialisation, which may run
  // inside the dynamic loader.
  if (__atomic_load_n(&skip_hi_, __ATOMIC_ACQUIRE) == 0) {
    uptr lo = 0, hi = 0;
    if (os::code_range_of(reinterpret_cast<const void*>(&prof_countdown), lo, hi)) {
      __atomic_store_n(&skip_lo_, lo, __ATOMIC_RELAXED);
      __atomic_store_n(&skip_hi_, hi, __ATOMIC_RELEASE);
    }
  }
  const uptr lo = __atomic_load_n(&skip_lo_, __ATOMIC_RELAXED), hi = __atomic_load_n(&skip_hi_, __ATOMIC_RELAXED);
  // The tables are read from the object files: read through the mappings (as
  // libgcc reads them), the first samples of a small process would make
  // ~250 KiB of them resident (file_unwind.hpp). libgcc walks where the file
  // walk gives up.
  usize n = 0;
  if (walk_files_ && os::backtrace_from_files(out, FRAMES, lo, hi, n)) return n;
  return os::backtrace(out, FRAMES, lo, hi, nullptr);
}

void* GuardedPool::alloc(usize n, usize align) {
  if (align < MIN_ALIGN) align = MIN_ALIGN;
  const usize cls = usable_size_for(n, align);  // nallocx's answer: malloc_usable_size promises as much
  if (cls == 0 || cls > page_ || align > page_ || __atomic_load_n(&fifo_count_, __ATOMIC_RELAXED) == 0) return nullptr;
  void* frames[FRAMES];
  const usize depth = capture(frames);
  u32 i = 0;
  bool left = false;
  {
    LockGuard g(lock_);
    if (fifo_count_ == 0) return nullptr;
    i = fifo_[fifo_head_];
    fifo_head_ = fifo_head_ + 1 == nslots_ ? 0 : fifo_head_ + 1;
    --fifo_count_;
    ++in_use_;
    left = ++samples_ % LEFT_EVERY == 0;
  }
  char* page = slot_page(i);
  if (!os::protect(page, page_, true)) {  // out of mappings: the slot goes back
    LockGuard g(lock_);
    fifo_[(fifo_head_ + fifo_count_) % nslots_] = i;
    ++fifo_count_;
    --in_use_;
    return nullptr;
  }
  char* user = left ? page : page + ((page_ - cls) & ~(align - 1));
  for (char* q = user + n; q < page + page_; ++q) *q = static_cast<char>(PAD);
  Slot& s = slots_[i];
  s.size = static_cast<u32>(n);
  s.usable = static_cast<u32>(left ? cls : page + page_ - user);
  s.queried = false;
  __atomic_add_fetch(&live_bytes_, s.usable, __ATOMIC_RELAXED);
  s.left = left;
  s.alloc_tid = os::thread_id();
  s.alloc_stack.pack(frames, depth);
  s.free_stack.clear();
  __atomic_store_n(&s.user, reinterpret_cast<uptr>(user), __ATOMIC_RELAXED);
  // The slot's fields are published by a release store of its state (a fence
  // and a plain store did the same, but ThreadSanitizer builds reject fences).
  static_assert(sizeof(State) == sizeof(u8));
  __atomic_store_n(reinterpret_cast<u8*>(&s.state), static_cast<u8>(State::Live), __ATOMIC_RELEASE);
  return user;
}

u32 GuardedPool::slot_of(const void* p) const {
  const uptr off = reinterpret_cast<uptr>(p) - reinterpret_cast<uptr>(base_);
  if (off >= bytes_) return nslots_;
  const usize pg = off / page_;
  if (pg % 2 == 0) return nslots_;  // a guard page
  const usize i = (pg - 1) / 2;
  return i < nslots_ ? static_cast<u32>(i) : nslots_;
}

void GuardedPool::free(void* p, const char* fn) {
  const u32 i = slot_of(p);
  if (i == nslots_) fatal(Kind::InvalidFree, nslots_, p, fn);
  Slot& s = slots_[i];
  {
    LockGuard g(lock_);
    if (s.state != State::Live || s.user != reinterpret_cast<uptr>(p)) {
      const Kind k = s.state == State::Freed && s.user == reinterpret_cast<uptr>(p) ? Kind::DoubleFree : Kind::InvalidFree;
      lock_.unlock();
      fatal(k, i, p, fn);
    }
    s.state = State::Freed;
    --in_use_;
    live_bytes_ -= s.usable;
  }
  const char* end = slot_page(i) + page_;
  const char* from = reinterpret_cast<const char*>(s.user) + (s.queried ? s.usable : s.size);
  for (const char* q = from; q < end; ++q) {
    if (static_cast<u8>(*q) != PAD) fatal(Kind::Overflow, i, q, fn);
  }
  s.free_tid = os::thread_id();
  void* frames[FRAMES];
  const usize depth = capture(frames);
  s.free_stack.pack(frames, depth);
  os::protect(slot_page(i), page_, false);
  // Its page goes back too: an inaccessible page keeps its memory, so every
  // slot ever used stayed resident (1 MiB for the 256 default slots: 3.5 ->
  // 4.9 MiB peak RSS on tight-loop, 0.95 -> 1.01 of jemalloc's RSS geomean).
  os::purge(slot_page(i), page_);
  LockGuard g(lock_);
  fifo_[(fifo_head_ + fifo_count_) % nslots_] = i;
  ++fifo_count_;
}

usize GuardedPool::usable_size(const void* p, const char* fn) {
  const u32 i = slot_of(p);
  if (i == nslots_) fatal(Kind::InvalidFree, nslots_, p, fn);
  const Slot& s = slots_[i];
  if (s.user != reinterpret_cast<uptr>(p)) fatal(Kind::InvalidFree, i, p, fn);
  if (s.state != State::Live) fatal(Kind::UseAfterFree, i, p, fn);
  slots_[i].queried = true;  // the program may use every usable byte now
  return s.usable;
}

namespace {
/// A report's first line: `strata: ERROR: <kind> on address <a> (thread <t>)`
/// for a fault, `... <kind> in <fn>() of <a> ...` for a bad call.
void report_head(const char* kind, const void* addr, const char* fn) {
  Line l;
  l.put("strata: ERROR: ");
  l.put(kind);
  l.put(fn != nullptr ? " in " : " on address ");
  if (fn != nullptr) {
    l.put(fn);
    l.put("() of ");
  }
  l.hex(reinterpret_cast<uptr>(addr));
  l.put(" (thread ");
  l.dec(os::thread_id());
  l.put(")");
  l.flush();
}
}  // namespace

void GuardedPool::report_where(const char* what, const void* fault_pc) const {
  void* frames[FRAMES];
  const usize depth = capture(frames);
  Line l;
  l.put("  ");
  l.put(what);
  l.put(" at:");
  l.flush();
  print_stack(frames, depth, fault_pc);
}

void GuardedPool::report(Kind kind, const Slot* s, const void* addr, const char* fn, const void* fault_pc) {
  __atomic_add_fetch(&faults_, 1, __ATOMIC_RELAXED);
  report_head(kind_name(static_cast<int>(kind)), addr, fn);
  Line l;
  if (s == nullptr || s->state == State::Never) {
    l.put("  the address is in strata's guarded pool, in no block");
    l.flush();
    return;
  }
  const uptr a = reinterpret_cast<uptr>(addr), u = s->user;
  l.put("  the address is ");
  if (a < u) {
    l.dec(u - a);
    l.put(" bytes before");
  } else if (a >= u + s->size) {
    l.dec(a - (u + s->size));
    l.put(" bytes after the end of");
  } else {
    l.dec(a - u);
    l.put(" bytes inside");
  }
  l.put(" a block of ");
  l.dec(s->size);
  l.put(" bytes at ");
  l.hex(u);
  l.put(s->state == State::Freed ? " (freed)" : " (live)");
  l.flush();
  l.put("  allocated by thread ");
  l.dec(s->alloc_tid);
  l.put(" at:");
  l.flush();
  void* frames[FRAMES];
  print_stack(frames, s->alloc_stack.unpack(frames, FRAMES));
  if (s->state == State::Freed) {
    l.put("  freed by thread ");
    l.dec(s->free_tid);
    l.put(" at:");
    l.flush();
    print_stack(frames, s->free_stack.unpack(frames, FRAMES));
  }
  // where it happened: the bad call, or the faulting access (through the signal frame)
  report_where(fn == nullptr ? "accessed" : kind == Kind::DoubleFree ? "freed again" : "the bad call", fault_pc);
}

void GuardedPool::report_huge_overflow(const void* addr, const void* block, usize usable, const void* pc) {
  __atomic_add_fetch(&faults_, 1, __ATOMIC_RELAXED);
  report_head(kind_name(static_cast<int>(Kind::Overflow)), addr, nullptr);
  Line l;
  l.put("  the address is ");
  l.dec(reinterpret_cast<uptr>(addr) - (reinterpret_cast<uptr>(block) + usable));
  l.put(" bytes after the end of a huge block of ");
  l.dec(usable);
  l.put(" usable bytes at ");
  l.hex(reinterpret_cast<uptr>(block));
  l.put(" (live; the page after it is its guard)");
  l.flush();
  report_where("accessed", pc);
}

void GuardedPool::fatal(Kind kind, u32 slot, const void* addr, const char* fn) {
  report(kind, slot < nslots_ ? &slots_[slot] : nullptr, addr, fn, nullptr);
  os::abort_process();
}

void GuardedPool::report_fault(const void* addr, const void* pc) {
  const usize pg = (reinterpret_cast<uptr>(addr) - reinterpret_cast<uptr>(base_)) / page_;
  // A slot's own page: a freed block (use after free) or a never-used slot;
  // else the block nearest the address on either side, by the guard's geometry.
  const Slot* best = nullptr;
  Kind kind = Kind::Wild;
  if (pg % 2 == 1 && (pg - 1) / 2 < nslots_ && slots_[(pg - 1) / 2].state == State::Freed) {
    best = &slots_[(pg - 1) / 2];
    kind = Kind::UseAfterFree;
  } else {
    usize best_dist = ~usize{0};
    const usize page_lo = pg % 2 == 1 ? pg - 2 : pg - 1;  // the slot page before
    for (usize q = page_lo; q <= pg + 1; q += 2) {  // candidate slot pages: before and after
      if (q % 2 == 0 || q == 0 || (q - 1) / 2 >= nslots_) continue;
      const Slot& s = slots_[(q - 1) / 2];
      if (s.state == State::Never) continue;
      const uptr a = reinterpret_cast<uptr>(addr);
      const usize d = a >= s.user + s.size ? a - (s.user + s.size) : s.user - a;
      if (d < best_dist) {
        best_dist = d;
        best = &s;
        kind = a >= s.user + s.size ? Kind::Overflow : Kind::Underflow;
      }
    }
  }
  report(kind, best, addr, nullptr, pc);
}

void GuardedPool::on_fault(int sig, void* info, void* context) {
  GuardedPool& g = g_runtime.guarded;
  const void* addr = os::fault_address(info);
  const void* block = nullptr;
  usize usable = 0;
  const bool pool = g.in_pool(addr);
  if (pool || (segment_kind(addr) == SegmentKind::Huge && g_runtime.huge.guard_owner(addr, &block, &usable))) {
    // One report (another thread's fault meanwhile waits for the process to die).
    if (__atomic_exchange_n(&g.in_handler_, 1u, __ATOMIC_ACQ_REL) != 0) {
      for (;;) os::sleep_ms(1000);
    } else if (pool) {
      g.report_fault(addr, os::fault_pc(context));
    } else {
      g.report_huge_overflow(addr, block, usable, os::fault_pc(context));
    }
    os::restore_fault_handler(g.old_action_);  // the fault repeats on return, under the old disposition
    return;
  }
  os::chain_fault(sig, info, context, g.old_action_);  // not strata's: the program's own handler, or the default
}

GuardedFigures GuardedPool::figures() {
  LockGuard g(lock_);
  return {samples_, rate_ != 0 ? nslots_ : 0, in_use_, __atomic_load_n(&faults_, __ATOMIC_RELAXED), live_bytes_,
          rate_ != 0 ? bytes_ + table_bytes() : 0};
}

}  // namespace strata::rt
