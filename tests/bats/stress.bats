#!/usr/bin/env bats
# Stress and faults through a real mount (tests/stress/, kqfs-stress): kill
# storms, exact-count load, shutdown with blocked readers, a mount fuzzer.
# CI runs each bounded; the sizes come from the environment for runs by
# hand at full size, e.g.
#   KQFS_STRESS_CLIENTS=1000 KQFS_STRESS_WRITERS=64 KQFS_STRESS_FUZZ_SECONDS=600 \
#     KQFS_BUILD=build bats tests/bats/stress.bats
# Each test prints its figures as TAP comments.
#
# Tolerances after a kill storm: the daemon's descriptors back to the
# baseline within 2, its RSS within 8 MiB (allocator caches; what the
# clients made it hold is released at their exit), 64 MiB under
# AddressSanitizer, whose quarantine keeps freed memory for a while.

load mount_helpers

setup() {
  kqfs_setup
  STRESS="$KQFS_BUILD/tests/stress/kqfs-stress"
  start_kqfsd
  DAEMON=$(kqfsd_pid)
  [ -n "$DAEMON" ]
}

teardown() {
  stop_kqfsd
  kqfs_teardown
}

# stress CASE ARGS...: runs kqfs-stress CASE on this test's mount under
# `run`, and shows its figures.
stress() {
  run "$STRESS" "$1" --mount "$MNT" --pid "$DAEMON" "${@:2}"
  local line
  for line in "${lines[@]}"; do echo "# $line" >&3; done
}

# The daemon still serves: a new queue's one-shot timer fires.
assert_daemon_serves() {
  kill -0 "$DAEMON"
  local q
  q=$(new_queue check)
  echo "1 timer add|oneshot 0 10 5" >"$q/changes"
  run timeout 10 head -n1 "$q/events"
  assert_output "1 EVFILT_TIMER EV_ADD|EV_ONESHOT|EV_CLEAR 0 1 5"
  rmdir "$q"
}

@test "kill storm: clients SIGKILLed mid-read, mid-write and mid-kevent leave the daemon serving, at its baseline" {
  local rss_tolerance=8192
  if ldd "$KQFSD" | grep -q libasan; then rss_tolerance=65536; fi
  stress kill-storm --clients "${KQFS_STRESS_CLIENTS:-200}" --rss-tolerance-kib "$rss_tolerance"
  assert_success
  assert_output --partial "kill storm: daemon after:"
  assert_daemon_serves
}

@test "load: 16 writers x 10 000 user events, every event delivered exactly once" {
  stress load --writers "${KQFS_STRESS_WRITERS:-16}" --events "${KQFS_STRESS_EVENTS:-10000}"
  assert_success
  assert_output --partial " 0 missing, 0 doubled, 0 unexpected"
  assert_daemon_serves
}

@test "shutdown: 100 readers blocked on events all get end of file when kqfsd gets SIGTERM, and it exits" {
  stress shutdown --readers "${KQFS_STRESS_READERS:-100}"
  assert_success
  assert_output --partial "(${KQFS_STRESS_READERS:-100} end of file, 0 otherwise)"
  ! kill -0 "$DAEMON" 2>/dev/null
  ! mountpoint -q "$MNT"
}

@test "fuzz: random records of every filter and format from several processes; the daemon stays up and sane" {
  stress fuzz --seconds "${KQFS_STRESS_FUZZ_SECONDS:-20}" --processes 4 --queues 4 \
    --seed "${KQFS_STRESS_SEED:-1}"
  assert_success
  assert_output --partial "daemon up and sane"
  assert_daemon_serves
  fail_on_sanitizer_reports "$KQFS_LOG"
}
