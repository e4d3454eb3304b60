// epoll and eventfd for CaravanOllama's PlainLoop: Swift's Glibc module has neither, and
// struct epoll_event is packed on x86-64, so the loop sees plain descriptors and flags instead.
#ifndef CARAVAN_EVENT_POLL_H
#define CARAVAN_EVENT_POLL_H

// What a descriptor is watched for, and what a wait reports.
enum {
  CARAVAN_POLL_READABLE = 1,  // bytes, the peer's end, a hang-up or an error
  CARAVAN_POLL_WRITABLE = 2,
};

// A new epoll instance (close-on-exec), or -1 with errno set.
int caravan_poll_create(void);

// A new eventfd (close-on-exec, non-blocking) that starts at zero, or -1 with errno set.
int caravan_poll_wake_fd(void);

// Adds `fd` to the watch list, changes what it is watched for, or (flags -1) removes it.
// Returns 0, or -1 with errno set.
int caravan_poll_add(int poll, int fd, int flags);
int caravan_poll_change(int poll, int fd, int flags);
int caravan_poll_remove(int poll, int fd);

// Waits up to `timeout_ms` (-1: no limit) for events; fills `fds` and `flags` with up to
// `capacity` of them and returns their count, or -1 with errno set.
int caravan_poll_wait(int poll, int *fds, int *flags, int capacity, int timeout_ms);

#endif
