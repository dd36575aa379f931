// strata firmware multi-task image, RISC-V port (rtos_port.hpp): the machine
// timer (QEMU virt's CLINT, 10 MHz) ticks every TICK_PERIOD; every trap goes
// to rtos_trap (rtos_riscv.S), which saves the context and lets
// rtos_trap_c switch. Yield is an ecall.
//
// RISC-V has no architectural "in a handler" state strata could read, so, as
// a firmware on such an ISA does, this port defines strata_fw_in_interrupt
// (strong, in place of libstrata_fw.a's weak one): true while the tick
// handler runs.
#include "boot/common/platform.hpp"
#include "rtos_port.hpp"
#include "strata/strata_fw.h"

extern "C" char rtos_trap[];  // rtos_riscv.S

namespace strata::fw::rtos {
namespace {
constexpr uptr CLINT_MTIMECMP = 0x0200'4000;  // hart 0
constexpr uptr CLINT_MTIME = 0x0200'BFF8;
/// Tick period in mtime ticks (10 MHz): 5 us, a few thousand instructions.
constexpr u64 TICK_PERIOD = 50;
constexpr uptr MSTATUS_MIE = 1u << 3;
constexpr uptr MSTATUS_MPIE = 1u << 7;
constexpr uptr MSTATUS_MPP_M = 3u << 11;
constexpr uptr MIE_MTIE = 1u << 7;
constexpr uptr CAUSE_INTERRUPT = uptr{1} << (sizeof(uptr) * 8 - 1);
constexpr uptr CAUSE_MACHINE_TIMER = 7;
constexpr uptr CAUSE_ECALL_M = 11;
constexpr usize FRAME_WORDS = 32;  // rtos_riscv.S: mepc, ra, mstatus, x3..x31

volatile bool in_tick = false;

volatile u32& word(uptr a) { return *reinterpret_cast<volatile u32*>(a); }

u64 mtime() {
  u32 hi = 0, lo = 0;
  do {
    hi = word(CLINT_MTIME + 4);
    lo = word(CLINT_MTIME);
  } while (hi != word(CLINT_MTIME + 4));
  return (u64{hi} << 32) | lo;
}

void set_next_tick() {
  const u64 at = mtime() + TICK_PERIOD;
  word(CLINT_MTIMECMP + 4) = 0xffff'ffff;  // no spurious match while the halves change
  word(CLINT_MTIMECMP) = static_cast<u32>(at);
  word(CLINT_MTIMECMP + 4) = static_cast<u32>(at >> 32);
}

uptr read_mstatus() {
  uptr v = 0;
  __asm__ __volatile__("csrr %0, mstatus" : "=r"(v));
  return v;
}
}  // namespace

const char* tick_description() { return "the machine timer every 5 us of virtual time"; }

uptr* initial_context(uptr* top, void (*entry)(uptr), uptr arg, void (*exit)()) {
  uptr* frame = top - FRAME_WORDS;
  for (usize i = 0; i < FRAME_WORDS; ++i) frame[i] = 0;
  uptr gp = 0;
  __asm__ __volatile__("mv %0, gp" : "=r"(gp));
  frame[0] = reinterpret_cast<uptr>(entry);  // mepc
  frame[1] = reinterpret_cast<uptr>(exit);   // ra
  // mret to M-mode with interrupts on; the FPU state (FS) as now.
  frame[2] = (read_mstatus() & ~MSTATUS_MIE) | MSTATUS_MPIE | MSTATUS_MPP_M;
  frame[3] = gp;
  frame[10] = arg;  // a0
  return frame;
}

void start_ticks() {
  __asm__ __volatile__("csrw mtvec, %0" ::"r"(rtos_trap));
  set_next_tick();
  __asm__ __volatile__("csrs mie, %0" ::"r"(MIE_MTIE));
  __asm__ __volatile__("csrs mstatus, %0" ::"r"(MSTATUS_MIE) : "memory");
}

void yield() { __asm__ __volatile__("ecall" ::: "memory"); }

uptr irq_save() {
  uptr old = 0;
  __asm__ __volatile__("csrrc %0, mstatus, %1" : "=r"(old) : "r"(MSTATUS_MIE) : "memory");
  return old & MSTATUS_MIE;
}

void irq_restore(uptr saved) { __asm__ __volatile__("csrs mstatus, %0" ::"r"(saved) : "memory"); }

}  // namespace strata::fw::rtos

using namespace strata;

/// rtos_trap's C half: the tick (then the next task), a yield (the next
/// task, past the ecall), or a fault (reported: the run fails).
extern "C" uptr* rtos_trap_c(uptr* frame) {
  using namespace fw::rtos;
  uptr cause = 0, tval = 0;
  __asm__ __volatile__("csrr %0, mcause" : "=r"(cause));
  if (cause == (CAUSE_INTERRUPT | CAUSE_MACHINE_TIMER)) {
    set_next_tick();
    in_tick = true;
    tick();
    in_tick = false;
    return rtos_switch(frame);
  }
  if (cause == CAUSE_ECALL_M) {
    frame[0] += 4;  // resume after the ecall
    return rtos_switch(frame);
  }
  __asm__ __volatile__("csrr %0, mtval" : "=r"(tval));
  fw_trap(cause, frame[0], tval);
}

extern "C" int strata_fw_in_interrupt(void) noexcept { return fw::rtos::in_tick ? 1 : 0; }
