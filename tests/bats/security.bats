#!/usr/bin/env bats
# Other users get what the kernel would give them, no more (docs/security.md):
# a root kqfsd mounted with -o allow_other, used by two unprivileged users,
# A (uid/gid 1001) and B (uid/gid 1002), made with setpriv (no accounts
# needed). Each rule is checked both ways: the denial, and the legitimate
# use that must keep working.

bats_require_minimum_version 1.5.0

load mount_helpers

setup_file() {
  # The test users must reach the mount point: bats' run directory is
  # private, the directories under it are not.
  chmod o+x "$BATS_RUN_TMPDIR"
  start_kqfsd -o allow_other
}

teardown_file() {
  stop_kqfsd
}

setup() {
  kqfs_setup
  # Relative paths from here, as the users run them.
  cd "$KQ"
  # The system's python, which every user may run (not root's pyenv).
  PYTHON=/usr/bin/python3
  # The usual default, which the modes below follow.
  umask 022
}

teardown() {
  # The processes a test left to be watched.
  local pid
  for pid in ${CHILDREN:-}; do kill "$pid" 2>/dev/null || true; done
  # The files make_files made, whether the test passed or not.
  if [ -n "${FILES:-}" ]; then rm -rf "$FILES"; fi
  kqfs_teardown
}

as_a() {
  setpriv --reuid=1001 --regid=1001 --clear-groups "$@"
}

as_b() {
  setpriv --reuid=1002 --regid=1002 --clear-groups "$@"
}

# A program that opens $1 with flags $2 (a python expression over os) and
# prints "ok" or the errno name.
OPEN_OUTCOME='
import errno, os, sys
try:
    os.open(sys.argv[1], eval(sys.argv[2]))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])'

# A program that writes each argument after $1 as one text record to
# changes file $1, through one handle, and prints "ok" or the errno name
# for each.
WRITE_RECORDS='
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for record in sys.argv[2:]:
    try:
        os.write(fd, (record + "\n").encode())
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])'

# A program that opens file $2 (flags os.O_PATH), then writes "FD $3" to
# changes file $1 from the same process and prints "ok" or the errno name.
WATCH_FILE='
import errno, os, sys
fd = os.open(sys.argv[2], os.O_PATH)
changes = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.write(changes, f"{fd} {sys.argv[3]}\n".encode())
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])'

# ------------------------------------------------------------------ events

@test "reading events needs write permission: B cannot read A's events (EACCES), A can" {
  as_a mkdir ev1 # with the usual umask 022: mode 0755
  run stat -c '%a %u' ev1 ev1/changes ev1/events ev1/events.json ev1/events.bin ev1/status
  assert_output "$(printf '%s\n' "755 1001" "200 1001" "400 1001" "400 1001" "400 1001" \
    "444 1001")"
  as_a sh -c 'echo "1 user add|clear" > ev1/changes && echo "1 user 0 trigger" > ev1/changes'
  for file in events events.json events.bin; do
    run as_b "$PYTHON" -c "$OPEN_OUTCOME" "ev1/$file" os.O_RDONLY
    assert_output EACCES
  done
  # Nothing was taken from A.
  assert_equal "$(status_field ev1 pending)" 1
  run as_a timeout 10 head -n1 ev1/events
  assert_success
  assert_output --regexp '^1 EVFILT_USER EV_ADD\|EV_CLEAR '
}

@test "a queue whose mode lets others write changes lets them read events too" {
  as_a mkdir -m 0777 ev2
  run stat -c %a ev2/events
  assert_output 444
  as_b sh -c 'echo "2 user add|clear" > ev2/changes && echo "2 user 0 trigger" > ev2/changes'
  run as_b timeout 10 head -n1 ev2/events
  assert_success
  assert_output --regexp '^2 EVFILT_USER '
}

