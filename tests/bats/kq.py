"""Helpers for the python3 of the bats suites: exact system calls on kqfs
files, change records, and waiting for events and status fields.

tests/bats is on PYTHONPATH for every suite (see `py` in mount_helpers.bash):
`import kq`, `from kq import NAME`, or `from kq import *`.
"""
import collections
import errno
import fcntl
import os
import select
import socket
import struct
import time


# ------------------------------------------------------------ struct kevent

RECORD = struct.Struct("<QhHIqQ")  # ident, filter, flags, fflags, data, udata

EVFILT = {"read": -1, "write": -2, "timer": -7, "user": -11}
READ, WRITE = EVFILT["read"], EVFILT["write"]
EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE = 0x1, 0x2, 0x4, 0x8
EV_ONESHOT, EV_CLEAR, EV_RECEIPT, EV_DISPATCH = 0x10, 0x20, 0x40, 0x80
EV_ERROR, EV_EOF = 0x4000, 0x8000
NOTE_TRIGGER = 0x01000000

Ev = collections.namedtuple("Ev", "ident filter flags fflags data udata")


def pack(ident, filt, flags, fflags=0, data=0, udata=0):
    return RECORD.pack(ident, filt, flags, fflags, data, udata)


def unpack_all(blob):
    return [RECORD.unpack_from(blob, i) for i in range(0, len(blob), RECORD.size)]


# ------------------------------------------------------ calls and their errno

def write_result(fd, data):
    """The return of one write(2): a byte count, or -errno."""
    try:
        return os.write(fd, data)
    except OSError as e:
        return -e.errno


def write_outcome(fd, data):
    """The return of one write(2) as printed: a byte count, or an errno name."""
    r = write_result(fd, data)
    return errname(-r) if r < 0 else r


def errname(code):
    return errno.errorcode.get(code, str(code))


def outcome(fn, *args, **kwargs):
    """Calls fn and returns "ok", or the errno name of the OSError it raised."""
    try:
        fn(*args, **kwargs)
        return "ok"
    except OSError as e:
        return errname(e.errno)


# ------------------------------------------------------------------ status

def status(q):
    """The status file of queue directory q as a dict of strings."""
    fields = {}
    with open(os.path.join(q, "status")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(": ")
            fields[key] = value
    return fields


def wait_status(q, field, value, timeout=10.0):
    """Waits until status field `field` of q reads value; fails if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status(q).get(field) == str(value):
            return
        time.sleep(0.02)
    raise AssertionError(f"status {field} never became {value}: {status(q)}")


def wait_knotes(q, n, timeout=3.0):
    """Polls status until `knotes` is n; returns the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        k = int(status(q)["knotes"])
        if k == n or time.monotonic() > deadline:
            return k
        time.sleep(0.05)


# --------------------------------------------------- changes, by queue path

def write_changes(q, text):
    """Text change records, written to q/changes in one open."""
    with open(os.path.join(q, "changes"), "w") as f:
        f.write(text)


def add_users(q, flags, *idents):
    """One user knote per ident with `flags`, in one write."""
    write_changes(q, "".join(f"{i} user {flags}\n" for i in idents))


def trigger(q, *idents):
    """NOTE_TRIGGER on each user knote ident, in one write."""
    write_changes(q, "".join(f"{i} user 0 trigger\n" for i in idents))


# ------------------------------------------- changes and events, by handle

def queue_files(q):
    """(changes fd, non-blocking events.bin fd) of queue directory q."""
    return (os.open(q + "/changes", os.O_WRONLY),
            os.open(q + "/events.bin", os.O_RDONLY | os.O_NONBLOCK))


def change(c, text):
    """One write(2) of text change lines: byte count or -errno."""
    if not text.endswith("\n"):
        text += "\n"
    return write_result(c, text.encode())


def events(e, timeout):
    """The records (Ev) of the first read of events.bin handle e that brings
    any within timeout, or []."""
    deadline = time.monotonic() + timeout
    p = select.poll()
    p.register(e, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return []
        p.poll(max(1, int(left * 1000)))
        try:
            blob = os.read(e, 32 * 256)
        except BlockingIOError:
            time.sleep(0.01)  # a stale knote: readiness without an event
            continue
        return [Ev(*r) for r in unpack_all(blob)]


def wait_event(e, pred, timeout=5.0):
    """The first delivered record satisfying pred within timeout, or None."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        for ev in events(e, left):
            if pred(ev):
                return ev


def expect_event(e, pred, missing, timeout=5.0):
    """The first delivered record satisfying pred within timeout; fails with
    the message `missing` if none comes."""
    ev = wait_event(e, pred, timeout)
    assert ev is not None, missing
    return ev


def quiet(e, pred=lambda ev: True, timeout=0.3):
    """Fails if a record satisfying pred is delivered within timeout."""
    ev = wait_event(e, pred, timeout)
    assert ev is None, "unexpected event %r" % (ev,)


def read_nonblocking(fd, size):
    """One read on a descriptor switched to O_NONBLOCK: bytes, or None on EAGAIN."""
    old = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, old | os.O_NONBLOCK)
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, old)


def drain_text(q):
    """Every text event of queue q pending now, read without blocking."""
    fd = os.open(os.path.join(q, "events"), os.O_RDONLY | os.O_NONBLOCK)
    lines = []
    try:
        while True:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                return lines
            if not chunk:
                return lines
            lines.append(chunk.decode())
    finally:
        os.close(fd)


# ----------------------------------------------------- descriptors to watch

def moved(fd, to):
    """fd renumbered to `to` (dup2 + close), for idents that cannot clash."""
    os.dup2(fd, to)
    os.close(fd)
    return to


def tcp_connection():
    """Both ends of a TCP connection on 127.0.0.1: (client, server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server
