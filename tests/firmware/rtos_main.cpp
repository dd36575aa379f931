// strata firmware multi-task image (Cortex-M): tasks preempted by a timer
// allocate concurrently from one heap, and interrupt handlers allocate too.
//
// A tiny preemptive round-robin scheduler (what an RTOS kernel does, in 100
// lines): SysTick fires every TICK_CYCLES core cycles and pends PendSV, whose
// handler (rtos_cortex_m.S) switches to the next ready task, wherever the
// current one was, inside malloc or not. Three workers run the same workload
// (random malloc / calloc / aligned_alloc / realloc / free, every block filled
// with a pattern of its own and checked before it is freed or resized) while
// a controller task runs the phases and judges them:
//
//   mutex         the heap's lock hooks are a scheduler mutex (a task finding
//                 it taken yields): the hooks must see contention (tasks were
//                 preempted inside the heap) and nothing may be corrupted
//   spin          the default spin lock: a task finding it taken spins until
//                 its time slice ends, then the holder runs on; still correct
//   isr_masked    hooks that mask interrupts (save PRIMASK, cpsid i; restore)
//                 and SysTick's handler allocating and freeing on the same
//                 heap: the supported way to allocate from interrupt handlers
//
// After each phase: every worker's checks, strata_fw_verify(), and the heap
// back to its starting allocation. The interrupt rule's other half (the spin
// lock with an allocating handler ends in strata_fatal) is the image
// fail_isr_alloc: fw_main_isr_spin below.
#include "boot/common/platform.hpp"
#include "report.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "strata/align.hpp"
#include "strata/strata_fw.h"

#define FW(name) STRATA_FW_NAME(name)

