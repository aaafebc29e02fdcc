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

# Only kq/clone is left: every example removes the queue it made.
assert_no_queues() {
  assert_equal "$(ls "$KQ")" clone
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

@test "shell FIFO example: wakes when another process writes the FIFO" {
  example bash "$EXAMPLES/shell/fifo_readable.sh" "$MNT"
  assert_clean_success
  assert_output "waiting for the FIFO to become readable
fd 4 is readable: 23 bytes waiting
read: hello through the fifo"
}

@test "shell file watch example: NOTE_WRITE|NOTE_EXTEND for the append, then NOTE_DELETE for rm" {
  example bash "$EXAMPLES/shell/watch_file.sh" "$MNT"
  assert_clean_success
  assert_equal "${#lines[@]}" 4
  assert_line --index 0 --regexp '^appending to /'
  assert_line --index 1 "event: NOTE_WRITE|NOTE_EXTEND"
  assert_line --index 2 --regexp '^removing /'
  assert_line --index 3 "event: NOTE_DELETE"
  # It watched and removed a real file.
  local file=${lines[0]#appending to }
  assert_equal "${lines[2]}" "removing $file"
  [ ! -e "$file" ]
}

@test "shell process example: the exit status 3 decoded from the NOTE_EXIT event" {
  example bash "$EXAMPLES/shell/process_exit.sh" "$MNT"
  assert_clean_success
  assert_equal "${#lines[@]}" 3
  assert_line --index 0 --regexp '^watching process [0-9]+$'
  local pid=${lines[0]#watching process }
  # data is the wait(2) status: exit 3 is 3 << 8.
  assert_line --index 1 "process $pid: NOTE_EXIT, data 768, exit status 3"
  assert_line --index 2 "wait says: 3"
}

@test "shell user event example: script B's trigger reaches script A" {
  example bash "$EXAMPLES/shell/user_event.sh" "$MNT"
  assert_clean_success
  assert_equal "${#lines[@]}" 3
  # A and B start in either order; A can only report the event after B sent it.
  assert_line "A: waiting for user event 7"
  assert_line "B: triggering user event 7 with value 42"
  assert_line --index 2 "A: got user event 7 with value 42"
}

@test "shell user event scripts: A blocks until B, another process, triggers" {
  local q
  q=$(new_queue)
  echo "7 user add|clear" >"$q/changes"
  timeout 60 bash "$EXAMPLES/shell/user_event_wait.sh" "$q" \
    >"$BATS_TEST_TMPDIR/a.out" 2>&1 3>&- &
  local waiter=$!
  BG_PIDS+=("$waiter")

  # A is blocked in its read, and stays there while nothing triggers.
  wait_status "$q" readers 1
  sleep 0.3
  kill -0 "$waiter"
  assert_equal "$(status_field "$q" readers)" 1

  example bash "$EXAMPLES/shell/user_event_trigger.sh" "$q" 5
  assert_success
  assert_output "B: triggering user event 7 with value 5"

  local rc=0
  wait "$waiter" || rc=$?
  assert_equal "$rc" 0
  assert_equal "$(cat "$BATS_TEST_TMPDIR/a.out")" "A: waiting for user event 7
A: got user event 7 with value 5"
  rmdir "$q"
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
