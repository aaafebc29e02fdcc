#!/usr/bin/env bats
# Every example runs and prints what it promises. The shell, Python and Node
# examples run against a kqfsd mounted for this file, as a user runs them;
# each must finish on its own, exit 0, and leave no queue behind.

bats_require_minimum_version 1.5.0

load mount_helpers
one_kqfsd_per_file

setup() {
  kqfs_setup
  EXAMPLES="$BATS_TEST_DIRNAME/../../examples"
  # The shell examples call kqctl.
  PATH="$KQFS_BUILD/client/kqctl:$PATH"
}

# example PROGRAM ARGS...: runs PROGRAM (bash, python3, node) on the example
# ARGS, killed after 60 s so that a hang fails instead of stalling the suite.
# Sets status, output (stdout) and stderr.
example() {
  run --separate-stderr timeout -k 5 60 "$@"
}

# The example exited 0 with nothing on stderr and removed its queue.
assert_clean_success() {
  assert_success
  assert_equal "$stderr" ""
  assert_no_queues
}

# Only kq/clone is left: every example removes the queue it made (an
# anonymous one goes when its last handle is released, just after its
# process exits).
assert_no_queues() {
  wait_until 10 eval '[ "$(ls "$KQ")" = clone ]' || true
  assert_equal "$(ls "$KQ")" clone
}

# example_in_background NAME PROGRAM ARGS...: the example in the background
# with the mount in KQFS_MOUNT, its output in NAME.out and NAME.err, its
# pid in bg.
example_in_background() {
  local name=$1
  shift
  KQFS_MOUNT=$MNT timeout -k 5 60 "$@" >"$BATS_TEST_TMPDIR/$name.out" \
    2>"$BATS_TEST_TMPDIR/$name.err" 3>&- &
  bg=$!
  BG_PIDS+=("$bg")
}

# finish_example NAME: waits for bg; sets status, output and stderr, as
# example does.
finish_example() {
  status=0
  wait "$bg" || status=$?
  output=$(cat "$BATS_TEST_TMPDIR/$1.out")
  stderr=$(cat "$BATS_TEST_TMPDIR/$1.err")
  mapfile -t lines <<<"$output"
}

@test "in-process example: a timer, a pipe and a user event on one queue" {
  run timeout 10 "$KQFS_BUILD/examples/kqfs-in-process-example"
  assert_success
  assert_line --index 0 "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"
  assert_line --regexp '^[0-9]+ EVFILT_READ EV_ADD\|EV_CLEAR 0 5 8$'
  assert_line "42 EVFILT_USER EV_ADD|EV_CLEAR 0x5 0 9"
  [ "$(grep -c EVFILT_TIMER <<<"$output")" -eq 3 ]
}

# -------------------------------------------------------------------- shell

@test "C example: a BSD kqueue program (timer, pipe, user event) runs unchanged on kqfs" {
  KQFS_MOUNT=$MNT run timeout 20 "$KQFS_BUILD/examples/bsd-kqueue-example"
  assert_success
  assert_line --index 0 "timer 1 fired (1 expirations)"
  assert_line --index 1 "pipe readable: 5 bytes"
  assert_line --index 3 "user event 2 triggered (fflags 0x2a)"
  assert_equal "$(grep -c '^timer 1 fired' <<<"$output")" 3
}

@test "shell timer loop: five ticks of one periodic timer, then it ends" {
  example bash "$EXAMPLES/shell/timer_loop.sh" "$MNT"
  assert_clean_success
  assert_equal "${#lines[@]}" 6
  local i
  for i in 1 2 3 4 5; do
    # A loaded machine may merge expirations into one tick; none is lost.
    assert_line --index $((i - 1)) --regexp "^tick $i: timer 1 fired \([1-9][0-9]* expiration\(s\)\)$"
  done
  assert_line --index 5 "done after 5 ticks"
}

@test "shell examples find the mount in KQFS_MOUNT when given no argument" {
  KQFS_MOUNT=$MNT example bash "$EXAMPLES/shell/timer_loop.sh"
  assert_clean_success
  assert_equal "${#lines[@]}" 6
  assert_line --index 5 "done after 5 ticks"
}

@test "shell examples say so when there is no mount" {
  example bash "$EXAMPLES/shell/timer_loop.sh" "$BATS_TEST_TMPDIR"
  assert_failure 1
  assert_equal "$output" ""
  assert_equal "$stderr" "no kqfs mount at $BATS_TEST_TMPDIR (start kqfsd first)"
}

@test "shell FIFO example: readable within the timeout (read, exit 0) or not (exit 3)" {
  local fifo="$BATS_TEST_TMPDIR/fifo"
  mkfifo "$fifo"
  KQFS_MOUNT=$MNT example bash "$EXAMPLES/shell/fifo_readable.sh" "$fifo" 0.3
  assert_failure 3
  assert_output "nothing to read after 0.3 s"
  assert_equal "$stderr" ""

  example_in_background fifo bash "$EXAMPLES/shell/fifo_readable.sh" "$fifo" 30
  wait_until 10 clone_with_knotes 1
  echo "hello through the fifo" >"$fifo"
  finish_example fifo
  assert_clean_success
  assert_output "read: hello through the fifo"
}

