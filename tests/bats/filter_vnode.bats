#!/usr/bin/env bats
# EVFILT_VNODE through the mount (docs/design.md#filters,
# docs/semantics.md#evfilt_vnode): each note, directories, knote lifetime.
#
# Descriptor idents and signal knotes belong to the process that WROTE the
# change record, so each test's writer is one python3 that writes the
# record and does what is watched (or the test's own shell, with builtins
# only: echo, kill, exec), with the helpers of tests/support/kq.py.

load mount_helpers
one_kqfsd_per_file -o allow_other

setup() {
  kqfs_setup
  cd "$BATS_TEST_TMPDIR"
}

# =============================================================== EVFILT_VNODE

@test "vnode: NOTE_DELETE when the watched file is unlinked while still open" {
  local q
  q=$(new_queue)
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" "$(kqfsd_pid)" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  wait_status "$q" knotes.vnode 0
}

# A file cannot be held weakly (epoll refuses it), so its knote knows it by
# inode and access mode: a reopen for writing under the same number is a
# new file. (A reopen with the same mode at once is the documented limit,
# not tested: docs/semantics.md.)
@test "vnode and read: closing a file and reopening it for writing under the same number drops the knotes" {
  local q
  q=$(new_queue)
  echo start >f
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  py_timeout 60 - "$q" <<'EOF'
from kq import *
q = Queue(sys.argv[1])
fd = os.open("f", os.O_RDONLY)
q.add(f"{fd} vnode add|clear write|extend|attrib|delete 0 1")
EOF
  wait_status "$q" knotes.vnode 0
  echo more >>f
  chmod 600 f
  rm f
  no_event "$q"
}

@test "vnode: a pipe or a socket is EINVAL, a descriptor the writer lacks is EBADF" {
  local q
  q=$(new_queue)
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
  run py_timeout 60 - "$q" <<'EOF'
from kq import *
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
