// strata firmware multi-task image: what the tiny kernel of rtos_main.cpp
// needs from each ISA (rtos_cortex_m.cpp + .S: SysTick and PendSV;
// rtos_riscv.cpp + .S: the machine timer and a trap handler that switches).
//
// The kernel keeps the tasks and picks the next one (rtos_switch); a port
// saves and restores contexts, runs the periodic tick and masks interrupts.
#pragma once
#include "strata/core/types.hpp"

namespace strata::fw::rtos {

/// One line for the log: what preempts the tasks, and how often.
const char* tick_description();

/// Lays out, below `top` (a task's empty stack, 16-byte aligned), the context
/// the switch code restores so that the task enters entry(arg) with
/// interrupts enabled, and returns from it into exit(). Returns the saved
/// stack pointer the kernel keeps for the task.
uptr* initial_context(uptr* top, void (*entry)(uptr), uptr arg, void (*exit)());

/// Starts the periodic tick and enables interrupts. The tick handler calls
/// tick() (kernel) and then switches to the task rtos_switch picks.
void start_ticks();

/// Gives up the CPU now: the current context is saved and rtos_switch runs.
/// The first call, from the boot stack, starts the first task (that stack is
/// abandoned).
void yield();

/// Masks interrupts and returns what irq_restore needs to undo it.
uptr irq_save();
void irq_restore(uptr saved);

// ---- Provided by the kernel (rtos_main.cpp) --------------------------------

/// The tick's work before the switch (the interrupt-allocation phases).
void tick();

}  // namespace strata::fw::rtos

extern "C" {
/// Saves sp as the current task's context (sp null: nothing to save, the
/// first switch), picks the next ready task round robin, returns its context.
strata::uptr* rtos_switch(strata::uptr* sp);
}
