#!/usr/bin/env bats
# What one kevent() costs: one request to kqfsd (an ioctl), and no other
# system call, whatever it carries (docs/design.md#one-kevent-call-one-request).
# Counted with strace: the calls of a run of 2N minus those of a run of N.

load mount_helpers
one_kqfsd_per_file

PATTERN="$KQFS_BUILD/tests/kqfs-call-pattern"

# syscalls MODE COUNT FILE: runs the pattern under strace -c into FILE.
# (LeakSanitizer cannot run under ptrace; the other suites check leaks.)
syscalls() {
  KQFS_MOUNT=$MNT ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -c -o "$3" "$PATTERN" "$1" "$2"
}

# calls_of NAME FILE: the count strace -c gives for syscall NAME (0 if absent).
calls_of() {
  awk -v name="$1" '$NF == name { print $4; found = 1 } END { if (!found) print 0 }' "$2"
}

# total_of FILE: all system calls made (the columns: % time, seconds,
# usecs/call, calls, errors, syscall).
total_of() {
  awk '$NF == "total" { print $4 }' "$1"
}

# assert_one_ioctl_per_call MODE CALLS_PER_TURN
assert_one_ioctl_per_call() {
  local small="$BATS_TEST_TMPDIR/500" large="$BATS_TEST_TMPDIR/1000"
  run syscalls "$1" 500 "$small"
  assert_success
  run syscalls "$1" 1000 "$large"
  assert_success
  local calls=$((500 * $2))
  assert_equal "$(($(calls_of ioctl "$large") - $(calls_of ioctl "$small")))" "$calls"
  # Nothing else grows with the number of calls: no /proc, no poll, no read.
  assert_equal "$(($(total_of "$large") - $(total_of "$small")))" "$calls"
}

@test "a kevent() with one change is one ioctl and nothing else" {
  assert_one_ioctl_per_call one-change 1
}

@test "a kevent() that changes and waits is one request" {
  assert_one_ioctl_per_call change-and-wait 1
}

@test "a kevent() that waits (with a timeout) is one request" {
  assert_one_ioctl_per_call wait 2
}
