#!/usr/bin/env bats
# EVFILT_READ / EVFILT_WRITE on descriptors of the process that wrote the
# change record, and BSD descriptor lifetime (docs/design.md#the-engine,
# docs/design.md#filters, docs/semantics.md#descriptor-lifetime-the-bsd-rule-which-libkqueue-lacks), through the mount with
# real processes: python3 for exact system calls, bash for what a shell user
# does.

load mount_helpers
one_kqfsd_per_file

export KQCTL  # the scripts these tests run call it too

# fifo_bash SCRIPT: under `run`, a child bash (bats itself uses fd 3) killed
# after 30 s runs SCRIPT with q, a new queue, and fifo, a new fifo open
# read-write on fd 3.
fifo_bash() {
  q=$(new_queue)
  fifo="$BATS_TEST_TMPDIR/fifo"
  mkfifo "$fifo"
  run timeout -k 3 30 bash -c 'q=$1 fifo=$2
    exec 3<>"$fifo"'"$1" _ "$q" "$fifo"
}

@test "READ on a pipe from python: data = bytes written, EV_EOF when the write end closes" {
  new_queue_py 30 <<'EOF'
r, w = os.pipe()
assert change(c, "%d read add 0 0 11" % r) > 0
quiet(e)  # nothing to read yet
os.write(w, b"hello")
ev = expect_event(e, lambda ev: ev.ident == r, "no event after writing")
assert (ev.filter, ev.data, ev.udata) == (READ, 5, 11), ev
assert not ev.flags & EV_EOF, ev
os.close(w)
ev = expect_event(e, lambda ev: ev.flags & EV_EOF, "no EV_EOF after closing the write end")
assert (ev.ident, ev.filter, ev.data, ev.fflags) == (r, READ, 5, 0), ev
assert os.read(r, 10) == b"hello"
expect_event(e, lambda ev: ev.flags & EV_EOF and ev.data == 0, "EV_EOF with data 0 once drained")
EOF
}

@test "READ on a FIFO from bash: exec 3<>fifo, builtin echo registers, another process writes" {
  fifo_bash '
    echo "3 read add" > "$q/changes" || exit 10
    timeout 0.3 head -n1 "$q/events"; [ $? -eq 124 ] || exit 11   # nothing yet
    sh -c "printf abcdefg > \"\$1\"" _ "$fifo"
    timeout 5 head -n1 "$q/events"
  '
  assert_success
  assert_output "3 EVFILT_READ EV_ADD 0 7 0"
}

@test "READ on a process substitution from bash: data = bytes, EV_EOF when the writer exits" {
  q=$(new_queue)
  ctl="$BATS_TEST_TMPDIR/ctl"
  mkfifo "$ctl"
  # fd 3 is a pipe whose only writer is `cat`, fed through the fifo ctl.
  run timeout -k 3 40 bash -c '
    q=$1 ctl=$2
    exec 3< <(exec cat "$ctl")
    exec 4>"$ctl"
    echo "3 read add" > "$q/changes" || exit 10
    printf hello >&4
    timeout 5 head -n1 "$q/events"
    exec 4>&-            # cat sees end of file and exits: the pipe has no writer
    for _ in $(seq 50); do
      line=$(timeout 5 head -n1 "$q/events")
      case $line in *EV_EOF*) echo "$line"; exit 0 ;; esac
      sleep 0.1
    done
    echo "no EV_EOF, last: $line"
  ' _ "$q" "$ctl"
  assert_success
  assert_output "$(printf '%s\n' '3 EVFILT_READ EV_ADD 0 5 0' '3 EVFILT_READ EV_ADD|EV_EOF 0 5 0')"
}

