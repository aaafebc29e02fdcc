"""kqfs: BSD kqueue for Linux through the files of a kqfs mount.

    import kqfs
    with kqfs.Queue() as q:                                  # anonymous: kq/clone
        q.change(kqfs.Event(1, kqfs.EVFILT_TIMER, kqfs.EV_ADD, 0, 500, 7))
        print(q.read()[0].to_text())    # 1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7

- every EVFILT_*, EV_* and NOTE_* constant, generated at build time from
  the daemon's own name table;
- filter_name(), flags_name(), fflags_name(): names as the text format
  writes them; Event: one record, binary, text and JSON;
- Queue: a named or anonymous queue, in any format, with asyncio;
- kqfs.select: BSD Python's select.kqueue and select.kevent.
"""
from ._constants import *  # noqa: F401,F403  (EVFILT_*, EV_*, NOTE_*, ...)
from ._constants import NAMES as _NAMES, VERSION as __version__
from .mount import mount_point
from .names import (filter_name, flags_name, fflags_name, parse_filter, parse_flags,
                    parse_fflags)
from .queue import FORMATS, Queue
from .record import RECORD, Event, pack_all

__all__ = list(_NAMES) + [
    "mount_point", "filter_name", "flags_name", "fflags_name", "parse_filter", "parse_flags",
    "parse_fflags", "FORMATS", "Queue", "RECORD", "Event", "pack_all",
]
