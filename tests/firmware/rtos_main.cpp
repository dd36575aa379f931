// strata firmware multi-task image (Cortex-M and RISC-V): tasks preempted by
// a timer allocate concurrently from one heap, and interrupt handlers
// allocate too.
//
// A tiny preemptive round-robin kernel (what an RTOS kernel does, in 100
// lines): a periodic tick (rtos_port.hpp; Cortex-M: SysTick every 3000 core
// cycles pending PendSV; RISC-V: the machine timer every 5 us of QEMU's
// virtual clock) switches to the next ready task, wherever the current one
// was, inside malloc or not. Three workers run the same workload (random
// malloc / calloc / aligned_alloc / realloc / free, every block filled with a
// pattern of its own and checked before it is freed or resized) while a
// controller task runs the phases and judges them:
//
//   mutex         the heap's lock hooks are a scheduler mutex (a task finding
//                 it taken yields): the hooks must see contention (tasks were
//                 preempted inside the heap) and nothing may be corrupted
//   spin          the default spin lock: a task finding it taken spins until
//                 its time slice ends, then the holder runs on; still correct
//   isr_masked    hooks that mask interrupts and the tick handler allocating
//                 and freeing on the same heap: the supported way to allocate
//                 from interrupt handlers
//
// After each phase: every worker's checks, strata_fw_verify(), and the heap
// back to its starting allocation. The interrupt rule's other half (the spin
// lock with an allocating handler ends in strata_fatal) is the image
// fail_isr_alloc: fw_main_isr_spin below. strata tells a handler by IPSR on
// Cortex-M; the RISC-V port defines strata_fw_in_interrupt itself, as a
// firmware on such an ISA would.
#include "boot/common/platform.hpp"
#include "report.hpp"
#include "rtos_port.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "strata/align.hpp"
#include "strata/strata_fw.h"

#define FW(name) STRATA_FW_NAME(name)

namespace strata::fw {
namespace {

using rtos::yield;

// ---- Tasks ------------------------------------------------------------------
constexpr u32 WORKERS = 3;
constexpr u32 TASKS = WORKERS + 1;  // task 0: the controller
constexpr usize STACK_WORDS = 8192 / sizeof(uptr);

struct Task {
  uptr* sp;
  volatile bool ready;  ///< runnable (a finished task is not)
};
Task tasks[TASKS];
alignas(16) uptr stacks[TASKS][STACK_WORDS];
volatile i32 current = -1;
volatile u32 switches = 0;

[[noreturn]] void task_exit() {
  tasks[current].ready = false;
  for (;;) yield();
}

/// Gives task t a fresh context that enters entry(arg); returning from entry
/// ends the task.
void start_task(u32 t, void (*entry)(uptr), uptr arg) {
  tasks[t].sp = rtos::initial_context(stacks[t] + STACK_WORDS, entry, arg, task_exit);
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

void worker(uptr id) {
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
/// can enter it meanwhile. Hook calls never nest, so one saved state does.
struct IrqMask {
  uptr saved = 0;
};
IrqMask irq_mask;
void irq_lock(void* ctx) { static_cast<IrqMask*>(ctx)->saved = rtos::irq_save(); }
void irq_unlock(void* ctx) { rtos::irq_restore(static_cast<IrqMask*>(ctx)->saved); }

// ---- The tick: preemption, and allocation from the handler ---------------------
volatile bool isr_allocates = false;
volatile u32 isr_allocs = 0;
volatile u32 isr_failures = 0;
volatile u32 ticks = 0;
scenario::Rng isr_rng(7);

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

void controller(uptr) {
  scenario::Checker& chk = main_chk;
  Steps steps("rtos", chk);
  strata_fw_diag d{};
  strata_fw_get_diag(&d);
  const usize base = d.allocated;

  // 1. A scheduler mutex as the lock hooks. Where a tick lands is up to the
  // host's timing; a round rarely sees no contention at all, so up to five
  // rounds run until one does.
  SCEN_CHECK(chk, strata_fw_set_lock(mutex_lock, mutex_unlock, &mutex) == 0);
  u32 s0 = switches;
  u64 ops = 0;
  u32 rounds = 0;
  while (rounds < 5 && (rounds == 0 || mutex.contended == 0)) {
    ops += run_workers(1 + rounds);
    merge(chk);
    ++rounds;
  }
  phase_line("mutex", ops, s0);
  put_field("rounds", rounds);
  put_field("contended", mutex.contended);
  put("\n");
  SCEN_CHECK(chk, ops >= rounds * WORKERS * worker_ops / 2);
  SCEN_CHECK(chk, mutex.contended > 0);  // tasks really were preempted inside the heap
  heap_idle(chk, base);
  steps.done("mutex_hooks");

  // 2. The default spin lock under preemption.
  SCEN_CHECK(chk, strata_fw_set_lock(nullptr, nullptr, nullptr) == 0);
  s0 = switches;
  ops = run_workers(10);
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
  ops = run_workers(11);
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

/// Saves the current task's context (null: the boot stack, nothing to save),
/// picks the next ready task round robin, returns its context.
extern "C" uptr* rtos_switch(uptr* sp) {
  if (current >= 0 && sp != nullptr) tasks[current].sp = sp;
  u32 next = current < 0 ? 0 : static_cast<u32>(current);
  for (u32 i = 0; i < TASKS; ++i) {
    next = (next + 1) % TASKS;
    if (tasks[next].ready) break;
  }
  current = static_cast<i32>(next);
  switches = switches + 1;
  return tasks[next].sp;
}

/// The tick handler's work before the switch: in the interrupt phases it
/// allocates, checks and frees a block on the default heap.
void strata::fw::rtos::tick() {
  ticks = ticks + 1;
  if (!isr_allocates) return;
  const usize n = 1 + static_cast<usize>(isr_rng.below(200));
  u8* p = static_cast<u8*>(FW(malloc)(n));
  if (p == nullptr) return;
  fill(p, n, 0x5a);
  if (!intact(p, n, 0x5a)) isr_failures = isr_failures + 1;
  FW(free)(p);
  isr_allocs = isr_allocs + 1;
}

/// Starts the controller (task 0) and the tick; never returns.
[[noreturn]] static void start(void (*controller_entry)(uptr)) {
  start_task(0, controller_entry, 0);
  rtos::start_ticks();
  yield();  // the first switch: into the controller; this stack is not used again
  for (;;) {
  }
}

/// The multi-task image: the phases above, judged by the controller task.
extern "C" int fw_main_rtos() {
  put_tag("multi-task self-test on " STRATA_FW_ISA_NAME ": ");
  put_dec(WORKERS);
  put(" workers preempted by ");
  put(rtos::tick_description());
  put("\n");
  main_chk = console_checker();
  if (!SCEN_CHECK(main_chk, strata_fw_init(pool, sizeof pool) == 0)) return report_verdict(main_chk);
  start(controller);
}

/// The interrupt rule's failing half (image fail_isr_alloc): the default spin
/// lock, workers allocating, and the tick handler allocating on the same
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
  start([](uptr) {
    run_workers(4);
    fw_exit(report_verdict(main_chk));
  });
}