@test "WRITE on a pipe: data = free space (capacity - queued), EV_EOF when the reader closes" {
  new_queue_py 30 <<'EOF'
r, w = os.pipe()
size = fcntl.fcntl(w, 1032)  # F_GETPIPE_SZ
assert size == 65536, size
assert change(c, "%d write add" % w) > 0
ev = expect_event(e, lambda ev: ev.ident == w, "no event for the write end")
assert (ev.filter, ev.data) == (WRITE, 65536), ev
os.write(w, b"x" * 1000)
ev = expect_event(e, lambda ev: ev.data != 65536, "free space does not follow the write")
assert (ev.ident, ev.data) == (w, 64536), ev
assert not ev.flags & EV_EOF, ev
os.close(r)
ev = expect_event(e, lambda ev: ev.flags & EV_EOF, "no EV_EOF after the reader closed")
assert (ev.ident, ev.filter) == (w, WRITE), ev
EOF
}

@test "READ on a unix socketpair end: data = bytes, EV_EOF when the peer closes" {
  new_queue_py 30 <<'EOF'
a, b = socket.socketpair()
read_to_eof(c, e, a, b, b"xyz", "the peer closed")
EOF
}

@test "READ on a TCP connection (127.0.0.1): data = bytes, EV_EOF on the peer's FIN" {
  new_queue_py 30 <<'EOF'
cl, sv = tcp_connection()
read_to_eof(c, e, cl, sv, b"abcd", "the FIN", all_at_once=False)
EOF
}

@test "READ on a TCP connection: a reset gives EV_EOF with fflags = ECONNRESET (104)" {
  new_queue_py 30 <<'EOF'
cl, sv = tcp_connection()
assert change(c, "%d read add" % cl.fileno()) > 0
sv.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
sv.close()  # RST
ev = expect_event(e, lambda ev: ev.flags & EV_EOF, "no EV_EOF after the reset")
assert (ev.ident, ev.filter, ev.fflags) == (cl.fileno(), READ, errno.ECONNRESET), ev
EOF
}

@test "sockets as BSD sees them: unconnected is quiet, a refused connect keeps SO_ERROR, own SHUT_WR is EV_EOF" {
  new_queue_py 30 <<'EOF'
# Not connected (TCP and unix): Linux calls it hung up; BSD says nothing.
fresh, unix = socket.socket(), socket.socket(socket.AF_UNIX)
for s in (fresh, unix):
    assert change(c, "%d read add\n%d write add" % (s.fileno(), s.fileno())) > 0
quiet(e)
# A refused non-blocking connect: EV_EOF with ECONNREFUSED, and the program
# still learns it from SO_ERROR, as after a BSD kevent.
with socket.socket() as closed:
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
refused = socket.socket()
refused.setblocking(False)
assert refused.connect_ex(("127.0.0.1", port)) == errno.EINPROGRESS
assert change(c, "%d write add|oneshot" % refused.fileno()) > 0
ev = expect_event(e, lambda ev: ev.ident == refused.fileno(), "no event for the refused connect")
assert ev.flags & EV_EOF and ev.fflags == errno.ECONNREFUSED, ev
assert refused.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED
# The caller's own shutdown(SHUT_WR), TCP and unix: WRITE has EV_EOF.
cl, sv = tcp_connection()
a, b = socket.socketpair()
for s in (cl, a):
    assert change(c, "%d write add|clear" % s.fileno()) > 0
    s.shutdown(socket.SHUT_WR)
    ev = expect_event(e, lambda ev: ev.ident == s.fileno() and ev.flags & EV_EOF,
                      "no EV_EOF on WRITE after shutdown(SHUT_WR) of fd %d" % s.fileno())
# A thread id names no process (ESRCH), its process does.
ready, done = threading.Event(), threading.Event()
tid = []
def body():
    tid.append(threading.get_native_id())
    ready.set()
    done.wait()
t = threading.Thread(target=body)
t.start()
ready.wait()
assert change(c, "%d proc add exit" % tid[0]) == -errno.ESRCH
done.set(); t.join()
EOF
}

@test "READ on a listening TCP socket: data = pending connections" {
  new_queue_py 30 <<'EOF'
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(8)
assert change(c, "%d read add" % lst.fileno()) > 0
quiet(e)
clients = [socket.create_connection(lst.getsockname()) for _ in range(3)]
ev = expect_event(e, lambda ev: ev.data == 3, "no event with data 3")
assert (ev.ident, ev.filter) == (lst.fileno(), READ), ev
lst.accept()
expect_event(e, lambda ev: ev.data == 2, "data does not follow accept()")
EOF
}

