#!/usr/bin/env bats
# What bounds kqfsd and keeps it up: its own descriptor limit, per-user
# limits, over-long lines, a log no client can flood, and how it runs
# detached (docs/limits.md).

load mount_helpers

# mkdir_until_refused DIR MAX: makes DIR/q1, DIR/q2 ... until one is refused
# or MAX are made; prints how many were made and the errno of the refusal.
mkdir_until_refused() {
  python3 - "$1" "$2" <<'EOF'
import errno, os, sys
made = 0
for i in range(1, int(sys.argv[2]) + 1):
    try:
        os.mkdir(f"{sys.argv[1]}/q{i}")
    except OSError as e:
        print(made, errno.errorcode[e.errno])
        break
    made += 1
else:
    print(made, "none")
EOF
}

@test "out of descriptors: mkdir is EMFILE, a change is EMFILE with the reason, the daemon lives on" {
  M=$(new_mount_point)
  LOG="$M.log"
  KQ="$M/kq"
  # Soft and hard limit alike: the daemon can raise nothing.
  prlimit --nofile=64:64 "$KQFSD" --log "$LOG" "$M"
  is_mounted "$M"
  read -r made refusal < <(mkdir_until_refused "$KQ" 200)
  assert_equal "$refusal" EMFILE
  [ "$made" -ge 5 ]
  grep -q "refused: EMFILE (daemon out of descriptors)" "$LOG"

  # Every queue made still works: a user event needs no descriptor.
  echo "1 user add" >"$KQ/q1/changes"
  echo "1 user 0 trigger" >"$KQ/q1/changes"
  run timeout 5 head -n1 "$KQ/q1/events"
  assert_success
  assert_output --partial "1 EVFILT_USER"

  # A queue's first timer needs a timerfd: once none is left, refused with why.
  run timeout 10 python3 - "$KQ" "$made" <<'EOF'
import os, sys, kq
for i in range(2, int(sys.argv[2]) + 1):
    fd = os.open(f"{sys.argv[1]}/q{i}/changes", os.O_WRONLY)
    result = kq.write_outcome(fd, b"1 timer add 0 100000\n")
    os.close(fd)
    if result != 21:
        print(i, result)
        break
EOF
  assert_success
  local refused_in error
  read -r refused_in error <<<"$output"
  assert_equal "$error" EMFILE
  assert_last_error "$KQ/q$refused_in" --partial "(daemon out of descriptors)"

  # Removing queues gives their descriptors back.
  local i removed=0
  for ((i = made; i >= 2 && removed < 2; i--)); do
    [ "$i" = "$refused_in" ] || { rmdir "$KQ/q$i" && removed=$((removed + 1)); }
  done
  echo "2 timer add 0 10" >"$KQ/q$refused_in/changes"
  run timeout 5 head -n1 "$KQ/q$refused_in/events"
  assert_output --partial "2 EVFILT_TIMER"
  kqfsd_stop "$M"
}

@test "--max-queues-per-user N: one user's mkdir and clone past N are ENOSPC, others still make queues" {
  kqfsd_start -o allow_other --max-queues-per-user 2
  # Relative paths: the test's directories above the mount are root's alone.
  cd "$KQ"
  as_user() { setpriv --reuid=1001 --regid=1001 --clear-groups "$@"; }
  as_user mkdir a1 a2
  run as_user mkdir a3
  assert_failure
  assert_output --partial "No space left on device"
  run as_user /usr/bin/python3 -c 'import os, kq; print(kq.outcome(os.open, "clone", os.O_RDWR))'
  assert_output ENOSPC
  grep -q "queue a3 for uid 1001 refused: ENOSPC (uid 1001 holds its limit of 2 queues)" "$LOG"
  # Another user is not held back by uid 1001.
  mkdir r1 r2
  as_user rmdir a1
  as_user mkdir a3
}

@test "--max-knotes-per-user N: knotes count across a user's queues; rmdir gives them back" {
  kqfsd_start --max-knotes-per-user 5
  mkdir "$KQ/q1" "$KQ/q2"
  printf '1 user add\n2 user add\n3 user add\n' >"$KQ/q1/changes"
  printf '1 timer add 0 100000\n2 user add\n' >"$KQ/q2/changes"
  run bash -c "echo '3 user add' >'$KQ/q2/changes'"
  assert_failure
  assert_output --partial "No space left on device"
  assert_last_error "$KQ/q2" --partial "holds its limit of 5 knotes"
  rmdir "$KQ/q1"
  printf '3 user add\n4 user add\n5 user add\n' >"$KQ/q2/changes"
  assert_equal "$(status_field "$KQ/q2" knotes)" 5
}

