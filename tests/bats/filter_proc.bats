#!/usr/bin/env bats
# EVFILT_PROC through the mount (docs/design.md#filters,
# docs/semantics.md#evfilt_proc): NOTE_EXIT for any process, NOTE_FORK,
# NOTE_EXEC, NOTE_TRACK.
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

# ================================================================ EVFILT_PROC

@test "proc: NOTE_EXIT for a child of the writer, data = wait status (exit 3 -> 768)" {
  run_writer <<'EOF'
pid, release = gated_child(lambda: os._exit(3))
q.add(f"{pid} proc add exit 0 20")
release()
q.show(pid, "NOTE_EXIT")
print("wait:", os.waitpid(pid, 0)[1])
EOF
  assert_success
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 20$'
  assert_line "wait: 768"
}

@test "proc: NOTE_EXIT for a process that is no child of the writer nor of the daemon (setsid)" {
  setsid -f bash -c 'echo $$ > other.pid; until [ -e go ]; do sleep 0.05; done; exit 3' \
    </dev/null >/dev/null 2>&1
  wait_for_pidfile other.pid
  run_writer "$(kqfsd_pid)" <<'EOF'
pid = int(open("other.pid").read())
parent = parent_of(pid)
print("a child of the writer:", parent == os.getpid())
print("a child of the daemon:", parent == int(sys.argv[2]))
q.add(f"{pid} proc add exit 0 21")
open("go", "w").close()
q.show(pid, "NOTE_EXIT")
EOF
  assert_success
  assert_line "a child of the writer: False"
  assert_line "a child of the daemon: False"
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 21$'
}

@test "proc: NOTE_EXIT for a grandchild of the writer, its parent gone" {
  run_writer <<'EOF'
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
q.show(pid, "NOTE_EXIT")
EOF
  assert_success
  assert_line "a child of the writer: False"
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 22$'
}

@test "proc: NOTE_EXIT of a process killed by SIGKILL has data 9" {
  setsid -f bash -c 'echo $$ > sleeper.pid; exec sleep 60' </dev/null >/dev/null 2>&1
  wait_for_pidfile sleeper.pid
  run_writer <<'EOF'
pid = int(open("sleeper.pid").read())
q.add(f"{pid} proc add exit 0 23")
os.kill(pid, signal.SIGKILL)
q.show(pid, "NOTE_EXIT")
EOF
  assert_success
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 9 23$'
}

@test "proc: NOTE_EXIT carries EV_EOF and the knote is gone after its delivery" {
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
hold = Gate()
def body():
    os.waitpid(child(lambda: None), 0)
    hold.wait()
show_held(q, hold, body, "proc add fork|exit 0 24", "NOTE_FORK")
EOF
  assert_success
  assert_line "EVFILT_PROC EV_ADD|EV_CLEAR NOTE_FORK 0 24"
  assert_line --regexp '^then: EVFILT_PROC .*EV_EOF NOTE_EXIT 0 24$'
}

@test "proc: NOTE_EXEC when the process execs" {
  run_writer <<'EOF'
hold = Gate()
def body():
    os.dup2(hold.r, 0)
    os.execv("/bin/sh", ["sh", "-c", "read x; exit 6"])
show_held(q, hold, body, "proc add exec|exit 0 25", "NOTE_EXEC")
EOF
  assert_success
  assert_line "EVFILT_PROC EV_ADD|EV_CLEAR NOTE_EXEC 0 25"
  assert_line --regexp '^then: EVFILT_PROC .*EV_EOF NOTE_EXIT 1536 25$'
}

@test "proc: NOTE_TRACK: NOTE_CHILD for the child (data = parent pid, parent's udata), then the child's own events" {
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
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
  run_writer <<'EOF'
import ctypes
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
  run_writer <<'EOF'
pid = child(lambda: os._exit(4))
deadline = time.monotonic() + 10
while state_of(pid) != "Z":
    check(time.monotonic() < deadline, "the child never became a zombie")
    time.sleep(0.02)
q.add(f"{pid} proc add exit 0 26")
q.show(pid, "NOTE_EXIT of the zombie", timeout=5)
print("knotes:", q.status()["knotes.proc"])
print("wait:", os.waitpid(pid, 0)[1])
EOF
  assert_success
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 1024 26$'
  assert_line "knotes: 0"
  assert_line "wait: 1024"
}

# ============================================ a kqfsd without CAP_SYS_PTRACE
#
# The kernel lets such a daemon ptrace no process with a capability it
# lacks: neither this root shell nor its children. Watching needs no ptrace
# (the connector, pidfds, /proc/PID/status); only /proc's exit status of a
# process already exited (or of any, without the connector) does.

# proc_record Q RECORD: writes RECORD to Q's changes from a shell of its own,
# under `run` (its output: the error, if any).
proc_record() {
  run bash -c 'printf "%s\n" "$2" >"$1/changes"' _ "$1" "$2"
}

