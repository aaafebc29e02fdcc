#!/usr/bin/env bats
# EVFILT_VNODE, EVFILT_PROC and EVFILT_SIGNAL through the mount (docs/design.md#filters,
# docs/semantics.md#evfilt_vnode, #evfilt_proc, #evfilt_signal).
#
# Descriptor idents (vnode) and signal knotes belong to the process that
# WROTE the change record, so each test's writer is one python3 that writes
# the record and does what is watched (or the test's own shell, with
# builtins only: echo, kill, exec). Its helpers (fk.py) are generated into
# $BATS_FILE_TMPDIR by setup_file.
#
# The EVFILT_SIGNAL tests need root ("(root)" in their names): the suite
# runs as root, as CI does. The mount has -o allow_other so that the test
# marked "(setpriv 65534)" can act as uid/gid 65534.

setup_file() {
  load mount_helpers
  start_kqfsd -o allow_other
  write_fk_module "$BATS_FILE_TMPDIR/fk.py"
}

teardown_file() {
  load mount_helpers
  stop_kqfsd
}

setup() {
  load mount_helpers
  cd "$BATS_TEST_TMPDIR"
}

# Resumes the daemon (one test pauses it with SIGSTOP) and kills the
# processes a test started outside its python writer (by pid file).
teardown() {
  local file pid
  pid=$(daemon_pid)
  [ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null
  for file in "$BATS_TEST_TMPDIR"/*.pid; do
    [ -s "$file" ] && kill -KILL "$(cat "$file")" 2>/dev/null
  done
  return 0
}

# fpy [ARGS...] <SCRIPT: python3 runs SCRIPT (from stdin) with fk.py
# importable, killed after 60 s.
fpy() {
  PYTHONPATH="$BATS_FILE_TMPDIR" timeout -k 3 60 python3 - "$@"
}

# status_becomes Q FIELD VALUE: waits up to 10 s for a status field.
status_becomes() {
  local i
  for ((i = 0; i < 200; i++)); do
    [ "$(status_field "$1" "$2")" = "$3" ] && return 0
    sleep 0.05
  done
  echo "status $2 never became $3:" >&2
  cat "$1/status" >&2
  return 1
}

# no_event Q: nothing is delivered within 0.5 s.
no_event() {
  run timeout 0.5 head -n1 "$1/events"
  assert_failure 124
  assert_output ""
}

# wait_for_pidfile FILE: waits up to 10 s for a process to write its pid.
wait_for_pidfile() {
  local i
  for ((i = 0; i < 200; i++)); do
    grep -qx '[0-9][0-9]*' "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no pid in $1" >&2
  return 1
}

daemon_pid() {
  pgrep -f "kqfsd --log $KQFS_LOG" | head -n1
}

write_fk_module() {
  cat >"$1" <<'EOF'
"""Helpers for tests/bats/filters.bats (written by its setup_file).
`from fk import *` also brings os, sys, signal, subprocess, threading, time."""
import atexit
import collections
import errno
import os
import select
import signal
import subprocess
import sys
import threading
import time


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
        data = (line + "\n").encode()
        try:
            return os.write(self.c, data)
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))

    def add(self, line):
        """A change that must be applied whole."""
        r = self.change(line)
        check(r == len(line) + 1, "change %r: %s (last-error: %s)" % (
            line, r, self.status().get("last-error")))

    def next(self, timeout):
        """The next event within timeout seconds, or None."""
        deadline = time.monotonic() + timeout
        p = select.poll()
        p.register(self.e, select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            p.poll(max(1, int(left * 1000)))
            try:
                chunk = os.read(self.e, 4096)
            except BlockingIOError:
                time.sleep(0.01)  # readiness without an event
                continue
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

    def quiet(self, timeout=0.3):
        """Nothing is delivered within timeout."""
        ev = self.next(timeout)
        check(ev is None, "unexpected event: %s" % (ev and ev.line))

    def status(self):
        fields = {}
        with open(self.q + "/status") as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition(": ")
                fields[key] = value
        return fields

    def wait_status(self, field, value, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            s = self.status()
            if s.get(field) == str(value):
                return
            if time.monotonic() > deadline:
                raise AssertionError("status %s never became %s: %s" % (field, value, s))
            time.sleep(0.05)


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


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rpartition(")")[2].split()[1])


def state_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return None


def sh(command):
    """A shell command that must succeed (done by another process)."""
    subprocess.run(["sh", "-c", command], check=True)
EOF
}

# =============================================================== EVFILT_VNODE

@test "vnode: NOTE_DELETE when the watched file is unlinked while still open" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDWR | os.O_CREAT, 0o644)
q.add(f"{fd} vnode add|clear delete|write|attrib|link 0 1")
q.quiet()
sh("rm f")
ev = q.one("after rm")
check(ev.ident == fd, ev.line)
print(ev.rest)
print("links now", os.fstat(fd).st_nlink)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_DELETE 0 1"
  assert_line "links now 0"
}

@test "vnode: NOTE_WRITE for a write within the file (no NOTE_EXTEND)" {
  local q
  q=$(new_queue)
  echo "hello world" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDWR)
q.add(f"{fd} vnode add|clear write|extend 0 2")
q.quiet()
os.pwrite(fd, b"HELLO", 0)
print(q.one("after pwrite").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE 0 2"
}

@test "vnode: NOTE_EXTEND when a write grows the file" {
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear extend 0 3")
sh("echo more >> f")
print(q.one("after the append").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_EXTEND 0 3"
}

@test "vnode: NOTE_ATTRIB on chmod and on touch" {
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear attrib|write|link 0 4")
sh("chmod 600 f")
print("chmod:", q.one("after chmod").rest)
q.quiet()
sh("touch -d '2001-01-01' f")
print("touch:", q.one("after touch").rest)
EOF
  assert_success
  assert_line "chmod: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_ATTRIB 0 4"
  assert_line "touch: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_ATTRIB 0 4"
}

@test "vnode: NOTE_LINK when ln gives the file another name" {
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear link|attrib|delete|write 0 5")
sh("ln f g")
print(q.one("after ln").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_LINK 0 5"
}

@test "vnode: NOTE_RENAME when mv renames the file, in its directory and into another" {
  local q
  q=$(new_queue)
  echo "hello" >f
  mkdir sub
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear rename|delete|write|attrib|link 0 6")
sh("mv f g")
print("same dir:", q.one("after mv f g").rest)
q.quiet()
sh("mv g sub/h")
print("other dir:", q.one("after mv g sub/h").rest)
EOF
  assert_success
  assert_line "same dir: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_RENAME 0 6"
  assert_line "other dir: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_RENAME 0 6"
}

@test "vnode: a file replaced by mv onto its name gets NOTE_DELETE" {
  local q
  q=$(new_queue)
  echo "old" >f
  echo "new" >g
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear delete|rename|write|attrib 0 7")
sh("mv g f")
print(q.one("after mv g f").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_DELETE 0 7"
}

@test "vnode: NOTE_OPEN when the file is opened (registering is not an open)" {
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear open 0 8")
q.quiet()
sh("cat f > /dev/null")
print(q.one("after cat").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_OPEN 0 8"
}

@test "vnode: NOTE_CLOSE when a read-only descriptor of the file is closed" {
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear close|close_write 0 9")
other = os.open("f", os.O_RDONLY)
q.quiet()
os.close(other)
print(q.one("after close").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_CLOSE 0 9"
}

@test "vnode: NOTE_CLOSE_WRITE when a writable descriptor of the file is closed" {
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear close|close_write 0 10")
sh(": >> f")
print(q.one("after : >> f").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_CLOSE_WRITE 0 10"
}

@test "vnode: NOTE_READ when the file is read" {
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear read 0 11")
q.quiet()
check(os.read(fd, 3) == b"hel", "read")
print(q.one("after read").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_READ 0 11"
}

@test "vnode: fflags are what happened since the last delivery (only bits asked for), data 0" {
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDWR)
q.add(f"{fd} vnode add|clear write|attrib 0 12")
os.write(fd, b"hello, world\n")  # NOTE_WRITE, and NOTE_EXTEND (not asked for)
os.fchmod(fd, 0o640)             # NOTE_ATTRIB
os.rename("f", "g")              # NOTE_RENAME (not asked for)
time.sleep(0.3)
print("batch:", q.one("after write, chmod, rename").rest)
q.quiet()                        # EV_CLEAR: all of it was reported
os.pwrite(fd, b"J", 0)
print("next:", q.one("after pwrite").rest)
EOF
  assert_success
  assert_line "batch: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE|NOTE_ATTRIB 0 12"
  assert_line "next: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE 0 12"
}

@test "vnode: notes that inotify reports alike (chmod then ln) all reach the next delivery" {
  # chmod and link(2) and unlink(2) all give IN_ATTRIB, and inotify merges
  # identical events queued back to back: while the daemon lags (paused
  # with SIGSTOP here, as on a loaded machine) each note must still count.
  # A link made and removed within one merge leaves nothing to read off the
  # inode, so that case is a documented limit (docs/semantics.md).
  local q
  q=$(new_queue)
  echo "hello" >f
  run fpy "$q" "$(daemon_pid)" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
daemon = int(sys.argv[2])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear attrib|link|delete 0 13")

def while_paused(*actions):
    os.kill(daemon, signal.SIGSTOP)
    try:
        for action in actions:
            action()
    finally:
        os.kill(daemon, signal.SIGCONT)
    time.sleep(0.3)
    seen = set()
    ev = q.one("after the changes")
    while ev is not None:  # in one delivery or several
        seen |= ev.fflags
        ev = q.next(0.5)
    return "|".join(sorted(seen))

print("chmod, ln:", while_paused(lambda: os.chmod("f", 0o600), lambda: os.link("f", "g")))
print("ln, chmod:", while_paused(lambda: os.link("f", "h"), lambda: os.chmod("f", 0o640)))
EOF
  assert_success
  assert_line "chmod, ln: NOTE_ATTRIB|NOTE_LINK"
  assert_line "ln, chmod: NOTE_ATTRIB|NOTE_LINK"
}

@test "vnode: text output names the notes (5 EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE|NOTE_EXTEND 0 1)" {
  # The test's shell is the writer: echo and exec are builtins.
  local q
  q=$(new_queue)
  : >f
  exec 5>>f
  echo "5 vnode add|clear write|extend 0 1" >"$q/changes"
  echo more >&5
  run timeout 10 head -n1 "$q/events"
  exec 5>&-
  assert_success
  assert_output "5 EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE|NOTE_EXTEND 0 1"
}

@test "vnode: a directory gets NOTE_WRITE when entries come and go (files: no NOTE_LINK)" {
  local q
  q=$(new_queue)
  mkdir d
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("d", os.O_RDONLY | os.O_DIRECTORY)
q.add(f"{fd} vnode add|clear write|link|extend 0 14")
sh("touch d/a")
print("create:", q.one("after touch d/a").rest)
sh("ln -s a d/s")
print("symlink:", q.one("after ln -s").rest)
sh("rm d/a")
print("remove:", q.one("after rm d/a").rest)
EOF
  assert_success
  assert_line "create: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE 0 14"
  assert_line "symlink: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE 0 14"
  assert_line "remove: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE 0 14"
}

@test "vnode: a directory gets NOTE_LINK when subdirectories come and go" {
  local q
  q=$(new_queue)
  mkdir d
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("d", os.O_RDONLY | os.O_DIRECTORY)
q.add(f"{fd} vnode add|clear write|link|extend 0 15")
sh("mkdir d/sub")
print("mkdir:", q.one("after mkdir").rest)
sh("rmdir d/sub")
print("rmdir:", q.one("after rmdir").rest)
EOF
  assert_success
  assert_line "mkdir: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE|NOTE_LINK 0 15"
  assert_line "rmdir: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE|NOTE_LINK 0 15"
}

@test "vnode: a directory gets NOTE_EXTEND on renames into or out of it, not within it" {
  local q
  q=$(new_queue)
  mkdir d other
  touch other/f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("d", os.O_RDONLY | os.O_DIRECTORY)
q.add(f"{fd} vnode add|clear write|extend 0 16")
sh("mv other/f d/f")
print("in:", q.one("after mv in").rest)
sh("mv d/f d/g")
print("within:", q.one("after mv within").rest)
sh("mv d/g other/g")
print("out:", q.one("after mv out").rest)
EOF
  assert_success
  assert_line "in: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE|NOTE_EXTEND 0 16"
  assert_line "within: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE 0 16"
  assert_line "out: EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE|NOTE_EXTEND 0 16"
}

@test "vnode: rmdir of a watched directory that is still open gives NOTE_DELETE" {
  local q
  q=$(new_queue)
  mkdir d
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("d", os.O_RDONLY | os.O_DIRECTORY)
q.add(f"{fd} vnode add|clear delete|write|rename 0 17")
q.quiet()
sh("rmdir d")
print(q.one("after rmdir").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_DELETE 0 17"
}

@test "vnode: the knote goes when the writer closes the descriptor" {
  # The test's shell is the writer (builtins only).
  local q
  q=$(new_queue)
  : >f
  exec 5>>f
  echo "5 vnode add|clear write|extend 0 1" >"$q/changes"
  assert_equal "$(status_field "$q" knotes.vnode)" 1
  exec 5>&-
  echo more >>f
  no_event "$q"
  status_becomes "$q" knotes.vnode 0
}

# A file cannot be held weakly (epoll refuses it), so its knote knows it by
# inode and access mode: a reopen for writing under the same number is a
# new file. (A reopen with the same mode at once is the documented limit,
# not tested: docs/semantics.md.)
@test "vnode and read: closing a file and reopening it for writing under the same number drops the knotes" {
  local q
  q=$(new_queue)
  echo start >f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear write|extend 0 1")
os.lseek(fd, 0, os.SEEK_END)
q.add(f"{fd} read add|clear 0 0 2")
q.quiet()
os.close(fd)
again = os.open("f", os.O_WRONLY | os.O_APPEND)
assert again == fd, (again, fd)
os.write(again, b"more\n")
q.quiet()
print("knotes:", q.status()["knotes"])
EOF
  assert_success
  assert_line "knotes: 0"
}

@test "vnode: the knote goes when the writer exits" {
  local q
  q=$(new_queue)
  : >f
  fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear write|extend|attrib|delete 0 1")
EOF
  status_becomes "$q" knotes.vnode 0
  echo more >>f
  chmod 600 f
  rm f
  no_event "$q"
}

@test "vnode: a pipe or a socket is EINVAL, a descriptor the writer lacks is EBADF" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
import socket
q = Queue(sys.argv[1])
r, w = os.pipe()
a, b = socket.socketpair()
print("pipe:", q.change(f"{r} vnode add|clear write"))
print("socket:", q.change(f"{a.fileno()} vnode add|clear write"))
print("not open:", q.change("999 vnode add|clear write"))
os.mkfifo("fifo")
fifo = os.open("fifo", os.O_RDONLY | os.O_NONBLOCK)
print("named fifo:", q.change(f"{fifo} vnode add|clear attrib") == len(f"{fifo} vnode add|clear attrib\n"))
print("knotes:", q.status()["knotes.vnode"])
EOF
  assert_success
  assert_line "pipe: EINVAL"
  assert_line "socket: EINVAL"
  assert_line "not open: EBADF"
  assert_line "named fifo: True"
  assert_line "knotes: 1"
}

@test "vnode: a directory is not told of writes or chmod to a file inside it" {
  local q
  q=$(new_queue)
  mkdir d
  echo "hello" >d/f
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
fd = os.open("d", os.O_RDONLY | os.O_DIRECTORY)
q.add(f"{fd} vnode add|clear write|extend|attrib|link|delete|rename 0 18")
sh("echo more >> d/f; chmod 600 d/f; cat d/f > /dev/null")
q.quiet(0.5)
sh("touch d/new")
print(q.one("after touch d/new").rest)
EOF
  assert_success
  assert_line "EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE 0 18"
}

# ================================================================ EVFILT_PROC

@test "proc: NOTE_EXIT for a child of the writer, data = wait status (exit 3 -> 768)" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
pid, release = gated_child(lambda: os._exit(3))
q.add(f"{pid} proc add exit 0 20")
release()
ev = q.one("NOTE_EXIT")
check(ev.ident == pid, ev.line)
print(ev.rest)
print("wait:", os.waitpid(pid, 0)[1])
EOF
  assert_success
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 20$'
  assert_line "wait: 768"
}

@test "proc: NOTE_EXIT for a process that is no child of the writer nor of the daemon (setsid)" {
  local q
  q=$(new_queue)
  setsid -f bash -c 'echo $$ > other.pid; until [ -e go ]; do sleep 0.05; done; exit 3' \
    </dev/null >/dev/null 2>&1
  wait_for_pidfile other.pid
  run fpy "$q" "$(daemon_pid)" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
pid = int(open("other.pid").read())
parent = parent_of(pid)
print("a child of the writer:", parent == os.getpid())
print("a child of the daemon:", parent == int(sys.argv[2]))
q.add(f"{pid} proc add exit 0 21")
open("go", "w").close()
ev = q.one("NOTE_EXIT")
check(ev.ident == pid, ev.line)
print(ev.rest)
EOF
  assert_success
  assert_line "a child of the writer: False"
  assert_line "a child of the daemon: False"
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 21$'
}

@test "proc: NOTE_EXIT for a grandchild of the writer, its parent gone" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
gate = Gate()
report_r, report_w = os.pipe()
def middle():
    def grandchild():
        gate.wait()
        os._exit(3)
    os.write(report_w, b"%d" % child(grandchild))
middle_pid = child(middle)
os.close(gate.r)
os.waitpid(middle_pid, 0)
pid = int(os.read(report_r, 32))
print("a child of the writer:", parent_of(pid) == os.getpid())
q.add(f"{pid} proc add exit 0 22")
gate.open()
ev = q.one("NOTE_EXIT")
check(ev.ident == pid, ev.line)
print(ev.rest)
EOF
  assert_success
  assert_line "a child of the writer: False"
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 22$'
}

@test "proc: NOTE_EXIT of a process killed by SIGKILL has data 9" {
  local q
  q=$(new_queue)
  setsid -f bash -c 'echo $$ > sleeper.pid; exec sleep 60' </dev/null >/dev/null 2>&1
  wait_for_pidfile sleeper.pid
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
pid = int(open("sleeper.pid").read())
q.add(f"{pid} proc add exit 0 23")
os.kill(pid, signal.SIGKILL)
ev = q.one("NOTE_EXIT")
check(ev.ident == pid, ev.line)
print(ev.rest)
EOF
  assert_success
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 9 23$'
}

@test "proc: NOTE_EXIT carries EV_EOF and the knote is gone after its delivery" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
pid, release = gated_child(lambda: None)
q.add(f"{pid} proc add exit")
print("knotes before:", q.status()["knotes.proc"])
release()
ev = q.one("NOTE_EXIT")
print("EV_EOF:", "EV_EOF" in ev.flags, "data:", ev.data)
print("knotes after:", q.status()["knotes.proc"])
q.quiet()
os.waitpid(pid, 0)
EOF
  assert_success
  assert_line "knotes before: 1"
  assert_line "EV_EOF: True data: 0"
  assert_line "knotes after: 0"
}

@test "proc: ESRCH for a pid that does not exist (99999999 proc add exit)" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
print("outcome:", q.change("99999999 proc add exit"))
print("knotes:", q.status()["knotes"])
print("explained:", q.status()["last-error"] != "none")
EOF
  assert_success
  assert_line "outcome: ESRCH"
  assert_line "knotes: 0"
  assert_line "explained: True"
  # The same from the shell.
  run bash -c 'echo "99999999 proc add exit" >"$1/changes"' _ "$q"
  assert_failure
  assert_output --partial "No such process"
}

@test "proc: ESRCH for a child that exited and was reaped" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
pid = child(lambda: None)
os.waitpid(pid, 0)
print("outcome:", q.change(f"{pid} proc add exit"))
print("knotes:", q.status()["knotes"])
EOF
  assert_success
  assert_line "outcome: ESRCH"
  assert_line "knotes: 0"
}

@test "proc: NOTE_FORK when the process forks" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
hold = Gate()
def body():
    os.waitpid(child(lambda: None), 0)
    hold.wait()
pid, release = gated_child(body)
q.add(f"{pid} proc add fork|exit 0 24")
q.quiet()
release()
ev = q.one("NOTE_FORK")
check(ev.ident == pid, ev.line)
print(ev.rest)
hold.open()
print("then:", q.one("NOTE_EXIT").rest)
os.waitpid(pid, 0)
EOF
  assert_success
  assert_line "EVFILT_PROC EV_ADD|EV_CLEAR NOTE_FORK 0 24"
  assert_line --regexp '^then: EVFILT_PROC .*EV_EOF NOTE_EXIT 0 24$'
}

@test "proc: NOTE_EXEC when the process execs" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
hold = Gate()
def body():
    os.dup2(hold.r, 0)
    os.execv("/bin/sh", ["sh", "-c", "read x; exit 6"])
pid, release = gated_child(body)
q.add(f"{pid} proc add exec|exit 0 25")
q.quiet()
release()
ev = q.one("NOTE_EXEC")
check(ev.ident == pid, ev.line)
print(ev.rest)
hold.open()
print("then:", q.one("NOTE_EXIT").rest)
os.waitpid(pid, 0)
EOF
  assert_success
  assert_line "EVFILT_PROC EV_ADD|EV_CLEAR NOTE_EXEC 0 25"
  assert_line --regexp '^then: EVFILT_PROC .*EV_EOF NOTE_EXIT 1536 25$'
}

@test "proc: NOTE_TRACK: NOTE_CHILD for the child (data = parent pid, parent's udata), then the child's own events" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
hold = Gate()
def parent():
    def kid():
        hold.wait()
        os._exit(5)
    os.waitpid(child(kid), 0)
pid, release = gated_child(parent)
q.add(f"{pid} proc add track|fork|exit 0 42")
release()
announced = q.expect(lambda ev: "NOTE_CHILD" in ev.fflags, "NOTE_CHILD")
kid = announced.ident
print("child:", announced.rest.replace(str(pid), "PARENT"))
print("a child of the tracked process:", parent_of(kid) == pid)
q.expect(lambda ev: ev.ident == pid and "NOTE_FORK" in ev.fflags, "NOTE_FORK of the parent")
print("knotes while both live:", q.status()["knotes.proc"])
hold.open()
ev = q.expect(lambda ev: ev.ident == kid, "the child's own NOTE_EXIT")
print("child's own:", ev.fflags, ev.data, ev.udata)
ev = q.expect(lambda ev: ev.ident == pid and "NOTE_EXIT" in ev.fflags, "the parent's NOTE_EXIT")
print("parent's exit:", ev.data)
q.wait_status("knotes.proc", 0)
os.waitpid(pid, 0)
EOF
  assert_success
  assert_line "child: EVFILT_PROC EV_ADD|EV_CLEAR NOTE_CHILD PARENT 42"
  assert_line "a child of the tracked process: True"
  assert_line "knotes while both live: 2"
  assert_line "child's own: {'NOTE_EXIT'} 1280 42"
  assert_line "parent's exit: 0"
}

@test "proc: NOTE_TRACK follows a fork/exec chain through a child of a child" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
script = "sleep 0.2; /bin/true; (sleep 0.1; exit 7)"
top, release = gated_child(lambda: os.execv("/bin/bash", ["bash", "-c", script]))
q.add(f"{top} proc add track|fork|exec|exit 0 9")
release()
parents = {top: None}   # tracked pid -> the pid its NOTE_CHILD named
notes = {}              # pid -> fflags seen
exits = {}              # pid -> data of its NOTE_EXIT
deadline = time.monotonic() + 20
while not (top in exits and all(p in exits for p in parents)):
    ev = q.next(deadline - time.monotonic())
    check(ev is not None, "the chain did not finish; seen: %s" % [e.line for e in q.seen])
    check(ev.udata == 9, "udata: " + ev.line)
    if "NOTE_CHILD" in ev.fflags:
        check(ev.data in parents, "NOTE_CHILD names an untracked parent: " + ev.line)
        parents[ev.ident] = ev.data
    check(ev.ident in parents, "an event for an untracked pid: " + ev.line)
    notes.setdefault(ev.ident, set()).update(ev.fflags)
    if "NOTE_EXIT" in ev.fflags:
        exits[ev.ident] = ev.data
children = [p for p, parent in parents.items() if parent == top]
grandchildren = [p for p, parent in parents.items() if parent in children]
print("top:", "|".join(sorted(notes[top])), exits[top])
print("children:", len(children), "grandchildren:", len(grandchildren))
print("children that exec'd:", sum("NOTE_EXEC" in notes[p] for p in children))
print("exit 7 of the subshell:", [exits[p] for p in children if p in exits and "NOTE_FORK" in notes[p]])
print("grandchild:", "|".join(sorted(notes[grandchildren[0]])) if grandchildren else None,
      exits.get(grandchildren[0]) if grandchildren else None)
q.wait_status("knotes.proc", 0)
print("knotes at the end: 0")
os.waitpid(top, 0)
EOF
  assert_success
  assert_line "top: NOTE_EXEC|NOTE_EXIT|NOTE_FORK 1792"
  assert_line "children: 3 grandchildren: 1"
  assert_line "children that exec'd: 2"
  assert_line "exit 7 of the subshell: [1792]"
  assert_line "grandchild: NOTE_CHILD|NOTE_EXEC|NOTE_EXIT 0"
  assert_line "knotes at the end: 0"
}

@test "proc: threads are not processes: a new thread gives no NOTE_FORK or NOTE_CHILD" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
hold = Gate()
done_r, done_w = os.pipe()
def body():
    threads = [threading.Thread(target=time.sleep, args=(0.1,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(done_w, b"x")
    hold.wait()
pid, release = gated_child(body)
q.add(f"{pid} proc add track|fork|exec|exit 0 27")
release()
os.read(done_r, 1)  # three threads came and went
q.quiet(0.5)
print("knotes:", q.status()["knotes.proc"])
hold.open()
print(q.one("NOTE_EXIT").rest)
os.waitpid(pid, 0)
EOF
  assert_success
  assert_line "knotes: 1"
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 0 27$'
}

@test "proc: NOTE_EXIT waits for the whole process when its main thread exits first" {
  # The main thread calls pthread_exit(); another thread exits the process
  # with status 5 later. Linux reports the main thread's end as an exit of
  # pid == tgid: that is not yet the process's exit.
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
import ctypes
q = Queue(sys.argv[1])
hold = Gate()
def body():
    def last():
        hold.wait()
        os._exit(5)
    threading.Thread(target=last).start()
    ctypes.CDLL(None).pthread_exit(None)
pid, release = gated_child(body)
q.add(f"{pid} proc add exit 0 28")
release()
deadline = time.monotonic() + 10
while state_of(pid) != "Z":  # the main thread is gone, the other one lives
    check(time.monotonic() < deadline, "the main thread never ended")
    time.sleep(0.02)
early = q.next(0.5)
print("while a thread lives:", early and early.rest)
hold.open()
if early is None:
    print("exit:", q.one("NOTE_EXIT").rest)
print("wait:", os.waitpid(pid, 0)[1])
EOF
  assert_success
  assert_line "while a thread lives: None"
  assert_line --regexp '^exit: EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 1280 28$'
  assert_line "wait: 1280"
}

@test "proc: NOTE_EXIT of a zombie fires at once, with its status" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
pid = child(lambda: os._exit(4))
deadline = time.monotonic() + 10
while state_of(pid) != "Z":
    check(time.monotonic() < deadline, "the child never became a zombie")
    time.sleep(0.02)
q.add(f"{pid} proc add exit 0 26")
ev = q.one("NOTE_EXIT of the zombie", timeout=5)
check(ev.ident == pid, ev.line)
print(ev.rest)
print("knotes:", q.status()["knotes.proc"])
print("wait:", os.waitpid(pid, 0)[1])
EOF
  assert_success
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 1024 26$'
  assert_line "knotes: 0"
  assert_line "wait: 1024"
}

# ============================================================== EVFILT_SIGNAL
# These need root: kqfsd traces signals with perf (signal:signal_generate).

@test "signal (root): the ident is a signal name (SIGUSR1, USR2, SIGRTMIN+1) or number (28)" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
for s in (signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(s, signal.SIG_IGN)
q.add("SIGUSR1 signal add")
q.add("USR2 signal add")
q.add("28 signal add")           # SIGWINCH
q.add("SIGRTMIN+1 signal add")   # 35 on Linux
q.add("sigusr1 signal add 0 0 5")  # the same knote, now with udata 5
print("knotes:", q.status()["knotes.signal"])
signal.signal(signal.SIGRTMIN + 1, signal.SIG_IGN)
for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGRTMIN + 1):
    os.kill(os.getpid(), s)
    print(q.one("signal %d" % s).line)
EOF
  assert_success
  assert_line "knotes: 4"
  assert_line "10 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 5"
  assert_line "12 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
  assert_line "28 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
  assert_line "35 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
}

@test "signal (root): a caught signal is counted and the handler still runs" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
caught = []
signal.signal(signal.SIGUSR1, lambda *_: caught.append(1))
q.add("SIGUSR1 signal add")
os.kill(os.getpid(), signal.SIGUSR1)
time.sleep(0.1)
os.kill(os.getpid(), signal.SIGUSR1)
ev = q.one("the caught signals")
if ev.data < 2:
    ev2 = q.next(1)
    ev = ev._replace(data=ev.data + (ev2.data if ev2 else 0))
print("counted:", ev.data)
print("handler ran:", len(caught))
EOF
  assert_success
  assert_line "counted: 2"
  assert_line "handler ran: 2"
}

@test "signal (root): an ignored signal (SIG_IGN) is counted" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
q.add("SIGUSR2 signal add")
sh(f"kill -USR2 {os.getpid()}")
print(q.one("the ignored signal").rest)
print("still ignored:", signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN)
EOF
  assert_success
  assert_line "EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
  assert_line "still ignored: True"
}

@test "signal (root): a blocked signal sent 3 times is counted 3 times (data 3) and stays pending" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
q.add("SIGUSR1 signal add")
for _ in range(3):
    os.kill(os.getpid(), signal.SIGUSR1)
time.sleep(0.3)
print(q.one("the blocked signals").rest)
print("pending:", signal.SIGUSR1 in signal.sigpending())
EOF
  assert_success
  assert_line "EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 3 0"
  assert_line "pending: True"
}

@test "signal (root): data is the count since the last delivery (2, then 5 sent by kill)" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
q.add("SIGUSR1 signal add 0 0 30")
for _ in range(2):
    os.kill(os.getpid(), signal.SIGUSR1)
time.sleep(0.3)
print("first:", q.one("two signals").rest)
sh("for i in 1 2 3 4 5; do kill -USR1 %d; done" % os.getpid())
time.sleep(0.3)
print("second:", q.one("five signals").rest)
EOF
  assert_success
  assert_line "first: EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 2 30"
  assert_line "second: EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 5 30"
}

@test "signal (root): EV_CLEAR is implicit: one event per batch, then quiet" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
q.add("SIGUSR1 signal add")
os.kill(os.getpid(), signal.SIGUSR1)
print(q.one("the signal").rest)
q.quiet(0.5)
print("quiet")
EOF
  assert_success
  assert_line "EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
  assert_line "quiet"
}

@test "signal (root): signals sent to another process are not counted" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
other = subprocess.Popen(["sh", "-c", "trap '' USR1; read x"], stdin=subprocess.PIPE)
time.sleep(0.3)  # its trap is set
q.add("SIGUSR1 signal add")
for _ in range(3):
    os.kill(other.pid, signal.SIGUSR1)
q.quiet(0.5)
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
os.kill(os.getpid(), signal.SIGUSR1)
print(q.one("the writer's own signal").rest)
other.stdin.close()
other.wait()
EOF
  assert_success
  assert_line "EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
}

@test "signal (root): thread-directed signals (pthread_kill) are counted" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
stop = threading.Event()
before = threading.Thread(target=stop.wait)
before.start()
q.add("SIGUSR1 signal add")
after = threading.Thread(target=stop.wait)  # born after the registration
after.start()
signal.pthread_kill(before.ident, signal.SIGUSR1)
print("thread from before:", q.one("the signal to the older thread").rest)
signal.pthread_kill(after.ident, signal.SIGUSR1)
print("thread from after:", q.one("the signal to the newer thread").rest)
stop.set()
before.join()
after.join()
EOF
  assert_success
  assert_line "thread from before: EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
  assert_line "thread from after: EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
}

@test "signal (root): a signal the kernel sends (SIGPIPE on writing to a closed pipe) is counted" {
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
q.add("SIGPIPE signal add")
r, w = os.pipe()
os.close(r)
try:
    os.write(w, b"x")  # python ignores SIGPIPE: EPIPE
except BrokenPipeError:
    pass
print(q.one("SIGPIPE").line)
EOF
  assert_success
  assert_line "13 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
}

@test "signal (root): a SIGALRM from a timer (setitimer, alarm) while the process sleeps is counted" {
  # The kernel sends it from the timer interrupt, often on an idle CPU.
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
q.add("SIGALRM signal add")
fired = []
signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
signal.setitimer(signal.ITIMER_REAL, 0.05)
time.sleep(0.5)
signal.alarm(1)
time.sleep(1.5)
print("handler ran:", len(fired))
total = 0
ev = q.next(2)
while ev is not None:
    total += ev.data
    ev = q.next(0.5)
print("counted:", total)
EOF
  assert_success
  assert_line "handler ran: 2"
  assert_line "counted: 2"
}

@test "signal (root): the knote goes when the writing process exits" {
  local q
  q=$(new_queue)
  fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
q.add("SIGUSR1 signal add")
q.add("SIGUSR2 signal add")
check(q.status()["knotes.signal"] == "2", "registered")
EOF
  status_becomes "$q" knotes.signal 0
  status_becomes "$q" knotes 0
}

@test "signal (root): text output (10 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 3 0)" {
  # The test's shell is the writer: echo, trap and kill are builtins.
  local q
  q=$(new_queue)
  trap '' USR1
  echo "SIGUSR1 signal add" >"$q/changes"
  kill -USR1 "$BASHPID"
  kill -USR1 "$BASHPID"
  kill -USR1 "$BASHPID"
  sleep 0.3
  run timeout 10 head -n1 "$q/events"
  trap - USR1
  assert_success
  assert_output "10 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 3 0"
}

@test "signal (root): a child's exit is not counted while SIGCHLD is SIG_IGN, and is at its default" {
  # FreeBSD sends no SIGCHLD at a child's exit to a parent that ignores it,
  # so records none; one left at its default (which also discards it) is.
  local q
  q=$(new_queue)
  run fpy "$q" <<'EOF'
from fk import *
q = Queue(sys.argv[1])
q.add("SIGCHLD signal add")
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
pid = child(lambda: None)
deadline = time.monotonic() + 10
while state_of(pid) is not None:  # reaped by the kernel (SIG_IGN)
    check(time.monotonic() < deadline, "the child never went")
    time.sleep(0.02)
q.quiet(0.5)
print("ignored: not counted")
signal.signal(signal.SIGCHLD, signal.SIG_DFL)
pid = child(lambda: None)
os.waitpid(pid, 0)
print("default:", q.one("SIGCHLD at its default").line)
EOF
  assert_success
  assert_line "ignored: not counted"
  assert_line "default: 17 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
}

@test "signal (setpriv 65534): an unprivileged writer gets ENOTSUP with a reason, or a knote that counts" {
  # docs/design.md#errors: without privilege, ENOTSUP and status says why; nothing
  # silently succeeds without working. The privilege that matters is the
  # daemon's (it runs as root here and traces for any writer), so success
  # is accepted too, as long as the knote really counts.
  local python=python3
  [ -x /usr/bin/python3 ] && python=/usr/bin/python3  # not root's pyenv shims
  cd "$MNT"  # the test's own temporary directory is private
  run bash -c 'cat "$1" - | setpriv --reuid=65534 --regid=65534 --clear-groups \
    timeout -k 3 60 "$2" - "$3"' _ "$BATS_FILE_TMPDIR/fk.py" "$python" "kq/nobody$BATS_TEST_NUMBER" <<'EOF'
os.mkdir(sys.argv[1])
q = Queue(sys.argv[1])
print("uid:", os.getuid())
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
outcome = q.change("SIGUSR1 signal add")
if outcome == "ENOTSUP":
    print("ENOTSUP, explained:", q.status()["last-error"] != "none")
    print(q.status()["last-error"], file=sys.stderr)
else:
    check(outcome == len("SIGUSR1 signal add\n"), "outcome: %s" % outcome)
    for _ in range(2):
        os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.3)
    print("registered; counts:", q.one("the signals").data)
EOF
  assert_success
  assert_line "uid: 65534"
  assert_line --regexp '^(ENOTSUP, explained: True|registered; counts: 2)$'
}
