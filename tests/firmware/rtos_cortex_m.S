/*
 * strata firmware multi-task image, Cortex-M port: the context switch of the
 * tiny preemptive kernel in rtos_main.cpp (the classic PendSV design of
 * Cortex-M RTOSes; the rest of the port is rtos_cortex_m.cpp).
 *
 * Tasks run in thread mode on the process stack (PSP). SysTick pends PendSV;
 * PendSV, at the lowest priority, runs when no other handler is active: it
 * pushes r4-r11 below the frame the core stacked (r0-r3, r12, lr, pc, xpsr),
 * hands the task's stack pointer to rtos_switch(), which returns the next
 * task's, pops that task's r4-r11 and returns into it. The first switch comes
 * from the boot code's main stack (PSP still 0): nothing to save then.
 */
  .syntax unified
  .thumb
  .text
  .globl fw_pendsv_handler
  .type fw_pendsv_handler, %function
  .thumb_func
fw_pendsv_handler:
  mrs r0, psp
  cbz r0, 1f
  stmdb r0!, {r4-r11}
1:
  push {r3, lr}                /* r3: keeps the main stack 8-byte aligned */
  bl rtos_switch               /* r0: the saved sp (0: none); returns the next task's */
  pop {r3, lr}
  ldmia r0!, {r4-r11}
  msr psp, r0
  ldr r0, =0xfffffffd          /* EXC_RETURN: thread mode, process stack, no FP state */
  bx r0
  .size fw_pendsv_handler, . - fw_pendsv_handler
