"""Small helpers for tests that need exact system calls on kqfs files."""
import errno
import os
import struct

RECORD = struct.Struct("<QhHIqQ")  # ident, filter, flags, fflags, data, udata

EVFILT = {"read": -1, "write": -2, "timer": -7, "user": -11}
EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE = 0x1, 0x2, 0x4, 0x8
EV_ONESHOT, EV_CLEAR, EV_RECEIPT, EV_DISPATCH = 0x10, 0x20, 0x40, 0x80
EV_ERROR, EV_EOF = 0x4000, 0x8000
NOTE_TRIGGER = 0x01000000


def pack(ident, filt, flags, fflags=0, data=0, udata=0):
    return RECORD.pack(ident, filt, flags, fflags, data, udata)


def unpack_all(blob):
    return [RECORD.unpack_from(blob, i) for i in range(0, len(blob), RECORD.size)]


def write_result(fd, data):
    """The return of one write(2): a byte count, or -errno."""
    try:
        return os.write(fd, data)
    except OSError as e:
        return -e.errno


def errname(code):
    return errno.errorcode.get(code, str(code))


def outcome(fn, *args, **kwargs):
    """Calls fn and returns "ok", or the errno name of the OSError it raised."""
    try:
        fn(*args, **kwargs)
        return "ok"
    except OSError as e:
        return errname(e.errno)
