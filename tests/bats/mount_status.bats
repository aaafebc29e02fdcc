#!/usr/bin/env bats
# MOUNT/status, the mount's own status: which kqfsd, its totals, the kernel
# features it found and the limits in force (docs/design.md#the-mounted-tree),
# and what another user may see of it (docs/security.md).

load mount_helpers

# The value of field $2 of mount $1's status.
mount_field() {
  sed -n "s/^$2: //p" "$1/status"
}

# A record written to changes file $1 of a text queue: succeeds or not.
add_record() {
  printf '%s\n' "$2" >"$1/changes"
}

@test "MOUNT/status is listed in the root, read-only for everyone" {
  kqfsd_start
  run ls "$M"
  assert_output "$(printf 'kq\nstatus')"
  run stat -c '%a %F' "$M/status"
  assert_output "444 regular empty file"
  run sh -c "echo x > '$M/status'"
  assert_failure
}

@test "MOUNT/status names the daemon: version as --version, pid, mount point, options" {
  kqfsd_start -o allow_other
  kqfsd_run --version
  assert_equal "kqfsd $(mount_field "$M" version)" "$output"
  assert_equal "$(mount_field "$M" pid)" "$(daemon_of "$M")"
  assert_equal "$(mount_field "$M" mount-point)" "$M"
  assert_equal "$(mount_field "$M" mount-options)" "allow_other"
  assert_equal "$(mount_field "$M" allow-other)" "yes"
  [[ "$(mount_field "$M" uptime)" =~ ^[0-9]+$ ]]
  kqfsd_start
  assert_equal "$(mount_field "$M" mount-options)" "none"
  assert_equal "$(mount_field "$M" allow-other)" "no"
}

@test "MOUNT/status shows the limits given on the command line" {
  kqfsd_start --max-queues 7 --max-knotes 9 --max-queues-per-user 5 --max-knotes-per-user 11 \
    --max-buffered-per-user 4096 --signal-buffer-kb 64 --busy-poll-us 0
  run cat "$M/status"
  assert_line "max-queues: 7"
  assert_line "max-knotes: 9"
  assert_line "max-queues-per-user: 5"
  assert_line "max-knotes-per-user: 11"
  assert_line "max-buffered-per-user: 4096"
  assert_line "signal-buffer-kb: 64"
  assert_line "busy-poll-us: 0"
}

@test "MOUNT/status totals follow queues, knotes, blocked readers and open handles" {
  kqfsd_start
  assert_equal "$(mount_field "$M" queues)" 0
  assert_equal "$(mount_field "$M" knotes)" 0
  assert_equal "$(mount_field "$M" readers)" 0
  assert_equal "$(mount_field "$M" open-handles)" 0
  mkdir "$KQ/a" "$KQ/b"
  add_record "$KQ/a" "1 user add"
  add_record "$KQ/a" "2 user add"
  add_record "$KQ/b" "1 user add"
  assert_equal "$(mount_field "$M" queues)" 2
  assert_equal "$(mount_field "$M" knotes)" 3
  # A reader blocked on b's events: one reader, one open handle.
  timeout 60 head -n1 "$KQ/b/events" >/dev/null &
  BG_PIDS+=($!)
  wait_until 10 eval '[ "$(mount_field "$M" readers)" = 1 ]'
  assert_equal "$(mount_field "$M" open-handles)" 1
  add_record "$KQ/b" "1 user 0 trigger"
  wait_until 10 eval '[ "$(mount_field "$M" readers)" = 0 ]'
  rmdir "$KQ/a"
  assert_equal "$(mount_field "$M" queues)" 1
  assert_equal "$(mount_field "$M" knotes)" 1
}

