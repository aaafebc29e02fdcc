# Shared by the suites whose tests each start the kqfsd instances they
# need, each on a fresh mount point under the test's own $BATS_TEST_TMPDIR;
# teardown stops them (by pid) and unmounts whatever is left, also when the
# test failed.

setup() {
  load mount_helpers
  export PYTHONPATH="$BATS_TEST_DIRNAME${PYTHONPATH:+:$PYTHONPATH}"
  export KQFSD_OUT="$BATS_TEST_TMPDIR/kqfsd.out"
  : >"$BATS_TEST_TMPDIR/mounts"
}

# The kqfsd processes of this test: those whose command line names a path in
# this test's temporary directory.
our_daemons() {
  local pid
  for pid in $(pgrep -x kqfsd); do
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$BATS_TEST_TMPDIR" && echo "$pid"
  done
  return 0
}

# The kqfsd process whose command line contains $1.
daemon_of() {
  local pid
  for pid in $(our_daemons); do
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$1" && echo "$pid"
  done
  return 0
}

is_mounted() {
  awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

not_mounted() {
  ! is_mounted "$1"
}

gone() {
  ! kill -0 "$1" 2>/dev/null
}

teardown() {
  local pid m
  for pid in $(our_daemons); do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $(our_daemons); do
    wait_until 5 gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  done
  while read -r m; do
    is_mounted "$m" && umount -l "$m"
  done <"$BATS_TEST_TMPDIR/mounts"
  return 0
}

# Remembers $1 for teardown to unmount.
remember_mount() {
  echo "$1" >>"$BATS_TEST_TMPDIR/mounts"
}

# A fresh empty directory to mount on.
new_mount_point() {
  local m
  m=$(mktemp -d "$BATS_TEST_TMPDIR/mnt.XXXXXX")
  remember_mount "$m"
  echo "$m"
}

# Runs kqfsd "$@" until it returns, under `run`. Its output goes through a
# file: a daemon left running must not hold a pipe that `run` waits on.
kqfsd_run() {
  run timeout 30 bash -c '"$0" "$@" >"$KQFSD_OUT" 2>&1 3>&-; s=$?; cat "$KQFSD_OUT"; exit $s' \
    "$KQFSD" "$@"
}

# Mounts kqfsd --log LOG "$@" on a fresh mount point: sets M, KQ and LOG.
kqfsd_start() {
  M=$(new_mount_point)
  LOG="$M.log"
  KQ="$M/kq"
  kqfsd_run --log "$LOG" "$@" "$M"
  assert_success
  is_mounted "$M"
}

# Stops the daemon of mount $1 with signal $2 (TERM) and checks it
# unmounted; $3 is a word of its command line (default: the mount point).
kqfsd_stop() {
  local pid
  pid=$(daemon_of "${3:-$1}")
  [ -n "$pid" ]
  kill "-${2:-TERM}" "$pid"
  wait_until 10 gone "$pid"
  not_mounted "$1"
}

# Opens kq/clone of $1 O_RDWR in python: "ok", or the errno name.
outcome_of_clone() {
  python3 -c 'import os, sys, kq; print(kq.outcome(os.open, sys.argv[1], os.O_RDWR))' "$1/clone"
}

# assert_mount_point_refused PATH: kqfsd on mount point PATH fails with a
# message naming it, mounts nothing and leaves no daemon running.
assert_mount_point_refused() {
  local m=$1
  remember_mount "$m"
  kqfsd_run "$m"
  assert_failure
  assert_output --partial "$m"
  not_mounted "$m"
  wait_until 5 test -z "$(our_daemons)"
}
