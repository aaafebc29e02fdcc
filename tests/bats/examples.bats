#!/usr/bin/env bats
# Every example runs and prints what it promises.

setup() {
  load '/usr/lib/bats/bats-support/load.bash'
  load '/usr/lib/bats/bats-assert/load.bash'
  : "${KQFS_BUILD:?KQFS_BUILD must name the build directory}"
}

@test "in-process example: a timer, a pipe and a user event on one queue" {
  run timeout 10 "$KQFS_BUILD/examples/kqfs-in-process-example"
  assert_success
  assert_line --index 0 "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"
  assert_line --regexp '^[0-9]+ EVFILT_READ EV_ADD\|EV_CLEAR 0 5 8$'
  assert_line "42 EVFILT_USER EV_ADD|EV_CLEAR 0x5 0 9"
  [ "$(grep -c EVFILT_TIMER <<<"$output")" -eq 3 ]
}
