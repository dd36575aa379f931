/*
 * strata firmware boot, RISC-V (riscv64 and riscv32): QEMU virt, -bios none,
 * M-mode, hart 0 only.
 *
 * Sets gp and the stack, installs the trap vector, enables the FPU when the
 * ABI has one (lp64d code may use FP registers; rv32imac has none), zeroes
 * .bss, runs .init_array and calls fw_main(); its return value goes to
 * fw_exit(). Any trap (access fault, illegal instruction, misaligned access,
 * ecall) lands in trap_entry, which hands mcause/mepc/mtval to fw_trap()
 * (never returns: the boot fails).
 */
#if __riscv_xlen == 64
#define REG_S sd
#define REG_L ld
#define REGBYTES 8
#else
#define REG_S sw
#define REG_L lw
#define REGBYTES 4
#endif

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
#ifdef __riscv_flen
  li t0, 0x2000                /* mstatus.FS = Initial */
  csrs mstatus, t0
  fscsr zero
#endif

  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  REG_S zero, 0(t0)
  addi t0, t0, REGBYTES
  j 1b
2:
  la s0, __init_array_start
  la s1, __init_array_end
3:
  bgeu s0, s1, 4f
  REG_L t0, 0(s0)
  jalr t0
  addi s0, s0, REGBYTES
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