@test "--max-buffered-per-user N: unfinished lines past N are ENOSPC; closing gives the room back" {
  kqfsd_start --max-buffered-per-user 100
  mkdir "$KQ/q"
  run timeout 10 python3 - "$KQ/q/changes" <<'EOF'
import os, sys, kq
first = os.open(sys.argv[1], os.O_WRONLY)
second = os.open(sys.argv[1], os.O_WRONLY)
print("first", kq.write_outcome(first, b"1 user add" + b" " * 50))
print("second", kq.write_outcome(second, b"2 user add" + b" " * 50))
# Records before the kept bytes stand: a short write.
print("records then a tail", kq.write_outcome(second, b"3 user add\n" + b"4 user" + b" " * 50))
os.close(first)
print("after close", kq.write_outcome(second, b"4 user add" + b" " * 50))
print("finished", kq.write_outcome(second, b"\n"))
EOF
  assert_success
  assert_line "first 60"
  assert_line "second ENOSPC"
  assert_line "records then a tail 11"
  assert_line "after close 60"
  assert_line "finished 1"
  # 1 applied at close, 3 and 4 by their newlines; 2 never.
  assert_equal "$(status_field "$KQ/q" knotes)" 3
}

@test "an over-long line is rejected whole: its tail in later writes is skipped, not parsed" {
  kqfsd_start
  mkdir "$KQ/q"
  run timeout 10 python3 - "$KQ/q/changes" <<'EOF'
import os, sys, kq
fd = os.open(sys.argv[1], os.O_WRONLY)
print("long", kq.write_outcome(fd, b" " * 70000))
print("more", kq.write_outcome(fd, b" " * 5000))
print("tail", kq.write_outcome(fd, b" 3 timer add 0 5\n4 user add\n"))
EOF
  assert_success
  assert_line "long EINVAL"
  assert_line "more 5000"
  assert_line "tail 28"
  run status_field "$KQ/q" knote
  assert_output "4 EVFILT_USER EV_ADD 0 0 0"
}

@test "rejected records reach the log a few per queue, the rest as one 'suppressed N' line" {
  kqfsd_start
  mkdir "$KQ/noisy"
  for i in $(seq 30); do echo "$i nosuchfilter add" >"$KQ/noisy/changes" 2>/dev/null || true; done
  assert_equal "$(grep -c 'queue noisy: rejected' "$LOG")" 5
  wait_until 15 grep -q "queue noisy: suppressed 25 more rejected records" "$LOG"
  assert_last_error "$KQ/noisy" "unknown filter 'nosuchfilter'"
}

@test "SIGHUP reopens the log file (logrotate) and the mount stays" {
  kqfsd_start
  mv "$LOG" "$LOG.1"
  kqfsd_signal() { kill "-$1" "$(daemon_of "$M")"; }
  kqfsd_signal HUP
  wait_until 5 grep -q "log reopened" "$LOG"
  is_mounted "$M"
  mkdir "$KQ/q"
  echo "1 nosuchfilter add" >"$KQ/q/changes" 2>/dev/null || true
  grep -q "queue q: rejected" "$LOG"
  run grep -c "queue q: rejected" "$LOG.1"
  assert_output 0
}

@test "detached, kqfsd works from / and keeps no terminal or stdio of its caller" {
  M=$(new_mount_point)
  cd "$BATS_TEST_TMPDIR"
  kqfsd_run "$M"
  assert_success
  local pid
  pid=$(daemon_of "$M")
  assert_equal "$(readlink "/proc/$pid/cwd")" /
  local fd
  for fd in 0 1 2; do
    assert_equal "$(readlink "/proc/$pid/fd/$fd")" /dev/null
  done
  assert_equal "$(ps -o tty= -p "$pid" | tr -d ' ')" "?"
  # And with --log, standard error is the log.
  kqfsd_start
  assert_equal "$(readlink "/proc/$(daemon_of "$M")/fd/2")" "$LOG"
}

# grow_until_refused CHANGES_BIN: registers hour-long timers 1, 2, 3 ... in
# binary records (4096 a write; a short write goes on from the record that
# failed) until a write fails; prints the timers made and the errno name.
grow_until_refused() {
  timeout 400 python3 - "$1" <<'EOF_PY'
import errno, os, sys
from kq import EV_ADD, EVFILT_TIMER, pack
from kqfs import NOTE_SECONDS
fd = os.open(sys.argv[1], os.O_WRONLY)
made, batch = 0, 4096
while made < 20_000_000:
    records = b"".join(pack(made + 1 + i, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 3600)
                       for i in range(batch))
    try:
        made += os.write(fd, records) // 32
    except OSError as e:
        print(made, errno.errorcode[e.errno])
        break
else:
    print(made, "none")
EOF_PY
}

