"""Helpers for the python3 of the bats suites (tests/bats/*.bats): exact
system calls on kqfs files, change records, waiting for events and status
fields, and the processes the filter suites watch.

tests/support is on PYTHONPATH for every suite (set by kqfs_setup in
tests/bats/mount_helpers.bash): `import kq`, `from kq import NAME`, or
`from kq import *`, which also brings os, sys, signal, subprocess,
threading and time.
"""
import atexit
import collections
import errno
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time


# ------------------------------------------------------------ struct kevent

# The record layout and the constants are the kqfs package's (client/python,
# on PYTHONPATH from the build tree), generated from the engine's names.
from kqfs import RECORD  # noqa: E402  ident, filter, flags, fflags, data, udata
from kqfs import (EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH,  # noqa: E402,F401
                  EV_ENABLE, EV_EOF, EV_ERROR, EV_ONESHOT, EV_RECEIPT, EVFILT_READ,
                  EVFILT_TIMER, EVFILT_USER, EVFILT_WRITE, NOTE_TRIGGER)

EVFILT = {"read": EVFILT_READ, "write": EVFILT_WRITE, "timer": EVFILT_TIMER, "user": EVFILT_USER}
READ, WRITE = EVFILT_READ, EVFILT_WRITE

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

# The start of a writer's child script (python3 -c CHILD + BODY Q): c and e
# are the queue files of queue directory Q.
CHILD = "from kq import *\nc, e = queue_files(sys.argv[1])\n"


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
    blob = read_when_ready(e, 32 * 256, timeout)
    return [] if blob is None else [Ev(*r) for r in unpack_all(blob)]


def read_to_eof(c, e, sock, peer, payload, what, all_at_once=True):
    """READ on socket sock, registered through change handle c: nothing on
    events handle e until peer sends payload, then an event on sock with
    data = its length (the first one, if all_at_once) and no EV_EOF; once
    peer closes (what), EV_EOF with that data and fflags 0."""
    n = len(payload)
    assert change(c, "%d read add" % sock.fileno()) > 0
    quiet(e)
    peer.sendall(payload)
    ev = expect_event(e, lambda ev: ev.ident == sock.fileno() and (all_at_once or ev.data == n),
                      "no event with the %d bytes" % n)
    assert (ev.filter, ev.data, ev.flags & EV_EOF) == (READ, n, 0), ev
    peer.close()
    ev = expect_event(e, lambda ev: ev.flags & EV_EOF, "no EV_EOF after " + what)
    assert (ev.ident, ev.data, ev.fflags) == (sock.fileno(), n, 0), ev


