#!/usr/bin/env bats
# kqfsd's command line and lifecycle (docs/design.md#the-daemon).

load mount_helpers

# ------------------------------------------------------------ command line

@test "--help exits 0 and describes the options" {
  kqfsd_run --help
  assert_success
  assert_output --partial "Usage"
  local option
  for option in --help --version --foreground --debug --option --max-queues --max-knotes \
    --signal-buffer-kb --config --log --log-level MOUNTPOINT allow_other; do
    assert_output --partial -- "$option"
  done
}

@test "--version exits 0 and prints a version" {
  kqfsd_run --version
  assert_success
  assert_output --regexp '^kqfsd [0-9]+\.[0-9]+(\.[0-9]+)?'
  assert_equal "${#lines[@]}" 1
}

@test "an unknown option fails with a usage message and mounts nothing" {
  export KQFS_MOUNT
  KQFS_MOUNT=$(new_mount_point)
  kqfsd_run --no-such-option
  assert_failure
  assert_output --partial "no-such-option"
  assert_output --partial "Usage"
  not_mounted "$KQFS_MOUNT"
  assert_equal "$(our_daemons)" ""
}

@test "a limit of 0 is refused" {
  local m
  m=$(new_mount_point)
  kqfsd_run --max-queues 0 "$m"
  assert_failure
  not_mounted "$m"
  kqfsd_run --max-knotes 0 "$m"
  assert_failure
  not_mounted "$m"
  kqfsd_run --signal-buffer-kb 0 "$m"
  assert_failure
  not_mounted "$m"
}

# ----------------------------------------------------------------- starting

@test "-f stays in the foreground, serving the mount, until SIGTERM" {
  local m pid rc=0
  m=$(new_mount_point)
  "$KQFSD" -f --log "$m.log" "$m" >"$KQFSD_OUT" 2>&1 3>&- &
  pid=$!
  wait_until 10 is_mounted "$m"
  sleep 0.3
  kill -0 "$pid" # still there: it did not fork off and return
  run ls "$m/kq"
  assert_output clone
  mkdir "$m/kq/fg"
  echo "1 user add" >"$m/kq/fg/changes"
  assert_equal "$(status_field "$m/kq/fg" knotes)" 1
  # The process serving the mount is the one started.
  assert_equal "$(daemon_of "$m")" "$pid"
  kill -TERM "$pid"
  wait_until 10 gone "$pid"
  wait "$pid" || rc=$?
  assert_equal "$rc" 0
  not_mounted "$m"
}

@test "without -f kqfsd returns only once the mount is ready" {
  local m i
  for i in 1 2 3; do
    m=$(new_mount_point)
    kqfsd_run --log "$m.log" "$m"
    assert_success
    # At once, no waiting.
    run ls "$m/kq"
    assert_success
    assert_output clone
    mkdir "$m/kq/q$i"
    kqfsd_stop "$m"
  done
}

@test "a missing mount point fails with a clear message" {
  assert_mount_point_refused "$BATS_TEST_TMPDIR/missing"
}

@test "a mount point that is not a directory fails with a clear message" {
  local m="$BATS_TEST_TMPDIR/plainfile"
  echo "not a directory" >"$m"
  assert_mount_point_refused "$m"
  run cat "$m"
  assert_output "not a directory"
}

@test "with no MOUNTPOINT kqfsd mounts at \$KQFS_MOUNT" {
  export KQFS_MOUNT
  KQFS_MOUNT=$(new_mount_point)
  export XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/xdg"
  mkdir -p "$XDG_RUNTIME_DIR/kqfs"
  remember_mount "$XDG_RUNTIME_DIR/kqfs"
  kqfsd_run --log "$BATS_TEST_TMPDIR/log"
  assert_success
  is_mounted "$KQFS_MOUNT"
  not_mounted "$XDG_RUNTIME_DIR/kqfs"
  run ls "$KQFS_MOUNT/kq"
  assert_output clone
  kqfsd_stop "$KQFS_MOUNT" TERM "$BATS_TEST_TMPDIR/log"
}