namespace strata::fw {
namespace {

// ---- System control registers --------------------------------------------
volatile u32& reg(uptr a) { return *reinterpret_cast<volatile u32*>(a); }
constexpr uptr SYST_CSR = 0xE000'E010, SYST_RVR = 0xE000'E014, SYST_CVR = 0xE000'E018;
constexpr uptr SCB_ICSR = 0xE000'ED04, SCB_SHPR3 = 0xE000'ED20;
constexpr u32 ICSR_PENDSVSET = 1u << 28;
/// SysTick period in core cycles: short, so that tasks are often preempted
/// inside the heap (a heap call is a few hundred cycles).
constexpr u32 TICK_CYCLES = 3000;

void yield() {
  reg(SCB_ICSR) = ICSR_PENDSVSET;
  __asm__ __volatile__("dsb\n isb" ::: "memory");
}

// ---- Tasks ------------------------------------------------------------------
constexpr u32 WORKERS = 3;
constexpr u32 TASKS = WORKERS + 1;  // task 0: the controller
constexpr usize STACK_WORDS = 1024;

struct Task {
  u32* sp;
  volatile bool ready;  ///< runnable (a finished task is not)
};
Task tasks[TASKS];
alignas(8) u32 stacks[TASKS][STACK_WORDS];
volatile i32 current = -1;
volatile u32 switches = 0;

[[noreturn]] void task_exit() {
  tasks[current].ready = false;
  for (;;) yield();
}

/// Lays out a fresh exception frame on task t's stack so that the next switch
/// to it enters entry(arg) in thread mode; returning from entry ends the task.
void start_task(u32 t, void (*entry)(u32), u32 arg) {
  u32* sp = stacks[t] + STACK_WORDS;
  *--sp = 1u << 24;                                  // xPSR: Thumb
  *--sp = reinterpret_cast<uptr>(entry);             // pc
  *--sp = reinterpret_cast<uptr>(&task_exit);        // lr
  for (int r = 0; r < 4; ++r) *--sp = 0;             // r12, r3, r2, r1
  *--sp = arg;                                       // r0
  for (int r = 0; r < 8; ++r) *--sp = 0;             // r4..r11 (popped by PendSV)
  tasks[t].sp = sp;
  __atomic_store_n(&tasks[t].ready, true, __ATOMIC_RELEASE);
}

bool workers_running() {
  for (u32 t = 1; t < TASKS; ++t)
    if (tasks[t].ready) return true;
  return false;
}

// ---- The workload -----------------------------------------------------------
constexpr u32 LIVE = 48;
struct Live {
  u8* p;
  usize n;
  u8 fill;
};

struct WorkerResult {
  scenario::Checker chk;
  u64 ops;
  u64 nulls;
};
WorkerResult results[TASKS];
volatile u64 worker_ops = 20000;
volatile u64 phase_seed = 0;

u8 pattern(u8 fill, usize i) { return static_cast<u8>(fill + i * 31); }
void fill(u8* p, usize n, u8 f) {
  for (usize i = 0; i < n; ++i) p[i] = pattern(f, i);
}
bool intact(const u8* p, usize n, u8 f) {
  for (usize i = 0; i < n; ++i)
    if (p[i] != pattern(f, i)) return false;
  return true;
}
bool intact_zero(const void* p, usize n) {
  const u8* b = static_cast<const u8*>(p);
  for (usize i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

void worker(u32 id) {
  WorkerResult& res = results[id];
  scenario::Checker& chk = res.chk;
  scenario::Rng rng(phase_seed * 131 + id);
  Live live[LIVE] = {};
  for (u64 op = 0; op < worker_ops; ++op) {
    Live& b = live[rng.below(LIVE)];
    const u8 f = static_cast<u8>(id * 64 + op);
    if (b.p != nullptr && rng.chance(1, 3)) {  // resize, contents kept
      const usize n = 1 + static_cast<usize>(rng.log_uniform(1500));
      SCEN_CHECK(chk, intact(b.p, b.n, b.fill));
      u8* q = static_cast<u8*>(FW(realloc)(b.p, n));
      if (q == nullptr) {
        ++res.nulls;
        continue;
      }
      SCEN_CHECK(chk, intact(q, b.n < n ? b.n : n, b.fill));
      fill(q, n, f);
      b = Live{q, n, f};
    } else if (b.p != nullptr) {
      SCEN_CHECK(chk, intact(b.p, b.n, b.fill));
      FW(free)(b.p);
      b.p = nullptr;
    } else {
      const usize n = 1 + static_cast<usize>(rng.log_uniform(1500));
      void* p = nullptr;
      switch (rng.below(3)) {
        case 0: p = FW(malloc)(n); break;
        case 1:
          p = FW(calloc)(1, n);
          SCEN_CHECK(chk, p == nullptr || intact_zero(p, n));
          break;
        default: {
          const usize align = usize{1} << rng.range(3, 9);
          p = FW(aligned_alloc)(align, n);
          SCEN_CHECK(chk, p == nullptr || is_ptr_aligned(p, align));
        }
      }
      if (p == nullptr) {
        ++res.nulls;
        continue;
      }
      fill(static_cast<u8*>(p), n, f);
      b = Live{static_cast<u8*>(p), n, f};
    }
    ++res.ops;
  }
  for (Live& b : live) {
    if (b.p == nullptr) continue;
    SCEN_CHECK(chk, intact(b.p, b.n, b.fill));
    FW(free)(b.p);
  }
}

// ---- Lock hooks --------------------------------------------------------------
/// A scheduler mutex: a task that finds it taken yields its time slice.
struct Mutex {
  u32 held = 0;
  volatile u32 contended = 0;
};
Mutex mutex;
void mutex_lock(void* ctx) {
  Mutex* m = static_cast<Mutex*>(ctx);
  while (__atomic_exchange_n(&m->held, 1u, __ATOMIC_ACQUIRE) != 0) {
    m->contended = m->contended + 1;
    yield();
  }
}
void mutex_unlock(void* ctx) { __atomic_store_n(&static_cast<Mutex*>(ctx)->held, 0u, __ATOMIC_RELEASE); }

/// Interrupts masked while the heap is in use: no task switch and no handler
/// can enter it meanwhile. Hook calls never nest, so one saved PRIMASK does.
struct IrqMask {
  u32 saved = 0;
};
IrqMask irq_mask;
void irq_lock(void* ctx) {
  u32 primask = 0;
  __asm__ __volatile__("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
  static_cast<IrqMask*>(ctx)->saved = primask;
}
void irq_unlock(void* ctx) {
  const u32 primask = static_cast<IrqMask*>(ctx)->saved;
  __asm__ __volatile__("msr primask, %0" ::"r"(primask) : "memory");
}

// ---- SysTick: preemption, and allocation from the handler ---------------------
volatile bool isr_allocates = false;
volatile u32 isr_allocs = 0;
volatile u32 isr_failures = 0;
volatile u32 ticks = 0;
scenario::Rng isr_rng(7);

void start_ticks() {
  reg(SCB_SHPR3) = 0xffff'0000;  // PendSV and SysTick at the lowest priority
  reg(SYST_RVR) = TICK_CYCLES - 1;
  reg(SYST_CVR) = 0;
  reg(SYST_CSR) = 0x7;  // core clock, interrupt, enable
  __asm__ __volatile__("cpsie i" ::: "memory");  // the boot code starts with interrupts off
}

u64 run_workers(u64 seed) {
  phase_seed = seed;
  for (u32 t = 1; t < TASKS; ++t) {
    results[t] = WorkerResult{};
    results[t].chk = console_checker();
    start_task(t, worker, t);
  }
  while (workers_running()) yield();
  u64 ops = 0;
  for (u32 t = 1; t < TASKS; ++t) ops += results[t].ops;
  return ops;
}

/// Folds the workers' checks into chk (each worker has its own Checker:
/// counting from several tasks into one would race).
void merge(scenario::Checker& chk) {
  for (u32 t = 1; t < TASKS; ++t) {
    chk.checks += results[t].chk.checks;
    chk.failures += results[t].chk.failures;
  }
}

scenario::Checker main_chk;
alignas(16) u8 pool[usize{256} << 10];
bool heap_idle(scenario::Checker& chk, usize base) {
  strata_fw_diag d{};
  strata_fw_get_diag(&d);
  const char* broken = strata_fw_verify();
  if (broken != nullptr) {
    put_tag("  verify: ");
    put(broken);
    put("\n");
  }
  return SCEN_CHECK(chk, broken == nullptr) && SCEN_CHECK(chk, d.allocated == base);
}

void phase_line(const char* name, u64 ops, u32 from_switches) {
  put_tag("  ");
  put(name);
  put_field("ops", ops);
  put_field("task_switches", switches - from_switches);
}

void controller(u32) {
  scenario::Checker& chk = main_chk;
  Steps steps("rtos", chk);
  strata_fw_diag d{};
  strata_fw_get_diag(&d);
  const usize base = d.allocated;

  // 1. A scheduler mutex as the lock hooks.
  SCEN_CHECK(chk, strata_fw_set_lock(mutex_lock, mutex_unlock, &mutex) == 0);
  u32 s0 = switches;
  u64 ops = run_workers(1);
  merge(chk);
  phase_line("mutex", ops, s0);
  put_field("contended", mutex.contended);
  put("\n");
  SCEN_CHECK(chk, ops >= WORKERS * worker_ops / 2);
  SCEN_CHECK(chk, mutex.contended > 0);  // tasks really were preempted inside the heap
  heap_idle(chk, base);
  steps.done("mutex_hooks");

  // 2. The default spin lock under preemption.
  SCEN_CHECK(chk, strata_fw_set_lock(nullptr, nullptr, nullptr) == 0);
  s0 = switches;
  ops = run_workers(2);
  merge(chk);
  phase_line("spin", ops, s0);
  put("\n");
  SCEN_CHECK(chk, ops >= WORKERS * worker_ops / 2);
  heap_idle(chk, base);
  steps.done("spin_lock");

  // 3. Interrupts masked by the hooks; the timer handler allocates too.
  SCEN_CHECK(chk, strata_fw_set_lock(irq_lock, irq_unlock, &irq_mask) == 0);
  s0 = switches;
  isr_allocates = true;
  ops = run_workers(3);
  isr_allocates = false;
  merge(chk);
  phase_line("isr_masked", ops, s0);
  put_field("isr_allocs", isr_allocs);
  put("\n");
  SCEN_CHECK(chk, isr_allocs > 0 && isr_failures == 0);
  heap_idle(chk, base);
  steps.done("isr_alloc_masked");

  SCEN_CHECK(chk, strata_fw_set_lock(nullptr, nullptr, nullptr) == 0);
  fw_exit(report_verdict(chk));
}

}  // namespace
}  // namespace strata::fw

using namespace strata;
using namespace strata::fw;

/// PendSV's C half: saves the current task's sp (0: the boot stack, nothing
/// to save), picks the next ready task round robin, returns its sp.
extern "C" u32* rtos_switch(u32* sp) {
  if (current >= 0) tasks[current].sp = sp;
  u32 next = current < 0 ? 0 : static_cast<u32>(current);
  for (u32 i = 0; i < TASKS; ++i) {
    next = (next + 1) % TASKS;
    if (tasks[next].ready) break;
  }
  current = static_cast<i32>(next);
  switches = switches + 1;
  return tasks[next].sp;
}

/// SysTick: a time slice ended (pend the switch); in the interrupt phases the
/// handler allocates, checks and frees a block on the default heap.
extern "C" void fw_systick_handler() {
  ticks = ticks + 1;
  if (isr_allocates) {
    const usize n = 1 + static_cast<usize>(isr_rng.below(200));
    u8* p = static_cast<u8*>(FW(malloc)(n));
    if (p != nullptr) {
      fill(p, n, 0x5a);
      if (!intact(p, n, 0x5a)) isr_failures = isr_failures + 1;
      FW(free)(p);
      isr_allocs = isr_allocs + 1;
    }
  }
  reg(SCB_ICSR) = ICSR_PENDSVSET;
}

/// The multi-task image: the phases above, judged by the controller task.
extern "C" int fw_main_rtos() {
  put_tag("multi-task self-test on " STRATA_FW_ISA_NAME ": ");
  put_dec(WORKERS);
  put(" workers preempted every ");
  put_dec(TICK_CYCLES);
  put(" cycles\n");
  main_chk = console_checker();
  if (!SCEN_CHECK(main_chk, strata_fw_init(pool, sizeof pool) == 0)) return report_verdict(main_chk);
  start_task(0, controller, 0);
  start_ticks();
  yield();  // the first switch: into the controller; this stack is not used again
  for (;;) __asm__ __volatile__("wfi");
}

/// The interrupt rule's failing half (image fail_isr_alloc): the default spin
/// lock, workers allocating, and the timer handler allocating on the same
/// heap. Sooner or later the handler interrupts a worker inside the heap:
/// strata must end the run with strata_fatal (not spin forever, not corrupt).
/// Should it never happen, the controller prints the pass line and the
/// harness, expecting a failure, fails the test.
extern "C" int fw_main_isr_spin() {
  put_tag("deliberate failure isr_alloc on " STRATA_FW_ISA_NAME ": this image must FAIL\n");
  main_chk = console_checker();
  if (!SCEN_CHECK(main_chk, strata_fw_init(pool, sizeof pool) == 0)) return report_verdict(main_chk);
  worker_ops = 200'000;
  isr_allocates = true;
  start_task(0, [](u32) { run_workers(4); fw_exit(report_verdict(main_chk)); }, 0);
  start_ticks();
  yield();
  for (;;) __asm__ __volatile__("wfi");
}