@test "shell file watch example: a write, then a deletion, each told by one kqctl watch" {
  local file="$BATS_TEST_TMPDIR/watched"
  echo one >"$file"
  example_in_background write bash "$EXAMPLES/shell/watch_file.sh" "$file"
  wait_until 10 clone_with_knotes 1
  echo two >>"$file"
  finish_example write
  assert_clean_success
  # A write that grows the file is NOTE_WRITE|NOTE_EXTEND, one event.
  assert_output "$file: NOTE_WRITE|NOTE_EXTEND"

  example_in_background delete bash "$EXAMPLES/shell/watch_file.sh" "$file"
  wait_until 10 clone_with_knotes 1
  rm "$file"
  finish_example delete
  assert_clean_success
  assert_output "$file: NOTE_DELETE"
}

@test "shell process example: the exit status in words, or the signal that killed it" {
  mkfifo "$BATS_TEST_TMPDIR/gate"
  (read -r _ <"$BATS_TEST_TMPDIR/gate"; exit 3) 3>&- &
  local pid=$!
  BG_PIDS+=("$pid")
  example_in_background exit bash "$EXAMPLES/shell/process_exit.sh" "$pid"
  wait_until 10 clone_with_knotes 1
  echo go >"$BATS_TEST_TMPDIR/gate"
  finish_example exit
  assert_clean_success
  assert_output "process $pid exited with status 3"

  sleep 600 3>&- &
  pid=$!
  BG_PIDS+=("$pid")
  example_in_background kill bash "$EXAMPLES/shell/process_exit.sh" "$pid"
  wait_until 10 clone_with_knotes 1
  kill -KILL "$pid"
  finish_example kill
  assert_clean_success
  assert_output "process $pid killed by signal 9 (SIGKILL)"
}

@test "shell periodic command example: runs the command on each tick until it fails" {
  local counter="$BATS_TEST_TMPDIR/count"
  echo 0 >"$counter"
  # The command counts its runs and fails at the fifth.
  KQFS_MOUNT=$MNT example bash "$EXAMPLES/shell/every.sh" 100 bash -c \
    'n=$(($(cat "$1") + 1)); echo "$n" >"$1"; echo "run $n"; [ "$n" -lt 5 ]' - "$counter"
  assert_success
  assert_output "run 1
run 2
run 3
run 4
run 5"
  assert_no_queues
}

@test "shell user event example: A registers, says it is ready, then B's trigger reaches it" {
  example bash "$EXAMPLES/shell/user_event.sh" "$MNT"
  assert_clean_success
  assert_output "A: ready, waiting for user event 7
B: triggering user event 7 with value 42
A: got user event 7 with value 42"
}

@test "shell user event scripts: A blocks until B, another process, triggers; B before A registers is told why" {
  local name=q$BATS_TEST_NUMBER
  # B first: the queue is there, the knote is not.
  KQFS_MOUNT=$MNT kqctl create "$name"
  KQFS_MOUNT=$MNT example bash "$EXAMPLES/shell/user_event_trigger.sh" "$name" 5
  assert_failure 1
  assert_output "B: triggering user event 7 with value 5"
  assert_equal "$stderr" "kqctl trigger: record '7 EVFILT_USER EV_KEEPUDATA NOTE_TRIGGER 5' failed: No such file or directory (no such knote: is the user event registered yet?)"
  rmdir "$KQ/$name"

  example_in_background a bash "$EXAMPLES/shell/user_event_wait.sh" "$name"
  wait_until 10 test -s "$BATS_TEST_TMPDIR/a.out"
  # A said it is ready: its knote is there, and it waits while nothing triggers.
  assert_equal "$(status_field "$KQ/$name" knotes.user)" 1
  sleep 0.3
  kill -0 "$bg"

  KQFS_MOUNT=$MNT example bash "$EXAMPLES/shell/user_event_trigger.sh" "$name" 5
  assert_success
  assert_output "B: triggering user event 7 with value 5"

  finish_example a
  assert_clean_success
  assert_output "A: ready, waiting for user event 7
A: got user event 7 with value 5"
}

# ------------------------------------------------------------------- python

# The asyncio and Node examples tell the same story: three timer ticks, then
# the user event they fire themselves.
assert_three_ticks_then_user_event() {
  assert_clean_success
  assert_equal "${#lines[@]}" 5
  local i
  for i in 1 2 3; do
    assert_line --index $((i - 1)) --regexp "^tick $i: timer 1 \([1-9][0-9]* expiration\(s\)\)$"
  done
  assert_line --index 3 "firing user event 2"
  assert_line --index 4 "user event 2 with value 42: done"
}

@test "python asyncio example: three ticks through add_reader, then the user event" {
  example python3 "$EXAMPLES/python/asyncio_events.py" "$MNT"
  assert_three_ticks_then_user_event
}

@test "python JSON-lines example: five timer events read as JSON" {
  KQFS_MOUNT=$MNT example python3 "$EXAMPLES/python/json_lines.py"
  assert_clean_success
  assert_equal "${#lines[@]}" 6
  local i
  for i in 1 2 3 4 5; do
    assert_line --index $((i - 1)) --regexp \
      "^tick $i: EVFILT_TIMER 1 flags EV_ADD\|EV_CLEAR data [1-9][0-9]* udata 99$"
  done
  assert_line --index 5 "done after 5 ticks"
}

# --------------------------------------------------------------------- node

@test "node example: three ticks through the kqfs package, then the user event" {
  NODE_PATH=$KQFS_BUILD/client/node example node "$EXAMPLES/node/timer_and_user.js" "$MNT"
  assert_three_ticks_then_user_event
}

@test "node example finds the mount in KQFS_MOUNT when given no argument" {
  KQFS_MOUNT=$MNT NODE_PATH=$KQFS_BUILD/client/node example node "$EXAMPLES/node/timer_and_user.js"
  assert_clean_success
  assert_line --index 4 "user event 2 with value 42: done"
}
