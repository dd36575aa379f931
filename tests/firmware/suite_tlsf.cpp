// strata firmware self-test: Tlsf<TlsfSmallConfig> (the firmware TLSF) through
// the shared scenarios of tests/scenarios/tlsf_scenarios.hpp and byte_model.hpp.
#include "runtime/firmware_engines.hpp"
#include "scenarios/tlsf_scenarios.hpp"
#include "selftest.hpp"

namespace strata::fw {
namespace {
using Engine = FwTlsf;
constinit Engine tlsf;
constexpr const char* SUITE = "tlsf";
}  // namespace

void suite_tlsf(scenario::Checker& chk) {
  u8* mem = arena();
  u64 checks = chk.checks, failures = chk.failures;
  auto done = [&](const char* step) {
    step_done(SUITE, step, chk, checks, failures);
    checks = chk.checks;
    failures = chk.failures;
  };

  scenario::scenario_tlsf_bad_input(tlsf, mem, usize{256} << 10, chk);
  done("bad_input");
  scenario::scenario_tlsf_exhaustion(tlsf, mem, usize{1} << 20, slots(), SLOT_CAPACITY, chk);
  done("exhaustion");
  scenario::scenario_tlsf_coalesce(tlsf, mem, usize{256} << 10, slots(), SLOT_CAPACITY, SEED, chk);
  done("coalesce");
  scenario::scenario_tlsf_multi_pool(tlsf, mem, usize{1} << 20, chk);
  done("multi_pool");
  scenario::scenario_tlsf_resize(tlsf, mem, usize{64} << 10, chk);
  done("resize");

  // Randomized model run: sizes up to 8 KiB, alignments up to 4 KiB, in 4 MiB.
  const usize pool = usize{4} << 20;
  if (!SCEN_CHECK(chk, tlsf.init(mem, pool).ok())) return;
  scenario::ByteModelParams p;
  p.seed = SEED;
  p.ops = 100'000;
  p.max_size = 8192;
  p.max_align_log2 = 12;
  p.final_block = scenario::tlsf_whole_pool_payload<Engine>(pool);
  byte_model_step(SUITE, tlsf, mem, pool, p, chk);
  checks = chk.checks;
  failures = chk.failures;
  SCEN_CHECK(chk, tlsf.verify());
  done("verify");
}

}  // namespace strata::fw
