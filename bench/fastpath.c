/* Fast-path probe: instructions per malloc+free pair, counted by callgrind.
 *
 * Usage: fastpath ITERATIONS SIZE
 *
 * Runs free(malloc(SIZE)) ITERATIONS times through volatile function
 * pointers, after a fixed warm-up of the same loop, and prints nothing.
 * bench/instructions.sh runs it under `valgrind --tool=callgrind` for every
 * allocator (LD_PRELOAD) with ITERATIONS = 10^6 and with 0, and divides the
 * difference of the two totals by 10^6: start-up, warm-up and exit cancel,
 * leaving the steady-state cost of one pair with a hot thread cache. The
 * loop and the two indirect calls add about 12-14 instructions to every
 * figure (BENCH.md).
 *
 * The volatile pointers stop the compiler from pairing and deleting the
 * calls (it knows what malloc and free do); build with -fno-builtin too.
 */
#include <stdio.h>
#include <stdlib.h>

static void *(*volatile malloc_fn)(size_t) = malloc;
static void (*volatile free_fn)(void *) = free;

enum { WARMUP = 10000 };

static void pairs(long iterations, size_t size) {
  for (long i = 0; i < iterations; ++i) free_fn(malloc_fn(size));
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s ITERATIONS SIZE\n", argv[0]);
    return 2;
  }
  const long iterations = atol(argv[1]);
  const size_t size = (size_t)atol(argv[2]);
  pairs(WARMUP, size);
  pairs(iterations, size);
  return 0;
}