@test "status shows knote lines only to those who may write changes" {
  as_a mkdir st1
  as_a sh -c 'echo "7 user add 0 0 4242" > st1/changes'
  # B reads the counters, not the knotes or their udata.
  run as_b cat st1/status
  assert_success
  assert_line "knotes: 1"
  refute_line --partial "knote:"
  refute_output --partial 4242
  # A, the owner, sees them; root too.
  run as_a cat st1/status
  assert_line "knote: 7 EVFILT_USER EV_ADD 0 0 4242"
  run cat st1/status
  assert_line "knote: 7 EVFILT_USER EV_ADD 0 0 4242"
  # Once the mode lets B write changes, B sees them.
  as_a chmod 0777 st1
  run as_b cat st1/status
  assert_line "knote: 7 EVFILT_USER EV_ADD 0 0 4242"
}

@test "a queue shared with a group: members by a supplementary group read events and see knotes" {
  setpriv --reuid=1001 --regid=4242 --clear-groups mkdir -m 0770 gr1
  as_a sh -c 'echo "3 user add|clear 0 0 99" > gr1/changes && echo "3 user 0 trigger 0 99" > gr1/changes'
  # B alone: neither.
  run as_b "$PYTHON" -c "$OPEN_OUTCOME" gr1/events os.O_RDONLY
  assert_output EACCES
  # B with group 4242 among its supplementary groups: both.
  run setpriv --reuid=1002 --regid=1002 --groups=4242 cat gr1/status
  assert_line "knote: 3 EVFILT_USER EV_ADD|EV_CLEAR 0 0 99"
  run setpriv --reuid=1002 --regid=1002 --groups=4242 timeout 10 head -n1 gr1/events
  assert_success
  assert_output --regexp '^3 EVFILT_USER '
}

# ---------------------------------------------------------- EVFILT_VNODE

# $FILES: a directory the test users can search, with a file only root may
# read (secret), one anybody may read (public), one for group 4242 (group)
# and a directory others may search but not read (unlisted).
make_files() {
  FILES=$(mktemp -d /tmp/kqfs-security.XXXXXX)
  chmod 0755 "$FILES"
  echo secret >"$FILES/secret"
  chmod 0600 "$FILES/secret"
  echo public >"$FILES/public"
  chmod 0644 "$FILES/public"
  echo group >"$FILES/group"
  chgrp 4242 "$FILES/group"
  chmod 0640 "$FILES/group"
  mkdir -m 0711 "$FILES/unlisted"
}

@test "EVFILT_VNODE only on what B may read: an O_PATH descriptor of a file it cannot read is EACCES" {
  make_files
  as_b mkdir vn1
  run as_b "$PYTHON" -c "$WATCH_FILE" vn1/changes "$FILES/secret" "vnode add|clear write|open|read"
  assert_output EACCES
  run status_field vn1 last-error
  assert_output --partial "uid 1002 may not read this file, which inotify requires"
  assert_equal "$(status_field vn1 knotes)" 0
}

@test "EVFILT_VNODE: B watches a file it may read, and one its supplementary group may read" {
  make_files
  as_b mkdir vn2
  run as_b "$PYTHON" -c "$WATCH_FILE" vn2/changes "$FILES/public" "vnode add|clear write"
  assert_output ok
  # Only with group 4242 among B's groups.
  run as_b "$PYTHON" -c "$WATCH_FILE" vn2/changes "$FILES/group" "vnode add|clear write"
  assert_output EACCES
  run setpriv --reuid=1002 --regid=1002 --groups=4242 \
    "$PYTHON" -c "$WATCH_FILE" vn2/changes "$FILES/group" "vnode add|clear write"
  assert_output ok
  # A directory B may search but not read is not B's to watch.
  run as_b "$PYTHON" -c "$WATCH_FILE" vn2/changes "$FILES/unlisted" "vnode add|clear write"
  assert_output EACCES
  # Root watches anything.
  run "$PYTHON" -c "$WATCH_FILE" vn2/changes "$FILES/secret" "vnode add|clear write"
  assert_output ok
}

# ----------------------------------------------------------- EVFILT_PROC

