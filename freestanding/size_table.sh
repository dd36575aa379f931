#!/usr/bin/env bash
# strata firmware: code and data size of each engine per ISA, at -Os.
#
#   freestanding/size_table.sh [build-root]      (default: ${TMPDIR:-/tmp}/strata-fw-size)
#
# Configures and builds the firmware libraries for x86_64, riscv64, aarch64,
# Cortex-M3, Cortex-M4 and RV32 (rv32imac) (CMAKE_BUILD_TYPE=MinSizeRel: -Os)
# and prints a Markdown table of the
# sections of each engine object (instances/*.cpp: every member of the
# engine instantiated with its firmware configuration, verify() included),
# of the firmware C API object (fw_api.cpp: malloc/free/calloc/realloc/
# aligned_alloc with the TLSF code they pull in) and of the runtime (mem.c,
# new_delete.cpp), of the TLSF members a malloc-family firmware needs
# (instances/tlsf_firmware_members.cpp: init, add pool, alloc/aligned alloc,
# free, realloc in place, usable size, statistics; the set the issue compares
# with Conte's TLSF and o1heap), then what malloc and free add to a linked
# firmware (see linked_row). Sizes in bytes, from llvm-size -A:
# .text = .text*, .rodata = .rodata*/.srodata*, .data = .data*/.sdata*,
# .bss = .bss*/.sbss*; "of which verify()" is the test-only invariant walk,
# which a firmware that never calls it does not link (--gc-sections).
# On riscv64, .data holds the 8-byte constants of the software bit scans
# (rv64gc has no Zbb: clz/ctz become popcount sequences).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-${TMPDIR:-/tmp}/strata-fw-size}
size_tool=$(command -v llvm-size-14 || command -v llvm-size)
nm_tool=$(command -v llvm-nm-14 || command -v llvm-nm)
generator=$(command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")
isas=(x86_64 riscv64 aarch64 cortex-m3 cortex-m4 riscv32)

for isa in "${isas[@]}"; do
  dir="$root/$isa"
  cmake -S "$here" -B "$dir" -G "$generator" -DCMAKE_TOOLCHAIN_FILE="$here/cmake/$isa.cmake" \
    -DCMAKE_BUILD_TYPE=MinSizeRel -DSTRATA_FW_ENGINE=tlsf -DSTRATA_FW_PREFIX= >/dev/null
  cmake --build "$dir" --parallel 2 --target strata_engine strata_fw strata_fw_runtime strata_fw_cxx size_probe size_probe_empty \
    strata_fw_size_members >/dev/null
done

# What malloc and free cost the smallest real user (instances/
# malloc_free_probe.c): .text of the malloc/free probe image minus that of
# the empty one, and the part of it in Tlsf functions.
text_of() { "$size_tool" -A "$1" | awk '$1 ~ /^\.text/ { t += $2 } END { print t + 0 }'; }
linked_row() {
  local dir="$root/$1" tlsf=0 size
  while read -r size; do tlsf=$((tlsf + 16#$size)); done < <(
    "$nm_tool" -S -C --defined-only "$dir/size_probe.elf" | awk '/ [tTwW] .*Tlsf/ { print $2 }')
  echo "| malloc/free firmware: .text added (of which \`Tlsf\` functions) | $1 |" \
    "$(($(text_of "$dir/size_probe.elf") - $(text_of "$dir/size_probe_empty.elf"))) ($tlsf) | | | | |"
}

# One line per object of the four libraries and of the TLSF member probe:
# name text verify ro data bss.
sections() {
  "$size_tool" -A "$1"/libstrata_engine.a "$1"/libstrata_fw.a "$1"/libstrata_fw_runtime.a "$1"/libstrata_fw_cxx.a \
    "$(find "$1"/CMakeFiles/strata_fw_size_members.dir -name 'tlsf_firmware_members.cpp.o*')" | awk '
    /\(ex / || $NF == ":" { obj = $1; sub(/.*\//, "", obj); sub(/\.(cpp|c)\.(obj|o)$/, "", obj); order[++n] = obj; next }
    $1 ~ /^\.text/ { text[obj] += $2; if ($1 ~ /verify/) ver[obj] += $2 }
    $1 ~ /^\.s?rodata/ { ro[obj] += $2 }
    $1 ~ /^\.s?data/ { data[obj] += $2 }
    $1 ~ /^\.s?bss/ { bss[obj] += $2 }
    END { for (i = 1; i <= n; ++i) { o = order[i]; printf "%s %d %d %d %d %d\n", o, text[o], ver[o], ro[o], data[o], bss[o] } }'
}

label() {
  case "$1" in
    tlsf) echo "Tlsf<TlsfSmallConfig>" ;;
    tlsf_firmware_members) echo "Tlsf<TlsfSmallConfig>: malloc members only" ;;
    buddy) echo "Buddy<FirmwareBuddyConfig>" ;;
    heap) echo "Heap<FirmwareHeapConfig>" ;;
    heap_bounded) echo "Heap<FirmwareBoundedHeapConfig>" ;;
    bitmap_page) echo "BitmapPageAllocator<4096, 8192>" ;;
    bitmap_id) echo "BitmapIdAllocator<4096>" ;;
    fw_api) echo "fw C API + the TLSF it calls" ;;
    mem) echo "runtime mem*" ;;
    new_delete) echo "runtime new/delete" ;;
    *) echo "$1" ;;
  esac
}

echo "| object (-Os) | ISA | .text | of which verify() | .rodata | .data | .bss |"
echo "|---|---|---:|---:|---:|---:|---:|"
declare -A rows
objects=()
for isa in "${isas[@]}"; do
  while read -r obj text ver ro data bss; do
    [[ " ${objects[*]} " == *" $obj "* ]] || objects+=("$obj")
    rows[$obj,$isa]="| \`$(label "$obj")\` | $isa | $text | $ver | $ro | $data | $bss |"
  done < <(sections "$root/$isa")
done
for obj in "${objects[@]}"; do
  for isa in "${isas[@]}"; do
    [ -n "${rows[$obj,$isa]:-}" ] && echo "${rows[$obj,$isa]}"
  done
done
for isa in "${isas[@]}"; do linked_row "$isa"; done