@test "with no MOUNTPOINT and no KQFS_MOUNT kqfsd mounts at \$XDG_RUNTIME_DIR/kqfs" {
  unset KQFS_MOUNT
  export XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/xdg"
  mkdir -p "$XDG_RUNTIME_DIR"
  remember_mount "$XDG_RUNTIME_DIR/kqfs"
  kqfsd_run --log "$BATS_TEST_TMPDIR/log"
  assert_success
  is_mounted "$XDG_RUNTIME_DIR/kqfs"
  run ls "$XDG_RUNTIME_DIR/kqfs/kq"
  assert_output clone
  kqfsd_stop "$XDG_RUNTIME_DIR/kqfs" TERM "$BATS_TEST_TMPDIR/log"
}

# ------------------------------------------------------------------ options

@test "--config FILE sets options: max-queues = 2 makes the third mkdir ENOSPC" {
  printf '# limits\nmax-queues = 2\n' >"$BATS_TEST_TMPDIR/kqfsd.conf"
  kqfsd_start --config "$BATS_TEST_TMPDIR/kqfsd.conf"
  mkdir "$KQ/a" "$KQ/b"
  run outcome_of mkdir "$KQ/c"
  assert_output ENOSPC
  run ls "$KQ"
  refute_line c
}

@test "the command line wins over --config" {
  printf 'max-queues = 1\n' >"$BATS_TEST_TMPDIR/kqfsd.conf"
  kqfsd_start --config "$BATS_TEST_TMPDIR/kqfsd.conf" --max-queues 3
  mkdir "$KQ/a" "$KQ/b" "$KQ/c"
  run outcome_of mkdir "$KQ/d"
  assert_output ENOSPC
}

@test "an unreadable or invalid --config fails with a message and mounts nothing" {
  local m
  m=$(new_mount_point)
  kqfsd_run --config "$BATS_TEST_TMPDIR/no-such.conf" "$m"
  assert_failure
  assert_output --partial "no-such.conf"
  not_mounted "$m"
  printf 'no-such-setting = 1\n' >"$BATS_TEST_TMPDIR/bad.conf"
  kqfsd_run --config "$BATS_TEST_TMPDIR/bad.conf" "$m"
  assert_failure
  assert_output --partial "no-such-setting"
  not_mounted "$m"
  wait_until 5 test -z "$(our_daemons)"
}

@test "--max-queues N: mkdir past N is ENOSPC, and rmdir frees a place" {
  kqfsd_start --max-queues 3
  mkdir "$KQ/a" "$KQ/b" "$KQ/c"
  run outcome_of mkdir "$KQ/d"
  assert_output ENOSPC
  rmdir "$KQ/b"
  mkdir "$KQ/d"
  run outcome_of mkdir "$KQ/e"
  assert_output ENOSPC
}

@test "--max-queues N: opening kq/clone past N is ENOSPC, and clones count" {
  kqfsd_start --max-queues 2
  mkdir "$KQ/a"
  run timeout 10 python3 - "$KQ" <<'EOF'
import os, sys, kq
kqdir = sys.argv[1]
fd = os.open(os.path.join(kqdir, "clone"), os.O_RDWR)  # the second queue
print("clone", kq.outcome(os.open, os.path.join(kqdir, "clone"), os.O_RDWR))
print("mkdir", kq.outcome(os.mkdir, os.path.join(kqdir, "b")))
EOF
  assert_success
  assert_output "$(printf '%s\n' "clone ENOSPC" "mkdir ENOSPC")"
  # The clone is gone with its handle: a place again (release may lag).
  wait_until 5 test "$(ls "$KQ" | wc -l)" -eq 2
  run outcome_of_clone "$KQ"
  assert_output ok
}

@test "--max-knotes N: the (N+1)th knote is ENOSPC and status last-error says so" {
  kqfsd_start --max-knotes 3
  mkdir "$KQ/q" "$KQ/other"
  run timeout 10 python3 - "$KQ/q/changes.bin" "$KQ/other/changes" <<'EOF'
import os, sys, kq
fd = os.open(sys.argv[1], os.O_WRONLY)
user = kq.EVFILT["user"]
def add(ident):
    return kq.write_outcome(fd, kq.pack(ident, user, kq.EV_ADD))
print("adds", [add(i) for i in (1, 2, 3)])
print("fourth", add(4))
print("modify", kq.write_result(fd, kq.pack(2, user, 0, kq.NOTE_TRIGGER)))
print("delete", kq.write_result(fd, kq.pack(3, user, kq.EV_DELETE)))
print("again", add(4))
other = os.open(sys.argv[2], os.O_WRONLY)
print("other queue", kq.write_result(other, b"1 user add\n2 user add\n3 user add\n"))
EOF
  assert_success
  assert_line "adds [32, 32, 32]"
  assert_line "fourth ENOSPC"
  assert_line "modify 32"
  assert_line "delete 32"
  assert_line "again 32"
  assert_line "other queue 33"
  assert_equal "$(status_field "$KQ/q" knotes)" 3
  assert_last_error "$KQ/q" --regexp '(space|ENOSPC|limit)'
}

