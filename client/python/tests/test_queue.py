"""kqfs.Queue on a live mount: named and anonymous, the three formats,
errors with the daemon's reason, readiness, asyncio."""
import asyncio
import errno
import os
import selectors
import tempfile
import time
import unittest

import kqfs
from kqfs import Event
from support import mount, unique

TIMER = (1, kqfs.EVFILT_TIMER, kqfs.EV_ADD | kqfs.EV_ONESHOT, 0, 20, 9)


class Formats(unittest.TestCase):
    def check_round_trip(self, q):
        q.change(TIMER, (2, kqfs.EVFILT_USER, kqfs.EV_ADD | kqfs.EV_CLEAR))
        events = q.read(timeout=10)
        self.assertEqual(events, [Event(1, kqfs.EVFILT_TIMER,
                                        kqfs.EV_ADD | kqfs.EV_ONESHOT | kqfs.EV_CLEAR, 0, 1, 9)])
        q.change(Event(2, kqfs.EVFILT_USER, 0, kqfs.NOTE_TRIGGER | kqfs.NOTE_FFOR | 5, 0, 3))
        self.assertEqual(q.read(timeout=10), [Event(2, kqfs.EVFILT_USER,
                                                    kqfs.EV_ADD | kqfs.EV_CLEAR, 5, 0, 3)])
        self.assertEqual(q.read(timeout=0), [])

    def test_named_queues_in_each_format(self):
        for fmt in kqfs.FORMATS:
            with self.subTest(format=fmt):
                name = unique("named-" + fmt)
                with kqfs.Queue(name, mount=mount(), format=fmt) as q:
                    self.assertTrue(os.path.isdir(os.path.join(mount(), "kq", name)))
                    self.check_round_trip(q)
                    self.assertEqual(q.status()["changes"], "3")
                self.assertFalse(os.path.exists(os.path.join(mount(), "kq", name)))

    def test_anonymous_queues_in_each_format(self):
        for fmt in kqfs.FORMATS:
            with self.subTest(format=fmt):
                with kqfs.Queue(mount=mount(), format=fmt) as q:
                    self.assertTrue(os.path.basename(q.path).startswith("clone-"))
                    self.assertEqual(q.status()["anonymous"], "yes")
                    self.check_round_trip(q)
                    path = q.path
                self.assertFalse(os.path.exists(path))

    def test_the_mount_comes_from_KQFS_MOUNT(self):
        self.assertEqual(kqfs.mount_point(), os.environ["KQFS_MOUNT"])
        with kqfs.Queue() as q:
            self.assertTrue(q.path.startswith(os.path.join(mount(), "kq", "clone-")))


    def test_no_mount_names_the_mount_and_kqfsd(self):
        with tempfile.TemporaryDirectory() as empty:
            for name in (None, unique("nomount")):
                with self.subTest(name=name):
                    with self.assertRaises(FileNotFoundError) as raised:
                        kqfs.Queue(name, mount=empty)
                    self.assertEqual(str(raised.exception),
                                     f"[Errno 2] no kqfs mount at {empty}: start kqfsd {empty}, "
                                     f"or pass mount= or set KQFS_MOUNT: '{empty}'")


class Lifetimes(unittest.TestCase):
    def test_open_existing_keeps_it_exclusive_refuses_remove_overrides(self):
        name = unique("life")
        path = os.path.join(mount(), "kq", name)
        os.mkdir(path)
        try:
            with kqfs.Queue(name, mount=mount()) as q:
                q.change((5, kqfs.EVFILT_USER, kqfs.EV_ADD))
            self.assertTrue(os.path.isdir(path))  # not made here: kept
            with self.assertRaises(FileExistsError):
                kqfs.Queue(name, mount=mount(), exclusive=True)
            with kqfs.Queue(name, mount=mount(), remove=True) as q:
                self.assertEqual(q.status()["knotes"], "1")
            self.assertFalse(os.path.exists(path))
            with kqfs.Queue(name, mount=mount(), remove=False):
                pass
            self.assertTrue(os.path.isdir(path))
        finally:
            if os.path.exists(path):
                os.rmdir(path)

    def test_a_removed_queue_ends_reads_and_iteration(self):
        name = unique("removed")
        with kqfs.Queue(name, mount=mount()) as q:
            os.rmdir(q.path)
            with self.assertRaises(EOFError):
                q.read(timeout=5)
            self.assertEqual(list(q), [])


