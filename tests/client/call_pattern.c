/*
 * kqfs-call-pattern MODE COUNT: makes COUNT kevent() calls of one shape on
 * a new kqueue, for tests that count what each call costs (strace):
 *   one-change       one change (NOTE_TRIGGER), no room for events
 *   change-and-wait  one change and a wait that returns the event it made
 *   wait             a wait (with a timeout) for an event already there
 * Exits 0 when every call returned what it should.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>

static int fail(const char* what, int got) {
  fprintf(stderr, "kqfs-call-pattern: %s returned %d\n", what, got);
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: kqfs-call-pattern one-change|change-and-wait|wait COUNT\n");
    return 2;
  }
  const char* mode = argv[1];
  const int count = atoi(argv[2]);
  const int kq = kqueue();
  if (kq < 0) return fail("kqueue", kq);
  struct kevent change;
  struct kevent event;
  const struct timespec zero = {0, 0};
  const struct timespec second = {1, 0};
  EV_SET(&change, 1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, 0);
  int got = kevent(kq, &change, 1, NULL, 0, NULL);
  if (got != 0) return fail("EV_ADD", got);
  EV_SET(&change, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, 0);
  for (int i = 0; i < count; ++i) {
    if (strcmp(mode, "one-change") == 0) {
      got = kevent(kq, &change, 1, NULL, 0, NULL);
      if (got != 0) return fail("a one-change call", got);
    } else if (strcmp(mode, "change-and-wait") == 0) {
      got = kevent(kq, &change, 1, &event, 1, &zero);
      if (got != 1 || event.ident != 1) return fail("a change-and-wait call", got);
    } else if (strcmp(mode, "wait") == 0) {
      got = kevent(kq, &change, 1, NULL, 0, NULL);
      if (got != 0) return fail("a trigger", got);
      got = kevent(kq, NULL, 0, &event, 1, &second);
      if (got != 1 || event.ident != 1) return fail("a wait", got);
    } else {
      return fail(mode, -1);
    }
  }
  return 0;
}
