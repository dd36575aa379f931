/* Consumer of an installed strata: checks that malloc is strata's and that
 * the header's version matches the library's. Prints "strata <version> ok". */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strata/strata.h>

int main(void) {
  if (strcmp(strata_version(), STRATA_VERSION_STRING) != 0) {
    fprintf(stderr, "version mismatch: library %s, header %s\n", strata_version(), STRATA_VERSION_STRING);
    return 1;
  }
  char* p = malloc(1000);
  if (p == NULL) return 1;
  memset(p, 1, 1000);
  /* strata_malloc_usable_size aborts on a pointer strata did not hand out. */
  const size_t usable = strata_malloc_usable_size(p);
  /* mallinfo2 is strata's too: glibc's would see an empty arena. */
  const struct mallinfo2 m = mallinfo2();
  if (usable < 1000 || m.arena == 0 || m.uordblks < 1000) {
    fprintf(stderr, "not running on strata: usable %zu arena %zu uordblks %zu\n", usable, m.arena, m.uordblks);
    return 1;
  }
  free(p);
  printf("strata %s ok (%d.%d.%d)\n", strata_version(), STRATA_VERSION_MAJOR, STRATA_VERSION_MINOR,
         STRATA_VERSION_PATCH);
  return 0;
}