# A writer that asks without pause while a reader waits for a timer: the
# daemon serves both, spinning on the device or not.
serves_a_busy_writer_and_a_timer() {
  kqfsd_start "$@"
  run_queue_py 30 <<'EOF'
import threading
changes = os.open(q + "/changes", os.O_WRONLY)
events = os.open(q + "/events", os.O_RDONLY)
for _ in range(2000):
    os.write(changes, b"#\n")
os.write(changes, b"1 timer add|oneshot 0 100 7\n")
done = threading.Event()
def ask():
    while not done.is_set():
        os.write(changes, b"#\n")
asker = threading.Thread(target=ask)
asker.start()
start = time.monotonic()
print(os.read(events, 4096).decode().strip())
print("waited under 5 s:", time.monotonic() - start < 5)
done.set()
asker.join()
EOF
  assert_success
  assert_line "1 EVFILT_TIMER EV_ADD|EV_ONESHOT|EV_CLEAR 0 1 7"
  assert_line "waited under 5 s: True"
}

@test "--busy-poll-us N: a spinning daemon serves a writer that never pauses, and its timers still fire" {
  serves_a_busy_writer_and_a_timer --busy-poll-us 200
}

@test "--busy-poll-us 0 (no spinning) serves the same" {
  serves_a_busy_writer_and_a_timer --busy-poll-us 0
}

@test "--busy-poll-us is described by --help, and past 10000 refused" {
  kqfsd_run --help
  assert_output --partial -- "--busy-poll-us"
  local m
  m=$(new_mount_point)
  kqfsd_run --busy-poll-us 10001 "$m"
  assert_failure
  assert_output --partial "at most 10000"
  not_mounted "$m"
}

@test "-o options reach FUSE: allow_other shows in /proc/mounts and admits other users (setpriv 65534)" {
  kqfsd_start -o allow_other
  run awk -v m="$M" '$2 == m { print $4 }' /proc/mounts
  assert_output --partial allow_other
  cd "$KQ"
  as_nobody mkdir -m 0700 theirs
  run stat -c '%u %g %a' theirs
  assert_output "65534 65534 700"
}

@test "without allow_other the mount is private to its user (setpriv 65534)" {
  kqfsd_start
  run awk -v m="$M" '$2 == m { print $4 }' /proc/mounts
  refute_output --partial allow_other
  cd "$M"
  run as_nobody ls kq
  assert_failure
  run as_nobody mkdir kq/theirs
  assert_failure
  run ls "$KQ"
  refute_line theirs
}

@test "an invalid -o option fails with a message and mounts nothing" {
  local m
  m=$(new_mount_point)
  kqfsd_run -o no_such_fuse_option "$m"
  assert_failure
  assert_output --partial no_such_fuse_option
  not_mounted "$m"
  wait_until 5 test -z "$(our_daemons)"
}

@test "--log FILE receives the log, a rejected record included" {
  kqfsd_start
  grep -qF "$M" "$LOG"
  mkdir "$KQ/q"
  run bash -c "echo '1 EVFILT_RAED add' > '$KQ/q/changes'"
  assert_failure
  wait_until 5 grep -q "EVFILT_RAED" "$LOG"
  run grep "EVFILT_RAED" "$LOG"
  assert_output --partial "q" # names the queue
  kqfsd_stop "$M"
  # Nothing of it went to the terminal.
  run cat "$KQFSD_OUT"
  assert_output ""
}

