#include "process_control.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

static volatile sig_atomic_t recorded = 0;

static void record(int signal) { recorded = signal; }

int caravan_set_parent_death_signal(int signal) {
#if defined(__linux__)
  return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
#else
  (void)signal;
  errno = ENOSYS;
  return -1;
#endif
}

int caravan_record_signal(int signal) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = record;
  sigemptyset(&action.sa_mask);
  return sigaction(signal, &action, NULL);
}

int caravan_take_recorded_signal(void) {
  int signal = recorded;
  recorded = 0;
  return signal;
}
