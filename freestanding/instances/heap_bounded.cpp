// strata firmware: every member of the bounded firmware Heap (one-page spans,
// power-of-two classes; the engine with a stated memory bound) compiled for
// the target ISA (an object of libstrata_engine.a, which size_table.sh
// measures and the symbol test checks).
#include "runtime/firmware_engines.hpp"

template class strata::Heap<strata::fw::FirmwareBoundedHeapConfig>;
