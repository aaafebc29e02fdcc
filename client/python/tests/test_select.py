"""kqfs.select: BSD Python's select.kqueue and select.kevent on a live mount."""
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

from kqfs import select
from support import mount


def kevent_of(event):
    return (event.ident, event.filter, event.flags, event.fflags, event.data, event.udata)


class KeventObjects(unittest.TestCase):
    def test_defaults_attributes_and_fileno_idents(self):
        k = select.kevent(3)
        self.assertEqual(kevent_of(k), (3, select.KQ_FILTER_READ, select.KQ_EV_ADD, 0, 0, 0))
        with socket.socket() as s:
            self.assertEqual(select.kevent(s).ident, s.fileno())
        k.data = 42
        self.assertEqual(k.data, 42)
        self.assertIn("data=0x2a", repr(k))
        with self.assertRaises(TypeError):
            select.kevent("nope")
        with self.assertRaises(OverflowError):
            select.kevent(1, 1 << 15)

    def test_comparisons_as_tuples_and_nothing_else(self):
        a = select.kevent(1, select.KQ_FILTER_TIMER, data=5)
        b = select.kevent(1, select.KQ_FILTER_TIMER, data=5)
        c = select.kevent(2, select.KQ_FILTER_TIMER)
        self.assertTrue(a == b and not a != b and a <= b and a >= b)
        self.assertTrue(a < c and c > a and a != c)
        self.assertFalse(a == (1, select.KQ_FILTER_TIMER))
        with self.assertRaises(TypeError):
            a < 1
        with self.assertRaises(TypeError):
            hash(a)

    def test_the_bsd_names(self):
        self.assertEqual(select.KQ_FILTER_TIMER, -7)
        self.assertEqual(select.KQ_EV_ONESHOT, 0x10)
        self.assertEqual(select.KQ_NOTE_EXIT, 0x80000000)
        # The standard module's functions pass through.
        self.assertTrue(callable(select.select) and callable(select.poll))


