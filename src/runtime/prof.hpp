// strata runtime: the heap profiler — sampled allocations, their stacks, and
// heap profiles that jeprof and google-pprof read.
//
// Sampling. Every thread counts down the bytes it allocates (ProfThread,
// thread-local; the malloc fast path's one subtraction and one branch:
// sample_countdown). When the count goes below zero the allocation takes the
// slow path and, with profiling on, is sampled; the next distance is drawn
// from an exponential distribution of mean R = 2^lg_prof_sample bytes. So
// every byte allocated has the same chance 1/R of being a sample point, an
// allocation of n bytes is sampled with probability 1 - e^(-n/R), and the
// unbiased estimate of what a sampled block stands for is
//     bytes:   n / (1 - e^(-n/R))        objects: 1 / (1 - e^(-n/R))
// which jeprof and pprof apply themselves from the header's "heap_v2/R" (per
// line, from the line's mean size: so the writer emits one line per stack and
// size, and the correction is exact per block). n is the size the program
// asked for (not the block's usable size). With lg_prof_sample:0 every
// allocation is sampled (R = 1: the correction is 1) and the profile is exact.
// With profiling off the countdown starts far from zero (2^62 bytes, reset at
// a thread's first slow path), so it never fires.
//
// Sampled blocks. A sampled allocation of at most MEDIUM_MAX bytes is served
// from the profiler's own TLSF heap over segments tagged Sampled, with a
// 16-byte header before the block naming its record; larger ones are huge
// blocks whose header carries the record. So free() finds a sampled block by
// the segment map, with no lookup at all on ordinary frees: the free fast
// path's small-segment test fails and deallocate_slow routes by kind.
//
// Tables (mapped once at initialisation when prof:true, never through malloc):
// unique stacks (up to PROF_MAX_FRAMES return addresses each) in an
// open-addressing hash table, live sample records (stack, size) with a free
// list, and the "graveyard" of the peak profile. A stack with its counters is
// jemalloc's context; records are found by the index in the block's header.
//
// Dumps: the legacy heap profile of gperftools, which both Debian's jeprof
// and google-pprof read:
//     heap profile: <live objs>: <live bytes> [<allocated objs>: <bytes>] @ heap_v2/<R>
//     <objs>: <bytes> [<objs>: <bytes>] @ 0x<pc> 0x<pc> ...
//     (blank line)
//     MAPPED_LIBRARIES:
//     <the text of /proc/self/maps>
// written through a mapped buffer with write(2), never through malloc, to
// <prof_prefix>.<pid>.<seq>.<kind><n>.heap (jemalloc's names: m for
// mallctl("prof.dump"), i interval, u gdump, f final (no n), p peak).
//
// Thread-safety: every Profiler method may be called from any thread; one
// lock guards the tables (a leaf: nothing else is locked while it is held);
// the sampled heap has its own (MediumHeap). Stacks are captured before any
// lock is taken, under the thread's re-entrancy guard (ProfThread::busy): an
// allocation made while the thread is inside the profiler is never sampled.
#pragma once
#include "platform/lock.hpp"
#include "platform/os.hpp"
#include "platform/page_source.hpp"
#include "runtime/central.hpp"
#include "runtime/huge.hpp"
#include "runtime/options.hpp"
#include "runtime/stats.hpp"