@test "-d logs requests; without -f it still returns once mounted, with -f it serves" {
  local m pid
  m=$(new_mount_point)
  run timeout 10 "$KQFSD" -d --log "$m.log" "$m" 3>&-
  assert_success
  is_mounted "$m"
  stat "$m/kq/looked-up-name" 2>/dev/null || true
  mkdir "$m/kq/made-by-mkdir"
  run cat "$m.log"
  assert_output --partial "looked-up-name"
  assert_output --partial "made-by-mkdir"
  kqfsd_stop "$m"

  m=$(new_mount_point)
  "$KQFSD" -d -f --log "$m.log" "$m" >"$KQFSD_OUT" 2>&1 3>&- &
  pid=$!
  wait_until 10 is_mounted "$m"
  assert_equal "$(daemon_of "$m")" "$pid"
  stat "$m/kq/looked-up-name" 2>/dev/null || true
  mkdir "$m/kq/made-by-mkdir"
  run cat "$m.log"
  assert_output --partial "looked-up-name"
  assert_output --partial "made-by-mkdir"
}

# ----------------------------------------------------------------- stopping

# Several readers blocked on every events format, then signal $1: each ends
# promptly with end of file, the mount goes, the process ends.
stops_with_readers() {
  kqfsd_start
  local q="$KQ/q" f i start pid
  mkdir "$q"
  echo "1 user add" >"$q/changes"
  i=0
  for f in events events events.json events.bin; do
    i=$((i + 1))
    start_cat_reader "$q/$f" "reader$i" 30
  done
  wait_status "$q" readers 4
  pid=$(daemon_of "$M")
  start=$SECONDS
  kill "-$1" "$pid"
  for i in 1 2 3 4; do
    assert_reader_got_eof "reader$i" 10
  done
  ((SECONDS - start < 10))
  wait_until 10 gone "$pid"
  not_mounted "$M"
  # Unmounted cleanly: the directory is usable again, not a dead endpoint.
  run ls -A "$M"
  assert_success
  assert_output ""
}

@test "SIGTERM unmounts cleanly and ends every blocked reader with end of file" {
  stops_with_readers TERM
}

@test "SIGINT unmounts cleanly and ends every blocked reader with end of file" {
  stops_with_readers INT
}

@test "SIGTERM unmounts cleanly while handles are open and the kernel waits on a poll" {
  kqfsd_start
  mkdir "$KQ/q"
  python3 - "$KQ" >"$BATS_TEST_TMPDIR/poll.out" 3>&- <<'EOF' &
import os, select, sys
kqdir = sys.argv[1]
clone = os.open(os.path.join(kqdir, "clone"), os.O_RDWR)
changes = os.open(os.path.join(kqdir, "q", "changes"), os.O_WRONLY)
p = select.poll()
p.register(clone, select.POLLIN)
print("polling", flush=True)
print("woke", bool(p.poll(30000)), flush=True)
EOF
  local py=$!
  wait_until 10 grep -q polling "$BATS_TEST_TMPDIR/poll.out"
  sleep 0.2
  kqfsd_stop "$M" TERM
  wait_until 10 gone "$py"
  run cat "$BATS_TEST_TMPDIR/poll.out"
  assert_line "woke True"
}

# ----------------------------------------------------------- signal tracing
# EVFILT_SIGNAL needs root: kqfsd traces signals in a tracefs instance,
# one per daemon, named kqfs-PID-...

INSTANCES=/sys/kernel/tracing/instances

# The tracefs instances of the process numbered $1, one per line.
instances_of() {
  local d
  for d in "$INSTANCES"/kqfs-"$1"-*; do
    [ -d "$d" ] && echo "$d"
  done
  return 0
}

@test "signal tracing (root): 100 queues with a signal knote share one instance of --signal-buffer-kb KiB; SIGTERM removes it" {
  kqfsd_start --signal-buffer-kb 64
  local pid i
  pid=$(daemon_of "$M")
  [ -n "$pid" ]
  run instances_of "$pid"
  assert_output "" # none before the first signal knote
  # The test's shell is the writer (echo, trap and kill are builtins).
  trap '' USR1
  for ((i = 1; i <= 100; i++)); do
    mkdir "$KQ/s$i"
    echo "SIGUSR1 signal add" >"$KQ/s$i/changes"
  done
  run instances_of "$pid"
  assert_equal "${#lines[@]}" 1
  # The kernel rounds up to whole pages of events (64 asked: 67).
  local size
  size=$(cat "${lines[0]}/buffer_size_kb")
  ((size >= 64 && size < 128)) || fail "buffer_size_kb is $size, not about 64"
  kill -USR1 "$BASHPID"
  for ((i = 1; i <= 100; i++)); do
    run timeout 10 head -n1 "$KQ/s$i/events"
    assert_output "10 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0"
  done
  trap - USR1
  kqfsd_stop "$M"
  run instances_of "$pid"
  assert_output ""
}

