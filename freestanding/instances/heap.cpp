// strata firmware: every member of the firmware Heap (slab + buddy) compiled
// for the target ISA (an object of libstrata_engine.a; one per engine, which
// size_table.sh measures and the symbol test checks).
#include "runtime/firmware_engines.hpp"

template class strata::Heap<strata::fw::FirmwareHeapConfig>;
