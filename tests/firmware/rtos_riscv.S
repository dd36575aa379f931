/*
 * strata firmware multi-task image, RISC-V port (riscv32 and riscv64, M-mode):
 * the trap handler of the tiny preemptive kernel in rtos_main.cpp (the rest
 * of the port is rtos_riscv.cpp).
 *
 * Every trap (the machine timer's tick, a task's ecall to yield, a fault)
 * pushes a full context on the current stack: mepc, ra, mstatus (in sp's
 * slot: sp itself is the context's address), gp .. t6. rtos_trap_c decides
 * and returns the context to resume, the same one or the next task's;
 * mstatus comes back with it, so each task keeps its own interrupt state.
 */
#if __riscv_xlen == 64
#define REG_S sd
#define REG_L ld
#define R 8
#else
#define REG_S sw
#define REG_L lw
#define R 4
#endif

  .section .text.rtos_trap, "ax", @progbits
  .balign 4
  .globl rtos_trap
rtos_trap:
  addi sp, sp, -32 * R
  REG_S x1, 1 * R(sp)
  .irp n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
  REG_S x\n, \n * R(sp)
  .endr
  csrr t0, mepc
  REG_S t0, 0(sp)
  csrr t0, mstatus
  REG_S t0, 2 * R(sp)
  mv a0, sp
  call rtos_trap_c             /* a0: this context; returns the one to resume */
  mv sp, a0
  REG_L t0, 0(sp)
  csrw mepc, t0
  REG_L t0, 2 * R(sp)
  csrw mstatus, t0
  REG_L x1, 1 * R(sp)
  .irp n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
  REG_L x\n, \n * R(sp)
  .endr
  addi sp, sp, 32 * R
  mret
