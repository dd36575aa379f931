/* signal_reentry: malloc called from a signal handler that interrupted
 * malloc on the same thread (crash loggers do this; RELIABILITY #20).
 * malloc is not async-signal-safe, so strata need not serve the call, but it
 * must not hang or corrupt: either the program finishes, or strata detects
 * the re-entry and aborts with one `strata: ...` line on stderr.
 *
 * The parent forks a child that loops malloc/free of medium blocks (which
 * take the medium heap's lock) and small ones, while an interval timer
 * (every 50 us) runs a handler that mallocs and frees medium and small
 * blocks. The parent waits up to 20 s: a child still running then is
 * stuck (self-deadlock), a failure; so is any death other than SIGABRT
 * with strata's report. Runs under LD_PRELOAD=libstrata.so.
 *
 * Strata used to spin forever here (MediumHeap::alloc re-entered from the
 * handler waited for its own lock); it now aborts with a message (fa4b991).
 */
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "preload_check.h"

static volatile sig_atomic_t g_handler_runs;

static void on_alarm(int sig) {
  (void)sig;
  void* p = malloc(200000);
  if (p != NULL) memset(p, 1, 64);
  free(p);
  void* q = malloc(48);
  free(q);
  g_handler_runs = g_handler_runs + 1;
}

static void child(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  ST_CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
  struct itimerval it = {{0, 50}, {0, 50}};
  ST_CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  for (long i = 0; i < 2000000; ++i) {
    void* p = st_launder(malloc(100000 + (size_t)(i % 5000)));
    void* q = st_launder(malloc((size_t)(i % 300) + 1));
    free(q);
    free(p);
  }
  memset(&it, 0, sizeof it);
  setitimer(ITIMER_REAL, &it, NULL);
  printf("signal_reentry: finished, %d handler runs\n", (int)g_handler_runs);
  _exit(0);
}

int main(void) {
  st_require_strata();
  int err[2];
  ST_CHECK(pipe(err) == 0);
  fflush(stdout);
  const pid_t pid = fork();
  ST_CHECK(pid >= 0);
  if (pid == 0) {
    dup2(err[1], 2);
    close(err[0]);
    child();
  }
  close(err[1]);
  const uint64_t deadline = st_now_ms() + 20000;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (st_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fprintf(stderr, "signal_reentry: FAIL: the child hung for 20 s (self-deadlock on re-entry)\n");
      return 1;
    }
    usleep(10000);
  }
  char buf[512] = {0};
  const ssize_t n = read(err[0], buf, sizeof buf - 1);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    printf("signal_reentry: PASS (re-entry served)\n");
    return 0;
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && n > 0 && strncmp(buf, "strata: ", 8) == 0) {
    printf("signal_reentry: PASS (re-entry detected): %s", buf);
    return 0;
  }
  fprintf(stderr, "signal_reentry: FAIL: child status 0x%x, stderr: %s\n", status, n > 0 ? buf : "(none)");
  return 1;
}
