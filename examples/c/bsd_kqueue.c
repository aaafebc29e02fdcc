/*
 * A kqueue program as written for FreeBSD or macOS: nothing here knows
 * about kqfs. Built against libkqfs-client it runs on Linux unchanged:
 *
 *   cc bsd_kqueue.c $(pkg-config --cflags --libs kqfs-client)
 *
 * A timer ticks every 100 ms; the first tick writes to a pipe, the second
 * triggers a user event, and the program stops after the third.
 */
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <unistd.h>

enum { TICK = 1, WAKE = 2 };

int main(void) {
  int kq = kqueue();
  if (kq == -1) err(1, "kqueue");

  int fds[2];
  if (pipe(fds) == -1) err(1, "pipe");

  struct kevent changes[3];
  EV_SET(&changes[0], TICK, EVFILT_TIMER, EV_ADD, 0, 100, NULL);
  EV_SET(&changes[1], fds[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL);
  EV_SET(&changes[2], WAKE, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
  if (kevent(kq, changes, 3, NULL, 0, NULL) == -1) err(1, "kevent: register");

  int ticks = 0;
  while (ticks < 3) {
    struct kevent event;
    const int n = kevent(kq, NULL, 0, &event, 1, NULL);
    if (n == -1) err(1, "kevent: wait");
    if (n == 0) continue;

    switch (event.filter) {
      case EVFILT_TIMER:
        printf("timer %lu fired (%lld expirations)\n", (unsigned long)event.ident,
               (long long)event.data);
        if (++ticks == 1 && write(fds[1], "hello", 5) != 5) err(1, "write");
        if (ticks == 2) {
          struct kevent trigger;
          EV_SET(&trigger, WAKE, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x2a, 0, NULL);
          if (kevent(kq, &trigger, 1, NULL, 0, NULL) == -1) err(1, "kevent: trigger");
        }
        break;
      case EVFILT_READ:
        printf("pipe readable: %lld bytes\n", (long long)event.data);
        break;
      case EVFILT_USER:
        printf("user event %lu triggered (fflags 0x%x)\n", (unsigned long)event.ident,
               event.fflags);
        break;
    }
  }
  close(kq);
  return 0;
}
