/*
 * strata firmware boot, Cortex-M3/M4 (ARMv7-M, Thumb-2): QEMU mps2-an385 /
 * mps2-an386.
 *
 * The vector table sits at address 0: the core loads sp from its first word
 * and jumps to fw_reset, which zeroes .bss, runs .init_array and calls
 * fw_main(); its result goes to fw_exit(). Every fault and every exception
 * nobody claimed enters fault_entry, which hands the exception number, the
 * stacked pc and the stack frame to fw_cortex_m_fault() (platform.cpp: reads
 * the fault status registers, calls fw_trap; never returns).
 *
 * SVCall, PendSV and SysTick go through weak symbols (fw_svc_handler,
 * fw_pendsv_handler, fw_systick_handler) that default to fault_entry, so an
 * image that schedules tasks (tests/firmware/rtos) can claim them.
 *
 * Also here: __aeabi_uldivmod, which clang calls for 64-bit division on
 * 32-bit ARM and which a bare-metal image has no compiler runtime for (the
 * test images divide u64 when printing and in their random generator).
 */
  .syntax unified
  .thumb

  .section .vectors, "a", %progbits
  .globl fw_vectors
fw_vectors:
  .word __stack_top
  .word fw_reset             /* 1 reset (Thumb bit set: fw_reset is a thumb_func) */
  .rept 9                    /* 2 NMI .. 10 (reserved) */
  .word fault_entry
  .endr
  .word fw_svc_handler       /* 11 SVCall */
  .word fault_entry          /* 12 debug monitor */
  .word fault_entry          /* 13 reserved */
  .word fw_pendsv_handler    /* 14 PendSV */
  .word fw_systick_handler   /* 15 SysTick */
  .rept 32                   /* 16.. external interrupts (none enabled) */
  .word fault_entry
  .endr

  .weak fw_svc_handler
  .thumb_set fw_svc_handler, fault_entry
  .weak fw_pendsv_handler
  .thumb_set fw_pendsv_handler, fault_entry
  .weak fw_systick_handler
  .thumb_set fw_systick_handler, fault_entry

  .text
  .globl fw_reset
  .type fw_reset, %function
  .thumb_func
fw_reset:
  cpsid i
  ldr r0, =__bss_start
  ldr r1, =__bss_end
  movs r2, #0
1:
  cmp r0, r1
  bhs 2f
  str r2, [r0], #4
  b 1b
2:
  ldr r4, =__init_array_start
  ldr r5, =__init_array_end
3:
  cmp r4, r5
  bhs 4f
  ldr r0, [r4], #4
  blx r0
  b 3b
4:
  bl fw_main
  bl fw_exit                 /* r0 = fw_main's result; never returns */
5:
  wfi
  b 5b
  .size fw_reset, . - fw_reset

  .globl fault_entry
  .type fault_entry, %function
  .thumb_func
fault_entry:
  tst lr, #4                 /* EXC_RETURN bit 2: the frame is on the process stack */
  ite eq
  mrseq r2, msp
  mrsne r2, psp
  ldr r1, [r2, #24]          /* stacked pc */
  mrs r0, ipsr
  ldr r3, =__stack_top       /* the fault may have come from a bad sp */
  mov sp, r3
  bl fw_cortex_m_fault       /* (exception number, pc, frame); never returns */
  b .
  .size fault_entry, . - fault_entry

/* u64 __aeabi_uldivmod(u64 n, u64 d): quotient in r0:r1, remainder in r2:r3
   (RTABI). Calls fw_udivmod64(n, d, &rem) (boot/common/divide64.cpp). */
  .globl __aeabi_uldivmod
  .type __aeabi_uldivmod, %function
  .thumb_func
__aeabi_uldivmod:
  push {r4, lr}
  sub sp, sp, #16
  add r4, sp, #8
  str r4, [sp]               /* the fifth word: &rem */
  bl fw_udivmod64
  ldrd r2, r3, [sp, #8]
  add sp, sp, #16
  pop {r4, pc}
  .size __aeabi_uldivmod, . - __aeabi_uldivmod
