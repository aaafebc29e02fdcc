"""BSD Python's select.kqueue and select.kevent, on kqfs.

A program written for FreeBSD's or macOS's `select` module runs after one
change of import::

    from kqfs import select          # instead of: import select

    kq = select.kqueue()
    kq.control([select.kevent(1, select.KQ_FILTER_TIMER, select.KQ_EV_ADD, data=500)], 0)
    events = kq.control(None, 1)     # waits for the timer

kqueue() opens kq/clone on the mount (kqfs.mount_point()); each control()
is one ioctl to kqfsd. The module also passes through everything of the
standard select module (select.select, select.poll, ...), so the rest of
such a program keeps working.
"""
import math as _math
import os as _os
import select as _std_select

from . import _call
from . import _constants as _c
from .mount import mount_point as _mount_point
from .record import RECORD as _RECORD

# The standard module's names (select, poll, epoll, error, ...) pass through.
for _name in dir(_std_select):
    if not _name.startswith("_"):
        globals()[_name] = getattr(_std_select, _name)
del _name

error = OSError

# KQ_FILTER_*, KQ_EV_* and KQ_NOTE_* as BSD's select module names them.
for _name in _c.NAMES:
    for _prefix, _as in (("EVFILT_", "KQ_FILTER_"), ("EV_", "KQ_EV_"), ("NOTE_", "KQ_NOTE_")):
        if _name.startswith(_prefix):
            globals()[_as + _name[len(_prefix):]] = getattr(_c, _name)
del _name, _prefix, _as

_U64 = (1 << 64) - 1


def _ident_of(ident):
    if isinstance(ident, int):
        if not 0 <= ident <= _U64:
            raise OverflowError("ident out of range")
        return ident
    fileno = getattr(ident, "fileno", None)
    if fileno is None:
        raise TypeError("argument must be an int, or have a fileno() method.")
    fd = fileno()
    if not isinstance(fd, int):
        raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def _integer(value, name):
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    return value


def _ranged(value, name, low, high):
    if not low <= _integer(value, name) <= high:
        raise OverflowError(f"{name} out of range")
    return value


class kevent:
    """kevent(ident, filter=KQ_FILTER_READ, flags=KQ_EV_ADD, fflags=0, data=0, udata=0)

    ident is an int or an object with fileno(). The attributes can be
    assigned; kevents compare as the tuple of their six fields, are
    unhashable, and compare with nothing else (== is False, < TypeError)."""

    __slots__ = ("ident", "filter", "flags", "fflags", "data", "udata")

    def __init__(self, ident, filter=_c.EVFILT_READ, flags=_c.EV_ADD, fflags=0, data=0,
                 udata=0):
        self.ident = _ident_of(ident)
        self.filter = _ranged(filter, "filter", -(1 << 15), (1 << 15) - 1)
        # As CPython's "H" and "I" formats: no overflow check, the low bits kept.
        self.flags = _integer(flags, "flags") & 0xFFFF
        self.fflags = _integer(fflags, "fflags") & 0xFFFFFFFF
        self.data = _ranged(data, "data", -(1 << 63), (1 << 63) - 1)
        self.udata = _integer(udata, "udata") & _U64

    def _key(self):
        return (self.ident, self.filter, self.flags, self.fflags, self.data, self.udata)

    def _pack(self):
        try:
            return _RECORD.pack(*self._key())
        except Exception as failure:  # an attribute assigned out of range
            raise OverflowError(f"kevent field out of range: {failure}") from None

    @classmethod
    def _unpack(cls, record):
        event = cls.__new__(cls)
        (event.ident, event.filter, event.flags, event.fflags, event.data,
         event.udata) = _RECORD.unpack(record)
        return event

    def __repr__(self):
        return (f"<kqfs.select.kevent ident={self.ident} filter={self.filter}"
                f" flags={self.flags:#x} fflags={self.fflags:#x} data={self.data:#x}"
                f" udata={self.udata:#x}>")

    def _compare(self, other, op):
        if not isinstance(other, kevent):
            return NotImplemented
        return op(self._key(), other._key())

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    __hash__ = None


def _closed():
    return ValueError("I/O operation on closed kqueue object")


class kqueue:
    """kqueue(): a kqueue of its own (kq/clone on the mount), gone when closed.

    control(changelist, maxevents, timeout=None) is kevent(2): the changes
    are applied in order, then up to maxevents events are returned, waiting
    at most timeout seconds (None: for ever, 0: not at all)."""

    def __init__(self):
        self._fd = -1
        path = _os.path.join(_mount_point(), "kq", "clone")
        # Non-blocking as the C client opens it: a stray read never hangs.
        self._fd = _os.open(path, _os.O_RDWR | _os.O_CLOEXEC | _os.O_NONBLOCK)

    @classmethod
    def fromfd(cls, fd):
        """A kqueue object for descriptor fd (a kq/clone handle); it owns fd
        and closes it on close()."""
        queue = cls.__new__(cls)
        queue._fd = _integer(fd, "fd")
        return queue

    @property
    def closed(self):
        return self._fd < 0

    def fileno(self):
        if self._fd < 0:
            raise _closed()
        return self._fd

    def close(self):
        fd, self._fd = self._fd, -1
        if fd >= 0:
            _os.close(fd)

    def __enter__(self):
        if self._fd < 0:
            raise _closed()
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def control(self, changelist, maxevents, timeout=None):
        if self._fd < 0:
            raise _closed()
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError("timeout argument must be a number or None, got "
                                + type(timeout).__name__)
            if _math.isnan(timeout):
                raise ValueError("Invalid value NaN (not a number)")
            if timeout < 0:
                raise ValueError("timeout must be positive or None")
        maxevents = _integer(maxevents, "maxevents")
        if maxevents < 0:
            raise ValueError(f"Length of eventlist must be 0 or positive, got {maxevents}")
        changes = []
        if changelist is not None:
            try:
                items = list(changelist)
            except TypeError:
                raise TypeError("changelist is not iterable") from None
            for change in items:
                if not isinstance(change, kevent):
                    raise TypeError("changelist must be an iterable of select.kevent objects")
                changes.append(change._pack())
        deadline = _call.Deadline(timeout)
        while True:
            left = None if deadline.forever else deadline.left_ns() / 1e9
            try:
                records = _call.kevent(self._fd, changes, maxevents, left)
                break
            except InterruptedError:
                # PEP 475: a signal whose handler did not raise; again, with
                # the time left, as CPython retries kevent().
                if not deadline.forever and deadline.left_ns() == 0:
                    return []
        return [kevent._unpack(record) for record in records]