@test "signal tracing (root): the instance of a kqfsd killed by SIGKILL is removed when a kqfsd starts" {
  kqfsd_start
  local crashed_mount=$M crashed
  crashed=$(daemon_of "$M")
  mkdir "$KQ/q"
  echo "SIGUSR1 signal add" >"$KQ/q/changes"
  run instances_of "$crashed"
  assert_equal "${#lines[@]}" 1
  kill -KILL "$crashed"
  wait_until 10 gone "$crashed"
  # Left behind -- unless a kqfsd of a suite running alongside started
  # meanwhile and removed it already, as the next start here must.
  umount -l "$crashed_mount"

  kqfsd_start # no signal knote: removed at start
  run instances_of "$crashed"
  assert_output ""
}

@test "signal tracing (root): at start kqfsd removes instances of gone processes only" {
  mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
  local gone_pid
  bash -c 'exit 0' &
  gone_pid=$!
  wait "$gone_pid" || true
  mkdir "$INSTANCES/kqfs-$gone_pid-x" "$INSTANCES/kqfs-$BASHPID-live"
  kqfsd_start
  local stale=no live=no
  [ -d "$INSTANCES/kqfs-$gone_pid-x" ] && stale=yes
  [ -d "$INSTANCES/kqfs-$BASHPID-live" ] && live=yes
  rmdir "$INSTANCES/kqfs-$BASHPID-live" "$INSTANCES/kqfs-$gone_pid-x" 2>/dev/null || true
  assert_equal "$stale" no
  assert_equal "$live" yes
}

# ------------------------------------------------------------------- memory

# The VmRSS of process $1, in KiB.
resident_kb() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# add_timers QUEUE N: registers timers 1..N (24 h period, never firing) in
# 1 MiB writes of binary records to QUEUE/changes.bin.
add_timers() {
  python3 - "$1/changes.bin" "$2" <<'PY'
import os, sys
from kq import EV_ADD, EVFILT_TIMER, pack
from kqfs import NOTE_SECONDS
path, count = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY)
batch = 32768
for first in range(1, count + 1, batch):
    last = min(first + batch, count + 1)
    records = b"".join(pack(i, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 86400, i)
                       for i in range(first, last))
    assert os.write(fd, records) == len(records)
os.close(fd)
PY
}

@test "rmdir of a queue with 300 000 knotes gives the daemon's memory back (VmRSS within 10 % of before)" {
  # The bound is glibc malloc's, given back by malloc_trim. AddressSanitizer
  # brings an allocator of its own, whose quarantine (off here) and shadow
  # memory keep more: with it, the daemon must still give most back.
  local sanitized=false
  if [[ ${KQFS_SANITIZE:-none} == *address* ]]; then
    sanitized=true
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0:allocator_release_to_os_interval_ms=0"
  fi
  kqfsd_start
  local pid before holding after
  pid=$(daemon_of "$M")
  # What any daemon keeps once it has served a queue: libfuse's request
  # buffer, as large as the largest write.
  mkdir "$KQ/warm-up"
  add_timers "$KQ/warm-up" 32768
  rmdir "$KQ/warm-up"
  before=$(resident_kb "$pid")
  mkdir "$KQ/big"
  add_timers "$KQ/big" 300000
  assert_equal "$(status_field "$KQ/big" knotes)" 300000
  holding=$(resident_kb "$pid")
  rmdir "$KQ/big"
  after=$(resident_kb "$pid")
  echo "# VmRSS KiB: before $before, holding $holding, after rmdir $after" >&3
  ((holding > before + 20000)) || fail "the knotes took no memory? $before -> $holding"
  if $sanitized; then
    (((after - before) * 4 <= holding - before)) || fail "after rmdir $after KiB, before $before KiB"
  else
    ((after * 10 <= before * 11)) || fail "after rmdir $after KiB, before $before KiB"
  fi
}

