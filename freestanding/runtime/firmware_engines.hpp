// strata firmware: the engine configurations firmware builds use.
//
// One alias per engine, shared by the firmware C API (fw_api.cpp), the
// instantiations in libstrata_engine.a (instances/*.cpp, also what
// size_table.sh measures) and the boot self-test, so the code tested under
// QEMU is the code measured and shipped. Sized for firmware: pools up to
// 16 MiB per piece (more pieces are fine), small control blocks.
//
// Engines switched off in CMake (STRATA_WITH_*=OFF) are left out.
#pragma once
#include "strata/core/types.hpp"

#if STRATA_WITH_TLSF
#include "strata/engine/tlsf.hpp"
#endif
#if STRATA_WITH_BUDDY
#include "strata/engine/buddy.hpp"
#endif
#if STRATA_WITH_SLAB
#include "strata/engine/heap.hpp"
#endif
#if STRATA_WITH_BITMAP
#include "strata/engine/bitmap_id.hpp"
#include "strata/engine/bitmap_page.hpp"
#endif

namespace strata::fw {

#if STRATA_WITH_TLSF
/// TLSF with 16 second-level lists and pools up to 16 MiB: about 2.3 KiB of
/// control block (the engine's own firmware configuration).
using FwTlsf = Tlsf<TlsfSmallConfig>;
#endif

#if STRATA_WITH_BUDDY
/// Buddy blocks of 16 bytes .. 16 MiB.
struct FirmwareBuddyConfig {
  static constexpr usize MIN_BLOCK = 16;
  static constexpr u32 MAX_ORDER = 20;
};
using FwBuddy = Buddy<FirmwareBuddyConfig>;
#endif

#if STRATA_WITH_SLAB
/// The malloc size classes (16 B .. 32 KiB) over a page buddy of blocks up
/// to 16 MiB; one spare span per class absorbs alloc/free thrash at a span
/// boundary (firmware has no OS to give memory back to).
struct FirmwareHeapConfig {
  using Classes = MallocClasses;
  static constexpr u32 BUDDY_MAX_ORDER = 12;
  static constexpr bool KEEP_SPARE_SPAN = true;
};
using FwHeap = Heap<FirmwareHeapConfig>;

/// The Heap with a stated worst-case memory bound (docs/firmware.md, "Memory
/// bounds"): power-of-two classes 16 B .. 2 KiB, every span one 4 KiB page.
/// With spans of one size the buddy underneath never fragments (any free
/// page serves any span), so the bound is the slab layer's alone; larger
/// requests are whole-page buddy blocks, outside the bound.
using BoundedClasses = SizeClassMap<ClassShape{16, 16, 0, 2048, 1, 12, 12}>;
struct FirmwareBoundedHeapConfig {
  using Classes = BoundedClasses;
  static constexpr u32 BUDDY_MAX_ORDER = 12;
  static constexpr bool KEEP_SPARE_SPAN = true;
};
using FwBoundedHeap = Heap<FirmwareBoundedHeapConfig>;
static_assert(BoundedClasses::NUM_CLASSES == 8 && BoundedClasses::MIN_SPAN_LOG2 == 12 && BoundedClasses::MAX_SPAN_LOG2 == 12,
              "one-page spans for every class");
#endif

#if STRATA_WITH_BITMAP
/// 4 KiB pages, up to 8192 of them (32 MiB).
using FwPageAllocator = BitmapPageAllocator<4096, 8192>;
/// Ids 0 .. 4095.
using FwIdAllocator = BitmapIdAllocator<4096>;
#endif

}  // namespace strata::fw
