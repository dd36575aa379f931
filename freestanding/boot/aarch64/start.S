/*
 * strata firmware boot, aarch64: QEMU virt, Cortex-A53, entered at EL1 with
 * the MMU and caches off, CPU 0 only.
 *
 * Installs the vector table, sets the stack, zeroes .bss, runs .init_array
 * and calls fw_main(); its result goes to fw_exit(). Every vector entry
 * (synchronous exception, IRQ, FIQ, SError, from any level) reports through
 * fw_trap(ESR_EL1, ELR_EL1, FAR_EL1) and never returns: the boot fails.
 */
  .section .text.boot, "ax", %progbits
  .globl _start
_start:
  mrs x0, mpidr_el1
  and x0, x0, #0xff
  cbnz x0, park
  msr daifset, #0xf            /* all interrupts masked */
  adrp x0, vectors
  add x0, x0, :lo12:vectors
  msr vbar_el1, x0
  isb
  adrp x0, __stack_top
  add x0, x0, :lo12:__stack_top
  mov sp, x0

  adrp x0, __bss_start
  add x0, x0, :lo12:__bss_start
  adrp x1, __bss_end
  add x1, x1, :lo12:__bss_end
1:
  cmp x0, x1
  b.hs 2f
  str xzr, [x0], #8
  b 1b
2:
  adrp x19, __init_array_start
  add x19, x19, :lo12:__init_array_start
  adrp x20, __init_array_end
  add x20, x20, :lo12:__init_array_end
3:
  cmp x19, x20
  b.hs 4f
  ldr x0, [x19], #8
  blr x0
  b 3b
4:
  bl fw_main
  bl fw_exit                   /* w0 = fw_main's result; never returns */
park:
  wfe
  b park

/* 16 entries of 0x80 bytes: {current EL with SP0, current EL with SPx,
   lower EL AArch64, lower EL AArch32} x {sync, IRQ, FIQ, SError}. */
  .macro vector_entry
  .balign 0x80
  b trap_common
  .endm

  .balign 0x800
vectors:
  .rept 16
  vector_entry
  .endr

trap_common:
  adrp x0, __stack_top         /* the fault may have come from a bad sp */
  add x0, x0, :lo12:__stack_top
  mov sp, x0
  mrs x0, esr_el1
  mrs x1, elr_el1
  mrs x2, far_el1
  bl fw_trap
  b park
