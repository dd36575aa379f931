// strata firmware self-test: the firmware BitmapPageAllocator and
// BitmapIdAllocator through the shared scenarios of tests/scenarios/
// page_model.hpp and id_model.hpp (randomized model, exhaustion, bad input).
#include "runtime/firmware_engines.hpp"
#include "scenarios/id_model.hpp"
#include "scenarios/page_model.hpp"
#include "selftest.hpp"

namespace strata::fw {
namespace {
using Pages = FwPageAllocator;
using Ids = FwIdAllocator;
constinit Pages pages;
constinit Ids ids;

constexpr usize PAGES = Pages::MAX_PAGES;
constexpr usize IDS = Ids::MAX_IDS;
constexpr usize PS = Pages::PAGE_SIZE;
// Made-up addresses, as on the host (page allocators never touch the pages):
// 3 pages past a 1 GiB boundary, so address alignment needs the window phase.
constexpr uptr WINDOW = (uptr{1} << 30) + 3 * PS;

// Model storage: one state byte per page / id, the live runs, held pages.
u8 page_state[PAGES];
scenario::PageRun page_runs[4096];
uptr held[PAGES];
u8 id_taken[IDS];
scenario::IdRun id_runs[4096];

void page_suite(scenario::Checker& chk) {
  // Two regions with a gap between them and unmanaged pages at the end.
  const scenario::Region regions[2] = {{WINDOW, PAGES / 2 * PS},
                                       {WINDOW + (PAGES / 2 + PAGES / 16) * PS, (PAGES / 2 - PAGES / 8) * PS}};
  Steps steps("bitmap_page", chk);
  scenario::PageModelParams p;
  p.seed = SEED;
  p.ops = PAGE_MODEL_OPS;
  p.max_run = 64;
  p.first_fit_every = 64;
  const scenario::PageModelStats st =
      scenario::run_page_model(pages, regions, 2, page_state, PAGES, page_runs, 4096, p, chk);
  SCEN_CHECK(chk, st.ops >= p.ops && st.refused > 0 && st.first_fit_checks > 0);
  steps.done("page_model");
  put_model_stats(st);
  scenario::run_page_exhaustion(pages, regions, 2, page_state, PAGES, held, PAGES, 8 * PS, chk);
  steps.done("exhaustion");
  scenario::run_page_bad_input(pages, scenario::Region{WINDOW, PAGES / 2 * PS}, PAGES, chk);
  steps.done("bad_input");
}

void id_suite(scenario::Checker& chk) {
  Steps steps("bitmap_id", chk);
  scenario::IdModelParams p;
  p.seed = SEED;
  p.ops = ID_MODEL_OPS;
  p.max_count = 64;
  p.first_fit_every = 64;
  const scenario::IdModelStats st = scenario::run_id_model(ids, id_taken, id_runs, 4096, p, chk);
  SCEN_CHECK(chk, st.ops >= p.ops && st.refused > 0 && st.first_fit_checks > 0);
  steps.done("id_model");
  put_model_stats(st);
  scenario::run_id_exhaustion(ids, 8, chk);
  steps.done("exhaustion");
  scenario::run_id_bad_input(ids, chk);
  steps.done("bad_input");
}
}  // namespace

void suite_bitmap(scenario::Checker& chk) {
  page_suite(chk);
  id_suite(chk);
}

}  // namespace strata::fw