namespace strata::rt {

/// Deepest stack recorded per sample (frames beyond are cut off).
inline constexpr usize PROF_MAX_FRAMES = 64;

/// The sampler's per-thread state (t_prof). The countdown itself lives in the
/// thread cache (ThreadCache::bytes_until_sample: the fast path's TLS block):
/// bytes this thread may still allocate before the next sample. It starts at
/// 0, so a thread's first allocation (a slow path anyway) arms it.
struct ProfThread {
  /// Value the countdown was last set to: last_reset - bytes_until_sample
  /// bytes were asked for since (the interval dumps' count).
  i64 last_reset = 0;
  /// jemalloc's thread.allocated / thread.deallocated (mallctl, also through
  /// thread.allocatedp / deallocatedp): usable bytes this thread took from /
  /// gave back to strata's central heaps. Small blocks count when the
  /// thread's cache refills or flushes (a batch at a time, no fast-path
  /// cost); medium, huge and sampled blocks at each allocation and free. So
  /// allocated - deallocated is what the thread holds, blocks cached in it
  /// included (as stats.allocated counts them). In-place resizes of medium
  /// and huge blocks are not counted.
  u64 allocated = 0;
  u64 deallocated = 0;
  u64 rng = 0;               ///< xorshift state of the distance draws (0: unseeded)
  u8 busy = 0;               ///< 1 while the thread is inside the profiler (no sampling then)
  u8 armed = 0;              ///< the countdown runs at the sampling rate (profiling on)
  u8 samples = 0;            ///< samples this thread took (saturates; see Profiler::sample)
};
extern constinit thread_local ProfThread t_prof;


/// A sampling distance drawn for thread t: exponential with the given mean
/// (bytes), at most 2^62.
i64 random_distance(ProfThread& t, double mean);

/// The slow path of a countdown that ran out (sample_countdown returned true
/// for n): re-arms the count and, when profiling is on and active, returns a
/// sampled block of at least n bytes aligned to align (<= 4 KiB beyond
/// MIN_ALIGN is honoured by every kind). Null means "not sampled": the caller
/// allocates normally (also when the sampled heap is out of memory).
void* prof_countdown(usize n, usize align);

/// What a dump is, by jemalloc's file-name letter.
enum class DumpKind : char { Manual = 'm', Interval = 'i', Gdump = 'u', Final = 'f', Peak = 'p' };

class Profiler {
 public:
  /// A profiler whose sampled blocks come from `pages` (small and medium
  /// sizes) and `huge` (larger ones): the Runtime's.
  constexpr Profiler(PageSource* pages, HugeHeap* huge) : heap_(pages, SegmentKind::Sampled), huge_(huge) {}
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  /// Takes the options (once, at initialisation, no lock held; never
  /// allocates). With prof:true maps the tables; if that fails, warns and
  /// leaves profiling off.
  void configure(const Options& o);
  /// opt.prof, once the tables exist.
  bool enabled() const { return __atomic_load_n(&enabled_, __ATOMIC_ACQUIRE); }
  /// prof.active: whether samples are recorded right now.
  bool active() const { return __atomic_load_n(&active_, __ATOMIC_RELAXED); }
  /// Sets prof.active; false when profiling is off (nothing changes).
  bool set_active(bool on);
  /// prof.gdump: whether a new high of mapped memory dumps a profile.
  bool gdump() const { return __atomic_load_n(&gdump_, __ATOMIC_RELAXED); }
  /// Sets prof.gdump; false when profiling is off.
  bool set_gdump(bool on);
  /// prof.lg_sample: log2 of the mean sampling distance.
  u32 lg_sample() const { return __atomic_load_n(&lg_sample_, __ATOMIC_RELAXED); }
  /// prof.interval: bytes between interval dumps (0: none).
  u64 interval() const { return interval_; }
  /// prof.reset: forgets every sample and counter (the live blocks stay, no
  /// longer reported) and sets the rate to 2^lg (lg <= PROF_LG_MAX). False
  /// when profiling is off or lg is out of range.
  bool reset(u32 lg);

  /// Draws the next sampling distance for thread t (exponential, mean 2^lg_sample).
  i64 next_distance(ProfThread& t) const;
  /// Records a sample of n bytes aligned to align and returns its block (see
  /// prof_countdown); null when the block cannot be had.
  void* sample(usize n, usize align);
  /// Bytes allocated (exact, from the countdowns) reach the profiler: interval
  /// and gdump dumps happen here. No lock held on entry.
  void on_bytes(u64 bytes);

  /// Frees sampled block p (in a Sampled segment); aborts naming fn on a
  /// pointer that is not a live sampled block (double free included).
  void free_sampled(void* p, const char* fn);
  /// Usable bytes of sampled block p; aborts naming fn as free_sampled.
  usize usable_size(const void* p, const char* fn);
  /// A sampled huge block carrying `record` was freed.
  void forget(u32 record);
  /// A sampled huge block carrying `record` was resized in place to n bytes.
  void resized(u32 record, usize n);

