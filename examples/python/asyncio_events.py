#!/usr/bin/env python3
"""A kqfs queue inside an asyncio program.

    python3 examples/python/asyncio_events.py [MOUNT]

The queue's events.bin joins the event loop through loop.add_reader, so
kqueue events arrive like any other I/O while the loop runs other tasks. A
timer ticks three times; the third tick fires a user event, and the user
event ends the program.

MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
"""
import asyncio
import contextlib
import os
import struct
import sys

# struct kevent as the binary files carry it, little-endian and packed:
# ident u64, filter i16, flags u16, fflags u32, data i64, udata u64.
KEVENT = struct.Struct("<QhHIqQ")

# FreeBSD's values, which kqfs uses.
EVFILT_TIMER, EVFILT_USER = -7, -11
EV_ADD, EV_DELETE, EV_CLEAR = 0x0001, 0x0002, 0x0020
NOTE_TRIGGER = 0x01000000

TIMER, USER = 1, 2  # our idents


def mount_point():
    if len(sys.argv) > 1:
        return sys.argv[1]
    runtime = os.environ.get("XDG_RUNTIME_DIR") or "/run"
    return os.environ.get("KQFS_MOUNT") or os.path.join(runtime, "kqfs")


class Queue:
    """A kqfs queue of our own whose events land in an asyncio.Queue."""

    def __init__(self, mount, name):
        self.path = os.path.join(mount, "kq", name)
        os.mkdir(self.path)
        self._changes = os.open(os.path.join(self.path, "changes.bin"), os.O_WRONLY)
        # Non-blocking: a read must never stall the loop. The loop polls the
        # handle, and kqfs makes it readable when events are pending.
        self._events = os.open(os.path.join(self.path, "events.bin"),
                               os.O_RDONLY | os.O_NONBLOCK)
        self.events = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._events, self._on_readable)

    def change(self, *records):
        """Applies (ident, filter, flags, fflags, data, udata) records in
        order, in one write."""
        blob = b"".join(KEVENT.pack(*r) for r in records)
        # A refused first record raises OSError with its errno; a later one
        # makes a short write that ends where that record begins.
        written = os.write(self._changes, blob)
        if written < len(blob):
            raise OSError(f"change {written // KEVENT.size} refused,"
                          f" see {self.path}/status")

    def _on_readable(self):
        try:
            # One read returns as many whole records as fit.
            blob = os.read(self._events, KEVENT.size * 64)
        except BlockingIOError:
            return  # the event went away before we read it (e.g. deleted)
        if not blob:  # end of file: someone removed the queue
            self._loop.remove_reader(self._events)
            self.events.put_nowait(None)
            return
        for record in KEVENT.iter_unpack(blob):
            self.events.put_nowait(record)

    def close(self):
        self._loop.remove_reader(self._events)
        os.close(self._events)
        os.close(self._changes)
        with contextlib.suppress(FileNotFoundError):  # removed by someone else
            os.rmdir(self.path)  # also drops every knote left in it


async def main():
    queue = Queue(mount_point(), f"asyncio-{os.getpid()}")
    try:
        queue.change((TIMER, EVFILT_TIMER, EV_ADD, 0, 100, 0),  # every 100 ms
                     (USER, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, 0))
        ticks = 0
        while True:
            event = await queue.events.get()
            if event is None:
                sys.exit("the queue was removed before the user event came")
            ident, filt, flags, fflags, data, udata = event
            if filt == EVFILT_TIMER:
                ticks += 1
                print(f"tick {ticks}: timer {ident} ({data} expiration(s))")
                if ticks == 3:
                    # Deleting the timer in the same write means no tick can
                    # slip in after the user event.
                    print("firing user event", USER)
                    queue.change((TIMER, EVFILT_TIMER, EV_DELETE, 0, 0, 0),
                                 (USER, EVFILT_USER, 0, NOTE_TRIGGER, 42, 0))
            elif filt == EVFILT_USER:
                print(f"user event {ident} with value {data}: done")
                return
    finally:
        queue.close()


if __name__ == "__main__":
    asyncio.run(main())
