/* Options probe: allocates a little, then prints every option strata
 * reports through mallctl("opt.<key>") as "opt.<key>=<value>" on stdout.
 * mallctl is looked up with dlsym, so the same binary runs under LD_PRELOAD
 * and linked against libstrata (where it may also define strata_conf). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#ifdef PROBE_LINK_CONF
/* Link-time options, as jemalloc's malloc_conf. */
const char* strata_conf = "tcache_max:8K,purge_delay_ms:7";
#endif

typedef int (*mallctl_fn)(const char*, void*, size_t*, void*, size_t);

int main(void) {
  void* volatile p = malloc(100);
  free(p);
  mallctl_fn ctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
  if (ctl == NULL) {
    puts("no mallctl: not running on strata");
    return 3;
  }
  static const char* const bools[] = {"tcache", "abort_conf", "stats_print", "verbose", "cgroup_limit"};
  for (size_t i = 0; i < sizeof bools / sizeof bools[0]; ++i) {
    char name[64];
    bool b = false;
    size_t len = sizeof b;
    snprintf(name, sizeof name, "opt.%s", bools[i]);
    if (ctl(name, &b, &len, NULL, 0) != 0) return 4;
    printf("%s=%s\n", name, b ? "true" : "false");
  }
  ssize_t delay = 0;
  size_t tmax = 0, len = sizeof delay;
  if (ctl("opt.purge_delay_ms", &delay, &len, NULL, 0) != 0) return 4;
  len = sizeof tmax;
  if (ctl("opt.tcache_max", &tmax, &len, NULL, 0) != 0) return 4;
  const char* sopts = NULL;
  len = sizeof sopts;
  if (ctl("opt.stats_print_opts", &sopts, &len, NULL, 0) != 0) return 4;
  printf("opt.purge_delay_ms=%zd\nopt.tcache_max=%zu\nopt.stats_print_opts=%s\n", delay, tmax, sopts);
  static const char* const sizes[] = {"mem_limit", "mem_limit_soft"};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    char name[64];
    size_t v = 0;
    len = sizeof v;
    snprintf(name, sizeof name, "opt.%s", sizes[i]);
    if (ctl(name, &v, &len, NULL, 0) != 0) return 4;
    printf("%s=%zu\n", name, v);
  }
  static const char* const strings[] = {"thp", "cgroup_dir"};
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; ++i) {
    char name[64];
    const char* v = NULL;
    len = sizeof v;
    snprintf(name, sizeof name, "opt.%s", strings[i]);
    if (ctl(name, &v, &len, NULL, 0) != 0) return 4;
    printf("%s=%s\n", name, v);
  }
  return 0;
}