class Errors(unittest.TestCase):
    def test_a_refused_first_record_raises_with_the_daemons_reason(self):
        with kqfs.Queue(unique("errors"), mount=mount(), format="text") as q:
            with self.assertRaises(OSError) as caught:
                q.change((9, kqfs.EVFILT_USER, 0, kqfs.NOTE_TRIGGER))
            self.assertEqual(caught.exception.errno, errno.ENOENT)
            self.assertIn("9 EVFILT_USER", str(caught.exception))
            self.assertEqual(caught.exception.applied, 0)

    def test_a_refused_later_record_says_how_many_were_applied(self):
        for name in (unique("short"), None):
            with kqfs.Queue(name, mount=mount()) as q:
                r, w = os.pipe()
                os.close(r)
                os.close(w)
                with self.assertRaises(OSError) as caught:
                    q.change((1, kqfs.EVFILT_USER, kqfs.EV_ADD), (2, kqfs.EVFILT_USER, kqfs.EV_ADD),
                             (r, kqfs.EVFILT_READ, kqfs.EV_ADD), (3, kqfs.EVFILT_USER, kqfs.EV_ADD))
                self.assertEqual(caught.exception.errno, errno.EBADF)
                self.assertEqual(caught.exception.applied, 2)
                self.assertIn("Bad file descriptor", str(caught.exception))
                self.assertEqual(q.status()["knotes"], "2")  # none after the refused one

    def test_no_mount_is_an_oserror(self):
        with self.assertRaises(FileNotFoundError):
            kqfs.Queue(mount="/nonexistent-kqfs")


class Readiness(unittest.TestCase):
    def test_selectors_see_the_queue_readable_once_an_event_is_pending(self):
        for name in (unique("selectors"), None):
            with kqfs.Queue(name, mount=mount()) as q, selectors.DefaultSelector() as sel:
                sel.register(q, selectors.EVENT_READ)
                self.assertEqual(sel.select(0), [])
                self.assertEqual(q.read(timeout=0), [])  # non-blocking: nothing yet
                q.change(TIMER)
                self.assertEqual(len(sel.select(10)), 1)
                self.assertEqual(q.read(timeout=0)[0].ident, 1)

    def test_read_waits_at_most_its_timeout(self):
        with kqfs.Queue(mount=mount()) as q:
            start = time.monotonic()
            self.assertEqual(q.read(timeout=0.3), [])
            self.assertGreaterEqual(time.monotonic() - start, 0.29)


class Asyncio(unittest.TestCase):
    def test_async_for_with_a_timer_and_a_pipe(self):
        async def main():
            r, w = os.pipe()
            loop = asyncio.get_running_loop()
            seen = []
            try:
                with kqfs.Queue(unique("asyncio"), mount=mount()) as q:
                    q.change((1, kqfs.EVFILT_TIMER, kqfs.EV_ADD, 0, 30, 0),
                             (r, kqfs.EVFILT_READ, kqfs.EV_ADD | kqfs.EV_CLEAR))
                    # Other tasks run while it waits: the pipe is written by one.
                    loop.call_later(0.2, os.write, w, b"hello")
                    async for event in q:
                        seen.append(event)
                        if event.filter == kqfs.EVFILT_READ:
                            break
            finally:
                os.close(r)
                os.close(w)
            return seen
        seen = asyncio.run(asyncio.wait_for(main(), 20))
        self.assertGreaterEqual(sum(e.filter == kqfs.EVFILT_TIMER for e in seen), 2)
        self.assertEqual(seen[-1].data, 5)

    def test_aread_is_one_awaitable_read(self):
        async def main():
            with kqfs.Queue(mount=mount(), format="json") as q:
                waiter = asyncio.ensure_future(q.aread())
                await asyncio.sleep(0.1)
                self.assertFalse(waiter.done())
                q.change(TIMER)
                return await asyncio.wait_for(waiter, 10)
        events = asyncio.run(main())
        self.assertEqual([e.ident for e in events], [1])

    def test_async_for_ends_when_the_queue_is_removed(self):
        async def main():
            with kqfs.Queue(unique("async-eof"), mount=mount()) as q:
                asyncio.get_running_loop().call_later(0.1, os.rmdir, q.path)
                return [event async for event in q]
        self.assertEqual(asyncio.run(asyncio.wait_for(main(), 10)), [])


class Records(unittest.TestCase):
    def test_pack_unpack_and_conversions(self):
        event = Event(1, kqfs.EVFILT_TIMER, kqfs.EV_ADD | kqfs.EV_CLEAR, 0, 1, 7)
        self.assertEqual(len(event.pack()), 32)
        self.assertEqual(Event.unpack(event.pack()), event)
        self.assertEqual(Event.unpack_all(event.pack() * 2), [event, event])
        self.assertEqual(str(event), "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7")
        self.assertEqual(event.to_json(), '{"ident":1,"filter":"EVFILT_TIMER",'
                         '"flags":"EV_ADD|EV_CLEAR","fflags":"0","data":1,"udata":7}')
        self.assertEqual(Event.from_text("1 timer add|clear 0 1 7"), event)
        with self.assertRaises(ValueError):
            Event.unpack_all(b"x" * 33)


if __name__ == "__main__":
    unittest.main()