@test "MOUNT/status features: each yes, or no with its reason; proc and signal as the filters find them" {
  kqfsd_start
  local feature value
  for feature in proc-connector proc-exit-status signal-tracing pidfd-getfd pidfd-thread sock-diag \
    inotify; do
    value=$(mount_field "$M" "feature.$feature")
    [[ "$value" == yes || "$value" =~ ^no\ \(.+\)$ ]] || {
      echo "feature.$feature: '$value'" >&2
      return 1
    }
  done
  mkdir "$KQ/f"
  if [ "$(mount_field "$M" feature.proc-connector)" = yes ]; then
    add_record "$KQ/f" "$BASHPID proc add fork"
  else
    ! add_record "$KQ/f" "$BASHPID proc add fork"
  fi
  if [ "$(mount_field "$M" feature.signal-tracing)" = yes ]; then
    add_record "$KQ/f" "SIGUSR1 signal add"
  else
    ! add_record "$KQ/f" "SIGUSR1 signal add"
  fi
}

@test "MOUNT/status of a kqfsd without CAP_NET_ADMIN: no process connector, and why, as the filter says" {
  kqfsd_start_without net_admin
  run mount_field "$M" feature.proc-connector
  assert_output "no (no process-events connector: Operation not permitted: EVFILT_PROC refuses NOTE_FORK, NOTE_EXEC and NOTE_TRACK (NOTE_EXIT works, by pidfd))"
  # With CAP_SYS_PTRACE, /proc shows it every exit status.
  assert_equal "$(mount_field "$M" feature.proc-exit-status)" yes
  # The filter agrees, with the same reason.
  mkdir "$KQ/noconnector"
  sleep 60 &
  BG_PIDS+=($!)
  ! add_record "$KQ/noconnector" "$! proc add fork"
  run mount_field "$KQ/noconnector" last-error
  assert_output --partial "no process-events connector: Operation not permitted"
  add_record "$KQ/noconnector" "$! proc add exit"
}

@test "MOUNT/status of a kqfsd without CAP_SYS_PTRACE: pidfd_getfd and exit statuses limited, and why; logged at start" {
  kqfsd_start_without sys_ptrace
  run mount_field "$M" feature.pidfd-getfd
  assert_output "no (kqfsd lacks CAP_SYS_PTRACE, and the kernel gives it the descriptors only of processes it may ptrace: other processes' files are reopened through /proc/PID/fd instead (sockets cannot be))"
  assert_equal "$(mount_field "$M" feature.proc-connector)" yes
  local exit_status="kqfsd lacks CAP_SYS_PTRACE, and /proc shows it the exit status only of processes it may ptrace (the same uid and gid, no capability it lacks): EVFILT_PROC's NOTE_EXIT is ENOTSUP on any other process that has already exited when registered"
  run mount_field "$M" feature.proc-exit-status
  assert_output "no ($exit_status)"
  # Said once in the log, at start.
  assert_equal "$(grep -cF "info: $exit_status" "$LOG")" 1
}

@test "MOUNT/status of a kqfsd without CAP_SYS_PTRACE nor CAP_NET_ADMIN: NOTE_EXIT refused on any process whose status /proc hides" {
  kqfsd_start_without sys_ptrace,net_admin
  run mount_field "$M" feature.proc-exit-status
  assert_output "no (kqfsd lacks CAP_SYS_PTRACE, and /proc shows it the exit status only of processes it may ptrace (the same uid and gid, no capability it lacks): EVFILT_PROC's NOTE_EXIT is ENOTSUP on any other process (no process-events connector to report its status))"
}

@test "MOUNT/status as another user of an allow_other mount: totals and features, no queue names (setpriv 65534)" {
  kqfsd_start -o allow_other
  mkdir -m 0700 "$KQ/secret-name-$BATS_TEST_NUMBER"
  add_record "$KQ/secret-name-$BATS_TEST_NUMBER" "1 user add"
  cd "$M"
  run as_nobody cat status
  assert_success
  assert_line "queues: 1"
  assert_line "knotes: 1"
  assert_line --regexp '^feature\.proc-connector: '
  refute_output --partial "secret-name"
  # The same keys as root sees, in the same order: nothing held back or added.
  assert_equal "$(cut -d: -f1 <<<"$output")" "$(cut -d: -f1 status)"
}
