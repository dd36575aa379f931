#!/bin/sh
# OS calls appear only in src/platform: lists the undefined symbols of every
# object file of the runtime (src/runtime) and the exports (interpose/) and
# fails when one references a system call or OS-facing libc function. As a
# control, the platform's own objects must reference the ones it wraps (so a
# broken nm or an empty object list cannot pass).
# Usage: os_calls.sh <nm> <platform-obj-dir> <other-obj-dir>...
set -eu
nm=$1 platform=$2
shift 2
# Memory mapping, files and I/O, signals, threads and keys, clocks and sleeps,
# randomness and the environment, process control.
forbidden='mmap mmap64 munmap mremap madvise mprotect mincore
open open64 openat openat64 read pread pread64 write pwrite writev close
sigaction signal sigprocmask pthread_sigmask sigfillset raise kill
pthread_create pthread_key_create pthread_setspecific pthread_atfork pthread_attr_init
clock_gettime gettimeofday time nanosleep usleep sleep sched_yield sched_getaffinity
getauxval getrandom getenv secure_getenv syscall getrlimit setrlimit prctl
atexit abort exit _exit
getpid _Unwind_Backtrace _dl_find_object dl_iterate_phdr dladdr dlopen dlsym
pthread_setcancelstate _IO_list_lock _IO_list_unlock _IO_list_resetlock'

undefined() {  # undefined symbols of the objects in $1, one a line, without @version
  find "$1" -name '*.o' | sort | while read -r o; do
    "$nm" -u --format=posix "$o" | awk '{print $1}' | sed 's/@.*//' | sed "s|^|$(basename "$o") |"
  done
}

fail=0
for dir in "$@"; do
  [ -n "$(find "$dir" -name '*.o')" ] || { echo "FAIL: no objects in $dir" >&2; exit 1; }
  found=$(undefined "$dir" | awk -v list="$forbidden" '
    BEGIN { n = split(list, w, /[ \n]+/); for (i = 1; i <= n; i++) bad[w[i]] = 1 }
    ($2 in bad) { print "  " $1 ": " $2 }')
  if [ -n "$found" ]; then
    echo "FAIL: OS calls outside src/platform, in $dir:" >&2
    echo "$found" >&2
    fail=1
  fi
done

# Control: the platform layer does make these calls.
plat=$(undefined "$platform" | awk '{print $2}' | sort -u)
for need in mmap munmap madvise clock_gettime pthread_create getpid _Unwind_Backtrace; do
  echo "$plat" | grep -qx "$need" || { echo "FAIL: control: src/platform objects do not reference $need" >&2; fail=1; }
done
[ "$fail" = 0 ] || exit 1
echo "os calls: only src/platform references them ($# other object folders checked)"
