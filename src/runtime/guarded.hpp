// strata runtime: the guarded pool — sampled allocations between inaccessible
// pages, so that a heap-buffer overflow, an underflow or a use after free of
// one of them faults at once (GWP-ASan's idea; runtime/README.md).
//
// Layout. One mapping of segments tagged Guarded (so free, realloc,
// malloc_usable_size and sdallocx recognise a guarded block by the segment
// table, in O(1), with no cost on ordinary frees: the free fast path's
// small-segment test fails and deallocate_slow routes by kind):
//     [guard][slot 0][guard][slot 1][guard] ... [slot n-1][guard] (rest: inaccessible)
// each slot one page. A slot that holds no live block is inaccessible too.
// A block of n bytes whose size class (usable_size_for: what nallocx and
// malloc_usable_size promise) fits a page is right-aligned to the guard after
// its slot: the class's bytes end at the guard, so a write past them faults;
// the bytes between the block's end and the guard carry a pattern that free
// checks (an overflow into the class's rounding is reported too, unless the
// program asked malloc_usable_size, which makes them its own).
// One sample in LEFT_EVERY is left-aligned (at the slot's start): an
// underflow faults then.
//
// Quarantine. Free makes the slot inaccessible, gives its page back to the
// OS (MADV_DONTNEED: an inaccessible page keeps its memory otherwise) and
// appends it to a FIFO of
// free slots; allocation takes the FIFO's head: the least recently freed
// slot is reused first, so a freed block stays inaccessible for as long as
// the pool allows.
//
// Sampling. The heap profiler's per-thread byte countdown (prof.hpp) decides:
// with profiling off and guarded_sample_rate:N the countdown's distances are
// exponential with mean (N - 1) * GUARDED_MEAN_BYTES (0 for N = 1: every
// allocation), so "one in N allocations" holds for allocations of about
// GUARDED_MEAN_BYTES; larger allocations are sampled more often. With
// profiling on the profiler owns the countdown and guarded sampling stays off.
//
// strata's SIGSEGV handler lives here: installed when the pool is on or
// huge blocks have guard pages (huge_guard, huge.hpp), it reports faults in
// the pool and on those guards.
//
// Reports (guarded.cpp) never allocate: SIGSEGV in the pool prints the kind,
// address, offset, block size, thread, the allocation stack and (after free)
// the free stack, then reinstates the previous disposition and returns, so
// the fault repeats and the process dies as it would have. Faults outside
// the pool go to the previous handler (os::chain_fault).
//
// Thread-safety: one lock (a leaf) guards the slots and the FIFO; stacks are
// captured before it is taken. The signal handler reads slots without it
// (a faulting thread may hold it only if the fault is in strata's own code).
#pragma once
#include "platform/lock.hpp"
#include "platform/os.hpp"
#include "runtime/central.hpp"
#include "runtime/options.hpp"
#include "runtime/packed_stack.hpp"
#include "runtime/stats.hpp"

namespace strata::rt {

struct ProfThread;

/// Mean bytes between guarded samples per unit of guarded_sample_rate.
inline constexpr i64 GUARDED_MEAN_BYTES = 64;

class GuardedPool {
 public:
  constexpr GuardedPool() = default;
  GuardedPool(const GuardedPool&) = delete;
  GuardedPool& operator=(const GuardedPool&) = delete;

  /// Takes the options (once, at initialisation, no lock held). With
  /// guarded_sample_rate > 0 maps the pool and the slot table; installs the
  /// SIGSEGV handler when the pool is on or huge_guard is; warns and stays
  /// off when it cannot.
  void configure(const Options& o, bool profiling);
  bool enabled() const { return rate_ != 0; }
  /// guarded_sample_rate:1 (every allocation the pool can take).
  bool every_allocation() const { return rate_ == 1; }
  /// Countdown distance of the next sample (random; 0 at rate 1).
  i64 next_distance(ProfThread& t) const;

  /// A guarded block of n bytes aligned to align; null when it does not fit
  /// a slot or no slot is free (the caller allocates normally).
  void* alloc(usize n, usize align);
  /// Frees guarded block p; double and invalid frees and overwritten
  /// padding are reported with both stacks and abort.
  void free(void* p, const char* fn);
  /// Requested size of live guarded block p (misuse reported as free's).
  usize usable_size(const void* p, const char* fn);

