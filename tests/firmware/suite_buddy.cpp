// strata firmware self-test: the firmware Buddy (FwBuddy) through the shared
// scenarios of tests/scenarios/buddy_scenarios.hpp and byte_model.hpp.
#include "runtime/firmware_engines.hpp"
#include "scenarios/buddy_scenarios.hpp"
#include "selftest.hpp"

namespace strata::fw {
namespace {
constinit FwBuddy buddy;
}  // namespace

void suite_buddy(scenario::Checker& chk) {
  u8* mem = arena();
  Steps steps("buddy", chk);
  scenario::buddy_bad_input(buddy, mem, usize{64} << 10, chk);
  steps.done("bad_input");
  // The scenario needs one slot per MIN_BLOCK of the region.
  scenario::buddy_exhaustion(buddy, mem, SLOT_CAPACITY * FwBuddy::MIN_BLOCK, slots(), SLOT_CAPACITY, chk);
  steps.done("exhaustion");
  scenario::buddy_regions(buddy, mem, usize{256} << 10, slots(), SLOT_CAPACITY, chk);
  steps.done("regions");
  scenario::buddy_alignment(buddy, mem, usize{1} << 20, usize{64} << 10, chk);
  steps.done("alignment");

  // Randomized model run: sizes up to 8 KiB, alignments up to 4 KiB, in 4 MiB.
  const usize pool = usize{4} << 20;
  if (!SCEN_CHECK(chk, buddy.init(mem, pool).ok())) return;
  scenario::ByteModelParams p;
  p.seed = SEED;
  p.ops = BUDDY_MODEL_OPS;
  p.max_size = 8192;
  p.max_align_log2 = 12;
  p.final_block = buddy.largest_free_block();
  byte_model_step(steps, buddy, mem, pool, p);
  SCEN_CHECK(chk, buddy.verify());
  steps.done("verify");
}

}  // namespace strata::fw
