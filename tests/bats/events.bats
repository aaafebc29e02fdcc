#!/usr/bin/env bats
# Reading events through the mount (docs/design.md#reading-events, and the
# output side of docs/design.md#record-formats): blocking reads, one text record per
# read, whole JSON/binary records, O_NONBLOCK, poll/select/epoll/asyncio,
# signals that lose nothing, many readers, delivery rules and counters.
#
# Runs as root (as CI does); nothing here needs another user.

bats_require_minimum_version 1.5.0

load mount_helpers
one_kqfsd_per_file

# ------------------------------------------------------------------ helpers

# add_users DIR FLAGS IDENT...: one user knote per ident, in one write.
add_users() {
  local q=$1 flags=$2 i
  shift 2
  for i; do echo "$i user $flags"; done >"$q/changes"
}

# trigger DIR IDENT...: NOTE_TRIGGER on each ident, in one write.
trigger() {
  local q=$1 i
  shift
  for i; do echo "$i user 0 trigger"; done >"$q/changes"
}

# changes DIR LINE...: each LINE written to DIR/changes by its own echo
# (one open and write each).
changes() {
  local q=$1 line
  shift
  for line; do echo "$line" >"$q/changes"; done
}

# pending_users IDENT...: q, a new queue, with a user knote (add|clear)
# per IDENT, all triggered.
pending_users() {
  q=$(new_queue)
  add_users "$q" "add|clear" "$@"
  trigger "$q" "$@"
}