is_zombie() {
  [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# A process that is no child of this shell and is never reaped once it
# exits with status $2 (its parent execs sleep): its pid in file $1. It
# waits for file `go`; setpriv options before them apply to it and its
# parent.
unreaped_process() {
  local pidfile=$1 status=$2
  shift 2
  "$@" bash -c '(until [ -e go ]; do sleep 0.05; done; exit "$1") & echo $! >"$0"; exec sleep 60' \
    "$pidfile" "$status" 3>&- &
  BG_PIDS+=($!)
  wait_for_pidfile "$pidfile"
}

@test "proc, kqfsd without CAP_SYS_PTRACE: NOTE_EXIT on a child of the test's shell fires with its status; tied-to names it too" {
  kqfsd_start_without sys_ptrace
  ! has_capability "$(daemon_of "$M")" 19
  has_capability $$ 19
  mkdir "$KQ/exit" "$KQ/tied"
  (until [ -e go ]; do sleep 0.05; done; exit 3) 3>&- &
  local child=$!
  BG_PIDS+=($child)
  proc_record "$KQ/exit" "$child proc add exit 0 5"
  assert_success
  # A tie names a process by the same check.
  echo "$child" >"$KQ/tied/tied-to"
  assert_equal "$(cat "$KQ/tied/tied-to")" "$child"
  touch go
  run timeout 10 head -n1 "$KQ/exit/events"
  assert_success
  assert_output --regexp "^$child EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 5$"
  local status=0
  wait "$child" || status=$?
  assert_equal "$status" 3
  wait_until 10 test ! -e "$KQ/tied"
}

@test "proc, kqfsd without CAP_SYS_PTRACE: a writer with no more rights but not dumpable (as a non-root daemon's user may be) watches its child" {
  kqfsd_start_without sys_ptrace
  q=$(new_queue)
  # Its /proc/PID/ns links are the daemon's only with ptrace access, which a
  # process that is not dumpable gives nobody without CAP_SYS_PTRACE.
  run setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace timeout 60 python3 -c '
from kq import *
import ctypes
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
print("dumpable:", ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE
q = Queue(sys.argv[1])
pid, release = gated_child(lambda: os._exit(3))
q.add(f"{pid} proc add exit 0 20")
release()
q.show(pid, "NOTE_EXIT")' "$q"
  assert_success
  assert_line "dumpable: 0"
  assert_line --regexp '^EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 20$'
}

@test "proc: a writer in another pid namespace names none of the daemon's pids (ESRCH), with or without CAP_SYS_PTRACE" {
  sleep 60 3>&- &
  local sleeper=$!
  BG_PIDS+=($sleeper)
  local shared=$KQ
  kqfsd_start_without sys_ptrace
  local kq
  for kq in "$shared" "$KQ"; do
    mkdir "$kq/ns$BATS_TEST_NUMBER" "$kq/host$BATS_TEST_NUMBER"
    run unshare -p -f --mount-proc bash -c 'printf "%s\n" "$2" >"$1/changes"' _ \
      "$kq/ns$BATS_TEST_NUMBER" "$sleeper proc add exit"
    assert_failure
    assert_output --partial "No such process"
    assert_equal "$(status_field "$kq/ns$BATS_TEST_NUMBER" knotes)" 0
    # The same record from this shell's namespace: seen.
    proc_record "$kq/host$BATS_TEST_NUMBER" "$sleeper proc add exit"
    assert_success
  done
}

@test "proc, kqfsd without CAP_SYS_PTRACE: NOTE_EXIT on a zombie whose status /proc hides is ENOTSUP, and why" {
  kqfsd_start_without sys_ptrace
  mkdir "$KQ/zombie"
  unreaped_process zombie.pid 5
  local zombie
  zombie=$(cat zombie.pid)
  touch go
  wait_until 10 is_zombie "$zombie"
  proc_record "$KQ/zombie" "$zombie proc add exit"
  assert_failure
  assert_output --partial "Operation not supported"
  assert_last_error "$KQ/zombie" "Operation not supported (process $zombie has exited, and /proc hides its exit status from kqfs: process $zombie may use capabilities kqfs lacks (mask 0x80000, CAP_SYS_PTRACE among them)): $zombie EVFILT_PROC EV_ADD NOTE_EXIT 0 0"
  grep -qF "rejected Operation not supported (process $zombie has exited" "$LOG"
  # Without NOTE_EXIT no status is asked for: the knote is made (and goes
  # silently, as the process is gone).
  proc_record "$KQ/zombie" "$zombie proc add fork"
  assert_success
}

@test "proc, kqfsd without CAP_SYS_PTRACE nor the connector: ENOTSUP, and why, where /proc hides the status; a process with no more rights fires with its own" {
  kqfsd_start_without sys_ptrace,net_admin
  mkdir "$KQ/pidfd"
  (until [ -e go ]; do sleep 0.05; done; exit 3) 3>&- &
  local child=$!
  BG_PIDS+=($child)
  proc_record "$KQ/pidfd" "$child proc add exit"
  assert_failure
  assert_output --partial "Operation not supported"
  assert_last_error "$KQ/pidfd" "Operation not supported (no process-events connector: Operation not permitted, and without it kqfs reads the exit status of process $child from /proc, which hides it: process $child may use capabilities kqfs lacks (mask 0x81000, CAP_SYS_PTRACE among them)): $child EVFILT_PROC EV_ADD NOTE_EXIT 0 0"
  # Without the same two capabilities the kernel lets the daemon ptrace it.
  unreaped_process peer.pid 4 setpriv --inh-caps=-sys_ptrace,-net_admin \
    --bounding-set=-sys_ptrace,-net_admin
  local peer
  peer=$(cat peer.pid)
  ! has_capability "$peer" 19
  proc_record "$KQ/pidfd" "$peer proc add exit 0 6"
  assert_success
  touch go
  run timeout 10 head -n1 "$KQ/pidfd/events"
  assert_success
  assert_output --regexp "^$peer EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 1024 6$"
}
