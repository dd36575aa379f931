// strata firmware self-test: the firmware Heap (FwHeap, slab + buddy) through
// the shared scenarios of tests/scenarios/heap_scenarios.hpp and byte_model.hpp.
#include "runtime/firmware_engines.hpp"
#include "scenarios/heap_scenarios.hpp"
#include "selftest.hpp"

namespace strata::fw {
namespace {
constinit FwHeap heap;
}  // namespace

void suite_heap(scenario::Checker& chk) {
  u8* mem = arena();
  Steps steps("heap", chk);
  scenario::heap_bad_input(heap, mem, usize{256} << 10, chk);
  steps.done("bad_input");
  // The scenario needs one slot per 16 bytes of the region.
  scenario::heap_exhaustion(heap, mem, SLOT_CAPACITY * 16, slots(), SLOT_CAPACITY, chk);
  steps.done("exhaustion");
  scenario::heap_batches(heap, mem, usize{1} << 20, slots(), SLOT_CAPACITY, chk);
  steps.done("batches");
  scenario::heap_alignment(heap, mem, usize{4} << 20, usize{64} << 10, chk);
  steps.done("alignment");
  scenario::heap_regions(heap, mem, usize{1} << 20, slots(), SLOT_CAPACITY, chk);
  steps.done("regions");

  // The pointer-only random run with misuse probes, then the sized byte model.
  const usize pool = usize{8} << 20;
  const scenario::Region region{reinterpret_cast<uptr>(mem), pool};
  if (!SCEN_CHECK(chk, heap.init(mem, pool).ok())) return;
  scenario::HeapRunParams hp;
  hp.seed = SEED;
  hp.ops = HEAP_RUN_OPS;
  const scenario::HeapRunStats hs = scenario::heap_random_run(heap, &region, 1, live_blocks(), LIVE_CAPACITY, hp, chk);
  steps.done("random_run");
  put_tag(" ");
  put_field("ops", hp.ops);
  put_field("allocs", hs.allocs);
  put_field("frees", hs.frees);
  put_field("batch_frees", hs.batch_frees);
  put_field("no_memory", hs.no_memory);
  put_field("probes", hs.probes);
  put("\n");

  // The sized byte model in a quarter of the memory, so that it runs out too.
  const usize small_pool = pool / 4;
  if (!SCEN_CHECK(chk, heap.init(mem, small_pool).ok())) return;
  scenario::ByteModelParams p;
  p.seed = SEED;
  p.ops = HEAP_MODEL_OPS;
  p.max_size = 8192;
  p.max_align_log2 = 12;
  byte_model_step(steps, heap, mem, small_pool, p);
  SCEN_CHECK(chk, heap.verify());
  steps.done("verify");
}

}  // namespace strata::fw
