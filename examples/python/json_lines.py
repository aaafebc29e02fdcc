#!/usr/bin/env python3
"""Reading kqfs events as JSON lines, with nothing but the json module.

    python3 examples/python/json_lines.py [MOUNT]

Adds a timer through changes.json and reads five ticks from events.json,
one JSON object per line.

MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
"""
import contextlib
import json
import os
import sys


def mount_point():
    if len(sys.argv) > 1:
        return sys.argv[1]
    runtime = os.environ.get("XDG_RUNTIME_DIR") or "/run"
    return os.environ.get("KQFS_MOUNT") or os.path.join(runtime, "kqfs")


def main():
    queue = os.path.join(mount_point(), "kq", f"json-lines-{os.getpid()}")
    os.mkdir(queue)
    try:
        # Keys left out are 0; filter and flags use the names of the text
        # format. Every 250 ms, tagged with udata 99.
        timer = {"ident": 1, "filter": "EVFILT_TIMER", "flags": "EV_ADD",
                 "data": 250, "udata": 99}
        with open(os.path.join(queue, "changes.json"), "w") as changes:
            changes.write(json.dumps(timer) + "\n")

        # A read blocks until an event is pending and returns whole lines,
        # so readline() is all it takes.
        with open(os.path.join(queue, "events.json")) as events:
            for tick in range(1, 6):
                line = events.readline()
                if not line:  # end of file: someone removed the queue
                    sys.exit("the queue was removed")
                event = json.loads(line)
                print(f"tick {tick}: {event['filter']} {event['ident']}"
                      f" flags {event['flags']} data {event['data']}"
                      f" udata {event['udata']}")
        print("done after 5 ticks")
    finally:
        with contextlib.suppress(FileNotFoundError):  # removed by someone else
            os.rmdir(queue)  # also deletes the timer


if __name__ == "__main__":
    main()
