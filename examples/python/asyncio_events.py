#!/usr/bin/env python3
"""A kqfs queue inside an asyncio program, with the kqfs package.

    python3 examples/python/asyncio_events.py [MOUNT]

`async for` over a kqfs.Queue waits in the event loop (loop.add_reader on
the queue's events.bin, non-blocking reads, no thread), so kqueue events
arrive like any other I/O while the loop runs other tasks. A timer ticks
three times; the third tick fires a user event, and the user event ends
the program.

MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
The package is installed by `meson install`; from a build tree, run with
PYTHONPATH=build/client/python.
"""
import asyncio
import os
import sys

import kqfs
from kqfs import EV_ADD, EV_CLEAR, EV_DELETE, EVFILT_TIMER, EVFILT_USER, NOTE_TRIGGER, Event

TIMER, USER = 1, 2  # our idents


async def main():
    mount = sys.argv[1] if len(sys.argv) > 1 else None
    # A named queue made here, so removed again when the block ends (with
    # every knote left in it).
    with kqfs.Queue(f"asyncio-{os.getpid()}", mount=mount) as queue:
        queue.change(Event(TIMER, EVFILT_TIMER, EV_ADD, 0, 100),  # every 100 ms
                     Event(USER, EVFILT_USER, EV_ADD | EV_CLEAR))
        ticks = 0
        async for event in queue:  # ends if someone removes the queue
            if event.filter == EVFILT_TIMER:
                ticks += 1
                print(f"tick {ticks}: timer {event.ident} ({event.data} expiration(s))")
                if ticks == 3:
                    # Deleting the timer in the same write means no tick can
                    # slip in after the user event.
                    print("firing user event", USER)
                    queue.change(Event(TIMER, EVFILT_TIMER, EV_DELETE),
                                 Event(USER, EVFILT_USER, 0, NOTE_TRIGGER, 42))
            elif event.filter == EVFILT_USER:
                print(f"user event {event.ident} with value {event.data}: done")
                return
        sys.exit("the queue was removed before the user event came")


if __name__ == "__main__":
    asyncio.run(main())