@test "READ on a regular file: data = size - offset" {
  new_queue_py 30 "$BATS_TEST_TMPDIR/file" <<'EOF'
with open(sys.argv[2], "wb") as f:
    f.write(b"a" * 100)
fd = os.open(sys.argv[2], os.O_RDONLY)
os.lseek(fd, 30, os.SEEK_SET)
assert change(c, "%d read add" % fd) > 0
ev = expect_event(e, lambda ev: ev.ident == fd, "no event for the file")
assert (ev.filter, ev.data) == (READ, 70), ev
with open(sys.argv[2], "ab") as f:  # grows: data follows
    f.write(b"b" * 50)
ev = expect_event(e, lambda ev: ev.data != 70, "data does not follow the file's growth")
assert ev.data == 120, ev
EOF
}

@test "the daemon never hides EOF: READ and WRITE on both ends of one pipe, close the write end" {
  new_queue_py 30 <<'EOF'
r, w = os.pipe()
assert change(c, "%d read add\n%d write add\n" % (r, w)) > 0
assert wait_knotes(q, 2) == 2
os.close(w)
# The client itself sees end of file at once: nobody else holds the write end.
assert select.select([r], [], [], 2)[0] == [r], "the read end did not see EOF"
assert os.read(r, 10) == b""
ev = expect_event(e, lambda ev: ev.ident == r and ev.flags & EV_EOF, "the READ knote never reported EV_EOF")
assert ev.filter == READ and ev.data == 0, ev
# The WRITE knote went with its descriptor.
assert wait_knotes(q, 1) == 1
EOF
}

@test "the daemon never hides FIN: a socketpair end registered then closed by the client, the peer reads 0" {
  new_queue_py 30 <<'EOF'
a, b = socket.socketpair()
assert change(c, "%d read add\n%d write add\n" % (a.fileno(), a.fileno())) > 0
assert wait_knotes(q, 2) == 2
a.close()
assert select.select([b], [], [], 2)[0] == [b], "the peer saw no FIN"
assert b.recv(10) == b""
assert wait_knotes(q, 0) == 0
EOF
}

@test "closing a registered descriptor drops its knote, even while a dup keeps the file open" {
  new_queue_py 30 <<'EOF'
r, w = os.pipe()
keep = os.dup(r)  # the open file lives on in another fd of the client
assert change(c, "%d read add" % r) > 0
os.write(w, b"1")  # fired, not yet collected
assert wait_knotes(q, 1) == 1
os.close(r)
os.write(w, b"23")
quiet(e, timeout=1.5)  # neither the pending nor a new event is delivered
assert wait_knotes(q, 0, timeout=2.5) == 0, "the knote is still counted"
os.write(w, b"4")
quiet(e, timeout=0.5)
assert os.read(keep, 10) == b"1234"
EOF
}

@test "a writer exiting drops its knotes; knotes of other living processes in the queue stay" {
  new_queue_py 40 <<'EOF'
r, w = pipe_at(60)
assert change(c, "%d read add" % r) > 0
child = CHILD + r'''
r, w = pipe_at(50)
assert change(c, "50 read add") > 0
os.write(w, b"zz")  # the knote fires, then its process exits
'''
subprocess.run([sys.executable, "-c", child, q], check=True, timeout=20)
assert wait_knotes(q, 1, timeout=2.5) == 1, "the exited writer's knote stays"
time.sleep(1.2)  # a sweep passes: the living process's knote is not swept
st = status(q)
assert st["knotes"] == "1", st
quiet(e, lambda ev: ev.ident == 50, timeout=0.3)
os.write(w, b"abc")
ev = expect_event(e, lambda ev: ev.ident == 60, "no event for the living process's pipe")
assert ev.data == 3, ev
quiet(e, lambda ev: ev.ident == 50, timeout=0.3)
EOF
}

