// strata firmware boot: what each ISA's board code provides (console, exit,
// trap names), the console printing built on it, and the entry points the
// start stubs call.
//
// The board half has one implementation per ISA in boot/<isa>/platform.cpp,
// next to its start stub and linker script; the printing and entry points
// live in boot/common/console.cpp. Everything runs single-threaded on the
// boot CPU with interrupts off.
#pragma once
#include "strata/core/types.hpp"

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

/// Starts the board's cycle counter (idempotent): rdtsc on x86_64, PMCCNTR_EL0
/// on aarch64, minstret on RISC-V, SysTick (free-running, core clock) on
/// Cortex-M. Under QEMU's -icount each ticks in fixed proportion to the
/// instructions executed (the bounds image calibrates the ratio).
void cycle_counter_start();
/// The counter now, counting up, in its low cycle_counter_bits() bits: a
/// difference of two reads is exact modulo 2^bits.
u64 cycle_counter();
u32 cycle_counter_bits();

/// A second RAM the board has besides the one the image runs in, for images
/// that put heaps in different memories (the Cortex-M boards' fast SRAM):
/// its start and size, or null (size 0) when there is none. The default
/// (boot/common/console.cpp) has none.
u8* second_ram(usize& size);

/// Writes a NUL-terminated string (null prints "(null)"); "\n" becomes "\r\n".
void put(const char* s);
/// Writes v in hexadecimal with a 0x prefix.
void put_hex(u64 v);
/// Writes v in decimal.
void put_dec(u64 v);
/// Writes "strata-fw: " followed by s: every line the images print starts so.
void put_tag(const char* s);

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
