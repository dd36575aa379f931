/*
 * strata firmware boot, riscv64: QEMU virt, -bios none, M-mode, hart 0 only.
 *
 * Sets gp and the stack, installs the trap vector, enables the FPU (lp64d
 * code may use FP registers), zeroes .bss, runs .init_array and calls
 * fw_main(); its return value goes to fw_exit(). Any trap (access fault,
 * illegal instruction, misaligned access, ecall) lands in trap_entry, which
 * hands mcause/mepc/mtval to fw_trap() (never returns: the boot fails).
 */
  .section .text.boot, "ax", @progbits
  .globl _start
_start:
  csrw mie, zero
  csrr t0, mhartid
  bnez t0, park
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la sp, __stack_top
  la t0, trap_entry
  csrw mtvec, t0               /* direct mode: entry is 4-byte aligned */
  li t0, 0x2000                /* mstatus.FS = Initial */
  csrs mstatus, t0
  fscsr zero

  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  la s0, __init_array_start
  la s1, __init_array_end
3:
  bgeu s0, s1, 4f
  ld t0, 0(s0)
  jalr t0
  addi s0, s0, 8
  j 3b
4:
  call fw_main
  call fw_exit                 /* a0 = fw_main's result; never returns */
park:
  wfi
  j park

  .balign 4
trap_entry:
  csrr a0, mcause
  csrr a1, mepc
  csrr a2, mtval
  la sp, __stack_top           /* the fault may have come from a bad sp */
  call fw_trap
  j park