@test "a writer exiting drops its knotes even while its file lives on in the parent (inherited fd)" {
  new_queue_py 40 <<'EOF'
# The child registers fd 50, inherited from this process, which keeps the
# file open after the child is gone: only the exit can end the knote.
r, w = pipe_at(50)
child = CHILD + r'''
assert change(c, "50 read add") > 0
'''
subprocess.run([sys.executable, "-c", child, q], check=True, timeout=20, pass_fds=(50,))
assert wait_knotes(q, 0, timeout=2.5) == 0, "the exited writer's knote stays"
os.write(w, b"zz")  # readable now, but the knote was the child's
quiet(e, timeout=0.5)
# The same number from this (living) process is a new registration.
res = change(c, "50 read delete")
assert res == -errno.ENOENT, res
EOF
}

@test "a short-lived writer: /bin/echo registers its inherited fd, and the knote goes when it exits" {
  fifo_bash '
    /bin/echo "3 read add" > "$q/changes" || exit 10
    echo "changes: $(sed -n "s/^changes: //p" "$q/status")"
    for _ in $(seq 30); do
      [ "$(sed -n "s/^knotes: //p" "$q/status")" = 0 ] && break
      sleep 0.1
    done
    echo "knotes: $(sed -n "s/^knotes: //p" "$q/status")"
    printf data >&3      # the fifo is readable, but no knote is left for it
    timeout 0.5 head -n1 "$q/events"
    echo "head: $?"
  '
  assert_success
  assert_output "$(printf '%s\n' 'changes: 1' 'knotes: 0' 'head: 124')"
}

# --------------------------------------------- another process's descriptor (FD@PID)

# The user story: a record written by /bin/echo (a child) registers the
# child's copy of fd 4, which dies with it. No silent no-op: status says
# which knote went, whose it was (the child's pid) and when; so does the log.
@test "a knote dropped with its writer is reported: status names the knote, /bin/echo's pid and the time" {
  q=$(new_queue)
  run timeout -k 3 30 bash -c '
    q=$1 pidfile=$2
    exec 4< <(exec sleep 30)   # fd 4: a pipe
    # /bin/echo with a known pid: exec keeps the pid of the bash that wrote it down.
    bash -c "echo \$\$ > \"$pidfile\"; exec /bin/echo \"4 read add\"" > "$q/changes" || exit 10
    for _ in $(seq 50); do
      [ "$(sed -n "s/^knotes-dropped: //p" "$q/status")" = 1 ] && break
      sleep 0.1
    done
    grep -E "^(knotes|last-error|knotes-dropped|dropped):" "$q/status"
  ' _ "$q" "$BATS_TEST_TMPDIR/echo.pid"
  assert_success
  local echo_pid
  echo_pid=$(cat "$BATS_TEST_TMPDIR/echo.pid")
  assert_line "knotes: 0"
  assert_line "last-error: none"
  assert_line "knotes-dropped: 1"
  assert_line --regexp "^dropped: $(date -u +%Y-%m-%d)T[0-9:]{8}Z 4 EVFILT_READ of pid $echo_pid: the process exited\$"
  run grep -c "queue ${q##*/}: knote dropped: .* 4 EVFILT_READ of pid $echo_pid: the process exited" "$KQFS_LOG"
  assert_output 1
}

@test "FD@PID: /bin/echo registers the shell's fd 3, which outlives echo; events stay six fields" {
  fifo_bash '
    /bin/echo "3@$$ read add 0 0 9" > "$q/changes" || exit 10
    sleep 0.3   # echo has exited, and its exit was seen
    grep -E "^(knotes|knote|knotes-dropped):" "$q/status" | sed "s/@$$ /@SHELL /"
    printf data >&3
    timeout 5 head -n1 "$q/events"
  '
  assert_success
  assert_output "$(printf '%s\n' 'knotes: 1' 'knotes-dropped: 0' \
    'knote: 3@SHELL EVFILT_READ EV_ADD 0 0 9' '3 EVFILT_READ EV_ADD 0 4 9')"
}

@test "FD@PID from a bash heredoc (cat writes it) and in JSON with \"pid\" and a flags array" {
  fifo_bash '
    cat <<EOF > "$q/changes" || exit 10
3@$$ read add 0 0 1
EOF
    /bin/echo "{\"ident\": 3, \"pid\": $$, \"filter\": \"write\", \"flags\": [\"add\", \"clear\"], \"udata\": \"18446744073709551615\"}" > "$q/changes.json" || exit 11
    sleep 0.3
    sed -n "s/^knote: //p" "$q/status" | sed "s/@$$ /@SHELL /"
    printf ab >&3
    for _ in 1 2; do timeout 5 head -n1 "$q/events"; done | sort
  '
  assert_success
  assert_output "$(printf '%s\n' \
    '3@SHELL EVFILT_READ EV_ADD 0 0 1' \
    '3@SHELL EVFILT_WRITE EV_ADD|EV_CLEAR 0 0 18446744073709551615' \
    '3 EVFILT_READ EV_ADD 0 2 1' \
    "3 EVFILT_WRITE EV_ADD|EV_CLEAR 0 $((65536 - 2)) 18446744073709551615")"
}

@test "FD@PID through kqctl add: kqctl writes the record, the knote is the shell's" {
  fifo_bash '
    "$KQCTL" --mount "${q%/kq/*}" add "${q##*/}" "3@$$ read add" || exit 10
    sleep 0.3
    echo "knotes: $(sed -n "s/^knotes: //p" "$q/status")"
    printf xyz >&3
    timeout 5 head -n1 "$q/events"
  '
  assert_success
  assert_output "$(printf '%s\n' 'knotes: 1' '3 EVFILT_READ EV_ADD 0 3 0')"
}

@test "FD@PID follows its owner: it goes when the owner closes the fd, and when the owner exits" {
  q=$(new_queue)
  run timeout -k 3 30 bash -c '
    q=$1
    exec 3< <(exec sleep 30) 4< <(exec sleep 30)
    sleep 30 5< <(exec sleep 30) & owner=$!
    while [ ! -e /proc/$owner/fd/5 ]; do sleep 0.01; done
    /bin/echo "3@$$ read add" > "$q/changes" || exit 10
    /bin/echo "5@$owner read add" > "$q/changes" || exit 11
    /bin/echo "4@$$ read add" > "$q/changes" || exit 12
    sleep 0.3
    echo "knotes: $(sed -n "s/^knotes: //p" "$q/status")"
    exec 3<&-                      # the owner closes its fd: that knote goes
    echo "knotes: $(sed -n "s/^knotes: //p" "$q/status")"
    kill $owner; wait $owner      # the owner exits: its knote goes
    for _ in $(seq 50); do
      [ "$(sed -n "s/^knotes: //p" "$q/status")" = 1 ] && break
      sleep 0.1
    done
    sed -n "s/^knote: //p; s/^knotes-dropped: /dropped /p; s/^dropped: [^ ]* //p" "$q/status" |
      sed "s/ $$:/ SHELL:/; s/ $owner:/ OWNER:/; s/@$$ /@SHELL /"
  ' _ "$q"
  assert_success
  assert_output "$(printf '%s\n' 'knotes: 3' 'knotes: 2' 'dropped 2' \
    '3 EVFILT_READ of pid SHELL: its descriptor was closed or names another file' \
    '5 EVFILT_READ of pid OWNER: the process exited' \
    '4@SHELL EVFILT_READ EV_ADD 0 0 0')"
}

@test "FD@PID refused: a pid that names no process is ESRCH, a thread ESRCH, a timer with a pid EINVAL" {
  run_queue_py 30 <<'EOF'
c = os.open(q + "/changes", os.O_WRONLY)
child = subprocess.Popen(["true"])
child.wait()  # reaped: its pid names nothing now
r, w = os.pipe()
assert change(c, "%d@%d read add" % (r, child.pid)) == -errno.ESRCH
print(status(q)["last-error"].replace(str(child.pid), "DEAD").replace(str(r) + "@", "R@"))
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
assert change(c, "%d@%d read add" % (r, t.native_id)) == -errno.ESRCH
print(status(q)["last-error"].replace(str(t.native_id), "TID").replace(str(r) + "@", "R@"))
stop.set()
t.join()
assert change(c, "1@%d timer add 0 10" % os.getpid()) == -errno.EINVAL
print(status(q)["last-error"].replace(str(os.getpid()), "ME"))
assert change(c, "%d@%d read add" % (r, os.getpid())) > 0, "its own pid names its own descriptor"
print(status(q)["knotes"])
EOF
  assert_success
  assert_output "$(printf '%s\n' \
    'No such process (no process DEAD that the writer can see): R@DEAD EVFILT_READ EV_ADD 0 0 0' \
    'No such process (thread TID is not a process (its first thread)): R@TID EVFILT_READ EV_ADD 0 0 0' \
    'Invalid argument (IDENT@PID names a descriptor of process PID: only for EVFILT_READ, EVFILT_WRITE and EVFILT_VNODE): 1@ME EVFILT_TIMER EV_ADD 0 10 0' \
    1)"
}

@test "EBADF for a descriptor the writer does not have: builtin echo of fd 77 from bash" {
  q=$(new_queue)
  run timeout -k 3 10 bash -c 'exec 77>&-; echo "77 read add" > "$1/changes"' _ "$q"
  assert_failure
  assert_output --partial "Bad file descriptor"
  assert_last_error "$q" --regexp '(EBADF|[Bb]ad file descriptor).*77|77.*(EBADF|[Bb]ad file descriptor)'
  run status_field "$q" knotes
  assert_output 0
}

@test "fd-number reuse: after close, EV_DELETE on the number is ENOENT and EV_ADD registers the new file" {
  new_queue_py 30 <<'EOF'
r1, w1 = os.pipe()
n = moved(r1, 40)
keep = os.dup(n)  # the old pipe stays open, under another number
assert change(c, "40 read add") > 0
os.close(n)
r2, w2 = os.pipe()
assert moved(r2, 40) == 40
res = change(c, "40 read delete")
assert res == -errno.ENOENT, "EV_DELETE on a reused number gave %s" % res
assert change(c, "40 read add 0 0 2") > 0
assert wait_knotes(q, 1) == 1
os.write(w1, b"old")
quiet(e, timeout=0.5)
os.write(w2, b"new!")
ev = expect_event(e, lambda ev: ev.ident == 40, "no event for the new file")
assert (ev.data, ev.udata) == (4, 2), ev
EOF
}

@test "a kqfs descriptor as ident: a prompt answer (no hang), and the daemon serves on" {
  q=$(new_queue)
  other=$(new_queue b)
  queue_py 30 "$q" "$other" "$KQ" <<'EOF'
other, kq = sys.argv[2:4]
fds = {
    "another queue's events": os.open(other + "/events", os.O_RDONLY),
    "this queue's events": os.open(q + "/events", os.O_RDONLY),
    "a clone handle": os.open(kq + "/clone", os.O_RDWR),
    "a queue directory": os.open(other, os.O_RDONLY | os.O_DIRECTORY),
}
for what, fd in fds.items():
    t0 = time.monotonic()
    res = change(c, "%d read add" % fd)
    took = time.monotonic() - t0
    print("%s (fd %d): %s in %.2fs" % (what, fd, res if res >= 0 else errname(-res), took))
    assert took < 3, "slow answer"
    # Refused cleanly for now (nesting comes with the client work), or working.
    assert res > 0 or -res in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP), res
EOF
  # The daemon still answers other requests.
  run timeout 5 ls "$KQ"
  assert_success
  echo "1 timer add 0 10 5" > "$q/changes"
  run timeout 5 head -n1 "$q/events"
  assert_success
  assert_output --regexp '^1 EVFILT_TIMER EV_ADD\|EV_CLEAR 0 [0-9]+ 5$'
}

@test "a queue's events file as a READ ident: fires with its pending count, EV_EOF when it is removed; VNODE on it is EINVAL" {
  q=$(new_queue)
  inner=$(new_queue inner)
  queue_py 30 "$q" "$inner" <<'EOF'
inner = sys.argv[2]
watched = os.open(inner + "/events.bin", os.O_RDONLY)
assert change(c, "%d vnode add delete|write" % watched) == -errno.EINVAL
assert change(c, "%d read add" % watched) > 0
quiet(e)
write_changes(inner, "5 user add\n6 user add\n5 user 0 trigger\n6 user 0 trigger\n")
ev = expect_event(e, lambda ev: ev.ident == watched, "no event for the inner queue's events")
# data: the inner queue's pending events (FreeBSD's count).
assert (ev.filter, ev.flags & EV_EOF, ev.data) == (READ, 0, 2), ev
os.rmdir(inner)
ev = expect_event(e, lambda ev: ev.ident == watched and ev.flags & EV_EOF,
                  "no EV_EOF after the inner queue was removed")
assert ev.filter == READ, ev
EOF
}

@test "two processes registering the same fd number in one queue: the second EV_ADD replaces the first" {
  new_queue_py 40 <<'EOF'
r, w = pipe_at(45)
assert change(c, "45 read add 0 0 1") > 0
child = CHILD + r'''
r, w = pipe_at(45)
print(change(c, "45 read add 0 0 2"), flush=True)
sys.stdin.readline()
os.write(w, b"second")
print("written", flush=True)
sys.stdin.readline()  # lives until told
'''
p = subprocess.Popen([sys.executable, "-c", child, q], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True)
try:
    assert int(p.stdout.readline()) > 0, "the second EV_ADD failed"
    assert wait_knotes(q, 1) == 1
    os.write(w, b"first")  # the first process's pipe: no knote now
    quiet(e, timeout=0.5)
    p.stdin.write("go\n"); p.stdin.flush()
    assert p.stdout.readline() == "written\n"
    ev = expect_event(e, lambda ev: ev.ident == 45, "no event for the second process's pipe")
    assert (ev.data, ev.udata) == (6, 2), ev
finally:
    p.stdin.close()
    p.wait(timeout=10)
EOF
}

@test "200 pipes registered by one process: all fire, all dropped when it exits, no fd leak" {
  q=$(new_queue)
  pid=$(kqfsd_pid)
  [ -n "$pid" ]
  before=$(ls "/proc/$pid/fd" | wc -l)
  queue_py 60 "$q" <<'EOF'
pipes = [os.pipe() for _ in range(200)]
assert change(c, "".join("%d read add\n" % r for r, w in pipes)) > 0
assert wait_knotes(q, 200) == 200
for r, w in pipes:
    os.write(w, b"!")
seen = set()
deadline = time.monotonic() + 20
while len(seen) < 200 and time.monotonic() < deadline:
    for ev in events(e, 1):
        assert ev.filter == READ and ev.data == 1, ev
        seen.add(ev.ident)
missing = {r for r, w in pipes} - seen
assert not missing, "%d pipes never fired, e.g. %s" % (len(missing), sorted(missing)[:5])
print(status(q)["knotes"])
EOF
  wait_status "$q" knotes 0 3
  after=$(ls "/proc/$pid/fd" | wc -l)
  echo "daemon fds: $before before, $after after"
  [ "$after" -le $((before + 4)) ]
}

@test "a change written by a non-main thread takes its process's descriptor, and the knote outlives the thread" {
  new_queue_py 30 <<'EOF'
r, w = os.pipe()
result = []
t = threading.Thread(target=lambda: result.append(change(c, "%d read add" % r)))
t.start()
t.join()
assert result[0] > 0, "registration from a thread: %s" % result
time.sleep(1.2)  # the thread is gone; a sweep passes
assert wait_knotes(q, 1) == 1, "the knote went with the thread"
os.write(w, b"thread")
ev = expect_event(e, lambda ev: ev.ident == r, "no event after writing")
assert ev.data == 6, ev
EOF
}
