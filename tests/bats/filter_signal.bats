#!/usr/bin/env bats
# EVFILT_SIGNAL through the mount (docs/design.md#filters,
# docs/semantics.md#evfilt_signal).
#
# Descriptor idents and signal knotes belong to the process that WROTE the
# change record, so each test's writer is one python3 that writes the
# record and does what is watched (or the test's own shell, with builtins
# only: echo, kill, exec), with the helpers of tests/support/kq.py.
#
# The tests need root ("(root)" in their names): the suite runs as root, as
# CI does. The mount has -o allow_other so that the test marked
# "(setpriv 65534)" can act as uid/gid 65534.

load mount_helpers
one_kqfsd_per_file -o allow_other

setup() {
  kqfs_setup
  cd "$BATS_TEST_TMPDIR"
}

# ============================================================== EVFILT_SIGNAL
# These need root: kqfsd traces signals with perf (signal:signal_generate).

@test "signal (root): the ident is a signal name (SIGUSR1, USR2, SIGRTMIN+1) or number (28)" {
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  py_timeout 60 - "$q" <<'EOF'
from kq import *
q = Queue(sys.argv[1])
q.add("SIGUSR1 signal add")
q.add("SIGUSR2 signal add")
check(q.status()["knotes.signal"] == "2", "registered")
EOF
  wait_status "$q" knotes.signal 0
  wait_status "$q" knotes 0
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
  run_writer <<'EOF'
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
    timeout -k 3 60 "$2" - "$3"' _ "$KQFS_SUPPORT/kq.py" "$python" "kq/nobody$BATS_TEST_NUMBER" <<'EOF'
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