# ------------------------------------------------------------- mount point

# The number of mounts at $1 (a stacked second mount would make it 2).
mounts_at() {
  awk -v m="$1" '$5 == m { n++ } END { print n + 0 }' /proc/self/mountinfo
}

@test "--help lists the environment, the signals and the exit status after the options" {
  kqfsd_run --help
  assert_success
  local section
  for section in Options: Environment: Signals: "Exit status:"; do
    assert_line "$section"
  done
  # In that order, after the options.
  [[ "$output" == *"Options:"*"Environment:"*"Signals:"*"Exit status:"* ]]
  assert_line --regexp '^  KQFS_MOUNT +the default MOUNTPOINT'
  assert_line --regexp '^  XDG_RUNTIME_DIR +else the default is \$XDG_RUNTIME_DIR/kqfs, else /run/kqfs$'
  assert_line --regexp '^  SIGTERM, SIGINT +unmount and exit$'
  assert_line --regexp '^  SIGHUP +reopen the --log file'
  assert_line --regexp '^  0 +mounted \(without -f, once the mount is ready\), or unmounted on SIGTERM$'
  assert_line --regexp '^  1 +could not start'
  assert_line --regexp '^  2 +a bad command line or configuration file$'
  # And what it says is so: KQFS_MOUNT is the default mount point, a bad
  # option exits 2, SIGINT unmounts and exits 0.
  local m
  m=$(new_mount_point)
  kqfsd_run --no-such-option
  assert_failure 2
  KQFS_MOUNT=$m kqfsd_run --log "$m.log"
  assert_success
  is_mounted "$m"
  kqfsd_stop "$m" INT
}

@test "--help describes --nonempty" {
  kqfsd_run --help
  assert_success
  assert_output --partial -- "--nonempty"
}

@test "a second kqfsd on a live kqfs mount exits non-zero naming the first one's pid, and stacks nothing" {
  kqfsd_start
  mkdir "$KQ/kept"
  local first
  first=$(daemon_of "$M")
  [ -n "$first" ]
  kqfsd_run --log "$M.second.log" "$M"
  assert_failure
  assert_output --partial "already mounted by kqfsd pid $first"
  assert_equal "$(mounts_at "$M")" 1
  # The first daemon and its queues are untouched.
  run ls "$KQ"
  assert_output $'clone\nkept'
  assert_equal "$(daemon_of "$M.second.log")" ""
  # The same with -f, which reports to its log.
  kqfsd_run -f --log "$M.second.log" "$M"
  assert_failure
  grep -q "already mounted by kqfsd pid $first" "$M.second.log"
  assert_equal "$(mounts_at "$M")" 1
}

@test "a stale mount left by a kqfsd killed with SIGKILL is replaced at restart, and the log says so" {
  kqfsd_start
  local first
  first=$(daemon_of "$M")
  kill -KILL "$first"
  wait_until 10 gone "$first"
  run stat "$M"
  assert_failure
  assert_output --partial "Transport endpoint is not connected"
  kqfsd_run --log "$M.restart.log" "$M"
  assert_success
  assert_equal "$(mounts_at "$M")" 1
  mkdir "$KQ/after"
  echo "1 user add" >"$KQ/after/changes"
  assert_equal "$(status_field "$KQ/after" knotes)" 1
  run cat "$M.restart.log"
  assert_output --partial "replaced a stale kqfs mount at $M left by kqfsd pid $first"
}

@test "a stale mount the daemon may not unmount is refused with the exact command that fixes it" {
  kqfsd_start
  local first
  first=$(daemon_of "$M")
  kill -KILL "$first"
  wait_until 10 gone "$first"
  # Root without CAP_SYS_ADMIN may not unmount it.
  run timeout 30 setpriv --bounding-set -sys_admin "$KQFSD" --log "$M.restart.log" "$M"
  assert_failure
  assert_output --partial "stale kqfs mount at $M (kqfsd pid $first is gone)"
  assert_output --partial "run: fusermount3 -u -z $M"
  assert_equal "$(mounts_at "$M")" 1
  # The command given works, and then kqfsd starts.
  fusermount3 -u -z "$M"
  kqfsd_run --log "$M.restart.log" "$M"
  assert_success
  run ls "$KQ"
  assert_output clone
}

