// Linux process control that Swift cannot call directly: prctl is variadic, and a signal
// handler must only touch a sig_atomic_t. Used by CaravanProcess's orphan guard.
#ifndef CARAVAN_PROCESS_CONTROL_H
#define CARAVAN_PROCESS_CONTROL_H

// Asks the kernel to send `signal` to this process when its parent dies (PR_SET_PDEATHSIG).
// Returns 0, or -1 with errno set (always -1 where prctl does not exist).
int caravan_set_parent_death_signal(int signal);

// Installs a handler for `signal` that only records it (SA_RESTART off, so a sleep returns early).
int caravan_record_signal(int signal);

// The last recorded signal since the previous call, or 0; clears it.
int caravan_take_recorded_signal(void);

#endif