@test "out of memory for one change: ENOMEM for that write, 'daemon out of memory' in status, the daemon lives on" {
  # Plain build: the daemon's address space is capped (RLIMIT_AS) 64 MiB
  # above what it uses. ASan reserves terabytes of shadow, so there every
  # allocation over 2 MiB fails instead (the knote table's rehash): with
  # allocator_may_return_null, malloc returns null, and kqfsd's sanitized
  # operator new throws std::bad_alloc as the plain one does.
  if [[ ${KQFS_SANITIZE:-none} == *address* ]]; then
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=2" \
      kqfsd_start
  else
    kqfsd_start
    local pid used
    pid=$(daemon_of "$M")
    used=$(awk '/^VmSize:/ { print $2 * 1024 }' "/proc/$pid/status")
    prlimit --pid "$pid" --as=$((used + 64 * 1024 * 1024))
  fi
  mkdir "$KQ/big"
  run grow_until_refused "$KQ/big/changes.bin"
  assert_success
  local made refusal
  read -r made refusal <<<"$output"
  assert_equal "$refusal" ENOMEM
  echo "# refused with ENOMEM after $made timers" >&3
  [ "$made" -ge 10000 ]
  # Every timer of a write that succeeded stands; the refused one does not.
  assert_equal "$(status_field "$KQ/big" knotes)" "$made"
  assert_last_error "$KQ/big" --partial "(daemon out of memory)"
  grep -q "queue big: rejected .*(daemon out of memory)" "$LOG"

  # The daemon goes on: the big queue goes, a new queue's timer fires.
  rmdir "$KQ/big"
  mkdir "$KQ/after"
  echo "1 timer add 0 10" >"$KQ/after/changes"
  run timeout 5 head -n1 "$KQ/after/events"
  assert_success
  assert_output --partial "1 EVFILT_TIMER"
  kqfsd_stop "$M"
  # No sanitizer report and no crash on the way (a knote freed while its
  # timer still linked it would be one).
  run grep -E "ERROR: AddressSanitizer|runtime error:|SUMMARY:" "$LOG"
  assert_failure
}

@test "signal tracing (root): signals lost to a full trace buffer show in status (signals-lost) and once in the log" {
  kqfsd_start --signal-buffer-kb 1
  mkdir "$KQ/counted" "$KQ/other"
  echo "1 user add" >"$KQ/other/changes"
  run timeout 120 python3 - "$KQ/counted" <<'EOF_PY'
import os, signal, sys, time, kq
q = sys.argv[1]
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
fd = os.open(f"{q}/changes", os.O_WRONLY)
os.write(fd, b"SIGUSR1 signal add\n")  # this process's signals
print("before", kq.status(q)["signals-lost"])
# Bursts far beyond a page per CPU, until the tracer has counted a loss.
sent = 0
started = time.monotonic()
for _ in range(50):
    for _ in range(50_000):
        os.kill(os.getpid(), signal.SIGUSR1)
    sent += 50_000
    lost = int(kq.status(q)["signals-lost"])
    if lost > 0:
        break
events = os.open(f"{q}/events", os.O_RDONLY)
counted = int(os.read(events, 4096).split()[4])
print("lost", lost)
print("sent", sent, "counted", counted)
print("less", counted < sent)
# More losses within the log's window of 10 s: no second log line.
for _ in range(20):
    for _ in range(50_000):
        os.kill(os.getpid(), signal.SIGUSR1)
    if int(kq.status(q)["signals-lost"]) > lost:
        break
time.sleep(2.5)  # two sweeps, where the log line would be written
print("grew", int(kq.status(q)["signals-lost"]) > lost)
print("took", round(time.monotonic() - started, 1), "s, bursts", sent // 50_000)
EOF_PY
  assert_success
  assert_line "before 0"
  assert_line "less True"
  assert_line "grew True"
  echo "# $(grep "^took" <<<"$output"), $(grep "^sent" <<<"$output")" >&3
  local lost
  lost=$(sed -n 's/^lost //p' <<<"$output")
  [ "$lost" -gt 0 ]
  # A queue without signal knotes has no such line.
  run status_field "$KQ/other" signals-lost
  assert_output ""
  # The log says so once in its window, however many losses came after.
  wait_until 5 grep -q "signal tracing lost [0-9]* signals" "$LOG"
  assert_equal "$(grep -c "signal tracing lost" "$LOG")" 1
  grep -q "(--signal-buffer-kb)" "$LOG"
}
