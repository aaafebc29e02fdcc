#!/usr/bin/env bats
# kqfsd as a service (docs/design.md#the-daemon): the systemd units verify,
# readiness reaches a notify socket only once the mount is usable, and the
# log levels and journal priority prefixes (kqfsd(8)).

load mount_helpers

teardown() {
  kqfs_teardown
  local log
  for log in "$BATS_TEST_TMPDIR"/*.log "$BATS_TEST_TMPDIR/log"; do
    [ ! -f "$log" ] || fail_on_sanitizer_reports "$log"
  done
}

# ------------------------------------------------------------------ units

UNITS="$KQFS_BUILD/daemon/systemd"

# unit_for_test UNIT: a copy of the rendered UNIT whose ExecStart runs the
# built kqfsd (verify wants the program to exist), under $BATS_TEST_TMPDIR.
unit_for_test() {
  sed "s|^ExecStart=[^ ]*|ExecStart=$KQFSD|" "$UNITS/$1" >"$BATS_TEST_TMPDIR/$1"
  echo "$BATS_TEST_TMPDIR/$1"
}

# The unit's Documentation= pages are looked up with man: the built pages,
# in a man tree of their own.
man_tree_of_build() {
  local tree="$BATS_TEST_TMPDIR/man"
  mkdir -p "$tree/man5" "$tree/man8"
  cp "$KQFS_BUILD/docs/man/kqfs.5" "$tree/man5/"
  cp "$KQFS_BUILD/docs/man/kqfsd.8" "$tree/man8/"
  echo "$tree"
}

@test "the rendered units run the installed kqfsd in the foreground, on %t/kqfs" {
  local installed
  installed=$(meson introspect --buildoptions "$KQFS_BUILD" |
    python3 -c 'import json, sys; o = {x["name"]: x["value"] for x in json.load(sys.stdin)}; print(o["prefix"] + "/" + o["sbindir"] + "/kqfsd")')
  run grep -x "ExecStart=.*" "$UNITS/kqfsd.service"
  assert_output "ExecStart=$installed -f -o allow_other %t/kqfs"
  run grep -x "ExecStart=.*" "$UNITS/kqfsd-user.service"
  assert_output "ExecStart=$installed -f %t/kqfs"
  grep -qx "Type=notify" "$UNITS/kqfsd.service"
  grep -qx "Type=notify" "$UNITS/kqfsd-user.service"
}

@test "meson install puts kqfsd in sbin and the units where systemd looks (systemd.pc)" {
  local root="$BATS_TEST_TMPDIR/root" prefix sbindir
  meson install -C "$KQFS_BUILD" --destdir "$root" --no-rebuild --quiet >/dev/null
  read -r prefix sbindir < <(meson introspect --buildoptions "$KQFS_BUILD" |
    python3 -c 'import json, sys; o = {x["name"]: x["value"] for x in json.load(sys.stdin)}; print(o["prefix"], o["sbindir"])')
  test -x "$root$prefix/$sbindir/kqfsd"
  cmp "$UNITS/kqfsd.service" "$root$(pkg-config --variable=systemdsystemunitdir systemd)/kqfsd.service"
  cmp "$UNITS/kqfsd-user.service" "$root$(pkg-config --variable=systemduserunitdir systemd)/kqfsd.service"
}

@test "systemd-analyze verify passes the system unit with nothing to say" {
  MANPATH=$(man_tree_of_build) run systemd-analyze verify "$(unit_for_test kqfsd.service)"
  assert_success
  assert_output ""
}

@test "systemd-analyze --user verify passes the user unit with nothing to say" {
  local runtime="$BATS_TEST_TMPDIR/runtime"
  mkdir -m 0700 "$runtime"
  MANPATH=$(man_tree_of_build) XDG_RUNTIME_DIR="$runtime" \
    run systemd-analyze --user verify "$(unit_for_test kqfsd-user.service)"
  assert_success
  assert_output ""
}

@test "systemd-analyze verify would catch a mistake in a unit" {
  local unit
  unit=$(unit_for_test kqfsd.service)
  sed -i 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' "$unit"
  MANPATH=$(man_tree_of_build) run systemd-analyze verify "$unit"
  assert_output --partial "NoNewPrivilege"
}

# -------------------------------------------------------------- readiness

# notify_run MOUNT KQFSD-ARGS...: runs kqfsd -f under a notify socket
# (tests/support/notify_socket.py), which looks at MOUNT while kqfsd sends
# READY=1, and then stops it with SIGTERM.
notify_run() {
  local mount=$1
  shift
  run timeout 60 python3 "$KQFS_SUPPORT/notify_socket.py" "$BATS_TEST_TMPDIR/notify" "$mount" \
    "$KQFSD" -f "$@"
}

@test "under NOTIFY_SOCKET, READY=1 comes once the mount is usable; SIGTERM gives STOPPING=1 and unmounts" {
  local m
  m=$(new_mount_point)
  notify_run "$m" --log "$m.log" "$m"
  assert_success
  assert_equal "${lines[0]}" "STATUS=mounting at $m"
  assert_equal "${lines[1]}" "READY=1"
  assert_equal "${lines[2]}" "STATUS=serving $m"
  # Looked at while kqfsd was blocked sending READY=1: mounted already.
  assert_equal "${lines[3]}" "at-ready-send: mounted yes"
  assert_equal "${lines[4]}" "at-ready-read: kq holds clone"
  assert_equal "${lines[5]}" "STOPPING=1"
  assert_equal "${lines[6]}" "STATUS=stopping on SIGTERM: unmounting $m"
  assert_equal "${lines[7]}" "exit: 0"
  assert_equal "${lines[8]}" "after-exit: mounted no"
  assert_equal "${#lines[@]}" 9
  run grep -c "unmounted $m" "$m.log"
  assert_output 1
}

@test "a start that fails sends no READY=1, says why in STATUS= and exits non-zero" {
  local missing="$BATS_TEST_TMPDIR/no-such-directory"
  notify_run "$missing" --log "$BATS_TEST_TMPDIR/log" "$missing"
  assert_success
  refute_line "READY=1"
  refute_line --partial "at-ready"
  assert_line --regexp "^STATUS=failed: .*$missing"
  assert_line "exit: 1"
  assert_line "after-exit: mounted no"
}

@test "a mount taken away from outside gives STOPPING=1 too" {
  local m pid
  m=$(new_mount_point)
  python3 "$KQFS_SUPPORT/notify_socket.py" "$BATS_TEST_TMPDIR/notify" - \
    "$KQFSD" -f --log "$m.log" "$m" >"$BATS_TEST_TMPDIR/notes" 2>&1 3>&- &
  pid=$!
  BG_PIDS+=("$pid")
  wait_until 10 is_mounted "$m"
  umount "$m"
  wait_until 10 gone "$pid"
  run cat "$BATS_TEST_TMPDIR/notes"
  assert_line "READY=1"
  assert_line "STOPPING=1"
  assert_line "STATUS=the mount went away (unmounted from outside)"
  assert_line "exit: 0"
}

@test "without NOTIFY_SOCKET kqfsd -f serves and stops as before" {
  local m pid rc=0
  m=$(new_mount_point)
  env -u NOTIFY_SOCKET "$KQFSD" -f --log "$m.log" "$m" >"$KQFSD_OUT" 2>&1 3>&- &
  pid=$!
  wait_until 10 is_mounted "$m"
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  assert_equal "$rc" 0
  not_mounted "$m"
}

# ------------------------------------------------------------------ levels

# What logs at each level: a queue refused past --max-queues (warning), a
# rejected record (info), every request (debug).
log_a_little_of_everything() {
  mkdir "$KQ/first"
  ! mkdir "$KQ/second" 2>/dev/null
  ! echo "1 nosuchfilter add" >"$KQ/first/changes" 2>/dev/null
  kqfsd_stop "$M"
}

# log_at_level OPTION...: the log of a kqfsd started with OPTION... after
# log_a_little_of_everything, as the output.
log_at_level() {
  kqfsd_start "$@" --max-queues 1
  log_a_little_of_everything
  run cat "$LOG"
}

@test "--log-level error logs errors only" {
  log_at_level --log-level error
  assert_output ""
  # An error does reach it: a mount point that is not there.
  kqfsd_run -f --log "$LOG" --log-level error "$BATS_TEST_TMPDIR/missing"
  assert_failure 1
  run cat "$LOG"
  assert_line --regexp "^[0-9T:-]+ kqfsd\[[0-9]+\] error: mount point .*missing"
  assert_equal "${#lines[@]}" 1
}

@test "--log-level warning adds warnings, not info" {
  log_at_level --log-level warning
  assert_line --regexp "warning: queue second for uid 0 refused: ENOSPC"
  refute_line --partial "info:"
  refute_line --partial "debug:"
}

@test "--log-level info (the default) adds info, not debug" {
  local level
  for level in "" "--log-level info"; do
    # shellcheck disable=SC2086
    log_at_level $level
    assert_line --partial "warning: queue second for uid 0 refused"
    assert_line --partial "info: mounted at $M"
    assert_line --partial "info: queue first: rejected"
    refute_line --partial "debug:"
  done
}

@test "--log-level debug and -d log every request" {
  local level
  for level in "--log-level debug" "-d"; do
    # shellcheck disable=SC2086
    log_at_level $level
    assert_line --partial "info: mounted at $M"
    assert_line --regexp "debug: mkdir .*first"
  done
}

@test "--help names --log-level, NOTIFY_SOCKET and JOURNAL_STREAM" {
  kqfsd_run --help
  assert_success
  assert_output --partial "--log-level"
  assert_output --partial "NOTIFY_SOCKET"
  assert_output --partial "JOURNAL_STREAM"
}

@test "an unknown --log-level is refused with the levels named" {
  local m
  m=$(new_mount_point)
  kqfsd_run --log-level loud "$m"
  assert_failure 2
  assert_output --partial "error, warning, info, debug"
  not_mounted "$m"
}

@test "with standard error the journal's stream (JOURNAL_STREAM), lines carry <N> priorities" {
  M=$(new_mount_point)
  LOG="$M.log"
  KQ="$M/kq"
  : >"$LOG"
  JOURNAL_STREAM=$(stat -c %d:%i "$LOG") kqfsd_run --log "$LOG" --max-queues 1 "$M"
  assert_success
  log_a_little_of_everything
  run cat "$LOG"
  assert_line "<6>info: mounted at $M"
  assert_line --regexp "^<4>warning: queue second for uid 0 refused"
  assert_line --regexp "^<6>info: queue first: rejected"
  # Every line: no time or pid, which the journal records itself.
  run grep -vcE '^<[3467]>(error|warning|info|debug): ' "$LOG"
  assert_output 0
}

@test "a JOURNAL_STREAM naming another file leaves the lines as they were" {
  M=$(new_mount_point)
  LOG="$M.log"
  KQ="$M/kq"
  JOURNAL_STREAM=$(stat -c %d:%i /dev/null) kqfsd_run --log "$LOG" --max-queues 1 "$M"
  assert_success
  log_a_little_of_everything
  run cat "$LOG"
  assert_line --regexp "^[0-9T:-]+ kqfsd\[[0-9]+\] info: mounted at $M$"
  refute_line --regexp "^<"
}
