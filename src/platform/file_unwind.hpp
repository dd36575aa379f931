// strata platform: a stack walk that reads the unwind tables from the object
// files (pread), never through their mappings.
//
// Why: a walker that reads .eh_frame_hdr and .eh_frame through the mappings
// (libgcc's, libunwind's) makes them resident, and the kernel maps the 16
// pages around every page a read faults in (fault-around; MADV_RANDOM does not
// stop it). The first guarded sample of a small process so made ~250 KiB of
// libc's and libstdc++'s tables and libgcc's code resident: 6 % of the peak
// RSS of bench's tight_loop. Read with pread, the same tables cost a few
// system calls a frame and map nothing, which suits a capture made once per
// ~64 MB allocated (guarded sampling), not one per 512 KiB (the profiler).
//
// What it covers: x86-64 with glibc's _dl_find_object (2.35+); objects with a
// sorted .eh_frame_hdr table; frames whose CIE/FDE rules are of the
// register-plus-offset kind, which is what compilers emit for functions. It
// gives up (and the caller walks with libgcc instead) on anything else: an
// expression rule (signal trampolines, PLT stubs, realigned stacks), an object
// whose file cannot be opened or whose program headers do not match what the
// loader mapped, a read outside the stack.
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
/// 256 frames, keyed by pc and object; a frame it gave up on is cached as
/// such, so the next walks give up there without reading). errno is preserved.
bool backtrace_from_files(void** out, usize max, uptr skip_lo, uptr skip_hi, usize& n);

/// In a fork child: frees the cache of decoded frames for the child's walks
/// (a walk another thread of the parent was making when it forked held it).
void reset_file_unwind_in_child();

/// Empties the cache of decoded frames, so that the next walk reads every
/// frame from the files (tests). Call with no walk in progress.
void forget_decoded_frames();

}  // namespace strata::os
