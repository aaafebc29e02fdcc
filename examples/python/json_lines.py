#!/usr/bin/env python3
"""Reading kqfs events as JSON lines, with the kqfs package.

    python3 examples/python/json_lines.py [MOUNT]

Adds a timer through changes.json and reads five ticks from events.json,
one JSON object per line; each comes back as a kqfs.Event, whose names
(filter_name, flags_name) are those of the JSON and text formats.

MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
The package is installed by `meson install`; from a build tree, run with
PYTHONPATH=build/client/python.
"""
import os
import sys

import kqfs


def main():
    mount = sys.argv[1] if len(sys.argv) > 1 else None
    with kqfs.Queue(f"json-lines-{os.getpid()}", mount=mount, format="json") as queue:
        # Every 250 ms, tagged with udata 99; written as one JSON line.
        queue.change(kqfs.Event(1, kqfs.EVFILT_TIMER, kqfs.EV_ADD, 0, 250, 99))
        # Each read waits until an event is pending and brings whole lines.
        tick = 0
        for event in queue:  # ends if someone removes the queue
            tick += 1
            print(f"tick {tick}: {event.filter_name} {event.ident}"
                  f" flags {event.flags_name} data {event.data} udata {event.udata}")
            if tick == 5:
                print("done after 5 ticks")
                return
        sys.exit("the queue was removed")


if __name__ == "__main__":
    main()
