#!/bin/sh
# The preloaded library's writable data stays out of the RSS of a process
# that does not use it: what is zero until used (the arenas' heaps, the
# segment map, caches) must be .bss, whose untouched pages are never
# resident; .data is file-backed, and the loader writes every page of it that
# holds a relocation, so all of .data is resident in every process. A
# constinit object that gains a pointer or a non-zero initialiser moves
# wholly into .data: the arenas' heaps did (68 KiB, relocated list sentinels)
# until they were split from the Runtime. Fails when .data grows past
# the bound, or when .bss is not where the big tables are (a control: a
# broken readelf parse cannot pass).
# Usage: static_data.sh <readelf> <libstrata.so>
set -eu
readelf=$1 lib=$2
max_data=24576  # bytes; 17.5 KiB at the time of writing (was 68 KiB)
hex_size() {  # size of section $1, in hex, from readelf -SW
  "$readelf" -SW "$lib" | awk -v want="$1" '{ for (i = 1; i <= NF; ++i) if ($i == want) print $(i + 4) }'
}
data_hex=$(hex_size .data)
bss_hex=$(hex_size .bss)
if [ -z "$data_hex" ] || [ -z "$bss_hex" ]; then echo "FAIL: no .data or .bss section found"; exit 1; fi
data=$((0x$data_hex))
bss=$((0x$bss_hex))
relative=$("$readelf" -rW "$lib" | grep -c R_X86_64_RELATIVE || true)
echo "$lib: .data $data bytes, .bss $bss bytes, $relative relative relocations"
if [ "$bss" -lt 1048576 ]; then echo "FAIL: .bss under 1 MiB: the segment map is not there (parse error?)"; exit 1; fi
if [ "$data" -gt "$max_data" ]; then
  echo "FAIL: .data is $data bytes, over $max_data: a large object is no longer zero-initialised"
  "${NM:-nm}" -S --size-sort -C "$lib" | awk '$3 ~ /^[dD]$/' | tail -5
  exit 1
fi
echo "ok"