# B's python, in a mount namespace whose /proc is mounted with hidepid=$1,
# writes "PID$3" to file $2 for each pid after $3, and for a child of its
# own; prints each outcome.
write_pids_hidepid() {
  local hidepid=$1
  shift
  unshare -m sh -c 'mount -t proc -o hidepid="$1" proc /proc && shift &&
    exec setpriv --reuid=1002 --regid=1002 --clear-groups /usr/bin/python3 -c "
import errno, os, subprocess, sys
child = subprocess.Popen([\"sleep\", \"30\"])
fd = os.open(sys.argv[1], os.O_WRONLY)
for pid in sys.argv[3:] + [str(child.pid)]:
    try:
        os.write(fd, f\"{pid}{sys.argv[2]}\n\".encode())
        print(\"ok\")
    except OSError as e:
        print(errno.errorcode[e.errno])
child.kill()" "$@"' sh "$hidepid" "$@"
}

# watch_processes_hidepid HIDEPID CHANGES PID...: "PID proc add exit" each.
watch_processes_hidepid() {
  write_pids_hidepid "$1" "$2" " proc add exit" "${@:3}"
}

# hidepid_watch_of_a QUEUE HIDEPID: A runs a sleep (CHILDREN), B makes QUEUE,
# and watch_processes_hidepid HIDEPID QUEUE/changes CHILDREN runs under `run`.
hidepid_watch_of_a() {
  as_a sleep 60 3>&- &
  CHILDREN=$!
  as_b mkdir "$1"
  run watch_processes_hidepid "$2" "$1/changes" "$CHILDREN"
}

@test "EVFILT_PROC only for processes B sees in its /proc: hidepid=invisible hides A's process (ESRCH)" {
  hidepid_watch_of_a pr1 invisible
  # A's process: hidden; B's own child: seen.
  assert_output "$(printf '%s\n' ESRCH ok)"
  run status_field pr1 last-error
  assert_output --partial "process $CHILDREN is hidden from uid 1002 by its /proc (hidepid)"
  # hidepid=noaccess hides it too.
  run watch_processes_hidepid noaccess pr1/changes "$CHILDREN"
  assert_output "$(printf '%s\n' ESRCH ok)"
}

@test "EVFILT_PROC: where B's /proc shows every process, B may watch A's" {
  hidepid_watch_of_a pr2 off
  assert_output "$(printf '%s\n' ok ok)"
  run as_b "$PYTHON" -c "$WRITE_RECORDS" pr2/changes "$CHILDREN proc add exit"
  assert_output ok
}

@test "EVFILT_PROC, root kqfsd without CAP_SYS_PTRACE: B watches its own child, with its status; hidepid still hides A's process" {
  kqfsd_start_without sys_ptrace -o allow_other
  cd "$KQ"
  hidepid_watch_of_a np1 invisible
  assert_output "$(printf '%s\n' ESRCH ok)"
  run status_field np1 last-error
  assert_output --partial "process $CHILDREN is hidden from uid 1002 by its /proc (hidepid)"
  # B's own child, through B's queue: its exit and its status.
  as_b mkdir np2
  run as_b timeout 20 "$PYTHON" -c '
import os, sys
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.read(r, 1)
    os._exit(3)
fd = os.open("np2/changes", os.O_WRONLY)
os.write(fd, f"{pid} proc add exit 0 8\n".encode())
os.write(w, b"x")
print(open("np2/events").readline().strip().replace(str(pid), "CHILD"))
os.waitpid(pid, 0)'
  assert_success
  assert_output --regexp '^CHILD EVFILT_PROC EV_ADD\|(EV_ONESHOT\|)?EV_CLEAR\|EV_EOF NOTE_EXIT 768 8$'
}

# ------------------------------------------------------------- tied-to

@test "tied-to needs what writing changes needs: B cannot tie A's queue (EACCES), but reads it" {
  as_a mkdir ti1
  run stat -c %a ti1/tied-to
  assert_output 644
  run as_b "$PYTHON" -c "$OPEN_OUTCOME" ti1/tied-to os.O_WRONLY
  assert_output EACCES
  run as_b cat ti1/tied-to
  assert_output none
  # A may tie its queue to B's process, which it sees.
  as_b sleep 60 3>&- &
  CHILDREN=$!
  as_a sh -c "echo $CHILDREN > ti1/tied-to"
  run as_b grep tied-to: ti1/status
  assert_output "tied-to: $CHILDREN"
  kill "$CHILDREN"
  wait_until 10 test ! -e ti1
}

@test "tied-to: a queue whose mode lets B write changes lets B tie it, and so have it removed" {
  as_a mkdir -m 0777 ti2
  as_b sleep 60 3>&- &
  CHILDREN=$!
  as_b sh -c "echo $CHILDREN > ti2/tied-to"
  kill "$CHILDREN"
  wait_until 10 test ! -e ti2
}

@test "tied-to only for processes B sees in its /proc: hidepid=invisible hides A's process (ESRCH)" {
  as_a sleep 60 3>&- &
  CHILDREN=$!
  as_b mkdir ti3
  # A's process: hidden; B's own child: seen, and its end removes the queue.
  run write_pids_hidepid invisible ti3/tied-to "" "$CHILDREN"
  assert_output "$(printf '%s\n' ESRCH ok)"
  wait_until 10 test ! -e ti3
  grep -F "rejected tied-to $CHILDREN: No such process (process $CHILDREN is hidden from uid 1002 by its /proc (hidepid))" "$KQFS_LOG"
  # Where B's /proc shows every process, B may tie to A's.
  as_b mkdir ti4
  run write_pids_hidepid off ti4/tied-to "" "$CHILDREN"
  assert_output "$(printf '%s\n' ok ok)"
}

# ------------------------------------------------------- confused deputy

# Root receives a changes handle B opened (over a unix socket), and writes
# through it each record after $2 with "FD" replaced by a descriptor of
# root's own (/etc/passwd); then opens the file itself and writes the first
# record again. Prints each outcome.
deputy() {
  "$PYTHON" -c '
import errno, os, socket, sys
parent, child = socket.socketpair()
pid = os.fork()
if pid == 0:
    os.setgroups([]); os.setgid(1002); os.setuid(1002)
    socket.send_fds(child, [b"h"], [os.open(sys.argv[1], os.O_WRONLY)])
    os._exit(0)
_, (handle,), _, _ = socket.recv_fds(parent, 1, 1)
os.waitpid(pid, 0)
own_file = os.open("/etc/passwd", os.O_RDONLY)
def write(fd, record):
    try:
        os.write(fd, (record.replace("FD", str(own_file)) + "\n").encode())
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
for record in sys.argv[2:]:
    write(handle, record)
write(os.open(sys.argv[1], os.O_WRONLY), sys.argv[2])
print(sum(line.startswith("knote:") for line in open(sys.argv[1].replace("changes", "status"))))
' "$@"
}

@test "confused deputy: root writing to B's changes handle gets no knotes on root's descriptors (EACCES)" {
  as_b mkdir cd1
  run deputy cd1/changes "FD read add" "FD write add" "FD vnode add write" "SIGUSR1 signal add"
  # Through B's handle: refused; through root's own handle: applied.
  assert_output "$(printf '%s\n' EACCES EACCES EACCES EACCES ok 1)"
  run status_field cd1 last-error
  assert_output --partial "writer's credentials (0:0) differ from those of the process that opened this file (1002:1002)"
}

@test "confused deputy: records that name nothing of the writer still pass through another's handle" {
  as_b mkdir cd2
  run deputy cd2/changes "1 timer add 0 60000" "2 user add" "1 proc add exit"
  assert_output "$(printf '%s\n' ok ok ok ok 3)"
}

# ------------------------------------------ another process's descriptor

# A program that holds a pipe on fd 50 (its write end open), prints its
# pid and sleeps; with $1 =
# "undumpable", made non-dumpable first (as a setuid program is).
HOLD_PIPE='
import ctypes, os, sys, time
if sys.argv[1:] == ["undumpable"]:
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
r, w = os.pipe()
os.dup2(r, 50)
print(os.getpid(), flush=True)
time.sleep(60)'

# hold_pipe USER NAME [undumpable]: USER (as_a, as_b, or "" for root) runs
# HOLD_PIPE in the background; its pid is in HELD, and added to CHILDREN.
hold_pipe() {
  local user=$1 pidfile="$BATS_TEST_TMPDIR/$2.pid"
  $user "$PYTHON" -c "$HOLD_PIPE" "${@:3}" >"$pidfile" 3>&- &
  wait_for_pidfile "$pidfile"
  HELD=$(cat "$pidfile")
  CHILDREN="${CHILDREN:-} $HELD"
}

@test "FD@PID: B may not take A's or root's descriptor, nor an undumpable one of its own (EPERM)" {
  local of_a of_root undumpable
  hold_pipe as_a fd1a
  of_a=$HELD
  hold_pipe "" fd1r
  of_root=$HELD
  hold_pipe as_b fd1u undumpable
  undumpable=$HELD
  as_b mkdir fd1
  run as_b "$PYTHON" -c "$WRITE_RECORDS" fd1/changes "50@$of_a read add" "50@$of_root read add" \
    "50@$undumpable read add"
  assert_output "$(printf '%s\n' EPERM EPERM EPERM)"
  run status_field fd1 last-error
  assert_output "Operation not permitted (process $undumpable is not dumpable (setuid or setgid, or PR_SET_DUMPABLE 0): its descriptors are not uid 1002's to take (pidfd_getfd would refuse them)): 50@$undumpable EVFILT_READ EV_ADD 0 0 0"
  run grep -c "rejected Operation not permitted (process $of_a runs as uid 1001, gid 1001: its descriptors are not uid 1002's to take" "$KQFS_LOG"
  assert_output 1
  assert_equal "$(status_field fd1 knotes)" 0
}

@test "FD@PID: B takes its own process's descriptor; root takes B's" {
  local of_b
  hold_pipe as_b fd2b
  of_b=$HELD
  as_b mkdir fd2
  run as_b "$PYTHON" -c "$WRITE_RECORDS" fd2/changes "50@$of_b read add"
  assert_output ok
  mkdir fd2root
  run "$PYTHON" -c "$WRITE_RECORDS" fd2root/changes "50@$of_b read add"
  assert_output ok
  # Each knote is B's process's, and goes with it.
  run sh -c "sed -n 's/^knote: //p' fd2/status fd2root/status"
  assert_output "$(printf '%s\n' "50@$of_b EVFILT_READ EV_ADD 0 0 0" "50@$of_b EVFILT_READ EV_ADD 0 0 0")"
  kill "$of_b"
  wait_status fd2 knotes 0
  wait_status fd2root knotes 0
  run sed -n 's/^dropped: [^ ]* //p' fd2/status
  assert_output "50 EVFILT_READ of pid $of_b: the process exited"
}

@test "FD@PID: a process hidden from B by its /proc (hidepid) is ESRCH, before any other check" {
  local of_a
  hold_pipe as_a fd3a
  of_a=$HELD
  as_b mkdir fd3
  run unshare -m sh -c 'mount -t proc -o hidepid=invisible proc /proc &&
    exec setpriv --reuid=1002 --regid=1002 --clear-groups "$0" -c "$1" "$2" "$3"' \
    "$PYTHON" "$WRITE_RECORDS" fd3/changes "50@$of_a read add"
  assert_output ESRCH
  run status_field fd3 last-error
  assert_output --partial "process $of_a is hidden from uid 1002 by its /proc (hidepid)"
}

@test "FD@PID: the confused deputy rule still holds (root through B's handle: EACCES)" {
  as_b mkdir fd4
  local of_b
  hold_pipe as_b fd4b
  of_b=$HELD
  run deputy fd4/changes "50@$of_b read add"
  # Through B's handle: refused; through root's own: applied.
  assert_output "$(printf '%s\n' EACCES ok 1)"
}

# ------------------------------------------------------- making queues

@test "kqctl create fails on a queue that exists, whoever made it; mkdir is EEXIST" {
  as_b mkdir -m 0777 shared
  run --separate-stderr as_a "$KQCTL" --mount .. create shared
  assert_failure 1
  assert_equal "$stderr" \
    "kqctl create: cannot create queue 'shared': it already exists (owner uid 1002, mode 0777)"
  run as_a mkdir shared
  assert_failure
  assert_output --partial "File exists"
  # A name nobody has is A's.
  as_a "$KQCTL" --mount .. create mine
  run stat -c '%u %a' mine
  assert_output "1001 755"
}
