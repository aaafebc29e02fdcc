"""One kevent() call as one ioctl on a kq/clone handle, as the C client
makes it (client/kevent.cpp, docs/design.md "one kevent() call, one
request"): slot 0 carries struct kqfs_call in and struct kqfs_call_result
out, the records follow it."""
import errno
import fcntl
import os
import struct
import time

from . import _constants as _c
from .record import RECORD

_CALL = struct.Struct("<IIiiqq")     # magic, flags, nchanges, nevents, timeout s, ns
_RESULT = struct.Struct("<IIiiiIQ")  # magic, status, entries, error, processed, reserved, handle
MAX_RECORDS = _c.KQFS_CALL_MAX_SLOTS - 1
# Errors of an ioctl the handle's driver does not know: not a kqfs kqueue.
_NOT_A_KQUEUE = (errno.ENOTTY, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


def _request_number(slots):
    return _c.KQFS_IOC_CALL_BASE | (slots * _c.KQFS_CALL_SLOT << _c.KQFS_IOC_CALL_SIZE_SHIFT)


class Deadline:
    """For ever (seconds None), or a point on the monotonic clock."""

    def __init__(self, seconds):
        self.forever = seconds is None
        self.at = None if self.forever or seconds == 0 else time.monotonic_ns() + int(seconds * 1e9)

    def left_ns(self):
        return 0 if self.at is None else max(self.at - time.monotonic_ns(), 0)


def _bad_handle():
    return OSError(errno.EBADF, os.strerror(errno.EBADF))


def _request(fd, changes, room, flags, deadline):
    """One ioctl: (result fields, the buffer)."""
    slots = 1 + max(len(changes), room, 1)
    buffer = bytearray(slots * _c.KQFS_CALL_SLOT)
    seconds = nanoseconds = 0
    if not deadline.forever:
        flags |= _c.KQFS_CALL_TIMEOUT
        # Past INT32_MAX seconds the daemon waits for ever; int64 must hold it.
        seconds, nanoseconds = divmod(min(deadline.left_ns(), 1 << 62), 1_000_000_000)
    _CALL.pack_into(buffer, 0, _c.KQFS_CALL_MAGIC, flags, len(changes), room, seconds, nanoseconds)
    buffer[RECORD.size:RECORD.size * (1 + len(changes))] = b"".join(changes)
    try:
        fcntl.ioctl(fd, _request_number(slots), buffer, True)
    except OSError as error:
        if error.errno in _NOT_A_KQUEUE:
            raise _bad_handle() from None
        raise
    result = _RESULT.unpack_from(buffer, 0)
    magic, _, entries, _, processed, _, _ = result
    if magic != _c.KQFS_CALL_RESULT_MAGIC or entries > room or processed > len(changes):
        raise _bad_handle()
    return result, buffer


def _part(fd, changes, room, flags, deadline):
    """One request for at most MAX_RECORDS changes: (entries as raw records,
    changes processed)."""
    room = min(room, MAX_RECORDS)
    while True:
        (_, status, entries, error, processed, _, handle), buffer = _request(
            fd, changes, room, flags, deadline)
        if status == _c.KQFS_CALL_RECHECK:
            # This process closed a descriptor of the handle while the call
            # waited: go on only if fd still names it.
            if os.fstat(fd).st_ino != handle:
                raise _bad_handle()
            if not deadline.forever and deadline.left_ns() == 0:
                return [], processed
            changes = []
            continue
        if entries < 0:
            raise OSError(error, os.strerror(error))
        return [bytes(buffer[RECORD.size * (1 + i):RECORD.size * (2 + i)])
                for i in range(entries)], processed


def kevent(fd, changes, nevents, timeout):
    """kevent(2) on handle fd: changes are packed records, the result the
    entries as packed records. timeout: seconds, or None for ever. A list
    longer than one request carries goes in changes-only parts."""
    deadline = Deadline(timeout)
    written = []
    next_change = 0
    while len(changes) - next_change > MAX_RECORDS:
        got, processed = _part(fd, changes[next_change:next_change + MAX_RECORDS],
                               nevents - len(written), _c.KQFS_CALL_CHANGES_ONLY, deadline)
        written += got
        next_change += processed
        if processed < MAX_RECORDS:
            return written  # a receipt found no room: FreeBSD stops there
    flags = _c.KQFS_CALL_CHANGES_ONLY if written else 0
    got, _ = _part(fd, changes[next_change:], nevents - len(written), flags, deadline)
    return written + got
