// strata firmware: images that must FAIL, to prove the harness and the boot
// code report failures instead of passing them. Each image is this file
// built with one STRATA_FW_FAILURE value; after the failure point each one
// prints the pass line and returns 0, so only the mechanism under test (a
// scenario check, the trap vector, strata_fatal) can turn it into a failure.
//
//   1 check         a scenario check fails: the byte model over a TLSF
//                   wrapper that ignores the requested alignment
//   2 trap_load     a load from an address nothing answers
//   3 trap_illegal  an undefined instruction
//   4 fatal_free    a double free through the firmware C API
//   5 fatal_new     operator new with the heap exhausted
#include "boot/common/platform.hpp"
#include "runtime/firmware_engines.hpp"
#include "scenarios/byte_model.hpp"
#include "strata/strata_fw.h"
#include "report.hpp"

namespace strata::fw {
namespace {

/// A ByteAllocator with a bug the byte model must catch: it drops the
/// alignment request (TLSF alone still gives 16).
class IgnoresAlignment {
 public:
  Result<void> init(void* p, usize n) { return inner_.init(p, n); }
  Result<void> add_memory(void* p, usize n) { return inner_.add_memory(p, n); }
  Result<void*> alloc(usize size, usize) { return inner_.alloc(size, 1); }
  Result<void> dealloc(void* p, usize, usize) { return inner_.dealloc(p); }
  usize total_bytes() const { return inner_.total_bytes(); }
  usize used_bytes() const { return inner_.used_bytes(); }
  usize available_bytes() const { return inner_.available_bytes(); }

 private:
  FwTlsf inner_;
};
static_assert(ByteAllocator<IgnoresAlignment>);

constexpr usize POOL_SIZE = usize{256} << 10;
alignas(4096) u8 pool[POOL_SIZE];
constinit IgnoresAlignment broken;
scenario::LiveBlock live[256];

void fail_a_check(scenario::Checker& chk) {
  if (!SCEN_CHECK(chk, broken.init(pool, POOL_SIZE).ok())) return;
  scenario::ByteModelParams p;
  p.seed = 1;
  p.ops = 1000;
  p.max_align_log2 = 8;
  const scenario::Region region{reinterpret_cast<uptr>(pool), POOL_SIZE};
  (void)scenario::run_byte_model(broken, &region, 1, live, 256, p, chk);
}

}  // namespace
}  // namespace strata::fw

static_assert(STRATA_FW_FAILURE >= 1 && STRATA_FW_FAILURE <= 5, "STRATA_FW_FAILURE selects one of the kinds above");

extern "C" int fw_main() {
  using namespace strata;
  using namespace strata::fw;
  scenario::Checker chk = console_checker();
  put_tag("deliberate failure " STRATA_FW_FAILURE_NAME " on " STRATA_FW_ISA_NAME ": this image must FAIL\n");
  switch (STRATA_FW_FAILURE) {
    case 1:
      fail_a_check(chk);
      break;
    case 2:
      put_hex(load_from_invalid_address());
      break;
    case 3:
      execute_illegal_instruction();
      break;
    case 4: {
      SCEN_CHECK(chk, strata_fw_init(pool, POOL_SIZE) == 0);
      void* p = STRATA_FW_NAME(malloc)(100);
      STRATA_FW_NAME(free)(p);
      STRATA_FW_NAME(free)(p);
      break;
    }
    case 5: {
      SCEN_CHECK(chk, strata_fw_init(pool, POOL_SIZE) == 0);
      for (int i = 0; i < 1000; ++i) SCEN_CHECK(chk, new char[1000] != nullptr);
      break;
    }
  }
  return report_verdict(chk);
}