  /// Writes a heap profile: to `path` when non-null, else to the next
  /// <prefix>.<pid>.<seq>.<kind>... name. 0, ENOENT when profiling is off,
  /// EFAULT when the file cannot be written (a warning names it). Never allocates.
  int dump(DumpKind kind, const char* path);
  /// At exit: the final dump (prof_final) and the leak summary (prof_leak).
  void at_exit();

  /// Runtime component operations (runtime.hpp): the sampled heap's release,
  /// the statistics, and the fork locks (heap, then tables).
  usize release(Release what, u64 min_age_ms) { return heap_.release(what, min_age_ms); }
  void collect(Snapshot& s);
  void lock();
  void unlock();
  void reset_lock_in_child();

 private:
  /// A unique stack and its counters (jemalloc's context).
  struct Stack {
    u64 hash;
    u32 depth;
    u32 first;  ///< index of its first frame in frames_
    u64 live_count, live_bytes;    ///< sampled blocks alive, their requested bytes
    u64 alloc_count, alloc_bytes;  ///< samples taken since the start (or the last reset)
  };
  /// A live sampled block. stack 0: a free slot; DETACHED: alive but sampled
  /// before a prof.reset (not reported).
  struct Record {
    u32 stack;
    u32 next_free;
    u64 size;
    u64 seq;  ///< sample number (the peak profile holds those below peak_seq_)
  };
  /// A block of the peak profile freed since the peak.
  struct Grave {
    u32 stack;
    u64 size;
  };
  static constexpr u32 DETACHED = ~u32{0};
  static constexpr u32 MAX_STACKS = u32{1} << 16;
  static constexpr u32 HASH_SLOTS = u32{1} << 17;
  static constexpr usize MAX_FRAME_WORDS = usize{1} << 21;
  static constexpr u32 MAX_RECORDS = u32{1} << 21;

  struct DumpBuffer;
  u32 intern(void* const* frames, usize depth, u64 hash);  // lock held; 0 when full
  u32 new_record(u32 stack, usize n);                       // lock held; 0 when full
  void drop_record(u32 id);                                 // lock held
  double estimate(u64 n) const;                             // unbiased bytes of a sample of n bytes
  bool write_profile(int fd, DumpKind kind, DumpBuffer& out);  // lock held
  void leak_report(const char* dump_path);
  int dump_locked_path(DumpKind kind, const char* path, char* used, usize cap);

  MediumHeap heap_;
  HugeHeap* huge_;
  Lock lock_{};
  bool enabled_ = false;
  bool active_ = false;
  bool gdump_ = false;
  bool final_ = false;
  bool leak_ = false;
  u32 lg_sample_ = 19;
  u64 interval_ = 0;
  const char* prefix_ = "strata";
  /// Loads libunwind's fast stack walker when profiling is on (at load
  /// time, from a constructor: dlopen must not run inside malloc).
  friend void prof_load_unwinder();
  os::FastBacktrace fast_backtrace_ = nullptr;  ///< libunwind's walker once loaded (atomic), else libgcc's
  uptr skip_lo_ = 0, skip_hi_ = 0;  ///< the allocator's own code (frames left out; atomic)
  bool range_known_ = false;        ///< skip_lo_/skip_hi_ were looked up (atomic)
  // Tables (mapped by configure).
  Stack* stacks_ = nullptr;
  u32* slots_ = nullptr;
  void** frames_ = nullptr;
  Record* records_ = nullptr;
  Grave* graves_ = nullptr;
  u32 nstacks_ = 1;  ///< stacks_[0] is unused (0 means none)
  usize nframes_ = 0;
  u32 nrecords_ = 1;  ///< slots handed out so far; records_[0] unused
  u32 free_record_ = 0;
  u32 ngraves_ = 0;
  u64 seq_ = 0;
  u64 peak_seq_ = 0;
  double live_estimate_ = 0;
  double peak_estimate_ = 0;
  u64 dropped_ = 0;  ///< samples not recorded (tables full)
  // Dumps.
  u64 dump_seq_ = 0;
  u64 kind_seq_[5] = {};
  u64 interval_accum_ = 0;  ///< bytes since the last interval dump (atomic)
  usize gdump_high_ = 0;    ///< mapped bytes at the last gdump (atomic)
  u32 dumping_ = 0;         ///< an interval or gdump dump is being written (atomic)
};

}  // namespace strata::rt
