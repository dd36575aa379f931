// strata platform: a stack walk that reads the unwind tables from the object
// files (pread), never through their mappings.
//
// Why: a walker that reads .eh_frame_hdr and .eh_frame through the mappings
// (libgcc's, libunwind's) makes them resident, and the kernel maps the 16
// pages around every page a read faults in (fault-around; MADV_RANDOM does not
// stop it). The first guarded sample of a small process so made ~250 KiB of
// libc's and libstdc++'s tables and libgcc's code resident: 6 % of the peak
// RSS of bench's tight_loop. Read with pread, the same tables cost a few
// system calls a frame and map nothing; decoded frames are cached, so this
// suits a capture made once per ~64 MB allocated (guarded sampling), not one
// per 512 KiB on every thread (the profiler).
//
// What it covers: x86-64 with glibc's _dl_find_object (2.35+); objects with
// a GNU build id, opened by an absolute path (or the program, by
// /proc/self/exe), whose file is the one the loader mapped (same
// PT_GNU_EH_FRAME address, same build id),
// with a sorted .eh_frame_hdr table; frames whose CIE/FDE rules are of the
// register-plus-offset kind, which is what compilers emit for functions. It
// gives up (and the caller walks with libgcc instead) on anything else: an
// expression rule (signal trampolines, PLT stubs, realigned stacks), the
// vdso, an object it cannot open or verify, a saved register outside the
// stack span the walk has established, a return address of 0. Stack slots
// are read in memory as libgcc reads them: rules from the verified file name
// slots of this thread's stack.
#pragma once
#include "strata/core/types.hpp"

namespace strata::os {

/// Return addresses of the calling thread's stack, innermost first, into
/// out[0, max), as os::backtrace gives them; frames in [skip_lo, skip_hi) are
/// left out while they are the innermost ones. Ends at the outermost frame
/// (the one whose return address the tables mark undefined: _start, a
/// thread's start) or at max frames. Returns false, with out undefined, when
/// it gave up (see above). Allocates nothing, maps nothing, holds no lock;
/// opens the files of the objects on the stack for the walk (and closes
/// them), unless their frames were decoded by an earlier walk (a cache of
/// 256 frames, keyed by pc, object and the object's build id, read from its
/// mapped notes: another object loaded at the same place after a dlclose
/// does not match; a frame it gave up on is cached as such, so the next
/// walks give up there without reading). errno is preserved.
bool backtrace_from_files(void** out, usize max, uptr skip_lo, uptr skip_hi, usize& n);

/// Whether this process may walk from the files: false under a seccomp
/// filter or in strict mode (/proc/self/status says so, or cannot be read),
/// where open and pread inside malloc might kill the process. Reads a /proc
/// file: call it once, at initialisation. A filter installed later is not
/// seen (see README, Guarded sampling).
bool file_walk_allowed();

/// Before fork(): waits until no other thread is in a walk, and makes walks
/// that start before release_file_walks() give up at once (their callers
/// walk with libgcc, which opens nothing). A walk holds its objects' files
/// open; a fork in the middle of one would copy them into the child, where
/// nothing closes them. A walk of the calling thread itself (a fork from a
/// signal handler that interrupted it) is not waited for: it goes on in both
/// processes after the handler returns, and closes its files in each.
/// Thread-safe; calls must not nest.
void hold_file_walks();

/// After fork(), in the parent and in the child: walks may start again.
void release_file_walks();

/// In a fork child: frees the cache of decoded frames for the child's walks
/// (a walk another thread of the parent was making when it forked held it).
void reset_file_unwind_in_child();

/// Empties the cache of decoded frames, so that the next walk reads every
/// frame from the files (tests). Call with no walk in progress.
void forget_decoded_frames();

}  // namespace strata::os
