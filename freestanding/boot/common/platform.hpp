// strata firmware boot: what each ISA's board code provides to the common
// boot code (console.cpp) and to the images.
//
// One implementation per ISA in boot/<isa>/platform.cpp, next to its start
// stub and linker script. Everything here runs single-threaded on the boot
// CPU with interrupts off.
#pragma once
#include "core/types.hpp"

namespace strata::fw {

/// Sends one byte to the board's serial console, waiting while its FIFO is full.
void console_putc(char c);

/// Ends the run as a success: QEMU exits with this ISA's pass code.
[[noreturn]] void exit_pass();

/// Ends the run as a failure: QEMU exits with a code the harness never takes
/// for a pass. `code` is a hint (non-zero) shown in QEMU's exit status where
/// the board can carry it.
[[noreturn]] void exit_fail(u32 code);

/// A short name for a trap cause as fw_trap() receives it (static storage).
const char* trap_name(uptr cause);

/// Performs a load from an address that is not backed by anything on this
/// board, which must trap (the trap self-test image uses it).
u64 load_from_invalid_address();

/// Executes an instruction the CPU does not define, which must trap.
void execute_illegal_instruction();

}  // namespace strata::fw

extern "C" {
/// The image's entry point, called by the start stub after .bss and
/// .init_array: returns 0 for a pass, anything else for a failure.
int fw_main();
/// Called by the start stub with fw_main()'s result.
[[noreturn]] void fw_exit(int code);
/// Called by the trap vector with the raw cause, the faulting pc and the
/// faulting address (0 where the ISA has none): reports and fails the run.
[[noreturn]] void fw_trap(strata::uptr cause, strata::uptr pc, strata::uptr addr);
}