def read_when_ready(fd, size, timeout):
    """One read of non-blocking events handle fd once poll says it is
    readable and a record is there, or None if none comes within timeout."""
    deadline = time.monotonic() + timeout
    p = select.poll()
    p.register(fd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        p.poll(max(1, int(left * 1000)))
        try:
            return os.read(fd, size)
        except BlockingIOError:
            time.sleep(0.01)  # a stale knote: readiness without an event


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


EVENTS_FILES = ("events", "events.json", "events.bin")


def each_events_file(q, body, flags=os.O_RDONLY):
    """body(n, name, fd) for n = 1, 2, 3 and each events file name of queue
    directory q, open (flags) on fd, closed after; then prints "ok"."""
    for n, name in enumerate(EVENTS_FILES, 1):
        fd = os.open(os.path.join(q, name), flags)
        body(n, name, fd)
        os.close(fd)
    print("ok")


def timer_then(q, n, ms, wait):
    """Adds a oneshot timer n of ms milliseconds on queue directory q, then
    calls wait(): its result and the seconds it took."""
    write_changes(q, f"{n} timer add|oneshot 0 {ms}\n")
    start = time.monotonic()
    got = wait()
    return got, time.monotonic() - start


def check_eagain(fd, name):
    """A read of fd (events file name) fails with EAGAIN."""
    try:
        os.read(fd, 4096)
        raise AssertionError(f"{name}: read succeeded with nothing pending")
    except OSError as e:
        assert e.errno == errno.EAGAIN, (name, errname(e.errno))


def raising_on(signum, name):
    """Installs a handler of signal signum that raises a new exception
    class called name; that class."""
    exc = type(name, (Exception,), {})

    def handler(signum, frame):
        raise exc()
    signal.signal(signum, handler)
    return exc


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


def pipe_at(to):
    """A pipe (r, w) with its read end renumbered to `to` (moved)."""
    r, w = os.pipe()
    return moved(r, to), w


def tcp_connection():
    """Both ends of a TCP connection on 127.0.0.1: (client, server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


# ------------------------------- text events and processes (filter suites)

class Event(collections.namedtuple("Event", "ident filter flags fflags data udata line")):
    @property
    def rest(self):
        """The record without its ident (pids and fds vary)."""
        return self.line.split(" ", 1)[1]


def names(field):
    return set() if field == "0" else set(field.split("|"))


def parse(text):
    f = text.split()
    assert len(f) == 6 and text.endswith("\n"), "not one text event record: %r" % text
    return Event(int(f[0]), f[1], names(f[2]), names(f[3]), int(f[4]), int(f[5]),
                 text.rstrip("\n"))


def check(condition, message):
    if not condition:
        raise AssertionError(message)


class Queue:
    """Queue directory q: a changes handle, and a non-blocking events handle
    (text, one record per read) waited on with poll."""

    def __init__(self, q):
        self.q = q
        self.c = os.open(q + "/changes", os.O_WRONLY)
        self.e = os.open(q + "/events", os.O_RDONLY | os.O_NONBLOCK)
        self.seen = []

    def change(self, line):
        """One write(2) of one text change line: the byte count, or the errno name."""
        return write_outcome(self.c, (line + "\n").encode())

    def add(self, line):
        """A change that must be applied whole."""
        r = self.change(line)
        check(r == len(line) + 1, "change %r: %s (last-error: %s)" % (
            line, r, self.status().get("last-error")))

    def next(self, timeout):
        """The next event within timeout seconds, or None."""
        chunk = read_when_ready(self.e, 4096, timeout)
        if chunk is None:
            return None
        ev = parse(chunk.decode())
        self.seen.append(ev)
        return ev

    def expect(self, pred, what, timeout=10.0):
        """The first event satisfying pred within timeout (others are kept in
        self.seen); fails naming `what`."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next(deadline - time.monotonic())
            if ev is None:
                raise AssertionError("no event %s within %ss; seen: %s" % (
                    what, timeout, [e.line for e in self.seen]))
            if pred(ev):
                return ev

    def one(self, what, timeout=10.0):
        """The next event, which must come within timeout."""
        return self.expect(lambda ev: True, what, timeout)

    def show(self, ident, what, *label, timeout=10.0):
        """Prints label and the next event (what), which must be on ident,
        without its ident."""
        ev = self.one(what, timeout)
        check(ev.ident == ident, ev.line)
        print(*label, ev.rest)
        return ev

    def quiet(self, timeout=0.3):
        """Nothing is delivered within timeout."""
        ev = self.next(timeout)
        check(ev is None, "unexpected event: %s" % (ev and ev.line))

    def status(self):
        return status(self.q)

    def wait_status(self, field, value, timeout=10.0):
        wait_status(self.q, field, value, timeout)


_gates = []     # every Gate made, so that children close their write ends
_children = []  # every child forked, killed at exit if still there


class Gate:
    """A pipe children block on until the parent opens it (closes its end)."""

    def __init__(self):
        self.r, self.w = os.pipe()
        _gates.append(self)

    def wait(self):  # in a child
        os.read(self.r, 1)

    def open(self):  # in the writer
        os.close(self.w)


def child(body):
    """Forks a child running body() (it exits 0 if body returns); its pid.
    The child holds no gate's write end, so gates open when the writer
    opens them or dies."""
    pid = os.fork()
    if pid == 0:
        try:
            for gate in _gates:
                try:
                    os.close(gate.w)
                except OSError:
                    pass
            body()
        finally:
            os._exit(0)
    _children.append(pid)
    return pid


@atexit.register
def _no_orphans():
    # A failed test must not leave children holding bats' output pipe.
    for pid in _children:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                os.kill(pid, signal.SIGKILL)
        except ChildProcessError:
            pass


def gated_child(body):
    """A child that runs body() once release() is called: (pid, release)."""
    gate = Gate()

    def run():
        gate.wait()
        body()

    pid = child(run)
    return pid, gate.open


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state first)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rpartition(")")[2].split()


def show_held(q, hold, body, kevent, note):
    """On Queue q, watches "PID KEVENT" of a gated_child(body) that waits on
    Gate hold: nothing before it is released, then prints the event note
    (on PID); once hold opens, prints "then:" and its NOTE_EXIT; reaps it."""
    pid, release = gated_child(body)
    q.add(f"{pid} {kevent}")
    q.quiet()
    release()
    q.show(pid, note)
    hold.open()
    print("then:", q.one("NOTE_EXIT").rest)
    os.waitpid(pid, 0)


def parent_of(pid):
    return int(_stat_fields(pid)[1])


def state_of(pid):
    try:
        return _stat_fields(pid)[0]
    except FileNotFoundError:
        return None


def sh(command):
    """A shell command that must succeed (done by another process)."""
    subprocess.run(["sh", "-c", command], check=True)


def open_flags(names):
    """The os.O_ flags named in names, as "RDONLY|DIRECTORY"."""
    flags = 0
    for name in names.split("|"):
        flags |= getattr(os, "O_" + name)
    return flags


def watch_steps(q, path, flags, kevent, *steps):
    """The writer of a vnode watch: opens path (open_flags(flags), mode 0o644
    if it creates), adds "FD vnode add|clear KEVENT" on queue directory q,
    then runs each step (Python, with q and fd in scope) and prints "N: "
    and the next event without its ident, which must be fd. (q, fd)."""
    queue = Queue(q)
    fd = os.open(path, open_flags(flags), 0o644)
    queue.add(f"{fd} vnode add|clear {kevent}")
    scope = dict(globals(), q=queue, fd=fd)
    for n, step in enumerate(steps, 1):
        exec(step, scope)
        ev = queue.one(f"after step {n}: {step}")
        check(ev.ident == fd, ev.line)
        print(f"{n}: {ev.rest}")
    return queue, fd