class Control(unittest.TestCase):
    def setUp(self):
        mount()
        self.kq = select.kqueue()
        self.addCleanup(self.kq.close)

    def test_a_timer_fires(self):
        self.kq.control([select.kevent(1, select.KQ_FILTER_TIMER, select.KQ_EV_ADD, 0, 50, 7)], 0)
        start = time.monotonic()
        events = self.kq.control(None, 4)  # timeout None: waits
        self.assertGreater(time.monotonic() - start, 0.02)
        self.assertEqual(kevent_of(events[0]),
                         (1, select.KQ_FILTER_TIMER, select.KQ_EV_ADD | select.KQ_EV_CLEAR, 0, 1, 7))

    def test_pipe_and_socket_readable_with_their_data(self):
        r, w = os.pipe()
        a, b = socket.socketpair()
        self.addCleanup(lambda: [os.close(r), os.close(w), a.close(), b.close()])
        self.assertEqual(self.kq.control([select.kevent(r), select.kevent(a)], 4, 0), [])
        os.write(w, b"hello")
        b.send(b"0123456789")
        time.sleep(0.05)
        events = sorted(self.kq.control(None, 4, 5), key=lambda e: e.ident)
        self.assertEqual([(e.ident, e.data) for e in events],
                         sorted([(r, 5), (a.fileno(), 10)]))

    def test_timeout_zero_returns_at_once_and_a_timeout_is_kept(self):
        self.kq.control([select.kevent(1, select.KQ_FILTER_USER, select.KQ_EV_ADD)], 0)
        start = time.monotonic()
        self.assertEqual(self.kq.control(None, 4, 0), [])
        self.assertEqual(self.kq.control(None, 4, 0.3), [])
        self.assertGreaterEqual(time.monotonic() - start, 0.29)

    def test_receipt_and_error_entries(self):
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        events = self.kq.control([
            select.kevent(1, select.KQ_FILTER_USER, select.KQ_EV_ADD | select.KQ_EV_RECEIPT),
            select.kevent(r, select.KQ_FILTER_READ, select.KQ_EV_ADD),
        ], 4, None)  # entries written: no wait, even for ever
        self.assertEqual([kevent_of(e) for e in events], [
            (1, select.KQ_FILTER_USER,
             select.KQ_EV_ADD | select.KQ_EV_RECEIPT | select.KQ_EV_ERROR, 0, 0, 0),
            (r, select.KQ_FILTER_READ, select.KQ_EV_ADD | select.KQ_EV_ERROR, 0, errno.EBADF, 0),
        ])

    def test_an_error_without_room_raises(self):
        with self.assertRaises(OSError) as caught:
            self.kq.control([select.kevent(77, select.KQ_FILTER_USER, 0, select.KQ_NOTE_TRIGGER)], 0)
        self.assertEqual(caught.exception.errno, errno.ENOENT)

    def test_a_changelist_longer_than_one_request(self):
        changes = [select.kevent(i, select.KQ_FILTER_USER, select.KQ_EV_ADD | select.KQ_EV_CLEAR)
                   for i in range(1200)]
        self.assertEqual(self.kq.control(changes, 0), [])
        triggers = [select.kevent(i, select.KQ_FILTER_USER, 0, select.KQ_NOTE_TRIGGER)
                    for i in range(1200)]
        self.assertEqual(self.kq.control(triggers, 0), [])
        # One request returns at most 510 events, as the C client's kevent().
        idents = []
        while len(idents) < 1200:
            events = self.kq.control(None, 2000, 5)
            self.assertTrue(0 < len(events) <= 510)
            idents += [e.ident for e in events]
        self.assertEqual(sorted(idents), list(range(1200)))
        receipts = [select.kevent(i, select.KQ_FILTER_USER, select.KQ_EV_ADD | select.KQ_EV_RECEIPT)
                    for i in range(1100)]
        self.assertEqual(len(self.kq.control(receipts, 1100)), 1100)

    def test_a_signal_is_retried_with_the_time_left(self):
        fired = []
        old = signal.signal(signal.SIGALRM, lambda *args: fired.append(1))
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            start = time.monotonic()
            self.assertEqual(self.kq.control(None, 1, 0.5), [])
            took = time.monotonic() - start
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        self.assertEqual(fired, [1])
        self.assertGreaterEqual(took, 0.49)
        self.assertLess(took, 3)

    def test_a_raising_handler_ends_the_call(self):
        class Stop(Exception):
            pass

        def handler(*args):
            raise Stop()
        old = signal.signal(signal.SIGALRM, handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            with self.assertRaises(Stop):
                self.kq.control(None, 1)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


class Lifetime(unittest.TestCase):
    def test_close_closed_and_fileno(self):
        kq = select.kqueue()
        fd = kq.fileno()
        self.assertFalse(kq.closed)
        kq.close()
        self.assertTrue(kq.closed)
        kq.close()
        with self.assertRaises(ValueError):
            kq.fileno()
        with self.assertRaises(ValueError):
            kq.control(None, 1, 0)
        with self.assertRaises(OSError):
            os.fstat(fd)

    def test_fromfd_adopts_a_kqueue_descriptor(self):
        kq = select.kqueue()
        kq.control([select.kevent(3, select.KQ_FILTER_USER, select.KQ_EV_ADD)], 0)
        other = select.kqueue.fromfd(os.dup(kq.fileno()))
        other.control([select.kevent(3, select.KQ_FILTER_USER, 0, select.KQ_NOTE_TRIGGER)], 0)
        self.assertEqual([e.ident for e in kq.control(None, 1, 5)], [3])
        other.close()
        kq.close()

    def test_a_descriptor_that_is_no_kqueue_is_ebadf(self):
        r, w = os.pipe()
        kq = select.kqueue.fromfd(r)
        with self.assertRaises(OSError) as caught:
            kq.control(None, 1, 0)
        self.assertEqual(caught.exception.errno, errno.EBADF)
        kq.close()
        os.close(w)

    def test_each_kqueue_is_its_own_and_goes_with_close(self):
        with select.kqueue() as kq:
            listed = [n for n in os.listdir(os.path.join(mount(), "kq")) if n.startswith("clone-")]
            self.assertGreaterEqual(len(listed), 1)
        self.assertTrue(kq.closed)


# Written for FreeBSD's Python: only the first line differs.
BSD_PROGRAM = """\
import select
import os

kq = select.kqueue()
r, w = os.pipe()
changes = [
    select.kevent(1, filter=select.KQ_FILTER_TIMER, flags=select.KQ_EV_ADD | select.KQ_EV_ONESHOT,
                  data=100),
    select.kevent(r, filter=select.KQ_FILTER_READ, flags=select.KQ_EV_ADD),
    select.kevent(9, filter=select.KQ_FILTER_USER, flags=select.KQ_EV_ADD | select.KQ_EV_CLEAR),
]
kq.control(changes, 0, 0)
os.write(w, b"ping")
seen = set()
while len(seen) < 3:
    for ev in kq.control(None, 8, 5):
        if ev.filter == select.KQ_FILTER_READ and ev.ident == r and "read" not in seen:
            print("pipe readable:", ev.data, "bytes")
            os.read(r, ev.data)
            seen.add("read")
            kq.control([select.kevent(9, select.KQ_FILTER_USER, 0,
                                      select.KQ_NOTE_TRIGGER | select.KQ_NOTE_FFCOPY | 42)], 0, 0)
        elif ev.filter == select.KQ_FILTER_USER:
            print("user event", ev.ident, "fflags", ev.fflags)
            seen.add("user")
        elif ev.filter == select.KQ_FILTER_TIMER:
            print("timer", ev.ident, "fired")
            seen.add("timer")
kq.close()
print("closed:", kq.closed)
"""


class BsdProgram(unittest.TestCase):
    def test_a_freebsd_program_runs_after_changing_one_import(self):
        program = BSD_PROGRAM.replace("import select\n", "from kqfs import select\n", 1)
        self.assertEqual(len(program.splitlines()), len(BSD_PROGRAM.splitlines()))
        result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                                timeout=30, env=dict(os.environ, KQFS_MOUNT=mount()))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        lines = result.stdout.splitlines()
        self.assertEqual(sorted(lines[:3]), sorted(["pipe readable: 4 bytes",
                                                    "user event 9 fflags 42", "timer 1 fired"]))
        self.assertEqual(lines[3:], ["closed: True"])
        self.assertLess(lines.index("pipe readable: 4 bytes"), lines.index("user event 9 fflags 42"))


if __name__ == "__main__":
    unittest.main()
