// strata firmware self-test: the firmware TLSF (FwTlsf) through the shared
// scenarios of tests/scenarios/tlsf_scenarios.hpp and byte_model.hpp.
#include "runtime/firmware_engines.hpp"
#include "scenarios/tlsf_scenarios.hpp"
#include "selftest.hpp"

namespace strata::fw {
namespace {
constinit FwTlsf tlsf;
}  // namespace

void suite_tlsf(scenario::Checker& chk) {
  u8* mem = arena();
  Steps steps("tlsf", chk);
  scenario::scenario_tlsf_bad_input(tlsf, mem, usize{256} << 10, chk);
  steps.done("bad_input");
  scenario::scenario_tlsf_exhaustion(tlsf, mem, usize{1} << 20, slots(), SLOT_CAPACITY, chk);
  steps.done("exhaustion");
  scenario::scenario_tlsf_coalesce(tlsf, mem, usize{256} << 10, slots(), SLOT_CAPACITY, SEED, chk);
  steps.done("coalesce");
  scenario::scenario_tlsf_multi_pool(tlsf, mem, usize{1} << 20, chk);
  steps.done("multi_pool");
  scenario::scenario_tlsf_resize(tlsf, mem, usize{64} << 10, chk);
  steps.done("resize");
  scenario::scenario_tlsf_largest_alloc(tlsf, mem, usize{1} << 20, slots(), 512, SEED, chk);
  steps.done("largest_alloc");

  // Randomized model run: sizes up to 8 KiB, alignments up to 4 KiB, in 4 MiB.
  const usize pool = usize{4} << 20;
  if (!SCEN_CHECK(chk, tlsf.init(mem, pool).ok())) return;
  scenario::ByteModelParams p;
  p.seed = SEED;
  p.ops = TLSF_MODEL_OPS;
  p.max_size = 8192;
  p.max_align_log2 = 12;
  p.final_block = scenario::tlsf_whole_pool_payload<FwTlsf>(pool);
  byte_model_step(steps, tlsf, mem, pool, p);
  SCEN_CHECK(chk, tlsf.verify());
  steps.done("verify");
}

}  // namespace strata::fw