@test "a non-empty directory is refused unless --nonempty is given" {
  local m
  m=$(new_mount_point)
  echo data >"$m/file"
  kqfsd_run --log "$m.log" "$m"
  assert_failure
  assert_output --partial "mount point $m is not empty (give --nonempty"
  not_mounted "$m"
  kqfsd_run --nonempty --log "$m.log" "$m"
  assert_success
  run ls "$m"
  assert_output "$(printf 'kq\nstatus')"
  kqfsd_stop "$m"
  assert_equal "$(cat "$m/file")" data
}

# ------------------------------------------------ errors name the real cause

@test "out of descriptors: a descriptor record fails with EMFILE and status says the daemon is short" {
  M=$(new_mount_point)
  KQ="$M/kq"
  run timeout 30 prlimit --nofile=40:40 "$KQFSD" --log "$M.log" "$M"
  assert_success
  mkdir "$KQ/q"
  # Each read knote on a new pipe holds descriptors in the daemon: register
  # until one fails; then a new process's record fails too (its lookup needs
  # a descriptor).
  run python3 - "$KQ/q/changes" <<'EOF'
import errno, os, subprocess, sys
changes = sys.argv[1]
fd = os.open(changes, os.O_WRONLY)
pipes = []
for _ in range(200):
    r, w = os.pipe()
    pipes.append((r, w))
    try:
        os.write(fd, b"%d read add\n" % r)
    except OSError as e:
        print("first failure:", errno.errorcode[e.errno])
        break
child = subprocess.run([sys.executable, "-c", """
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.write(fd, b"0 read add\\n")
    print("new writer: ok")
except OSError as e:
    print("new writer:", errno.errorcode[e.errno])
""", changes], capture_output=True, text=True)
print(child.stdout.strip())
EOF
  assert_line "first failure: EMFILE"
  assert_line "new writer: EMFILE"
  assert_last_error "$KQ/q" --partial "Too many open files (daemon out of descriptors)"
  grep -q "daemon out of descriptors" "$M.log"
  # The daemon still answers.
  run cat "$KQ/q/status"
  assert_success
  kqfsd_stop "$M"
}

# writer_registers_pipe DUMPABLE [PREFIX...]: a python writer (run under
# PREFIX) sets PR_SET_DUMPABLE to DUMPABLE and registers the read end of a
# pipe it has open: prints "ok" or the errno name.
writer_registers_pipe() {
  local dumpable=$1
  shift
  "$@" python3 - "$KQ/q/changes" "$dumpable" <<'EOF'
import ctypes, errno, os, sys
PR_SET_DUMPABLE = 4
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(PR_SET_DUMPABLE, int(sys.argv[2]), 0, 0, 0) == 0
r, w = os.pipe()
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.write(fd, b"%d read add\n" % r)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
}

@test "a non-dumpable writer registers its pipe with a root daemon (CAP_SYS_PTRACE reaches it)" {
  kqfsd_start
  mkdir "$KQ/q"
  run writer_registers_pipe 0
  assert_output ok
  # Applied (the knote itself ends with the writer, as on BSD).
  assert_equal "$(status_field "$KQ/q" changes)" 1
  assert_last_error "$KQ/q" none
}

@test "a non-dumpable writer out of the daemon's reach gets EACCES with the reason, never EBADF" {
  # A root daemon without CAP_SYS_PTRACE reaches writers whose capabilities
  # are a subset of its own, unless they are not dumpable.
  M=$(new_mount_point)
  KQ="$M/kq"
  run timeout 30 setpriv --bounding-set -sys_ptrace "$KQFSD" --log "$M.log" "$M"
  assert_success
  mkdir "$KQ/q"
  run writer_registers_pipe 1 setpriv --bounding-set -sys_ptrace
  assert_output ok
  run writer_registers_pipe 0 setpriv --bounding-set -sys_ptrace
  assert_output EACCES
  assert_last_error "$KQ/q" --partial "writer's descriptors out of the daemon's reach: writer not dumpable"
  assert_equal "$(status_field "$KQ/q" changes)" 1
  kqfsd_stop "$M"
}
