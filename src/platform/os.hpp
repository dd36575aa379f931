// strata platform: the one OS contract (Linux). Every system call and every
// libc call that reaches the kernel or the process's OS state that strata
// makes is declared here and made in os.cpp, and nowhere else (a ctest checks
// the object files: tests/layering): address-space reservation,
// mappings, residency, raw stderr writes, clocks and sleeps, randomness, the
// environment, threads, thread-exit keys, fork and exit handlers, abort.
//
// Nothing here allocates through strata or touches stdio, so it is safe from
// the very first malloc (inside the dynamic loader) and inside fork handlers,
// except where a function says it may allocate (then call it with no strata
// lock held: its allocation re-enters malloc normally).
#pragma once
#include "strata/core/types.hpp"

namespace strata::os {

/// The system page size (read once from the auxiliary vector at init).
usize page_size();

/// Reserves `bytes` of address space aligned to `align` (a power of two >= the
/// page size), inaccessible (PROT_NONE). Null when the kernel refuses
/// (RLIMIT_AS, vm.max_map_count). The result is never freed by reserve().
void* reserve_aligned(usize bytes, usize align);

/// Gives the physical pages of [p, p+bytes) back to the OS; the range stays
/// mapped and reads as zero afterwards (MADV_DONTNEED).
void purge(void* p, usize bytes);

/// Returns a mapped or reserved range to the OS entirely.
void release(void* p, usize bytes);

/// Outcome of map_fixed.
enum class MapResult { Mapped, Taken, NoMemory };

/// Maps [p, p+bytes) readable/writable (pages commit on first touch), only
/// where nothing is mapped yet: Taken when any of it is (the range is left
/// as it was), NoMemory when the kernel refuses (limits).
MapResult map_fixed(void* p, usize bytes);

/// Outcome of move_pages.
enum class MoveResult { Moved, Refused, Failed };

/// Moves the mapping [from, from + bytes) to `to`, grown to to_bytes (the
/// growth reads as zero), in place of whatever [to, to + to_bytes) held
/// (mremap with MREMAP_MAYMOVE|MREMAP_FIXED); [from, ...) is unmapped then.
/// A move that grows takes one mapping only (a range the program split with
/// mprotect or mmap is refused), and then never moves part of it. Refused
/// (EFAULT, EINVAL): the source is unfit, and [from, ...) is as it was;
/// Failed: any other refusal (no memory, too many mappings), the source as
/// it was too. Either way the destination may have been unmapped (kernels
/// before 6.17 unmap it first). errno untouched.
MoveResult move_pages(void* from, usize bytes, void* to, usize to_bytes);

/// Maps a fresh readable/writable range of `bytes` aligned to `align`. Null on failure.
void* map_aligned(usize bytes, usize align);

/// Transparent-huge-page advice for a mapped range.
enum class HugePageAdvice : u8 {
  Want,   ///< MADV_HUGEPAGE: back it with huge pages where the kernel can
  Avoid,  ///< MADV_NOHUGEPAGE: never (whatever the system-wide THP mode)
};

/// Advises the kernel about huge pages for [p, p+bytes) (madvise); errno is
/// preserved and a refusal (a kernel without THP) is ignored.
void advise_huge_pages(void* p, usize bytes, HugePageAdvice advice);

/// Bytes one transparent huge page (PMD mapping) covers: a page table's
/// entries times the page size (2 MiB with 4 KiB pages).
usize huge_page_size();

/// Opens `path` read-only (O_RDONLY | O_CLOEXEC, and O_NONBLOCK | O_NOCTTY so
/// that neither the open nor a read ever waits: a FIFO reads as empty, a
/// terminal is not made the controlling one) by the raw system call, so that
/// an open() hook of another preloaded library (which may allocate) never
/// runs inside strata. -1 on failure; errno is preserved.
int open_read(const char* path);

/// Reads up to n bytes from fd (raw system call, retried on EINTR): the
/// count, 0 at the end, -1 on an error (a directory, say). errno is preserved.
isize read_fd(int fd, void* buf, usize n);

/// Closes fd (raw system call); errno is preserved.
void close_fd(int fd);

/// Reads up to n bytes of fd at `offset` (pread, raw system call, retried on
/// EINTR): the count, 0 past the end, -1 on an error. errno is preserved.
isize read_at(int fd, void* buf, usize n, u64 offset);

/// Writes the whole buffer to fd 2, retrying on EINTR; never allocates.
void write_stderr(const char* s, usize n);

/// Monotonic coarse clock in milliseconds (vDSO, no syscall on x86_64).
u64 now_ms();

/// CPUs this process may run on (sched_getaffinity; 1 when unknown). No allocation.
u32 cpu_count();

/// Resident bytes of the page-aligned range [p, p+bytes) (mincore); 0 when
/// the kernel refuses. `bytes` at most 4 MiB (one stack vector).
usize resident_bytes(const void* p, usize bytes);

/// 64 random bits the kernel gave this process at exec (AT_RANDOM), mixed
/// with an address; never 0. No system call, no allocation.
u64 random_u64();

/// Value of environment variable `name`, or null. Reads environ; no allocation.
const char* env(const char* name);

/// Gives the core to another runnable thread (sched_yield).
void yield();

/// Sleeps ms milliseconds (nanosleep; an interrupted sleep just ends early).
void sleep_ms(u64 ms);

/// Creates a thread-specific key whose destructor runs at thread exit with
/// the value set by set_thread_key (pthread_key_create). False when none is
/// left. May allocate (keys >= 32): call with no strata lock held.
bool create_thread_key(u32& key, void (*destructor)(void*));

/// Sets this thread's value of key (non-null: the destructor will run).
/// May allocate (keys >= 32): call with no strata lock held.
void set_thread_key(u32 key, void* value);

/// Registers fork handlers (pthread_atfork). May allocate.
void at_fork(void (*prepare)(), void (*parent)(), void (*child)());
/// glibc's lock of its list of FILEs (_IO_list_lock), which its fork() takes
/// after the prepare handlers: taken first by strata's prepare handler so the
/// order is list -> strata everywhere; released in the parent, reset in the child.
void stdio_list_lock();
void stdio_list_unlock();
void stdio_list_reset_in_child();
/// Disables this thread's cancellation (a write(2) is a cancellation point);
/// returns the previous state for restore_cancel.
int disable_cancel();
void restore_cancel(int state);

/// Registers fn to run at exit (atexit). May allocate.
void at_exit(void (*fn)());

/// Starts a detached thread with a 64 KiB stack and every signal blocked
/// that runs body() (which should not return). False when the system refuses.
/// May allocate (the thread's TLS): call with no strata lock held.
bool start_daemon_thread(void (*body)());

/// Ends the process with SIGABRT (abort). Never returns.
[[noreturn]] void abort_process();

// ---- files, for heap profiles (no allocation, no stdio) -----------------------

/// Creates or truncates `path` for writing (mode 0644, close-on-exec): a file
/// descriptor, or -1 (errno untouched) when it cannot be opened.
int open_for_write(const char* path);

/// Writes all n bytes to fd, retrying on EINTR and short writes; false on an
/// error (disk full, closed fd). errno untouched.
bool write_all(int fd, const void* buf, usize n);

/// (Reading and closing: open_read, read_fd and close_fd above.)

/// Makes [p, p + bytes) (page-aligned) readable and writable, or inaccessible
/// (mprotect); false when the kernel refuses. errno untouched.
bool protect(void* p, usize bytes, bool accessible);

/// The calling thread's kernel id (gettid).
u32 thread_id();

/// A saved signal disposition (struct sigaction, opaque to the callers).
struct SavedAction {
  alignas(16) unsigned char bytes[256];
};
/// A SIGSEGV handler of sigaction's SA_SIGINFO signature (info: siginfo_t*,
/// context: ucontext_t*).
using FaultHandler = void (*)(int sig, void* info, void* context);
/// Installs h for SIGSEGV (SA_SIGINFO | SA_ONSTACK | SA_NODEFER off), keeping the
/// previous disposition in *old; false when sigaction fails.
bool install_fault_handler(FaultHandler h, SavedAction* old);
/// The program counter of the faulting instruction (from the handler's
/// context); null where unknown.
const void* fault_pc(const void* context);
/// The faulting address of a SIGSEGV's siginfo.
const void* fault_address(const void* info);
/// Hands a fault that is not strata's to the disposition saved in old: calls
/// its handler (either signature), or, for SIG_DFL / SIG_IGN, reinstates it
/// so that the faulting instruction, executed again on return, ends the
/// process as it would have without strata.
void chain_fault(int sig, void* info, void* context, const SavedAction& old);
/// Reinstates the disposition saved in old (the fault re-raises on return).
void restore_fault_handler(const SavedAction& old);

/// This process's id (getpid: a system call, so the child of a fork sees its own).
u32 process_id();

// ---- stacks and code, for the sampler ---------------------------------------------

/// A stack walker of libunwind's unw_backtrace signature.
using FastBacktrace = int (*)(void** out, int max);

/// Loads libunwind (libunwind.so.8) privately (RTLD_LOCAL: its _Unwind_*
/// names stay out of the program's symbol scope) and returns its
/// unw_backtrace with a per-thread cache of unwind information, or null when
/// it is not installed. libunwind caches what it decoded per address, so a
/// walk costs ~0.1 us where libgcc's, which decodes every frame again, costs
/// ~10 us. Allocates (dlopen): call it outside malloc, with no strata lock
/// held (the profiler does, from a load-time constructor).
FastBacktrace load_fast_backtrace();

/// Return addresses of the calling thread's stack, innermost first, into
/// out[0, max), read from the DWARF unwind tables (works without frame
/// pointers, as Debian builds its programs): with `fast` when non-null
/// (load_fast_backtrace), else libgcc's _Unwind_Backtrace. Frames whose
/// address lies in [skip_lo, skip_hi) are left out while they are the
/// innermost ones (the allocator's own frames). Returns the count. Does not
/// allocate through malloc in a glibc process (the unwinders find the
/// tables through dl_iterate_phdr and map their caches); call with no strata
/// lock held all the same.
usize backtrace(void** out, usize max, uptr skip_lo, uptr skip_hi, FastBacktrace fast);

/// A loaded object (the main program, a shared library), as the dynamic
/// loader knows it.
struct LoadedObject {
  uptr lo = 0, hi = 0;                 ///< the address range its segments span
  uptr bias = 0;                       ///< load bias: run-time address = file's virtual address + bias
  uptr eh_frame_hdr = 0;               ///< run-time address of its PT_GNU_EH_FRAME (.eh_frame_hdr); 0: none
  const char* path = nullptr;          ///< its file ("" for the main program); the loader's string
};

/// The object holding addr, by glibc's _dl_find_object (lock-free, no
/// allocation, safe inside malloc); false when no object holds addr or the C
/// library predates it (glibc 2.35).
bool find_object(const void* addr, LoadedObject& out);

/// The executable address range of the shared object holding `addr`, into
/// [lo, hi); false when addr lies in the main program (a static link: no range
/// tells the allocator's frames from the program's) or in no object.
bool code_range_of(const void* addr, uptr& lo, uptr& hi);

/// Name of the dynamic symbol nearest below addr and of the object holding it
/// (dladdr); null name when none is known (a static function of a program not
/// linked with -rdynamic). *offset = addr - symbol, or addr - the object's
/// load address when no symbol is known (what addr2line -e object takes).
/// Never allocates.
const char* symbol_of(const void* addr, uptr& offset, const char*& object);

}  // namespace strata::os
