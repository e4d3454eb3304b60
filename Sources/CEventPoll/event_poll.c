#include "event_poll.h"

#include <errno.h>

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>

static unsigned int events_for(int flags) {
  unsigned int events = 0;
  if (flags & CARAVAN_POLL_READABLE) events |= EPOLLIN | EPOLLRDHUP;
  if (flags & CARAVAN_POLL_WRITABLE) events |= EPOLLOUT;
  return events;
}

int caravan_poll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int caravan_poll_wake_fd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

static int control(int poll, int op, int fd, int flags) {
  struct epoll_event event = {0};
  event.events = events_for(flags);
  event.data.fd = fd;
  return epoll_ctl(poll, op, fd, &event);
}

int caravan_poll_add(int poll, int fd, int flags) { return control(poll, EPOLL_CTL_ADD, fd, flags); }
int caravan_poll_change(int poll, int fd, int flags) { return control(poll, EPOLL_CTL_MOD, fd, flags); }
int caravan_poll_remove(int poll, int fd) { return control(poll, EPOLL_CTL_DEL, fd, 0); }

int caravan_poll_wait(int poll, int *fds, int *flags, int capacity, int timeout_ms) {
  struct epoll_event events[64];
  if (capacity > 64) capacity = 64;
  int count = epoll_wait(poll, events, capacity, timeout_ms);
  for (int i = 0; i < count; i++) {
    fds[i] = events[i].data.fd;
    flags[i] = 0;
    if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) flags[i] |= CARAVAN_POLL_READABLE;
    if (events[i].events & EPOLLOUT) flags[i] |= CARAVAN_POLL_WRITABLE;
  }
  return count;
}

#else
int caravan_poll_create(void) { errno = ENOSYS; return -1; }
int caravan_poll_wake_fd(void) { errno = ENOSYS; return -1; }
int caravan_poll_add(int poll, int fd, int flags) { errno = ENOSYS; return -1; }
int caravan_poll_change(int poll, int fd, int flags) { errno = ENOSYS; return -1; }
int caravan_poll_remove(int poll, int fd) { errno = ENOSYS; return -1; }
int caravan_poll_wait(int poll, int *fds, int *flags, int capacity, int timeout_ms) { errno = ENOSYS; return -1; }
#endif