  /// Whether addr lies in the pool (its guards included).
  bool in_pool(const void* addr) const {
    return base_ != nullptr && reinterpret_cast<uptr>(addr) - reinterpret_cast<uptr>(base_) < bytes_;
  }
  /// The SIGSEGV handler's work for addr in the pool, faulting at pc: the report.
  void report_fault(const void* addr, const void* pc);
  /// The report for a fault at addr on the guard page after huge block
  /// `block` of `usable` bytes (huge.hpp), faulting at pc.
  void report_huge_overflow(const void* addr, const void* block, usize usable, const void* pc);
  /// The handler (os::FaultHandler).
  static void on_fault(int sig, void* info, void* context);

  /// Runtime component operations (runtime.hpp).
  usize release(Release, u64) { return 0; }
  void collect(Snapshot& s) { s.guarded = figures(); }
  /// The counters (mallctl guarded.*, the stats report).
  GuardedFigures figures();
  /// Fork (the only caller): the lock, and the stack walks from the files,
  /// which hold files open (os::hold_file_walks): no walk of another thread
  /// is under way when fork() copies the descriptors.
  void lock();
  void unlock();
  /// Fork child: the lock, the stack walks, and their cache of decoded frames (platform/file_unwind.hpp).
  void reset_lock_in_child();

 private:
  static constexpr usize FRAMES = 24;  ///< frames a capture takes
  static constexpr usize STACK_BYTES = 111;  ///< a packed stack's bytes (its count makes 112)
  static constexpr u32 LEFT_EVERY = 8;
  enum class State : u8 { Never = 0, Live = 1, Freed = 2 };
  struct Slot {
    uptr user;  ///< the block's address (0: never used)
    u32 size;    ///< bytes asked for
    u32 usable;  ///< malloc_usable_size's answer: at least nallocx's (the size class's)
    bool queried;  ///< malloc_usable_size was asked: the bytes up to `usable` are the program's
    State state;
    bool left;  ///< left-aligned
    u32 alloc_tid, free_tid;
    PackedStack<STACK_BYTES> alloc_stack;  ///< where the block was allocated
    PackedStack<STACK_BYTES> free_stack;   ///< where it was freed (empty while live)
  };
  // Packed stacks (packed_stack.hpp): a slot is 256 bytes, not 416 as with
  // two arrays of FRAMES pointers; the table of the 256 default slots is 64 KiB.
  static_assert(sizeof(Slot) <= 256);
  enum class Kind { Overflow, Underflow, UseAfterFree, DoubleFree, InvalidFree, Wild };

  char* slot_page(u32 i) const { return base_ + (2 * usize{i} + 1) * page_; }
  /// Maps the pool of `slots` slots (inaccessible) and its slot table; false
  /// (with a warning) when there is no memory.
  bool map_pool(usize slots);
  /// Bytes of the slot table (the slots and the FIFO), whole pages.
  usize table_bytes() const;
  u32 slot_of(const void* p) const;  // slot whose page holds p, or nslots_
  usize capture(void** out) const;
  [[noreturn]] void fatal(Kind kind, u32 slot, const void* addr, const char* fn);
  void report(Kind kind, const Slot* s, const void* addr, const char* fn, const void* fault_pc);
  /// A report's last part: `  <what> at:` and this thread's stack.
  void report_where(const char* what, const void* fault_pc) const;

  char* base_ = nullptr;
  usize bytes_ = 0;
  usize page_ = 0;
  u32 nslots_ = 0;
  u64 rate_ = 0;
  Slot* slots_ = nullptr;
  u32* fifo_ = nullptr;  ///< free slots, least recently freed first (a ring)
  u32 fifo_head_ = 0, fifo_count_ = 0;
  u64 samples_ = 0, faults_ = 0;
  u32 in_use_ = 0;
  u64 live_bytes_ = 0;  ///< usable bytes of the live blocks (atomic)
  u32 in_handler_ = 0;  ///< a report is being written (atomic)
  mutable uptr skip_lo_ = 0, skip_hi_ = 0;  ///< strata's own code (left out of stacks; set at the first capture)
  bool walk_files_ = false;  ///< stacks walked from the object files (platform/file_unwind.hpp), else by libgcc
  os::SavedAction old_action_{};
  Lock lock_{};
};

}  // namespace strata::rt
