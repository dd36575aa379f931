// strata firmware boot, x86_64 board code: COM1 (port 0x3f8), QEMU's
// isa-debug-exit device (port 0xf4) and the IDT for CPU exceptions.
#include "boot/common/platform.hpp"

extern "C" char x86_trap_stubs[];  // start.S: 32 stubs, 16 bytes apart

namespace strata::fw {
namespace {
constexpr u16 COM1 = 0x3f8;  // THR at +0, LSR at +5
constexpr u8 LSR_THR_EMPTY = 1u << 5;
constexpr u16 DEBUG_EXIT = 0xf4;  // QEMU exits (value << 1) | 1
constexpr u32 EXIT_PASS_VALUE = 0x10;  // exit status 33

void outb(u16 port, u8 v) { __asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port)); }
void outl(u16 port, u32 v) { __asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port)); }
u8 inb(u16 port) {
  u8 v;
  __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

[[noreturn]] void debug_exit(u32 value) {
  outl(DEBUG_EXIT, value);
  for (;;) __asm__ __volatile__("cli; hlt");
}

/// A 64-bit interrupt gate.
struct IdtGate {
  u16 offset_low;
  u16 selector;
  u8 ist;
  u8 type_attr;
  u16 offset_mid;
  u32 offset_high;
  u32 reserved;
};
static_assert(sizeof(IdtGate) == 16);

struct [[gnu::packed]] IdtPointer {
  u16 limit;
  u64 base;
};

constexpr u16 KERNEL_CODE_SELECTOR = 0x08;
constexpr u8 INTERRUPT_GATE = 0x8e;  // present, ring 0, 64-bit interrupt gate
alignas(16) IdtGate idt[32];
}  // namespace

void console_putc(char c) {
  while ((inb(COM1 + 5) & LSR_THR_EMPTY) == 0) {
  }
  outb(COM1, static_cast<u8>(c));
}

void exit_pass() { debug_exit(EXIT_PASS_VALUE); }

void exit_fail(u32 code) {
  // Any odd status but 33 is a failure; keep the hint when it is distinct.
  debug_exit(code == 0 || code == EXIT_PASS_VALUE ? 1 : code);
}

const char* trap_name(uptr cause) {
  switch (cause & 0xff) {  // the vector; bits 32.. hold the error code
    case 0: return "#DE divide error";
    case 3: return "#BP breakpoint";
    case 6: return "#UD invalid opcode";
    case 8: return "#DF double fault";
    case 13: return "#GP general protection";
    case 14: return "#PF page fault";
    case 17: return "#AC alignment check";
    default: return "exception";
  }
}

u64 load_from_invalid_address() {
  // The boot page tables map only the first GiB (and its kernel-window alias).
  return *reinterpret_cast<volatile u64*>(uptr{1} << 39);
}

void cycle_counter_start() {}

u64 cycle_counter() {
  u32 lo = 0, hi = 0;
  __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
  return (u64{hi} << 32) | lo;
}

u32 cycle_counter_bits() { return 64; }

void execute_illegal_instruction() { __asm__ __volatile__("ud2"); }

}  // namespace strata::fw

/// Called once by start.S in long mode: points vectors 0..31 at the stubs.
extern "C" void x86_install_idt() {
  using namespace strata;
  using namespace strata::fw;
  for (u32 v = 0; v < 32; ++v) {
    const u64 target = reinterpret_cast<uptr>(x86_trap_stubs) + 16u * v;
    idt[v] = IdtGate{static_cast<u16>(target), KERNEL_CODE_SELECTOR, 0, INTERRUPT_GATE,
                     static_cast<u16>(target >> 16), static_cast<u32>(target >> 32), 0};
  }
  const IdtPointer ptr{static_cast<u16>(sizeof(idt) - 1), reinterpret_cast<uptr>(idt)};
  __asm__ __volatile__("lidt %0" : : "m"(ptr));
}
