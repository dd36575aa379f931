// strata firmware: every member of the firmware BitmapPageAllocator compiled
// for the target ISA (an object of libstrata_engine.a; one per engine, which
// size_table.sh measures and the symbol test checks).
#include "runtime/firmware_engines.hpp"

template class strata::BitmapPageAllocator<4096, 8192>;
static_assert(strata::same_as<strata::fw::FwPageAllocator, strata::BitmapPageAllocator<4096, 8192>>);
