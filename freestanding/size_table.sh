#!/usr/bin/env bash
# strata firmware: code and data size of each engine per ISA, at -Os.
#
#   freestanding/size_table.sh [build-root]      (default: ${TMPDIR:-/tmp}/strata-fw-size)
#
# Configures and builds the firmware libraries for x86_64, riscv64 and aarch64
# (CMAKE_BUILD_TYPE=MinSizeRel: -Os) and prints a Markdown table of the
# sections of each engine object (instances/*.cpp: every member of the
# engine instantiated with its firmware configuration, verify() included),
# of the firmware C API object (fw_api.cpp: malloc/free/calloc/realloc/
# aligned_alloc with the TLSF code they pull in, what a firmware really links)
# and of the runtime (mem.c, new_delete.cpp). Sizes in bytes, from llvm-size -A:
# .text = .text*, .rodata = .rodata*/.srodata*, .data = .data*/.sdata*,
# .bss = .bss*/.sbss*; "of which verify()" is the test-only invariant walk,
# which a firmware that never calls it does not link (--gc-sections).
# On riscv64, .data holds the 8-byte constants of the software bit scans
# (rv64gc has no Zbb: clz/ctz become popcount sequences).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-${TMPDIR:-/tmp}/strata-fw-size}
size_tool=$(command -v llvm-size-14 || command -v llvm-size)
generator=$(command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")
isas=(x86_64 riscv64 aarch64)

for isa in "${isas[@]}"; do
  dir="$root/$isa"
  cmake -S "$here" -B "$dir" -G "$generator" -DCMAKE_TOOLCHAIN_FILE="$here/cmake/$isa.cmake" \
    -DCMAKE_BUILD_TYPE=MinSizeRel -DSTRATA_FW_ENGINE=tlsf >/dev/null
  cmake --build "$dir" --parallel 2 --target strata_engine strata_fw strata_fw_runtime >/dev/null
done

# One line per object of the three libraries: name text verify ro data bss.
sections() {
  "$size_tool" -A "$1"/libstrata_engine.a "$1"/libstrata_fw.a "$1"/libstrata_fw_runtime.a | awk '
    /\(ex / { obj = $1; sub(/\.(cpp|c)\.(obj|o)$/, "", obj); order[++n] = obj; next }
    $1 ~ /^\.text/ { text[obj] += $2; if ($1 ~ /verify/) ver[obj] += $2 }
    $1 ~ /^\.s?rodata/ { ro[obj] += $2 }
    $1 ~ /^\.s?data/ { data[obj] += $2 }
    $1 ~ /^\.s?bss/ { bss[obj] += $2 }
    END { for (i = 1; i <= n; ++i) { o = order[i]; printf "%s %d %d %d %d %d\n", o, text[o], ver[o], ro[o], data[o], bss[o] } }'
}

label() {
  case "$1" in
    tlsf) echo "Tlsf<TlsfSmallConfig>" ;;
    buddy) echo "Buddy<FirmwareBuddyConfig>" ;;
    heap) echo "Heap<FirmwareHeapConfig>" ;;
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
