// strata firmware self-test image: runs every engine's scenarios (the same
// code as the host GoogleTest suite, tests/scenarios/) over static memory and
// prints one line per step on the serial console, then the verdict:
//   strata-fw: PASS <n> checks        (fw_main returns 0: the ISA's pass exit)
//   strata-fw: FAIL <k> of <n> checks failed
// The harness (run_qemu.sh) needs both the pass exit code and the pass line.
#include "boot/common/platform.hpp"
#include "selftest.hpp"

namespace strata::fw {
namespace {
alignas(4096) u8 arena_bytes[ARENA_SIZE];
scenario::LiveBlock live_storage[LIVE_CAPACITY];
void* slot_storage[SLOT_CAPACITY];

}  // namespace

u8* arena() { return arena_bytes; }
scenario::LiveBlock* live_blocks() { return live_storage; }
void** slots() { return slot_storage; }

}  // namespace strata::fw

extern "C" int fw_main() {
  using namespace strata;
  using namespace strata::fw;
  put_tag("self-test on " STRATA_FW_ISA_NAME ", seed ");
  put_hex(SEED);
  put("\n");
  scenario::Checker chk = console_checker();
#if STRATA_FW_SUITE_TLSF
  suite_tlsf(chk);
#endif
#if STRATA_FW_SUITE_BUDDY
  suite_buddy(chk);
#endif
#if STRATA_FW_SUITE_HEAP
  suite_heap(chk);
#endif
#if STRATA_FW_SUITE_BITMAP
  suite_bitmap(chk);
#endif
  suite_fw_api(chk);
  suite_fw_heaps(chk);
  return report_verdict(chk);
}
