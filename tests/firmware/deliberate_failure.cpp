// strata firmware: images that must FAIL, to prove the harness and the boot
// code report failures instead of passing them. Each image is this file
// linked with fw_main bound to one of the fw_main_<kind> entry points below;
// after the failure point each one prints the pass line and returns 0, so
// only the mechanism under test (a scenario check, the trap vector,
// strata_fatal) can turn it into a failure.
//
//   check         a scenario check fails: the byte model over a TLSF wrapper
//                 that ignores the requested alignment
//   trap_load     a load from an address nothing answers
//   trap_illegal  an undefined instruction
//   fatal_free    a double free through the firmware C API
//   fatal_new     operator new with the heap exhausted
//   fatal_cross_heap  a block of one heap freed through another heap
#include "boot/common/platform.hpp"
#include "runtime/firmware_engines.hpp"
#include "scenarios/byte_model.hpp"
#include "strata/strata_fw.h"
#include "report.hpp"

namespace strata::fw {
namespace {

/// A ByteAllocator with a bug the byte model must catch: it drops the
/// alignment request (the engine underneath still gives 16).
#if STRATA_WITH_TLSF
using Inner = FwTlsf;
#else
using Inner = FwHeap;
#endif
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
  Inner inner_;
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

using namespace strata;

namespace {
/// Runs one deliberate failure (which should end the run) and, if it did
/// not, reports the run like any passing image.
int run(const char* kind, void (*fail)(scenario::Checker&)) {
  scenario::Checker chk = fw::console_checker();
  fw::put_tag("deliberate failure ");
  fw::put(kind);
  fw::put(" on " STRATA_FW_ISA_NAME ": this image must FAIL\n");
  fail(chk);
  return fw::report_verdict(chk);
}
}  // namespace

// The entry points; each image binds fw_main to one (--defsym).
extern "C" int fw_main_check() { return run("check", fw::fail_a_check); }

extern "C" int fw_main_trap_load() {
  return run("trap_load", [](scenario::Checker&) { fw::put_hex(fw::load_from_invalid_address()); });
}

extern "C" int fw_main_trap_illegal() {
  return run("trap_illegal", [](scenario::Checker&) { fw::execute_illegal_instruction(); });
}

extern "C" int fw_main_fatal_free() {
  return run("fatal_free", [](scenario::Checker& chk) {
    SCEN_CHECK(chk, strata_fw_init(fw::pool, fw::POOL_SIZE) == 0);
    void* p = STRATA_FW_NAME(malloc)(100);
    STRATA_FW_NAME(free)(p);
    STRATA_FW_NAME(free)(p);
  });
}

extern "C" int fw_main_fatal_cross_heap() {
  return run("fatal_cross_heap", [](scenario::Checker& chk) {
    strata_fw_heap a{}, b{};
    SCEN_CHECK(chk, strata_fw_heap_init(&a, fw::pool, fw::POOL_SIZE / 2) == 0);
    SCEN_CHECK(chk, strata_fw_heap_init(&b, fw::pool + fw::POOL_SIZE / 2, fw::POOL_SIZE / 2) == 0);
    void* p = strata_fw_heap_malloc(&a, 100);
    SCEN_CHECK(chk, p != nullptr);
    strata_fw_heap_free(&b, p);
  });
}

extern "C" int fw_main_fatal_new() {
  return run("fatal_new", [](scenario::Checker& chk) {
    SCEN_CHECK(chk, strata_fw_init(fw::pool, fw::POOL_SIZE) == 0);
    for (int i = 0; i < 1000; ++i) SCEN_CHECK(chk, new char[1000] != nullptr);
  });
}