# True while process $1 runs (a zombie does not count).
alive() {
  [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# wait_gone PID [SECONDS]: waits (default 5 s) for a background process to
# end, then reaps it; its exit status, or fails if it still runs.
wait_gone() {
  local pid=$1 n=$((${2:-5} * 20))
  while alive "$pid" && ((n-- > 0)); do sleep 0.05; done
  if alive "$pid"; then
    echo "process $pid still running" >&2
    return 255
  fi
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

# assert_exit_status PID STATUS SECONDS: background process PID ends within
# SECONDS (see wait_gone) with exit status STATUS.
assert_exit_status() {
  local rc=0
  wait_gone "$1" "$3" || rc=$?
  assert_equal "$rc" "$2"
}

# signal_blocked_cat DIR SIGNAL STATUS [COMMAND...]: starts `COMMAND cat
# DIR/events` in the background (its output in $BATS_TEST_TMPDIR/out),
# waits until it blocks in the daemon, sends it SIGNAL and asserts that it
# ends within 5 s with exit status STATUS.
signal_blocked_cat() {
  local q=$1 signal=$2 want=$3 pid
  shift 3
  "$@" cat "$q/events" >"$BATS_TEST_TMPDIR/out" 3>&- &
  pid=$!
  BG_PIDS+=("$pid")
  wait_status "$q" readers 1
  kill "-$signal" "$pid"
  assert_exit_status "$pid" "$want" 5
}

# assert_trigger_delivered DIR IDENT: triggers user knote IDENT (added with
# add|clear) of queue DIR, and the next text event read is its event.
assert_trigger_delivered() {
  trigger "$1" "$2"
  run timeout 10 head -n1 "$1/events"
  assert_success
  assert_output "$2 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
}

# pending_text_events DIR: every text event pending in queue DIR, read
# without blocking, printed as a python list ([] when there is none).
pending_text_events() {
  py_timeout 10 -c 'import sys, kq; print(kq.drain_text(sys.argv[1]))' "$1"
}

now_ms() {
  local t=${EPOCHREALTIME/./}
  echo $((t / 1000))
}

# The ident (first field) of every line of file $1, sorted numerically.
idents_of() {
  awk '{print $1}' "$1" | sort -n
}

# each_events_file SECONDS [FLAGS] <<'EOF' BODY: on q, a new queue, python3
# (run_queue_py) runs BODY as check(n, name, fd) for each events file open
# with the os flags FLAGS (kq.each_events_file), and all of them pass.
each_events_file() {
  run_queue_py "$1" < <(
    echo "def check(n, name, fd):"
    sed 's/^/    /'
    echo "each_events_file(q, check, ${2:-os.O_RDONLY})"
  )
  assert_success
  assert_output "ok"
}

# blocked_cat_signalled SIGNAL STATUS [COMMAND...]: on q, a new queue with
# user knote 4, signal_blocked_cat; then no reader is left and a trigger of
# 4 is delivered.
blocked_cat_signalled() {
  q=$(new_queue)
  add_users "$q" "add|clear" 4
  signal_blocked_cat "$q" "$@"
  wait_status "$q" readers 0
  assert_trigger_delivered "$q" 4
}

# ------------------------------------------------------------ text output


@test "text output: a timer reads as 1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7, and head -n1 is silent" {
  q=$(new_queue)
  echo "1 timer add 0 500 7" >"$q/changes"
  run --separate-stderr timeout 10 head -n1 "$q/events"
  assert_success
  assert_output "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"
  [ -z "$stderr" ] || fail "head complained on stderr: $stderr"
}

@test "text output: a user event writes ident, data and udata in decimal, filter and flags by name" {
  q=$(new_queue)
  changes "$q" "18446744073709551615 user add|clear" "18446744073709551615 user 0 trigger|ffcopy|0xabcdef -2 18446744073709551614"
  run --separate-stderr timeout 10 head -n1 "$q/events"
  assert_success
  read -r -a fields <<<"$output"
  assert_equal "${#fields[@]}" 6
  assert_equal "${fields[0]}" 18446744073709551615
  assert_equal "${fields[1]}" EVFILT_USER
  assert_equal "${fields[2]}" "EV_ADD|EV_CLEAR"
  # User fflags have no names: any number syntax of the input is accepted.
  assert_equal "$((fields[3]))" "$((0xabcdef))"
  assert_equal "${fields[4]}" -2
  assert_equal "${fields[5]}" 18446744073709551614
}

@test "text output: an empty fflags mask is written as 0" {
  q=$(new_queue)
  changes "$q" "6 user add" "6 user 0 trigger"
  run timeout 10 head -n1 "$q/events"
  assert_success
  assert_output "6 EVFILT_USER EV_ADD 0 0 0"
}

# ----------------------------------------------------------------- blocking

@test "a read with nothing pending blocks until a timer fires 300 ms later" {
  run_queue_py 20 <<'EOF'
fd = os.open(os.path.join(q, "events"), os.O_RDONLY)
write_changes(q, "4 timer add|oneshot 0 300 9\n")
start = time.monotonic()
line = os.read(fd, 4096).decode()
elapsed = time.monotonic() - start
assert elapsed >= 0.25, f"read returned after {elapsed:.3f} s, before the timer"
assert line == "4 EVFILT_TIMER EV_ADD|EV_ONESHOT|EV_CLEAR 0 1 9\n", repr(line)
print("ok")
EOF
  assert_success
  assert_output "ok"
}

# ------------------------------------------------- one text record per read

@test "events returns one record per read even with 3 pending" {
  pending_users 1 2 3
  run_on_queue 20 "$q" <<'EOF'
fd = os.open(os.path.join(q, "events"), os.O_RDONLY)
got = [os.read(fd, 4096).decode() for _ in range(3)]
for chunk in got:
    assert chunk.count("\n") == 1 and chunk.endswith("\n"), repr(got)
print(" ".join(sorted(c.split()[0] for c in got)))
EOF
  assert_success
  assert_output "1 2 3"
}

@test "three successive head -n1 each get one distinct event" {
  pending_users 1 2 3
  out="$BATS_TEST_TMPDIR/heads"
  for _ in 1 2 3; do
    run --separate-stderr timeout 10 head -n1 "$q/events"
    assert_success
    [ -z "$stderr" ] || fail "head complained: $stderr"
    echo "$output" >>"$out"
  done
  run idents_of "$out"
  assert_output "$(printf '%s\n' 1 2 3)"
  assert_equal "$(status_field "$q" pending)" 0
}

@test "a bounded while-read loop over events gets each event once" {
  pending_users 1 2 3 4 5
  run timeout 20 bash -c '
    n=0
    while read -r line; do
      echo "$line"
      n=$((n + 1))
      [ "$n" -eq 5 ] && break
    done <"$1"' _ "$q/events"
  assert_success
  echo "$output" >"$BATS_TEST_TMPDIR/lines"
  run idents_of "$BATS_TEST_TMPDIR/lines"
  assert_output "$(printf '%s\n' 1 2 3 4 5)"
  assert_equal "$(status_field "$q" pending)" 0
}

@test "bash read on one open handle reassembles whole lines" {
  q=$(new_queue)
  add_users "$q" "add|clear" 11 22 33
  changes "$q" "11 user 0 trigger 111 1111" "22 user 0 trigger 222 2222" "33 user 0 trigger 333 3333"
  run timeout 20 bash -c '
    exec 4<"$1"
    for _ in 1 2 3; do read -r line <&4 && echo "$line"; done' _ "$q/events"
  assert_success
  assert_output "$(printf '%s\n' \
    "11 EVFILT_USER EV_ADD|EV_CLEAR 0 111 1111" \
    "22 EVFILT_USER EV_ADD|EV_CLEAR 0 222 2222" \
    "33 EVFILT_USER EV_ADD|EV_CLEAR 0 333 3333")"
}

@test "a reader reading 1 byte at a time reassembles whole lines" {
  q=$(new_queue)
  add_users "$q" "add|clear" 7 8 9
  changes "$q" "7 user 0 trigger 70 700" "8 user 0 trigger 80 800" "9 user 0 trigger 90 900"
  run_on_queue 20 "$q" <<'EOF'
fd = os.open(os.path.join(q, "events"), os.O_RDONLY)
data = b""
while data.count(b"\n") < 3:
    byte = os.read(fd, 1)
    assert len(byte) == 1, f"read(1) returned {byte!r} after {data!r}"
    data += byte
print(data.decode(), end="")
EOF
  assert_success
  assert_output "$(printf '%s\n' \
    "7 EVFILT_USER EV_ADD|EV_CLEAR 0 70 700" \
    "8 EVFILT_USER EV_ADD|EV_CLEAR 0 80 800" \
    "9 EVFILT_USER EV_ADD|EV_CLEAR 0 90 900")"
}

# ------------------------------------------------------ signals lose nothing

# `read -t VAR < events` cannot time out: bash turns -t off when fstat says
# S_ISREG (read.def), and a FUSE file must be a regular file to reach
# kqfsd at all. The daemon's side of the rule (a signal ends the read and
# nothing is lost) is the SIGALRM test below; this is the recipe for scripts
# (docs/semantics.md "The mounted files").
@test "read -t on a pipe fed by cat events times out, and a later event still arrives" {
  # The way around bash ignoring -t on regular files: one long-lived cat.
  q=$(new_queue)
  add_users "$q" "add|clear" 6
  run timeout 20 bash -c '
    exec 4< <(exec timeout 30 cat "$1/events" 2>/dev/null)
    cat_pid=$!
    trap "kill \$cat_pid 2>/dev/null" EXIT
    read -r -t 0.3 -u 4 line
    echo "rc=$?"
    echo "6 user 0 trigger" >"$1/changes"
    read -r -t 10 -u 4 line
    echo "rc=$? $line"' _ "$q"
  assert_success
  assert_line --index 0 --regexp '^rc=(1[3-9][0-9]|2[0-5][0-9])$'
  assert_line --index 1 "rc=0 6 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
}

@test "a read interrupted by SIGALRM (a timed-out read) fails with EINTR and a later event is still delivered" {
  q=$(new_queue)
  add_users "$q" "add|clear" 5
  run_on_queue 20 "$q" <<'PY'
TimedOut = raising_on(signal.SIGALRM, "TimedOut")
fd = os.open(os.path.join(q, "events"), os.O_RDONLY)
start = time.monotonic()
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    data = os.read(fd, 4096)
    raise AssertionError(f"read returned {data!r} with nothing pending")
except TimedOut:
    pass
elapsed = time.monotonic() - start
assert elapsed < 5, f"the alarm ended the read after {elapsed:.3f} s"
trigger(q, 5)
print(os.read(fd, 4096).decode(), end="")
PY
  assert_success
  assert_output "5 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
}

@test "timeout -s INT cat events ends with 124 and the next event is not lost" {
  q=$(new_queue)
  add_users "$q" "add|clear" 3
  start=$(now_ms)
  run timeout -s INT 0.5 cat "$q/events"
  elapsed=$(($(now_ms) - start))
  assert_equal "$status" 124
  assert_output ""
  ((elapsed < 5000)) || fail "cat took ${elapsed} ms to end"
  assert_trigger_delivered "$q" 3
}

@test "SIGINT (Ctrl-C) ends a blocked background cat and no event is lost" {
  # Background jobs of a script ignore SIGINT: give cat the default action.
  blocked_cat_signalled INT 130 env --default-signal=INT
  assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ""
}

@test "SIGTERM ends a blocked background cat and no event is lost" {
  blocked_cat_signalled TERM 143
  assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ""
}

@test "SIGKILL of a blocked reader does not lose a later event" {
  blocked_cat_signalled KILL 137
}

@test "interrupted readers lose nothing: 10 cycles of timeout -s INT cat and a trigger, each event arrives exactly once" {
  q=$(new_queue)
  add_users "$q" "add|clear" $(seq 1 10)
  got="$BATS_TEST_TMPDIR/got"
  : >"$got"
  for i in $(seq 1 10); do
    # Odd cycles trigger while cat is blocked, even ones after its SIGINT
    # (then the next cat or the final drain must get it). Never right at
    # the signal: cat may be killed between its read and its write.
    delay=0.1
    ((i % 2)) || delay=0.5
    (sleep "$delay" && trigger "$q" "$i") 3>&- &
    trigger_pid=$!
    BG_PIDS+=("$trigger_pid")
    rc=0
    timeout -s INT 0.3 cat "$q/events" >>"$got" || rc=$?
    assert_equal "$rc" 124
    assert_exit_status "$trigger_pid" 0 10
  done
  run timeout 20 python3 -c 'import sys; from kq import *; print("".join(drain_text(sys.argv[1])), end="")' "$q"
  assert_success
  [ -z "$output" ] || echo "$output" >>"$got"
  run idents_of "$got"
  assert_output "$(seq 1 10)"
  assert_equal "$(status_field "$q" delivered)" 10
}

@test "interrupted readers lose nothing: 40 signals racing 40 triggers, each event arrives exactly once" {
  run_queue_py 60 <<'PY'
import random
N = 40
add_users(q, "add|clear", *range(1, N + 1))


class Alarm(Exception):
    pass


# The alarm repeats until it has interrupted the reader once: a signal that
# lands just before the read begins (after Python last looked for one)
# interrupts nothing, and its handler waits for the read to end; the next
# one interrupts the read. Each arming raises once.
armed = False


def on_alarm(signum, frame):
    global armed
    if armed:
        armed = False
        raise Alarm()


signal.signal(signal.SIGALRM, on_alarm)
fd = os.open(os.path.join(q, "events"), os.O_RDONLY)
# Every read gets a fresh buffer that is kept: whatever the kernel handed
# over is seen, even when the alarm's exception hits right after the read.
buffers = []
random.seed(1)
interrupted = 0
for i in range(1, N + 1):
    wait_status(q, "readers", 0)
    delay = 0.1 + random.uniform(-0.004, 0.004)
    trigger_thread = threading.Timer(delay, trigger, args=(q, i))
    try:
        # The trigger thread starts with SIGALRM blocked, so the alarm
        # interrupts the reader and never the trigger's write.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        armed = True
        signal.setitimer(signal.ITIMER_REAL, 0.1, 0.05)
        trigger_thread.start()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
        while True:
            buf = bytearray(4096)
            buffers.append(buf)
            os.readv(fd, [buf])
    except Alarm:
        interrupted += 1
    signal.setitimer(signal.ITIMER_REAL, 0)
    trigger_thread.join()
signal.signal(signal.SIGALRM, signal.SIG_DFL)
text = "".join(b.rstrip(b"\0").decode() for b in buffers) + "".join(drain_text(q))
idents = sorted(int(line.split()[0]) for line in text.splitlines())
assert interrupted == N, interrupted
missing = sorted(set(range(1, N + 1)) - set(idents))
twice = sorted({i for i in idents if idents.count(i) > 1})
assert not missing and not twice, f"missing {missing}, twice {twice}"
assert status(q)["delivered"] == str(N), status(q)
print("ok")
PY
  assert_success
  assert_output "ok"
}

# ------------------------------------------------------------- events.json

@test "events.json: one object per line with the six keys, filter/flags/fflags as strings" {
  q=$(new_queue)
  add_users "$q" "add|clear" 12
  changes "$q" "12 user 0 trigger|ffcopy|5 -3 44" "13 user add" "13 user 0 trigger"
  run_on_queue 20 "$q" <<'EOF'
import json
fd = os.open(os.path.join(q, "events.json"), os.O_RDONLY)
data = b""
while data.count(b"\n") < 2:
    data += os.read(fd, 65536)
lines = data.decode().split("\n")
assert lines[-1] == "", repr(data)
objects = sorted((json.loads(l) for l in lines[:-1]), key=lambda o: o["ident"])
for o in objects:
    assert set(o) == {"ident", "filter", "flags", "fflags", "data", "udata"}, o
    for key in ("filter", "flags", "fflags"):
        assert isinstance(o[key], str), (key, o)
    for key in ("ident", "data", "udata"):
        assert isinstance(o[key], int), (key, o)
a, b = objects
assert (a["ident"], a["filter"], a["flags"], int(a["fflags"], 0), a["data"], a["udata"]) == \
    (12, "EVFILT_USER", "EV_ADD|EV_CLEAR", 5, -3, 44), a
assert b == {"ident": 13, "filter": "EVFILT_USER", "flags": "EV_ADD", "fflags": "0",
             "data": 0, "udata": 0}, b
print("ok")
EOF
  assert_success
  assert_output "ok"
}

@test "events.json: one big read returns all 3 pending records as whole lines" {
  pending_users 1 2 3
  run_on_queue 20 "$q" <<'EOF'
import json
fd = os.open(os.path.join(q, "events.json"), os.O_RDONLY)
data = os.read(fd, 65536).decode()
assert data.endswith("\n") and data.count("\n") == 3, repr(data)
print(" ".join(str(json.loads(l)["ident"]) for l in sorted(data.splitlines())))
EOF
  assert_success
  assert_output "1 2 3"
}

@test "events.json: a buffer smaller than the line gets part of it and the rest on the next read of that handle" {
  pending_users 1 2
  run_on_queue 20 "$q" <<'EOF'
import json
a = os.open(os.path.join(q, "events.json"), os.O_RDONLY)
b = os.open(os.path.join(q, "events.json"), os.O_RDONLY)
head = os.read(a, 10)
assert len(head) == 10 and b"\n" not in head, repr(head)
# Another handle never sees the rest of a's line.
other = os.read(b, 65536)
assert other.count(b"\n") == 1 and other.endswith(b"\n"), repr(other)
rest = os.read(a, 65536)
assert rest.endswith(b"\n") and rest.count(b"\n") == 1, repr(rest)
first = json.loads(head + rest)
second = json.loads(other)
print(sorted([first["ident"], second["ident"]]))
EOF
  assert_success
  assert_output "[1, 2]"
}

# -------------------------------------------------------------- events.bin

@test "events.bin: read(1024) with 3 pending returns 96 bytes" {
  pending_users 1 2 3
  run_on_queue 20 "$q" <<'EOF'
fd = os.open(os.path.join(q, "events.bin"), os.O_RDONLY)
data = os.read(fd, 1024)
assert len(data) == 96, len(data)
print(sorted(r[0] for r in unpack_all(data)))
EOF
  assert_success
  assert_output "[1, 2, 3]"
}

@test "events.bin: a read buffer below 32 bytes is EINVAL and takes no event" {
  run_queue_py 20 <<'EOF'
fd = os.open(os.path.join(q, "events.bin"), os.O_RDONLY)

def assert_einval_below_32(pending):
    for size in (1, 31):
        result = outcome(os.read, fd, size)
        assert result == "EINVAL", f"read({size}) with {pending} pending: {result}"

assert_einval_below_32("nothing")
add_users(q, "add|clear", 1)
trigger(q, 1)
assert_einval_below_32("an event")
print([r[0] for r in unpack_all(os.read(fd, 32))])
EOF
  assert_success
  assert_output "[1]"
}

@test "events.bin: a record holds exact field values (<QhHIqQ)" {
  q=$(new_queue)
  changes "$q" "1234605616436508552 user add|clear" "1234605616436508552 user 0 trigger|ffcopy|0xabcdef -9223372036854775807 18364758544493064720"
  run_on_queue 20 "$q" <<'EOF'
fd = os.open(os.path.join(q, "events.bin"), os.O_RDONLY)
data = os.read(fd, 64)
assert len(data) == 32, len(data)
got = struct.unpack("<QhHIqQ", data)
want = (0x1122334455667788, -11, 0x0001 | 0x0020, 0xabcdef, -9223372036854775807,
        0xfedcba9876543210)
assert got == want, (got, want)
print("ok")
EOF
  assert_success
  assert_output "ok"
}

# --------------------------------------------------------------- O_NONBLOCK

@test "opened with O_NONBLOCK: EAGAIN when nothing is pending, on every events file" {
  run_queue_py 20 <<'EOF'
add_users(q, "add|clear", 1, 2, 3)
def check(n, name, fd):
    check_eagain(fd, name)
    trigger(q, n)
    data = os.read(fd, 4096)
    assert data, f"{name}: nothing after a trigger"
each_events_file(q, check, os.O_RDONLY | os.O_NONBLOCK)
EOF
  assert_success
  assert_output "ok"
}

@test "fcntl O_NONBLOCK on an open blocking handle: EAGAIN; switched back it blocks again" {
  each_events_file 30 <<'EOF'
flags = fcntl.fcntl(fd, fcntl.F_GETFL)
fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
check_eagain(fd, name)
fcntl.fcntl(fd, fcntl.F_SETFL, flags)
data, elapsed = timer_then(q, n, 300, lambda: os.read(fd, 4096))
assert data, name
assert elapsed >= 0.25, f"{name}: blocking read returned after {elapsed:.3f} s"
EOF
}

# ----------------------------------------------------- poll, select, epoll

@test "poll: events files are not readable when empty, POLLIN once a timer fires, then readable without blocking" {
  each_events_file 40 <<'EOF'
p = select.poll()
p.register(fd, select.POLLIN)
got = p.poll(200)
assert got == [], f"{name}: readable while empty: {got}"
got, elapsed = timer_then(q, n, 200, lambda: p.poll(3000))
assert got and got[0][1] & select.POLLIN, f"{name}: no POLLIN after {elapsed:.3f} s"
assert elapsed < 2.5, f"{name}: POLLIN after {elapsed:.3f} s"
data = read_nonblocking(fd, 4096)
assert data, f"{name}: POLLIN but the read would block"
EOF
}

@test "select: events files are not readable when empty, readable once a timer fires, then read without blocking" {
  each_events_file 40 <<'EOF'
r, _, _ = select.select([fd], [], [], 0.2)
assert r == [], f"{name}: readable while empty"
(r, _, _), elapsed = timer_then(q, n, 200, lambda: select.select([fd], [], [], 3.0))
assert r == [fd], f"{name}: not readable after {elapsed:.3f} s"
assert elapsed < 2.5, f"{name}: readable after {elapsed:.3f} s"
assert read_nonblocking(fd, 4096), f"{name}: readable but the read would block"
EOF
}

@test "epoll level-triggered: reported while events are pending, not once drained" {
  each_events_file 40 <<'EOF'
ep = select.epoll()
ep.register(fd, select.EPOLLIN)
assert ep.poll(0.2) == [], f"{name}: readable while empty"
write_changes(q, f"{n} timer add|oneshot 0 200\n")
got = ep.poll(3.0)
assert got and got[0][1] & select.EPOLLIN, f"{name}: no EPOLLIN"
# Level-triggered: still reported while nothing was read.
got = ep.poll(1.0)
assert got and got[0][1] & select.EPOLLIN, f"{name}: EPOLLIN gone before the read"
assert read_nonblocking(fd, 4096), f"{name}: reported but the read would block"
got = ep.poll(0.2)
assert got == [], f"{name}: still reported once drained: {got}"
ep.close()
EOF
}

@test "epoll edge-triggered: drain until EAGAIN, then the next event is reported again" {
  run_queue_py 40 <<'EOF'
for base, name in ((10, "events"), (20, "events.json"), (30, "events.bin")):
    fd = os.open(os.path.join(q, name), os.O_RDONLY | os.O_NONBLOCK)
    ep = select.epoll()
    ep.register(fd, select.EPOLLIN | select.EPOLLET)
    assert ep.poll(0.2) == [], f"{name}: readable while empty"
    add_users(q, "add|clear", base + 1, base + 2, base + 3)
    trigger(q, base + 1, base + 2)
    got = ep.poll(3.0)
    assert got and got[0][1] & select.EPOLLIN, f"{name}: no EPOLLIN"
    records = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            break
        assert chunk, f"{name}: end of file"
        records += chunk
    n = len(records) // 32 if name == "events.bin" else records.count(b"\n")
    assert n == 2, f"{name}: drained {records!r}"
    trigger(q, base + 3)
    got = ep.poll(3.0)
    assert got and got[0][1] & select.EPOLLIN, f"{name}: the next edge was missed"
    assert os.read(fd, 4096), name
    ep.close()
    os.close(fd)
print("ok")
EOF
  assert_success
  assert_output "ok"
}

@test "asyncio loop.add_reader on events.bin gets the event" {
  run_queue_py 20 <<'EOF'
import asyncio

async def main():
    fd = os.open(os.path.join(q, "events.bin"), os.O_RDONLY | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    def readable():
        try:
            data = os.read(fd, 32 * 8)
        except BlockingIOError:
            return
        if not done.done():
            done.set_result(data)
    loop.add_reader(fd, readable)
    write_changes(q, "42 timer add|oneshot 0 200 4242\n")
    data = await asyncio.wait_for(done, 5)
    loop.remove_reader(fd)
    os.close(fd)
    return unpack_all(data)

records = asyncio.run(main())
assert len(records) == 1, records
ident, filt, flags, fflags, data, udata = records[0]
print(ident, filt, data, udata)
EOF
  assert_success
  assert_output "42 -7 1 4242"
}

# -------------------------------------------------------------- many readers

@test "two blocked head -n1 readers: two events triggered at once go one to each" {
  q=$(new_queue)
  add_users "$q" "add|clear" 1 2
  for k in 1 2; do
    timeout 20 head -n1 "$q/events" >"$BATS_TEST_TMPDIR/out$k" 3>&- &
    pids[k]=$!
    BG_PIDS+=("$!")
  done
  wait_status "$q" readers 2
  trigger "$q" 1 2
  for k in 1 2; do
    assert_exit_status "${pids[k]}" 0 10
    assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/out$k")" 1
  done
  cat "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/out2" >"$BATS_TEST_TMPDIR/all"
  run idents_of "$BATS_TEST_TMPDIR/all"
  assert_output "$(printf '%s\n' 1 2)"
}

@test "four blocked cat readers: 20 events are each delivered to exactly one" {
  q=$(new_queue)
  add_users "$q" "add|clear" $(seq 1 20)
  for k in 1 2 3 4; do
    cat "$q/events" >"$BATS_TEST_TMPDIR/out$k" 3>&- &
    pids[k]=$!
    BG_PIDS+=("$!")
  done
  wait_status "$q" readers 4
  trigger "$q" $(seq 1 5)
  for i in $(seq 6 20); do
    trigger "$q" "$i"
    sleep 0.02
  done
  wait_status "$q" delivered 20
  wait_status "$q" readers 4
  for k in 1 2 3 4; do kill -TERM "${pids[k]}"; done
  for k in 1 2 3 4; do
    assert_exit_status "${pids[k]}" 143 5
  done
  cat "$BATS_TEST_TMPDIR"/out[1-4] >"$BATS_TEST_TMPDIR/all"
  run idents_of "$BATS_TEST_TMPDIR/all"
  assert_output "$(seq 1 20)"
  assert_equal "$(status_field "$q" pending)" 0
}

@test "two threads blocked on one shared events.bin descriptor both get events" {
  run_queue_py 30 <<'EOF'
add_users(q, "add|clear", 1, 2)
fd = os.open(os.path.join(q, "events.bin"), os.O_RDONLY)
results = {}
def reader(k):
    results[k] = os.read(fd, 32)
threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in (1, 2)]
for t in threads:
    t.start()
# Both must reach the daemon: serialized readers would show 1.
wait_status(q, "readers", 2)
trigger(q, 1)
time.sleep(0.2)
trigger(q, 2)
for t in threads:
    t.join(10)
assert not any(t.is_alive() for t in threads), f"a thread is still blocked: {results}"
print(sorted(unpack_all(results[k])[0][0] for k in (1, 2)))
EOF
  assert_success
  assert_output "[1, 2]"
}

# ---------------------------------------------------------- level vs. edge

@test "a user event without EV_CLEAR is returned on every read while triggered" {
  q=$(new_queue)
  echo "1 user add" >"$q/changes"
  trigger "$q" 1
  for _ in 1 2 3; do
    run timeout 10 head -n1 "$q/events"
    assert_success
    assert_output "1 EVFILT_USER EV_ADD 0 0 0"
  done
}

@test "a user event with EV_CLEAR is returned once" {
  pending_users 1
  run timeout 10 head -n1 "$q/events"
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
  run pending_text_events "$q"
  assert_success
  assert_output "[]"
  assert_equal "$(status_field "$q" knotes)" 1
}

@test "a user event with EV_ONESHOT is returned once, then its knote is gone" {
  q=$(new_queue)
  add_users "$q" "add|oneshot" 1
  assert_equal "$(status_field "$q" knotes)" 1
  trigger "$q" 1
  run timeout 10 head -n1 "$q/events"
  assert_output "1 EVFILT_USER EV_ADD|EV_ONESHOT 0 0 0"
  run pending_text_events "$q"
  assert_output "[]"
  assert_equal "$(status_field "$q" knotes)" 0
  run bash -c 'echo "1 user 0 trigger" >"$1/changes"' _ "$q"
  assert_failure
}

@test "a user event with EV_DISPATCH is delivered once until EV_ENABLE" {
  q=$(new_queue)
  add_users "$q" "add|dispatch" 1
  trigger "$q" 1
  run timeout 10 head -n1 "$q/events"
  assert_output "1 EVFILT_USER EV_ADD|EV_DISPATCH 0 0 0"
  run pending_text_events "$q"
  assert_output "[]"
  echo "1 user enable" >"$q/changes"
  run timeout 10 head -n1 "$q/events"
  assert_success
  assert_output "1 EVFILT_USER EV_ADD|EV_DISPATCH 0 0 0"
  run pending_text_events "$q"
  assert_output "[]"
}

# --------------------------------------------------------------- lifetimes

@test "rmdir with a blocked reader: the reader gets end of file" {
  q=$(new_queue)
  cat "$q/events" >"$BATS_TEST_TMPDIR/out" 3>&- &
  cat_pid=$!
  BG_PIDS+=("$cat_pid")
  timeout 20 python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
data = os.read(fd, 64)
print("eof" if data == b"" else repr(data))' "$q/events.bin" >"$BATS_TEST_TMPDIR/py" 3>&- &
  py_pid=$!
  BG_PIDS+=("$py_pid")
  wait_status "$q" readers 2
  rmdir "$q"
  assert_exit_status "$cat_pid" 0 5
  assert_exit_status "$py_pid" 0 5
  assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ""
  assert_equal "$(cat "$BATS_TEST_TMPDIR/py")" "eof"
}

# ------------------------------------------------------------------ status

@test "status counts pending events, blocked readers, delivered events and applied changes" {
  q=$(new_queue)
  assert_equal "$(status_field "$q" pending)" 0
  assert_equal "$(status_field "$q" readers)" 0
  assert_equal "$(status_field "$q" delivered)" 0
  assert_equal "$(status_field "$q" changes)" 0
  add_users "$q" "add|clear" 1 2 3
  assert_equal "$(status_field "$q" changes)" 3
  trigger "$q" 1 2 3
  assert_equal "$(status_field "$q" changes)" 6
  assert_equal "$(status_field "$q" pending)" 3
  run timeout 10 head -n1 "$q/events"
  assert_success
  assert_equal "$(status_field "$q" pending)" 2
  assert_equal "$(status_field "$q" delivered)" 1
  run timeout 10 head -n1 "$q/events"
  run timeout 10 head -n1 "$q/events"
  assert_equal "$(status_field "$q" pending)" 0
  assert_equal "$(status_field "$q" delivered)" 3
  timeout 20 head -n1 "$q/events" >"$BATS_TEST_TMPDIR/out" 3>&- &
  pid=$!
  BG_PIDS+=("$pid")
  wait_status "$q" readers 1
  trigger "$q" 2
  assert_exit_status "$pid" 0 10
  assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "2 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
  assert_equal "$(status_field "$q" readers)" 0
  assert_equal "$(status_field "$q" delivered)" 4
  assert_equal "$(status_field "$q" changes)" 7
  assert_equal "$(status_field "$q" pending)" 0
}

@test "status lists the registered knotes as text change records, ordered by ident" {
  q=$(new_queue)
  printf '7 user add|clear|disable 0x21 0 9\n1 timer add 0 500 7\n' >"$q/changes"
  run grep '^knote:' "$q/status"
  assert_success
  assert_output $'knote: 1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 500 7\nknote: 7 EVFILT_USER EV_ADD|EV_DISABLE|EV_CLEAR 0x21 0 9'
  echo "1 timer delete" >"$q/changes"
  run grep -c '^knote:' "$q/status"
  assert_output 1
}

@test "bash read -n and read -d on one events descriptor: a seek back into the last record loses nothing" {
  pending_users 1 2
  run timeout 10 bash -c 'exec 4<"$1/events"
    read -n 5 a <&4; read -r b <&4; read -d " " c <&4; read -r d <&4
    echo "[$a][$b][$c][$d]"' _ "$q"
  assert_success
  assert_output "[1 EVF][ILT_USER EV_ADD|EV_CLEAR 0 0 0][2][EVFILT_USER EV_ADD|EV_CLEAR 0 0 0]"
}
