#!/usr/bin/env bats
# kqctl (docs/design.md#the-client): every subcommand and option through a real
# mount, its --help, its errors and exit statuses, wait in each format
# without losing events to a timeout, and convert between the formats.

bats_require_minimum_version 1.5.0

load mount_helpers
one_kqfsd_per_file

setup() {
  kqfs_setup
  # The default mount of every kqctl below, unless a test says otherwise.
  export KQFS_MOUNT="$MNT"
}

# kqctl ARGS...: the tool, killed if it ever hangs.
kqctl() {
  timeout -k 5 60 "$KQCTL" "$@"
}

COMMANDS=(create list remove tie add delete trigger wait watch status convert)

# A queue made through the mount for the test: prints its name.
queue_named() {
  local name="q$BATS_TEST_NUMBER${1:-}"
  mkdir "$KQ/$name"
  echo "$name"
}

# expect_failure STDERR ARGS...: kqctl ARGS exits 1 with nothing on
# standard output and exactly STDERR on standard error.
expect_failure() {
  local expected=$1
  shift
  run --separate-stderr kqctl "$@"
  if [ "$status" != 1 ] || [ -n "$output" ] || [ "$stderr" != "$expected" ]; then
    printf 'kqctl %s\nexit %s\nstdout: %s\nstderr: %s\nwanted: %s\n' "$*" "$status" "$output" \
      "$stderr" "$expected" >&2
    return 1
  fi
}

# Records of a file of 32-byte binary records, one "ident filter flags
# fflags data udata" line each, as numbers.
binary_records() {
  py -c '
import sys, kq
for r in kq.unpack_all(open(sys.argv[1], "rb").read()):
    print(*r)' "$1"
}

# ------------------------------------------------------------ the command line


# add_refused STDERR RECORD...: `kqctl add "$name" RECORD...` fails with
# status 1 and prints STDERR on stderr.
add_refused() {
  run --separate-stderr kqctl add "$name" "${@:2}"
  assert_failure 1
  [ "$stderr" = "$1" ]
}

# two_user_events: name, a new queue (queue_named) with user knotes 5
# (udata 42) and 6, added by kqctl add and triggered by kqctl trigger (5 with
# fflags 0x7 and data -3).
two_user_events() {
  name=$(queue_named)
  kqctl add "$name" "5 user add|clear 0 0 42" "6 user add|clear"
  kqctl trigger "$name" 5 --fflags 'ffor|0x7' --data -3
  kqctl trigger "$name" 6
}

@test "kqctl --help: every command, the global options and the exit statuses" {
  run --separate-stderr kqctl --help
  assert_success
  assert_line --index 0 "Usage: kqctl [--mount DIR] COMMAND [options] [arguments]"
  for command in "${COMMANDS[@]}"; do
    assert_line --regexp "^  $command( |$)"
  done
  assert_output --partial "--mount DIR"
  assert_output --partial "--version"
  assert_output --partial "Exit status: 0 done, 1 failed, 2 bad command line, 3 wait or watch timed out."
  [ -z "$stderr" ]
  run kqctl -h
  assert_success
  assert_line --index 0 "Usage: kqctl [--mount DIR] COMMAND [options] [arguments]"
}

@test "COMMAND --help: each command describes itself, its options and operands" {
  for command in "${COMMANDS[@]}"; do
    run --separate-stderr kqctl "$command" --help
    assert_success
    assert_line --index 0 --regexp "^Usage: kqctl \[--mount DIR\] $command( |$)"
    assert_line --regexp '^  -h \[ --help \] +show this help and exit$'
    [ -z "$stderr" ]
  done
  # Each documents what it takes.
  run kqctl create --help
  assert_output --partial "--mode MODE"
  run kqctl add --help
  assert_output --partial "IDENT FILTER FLAGS FFLAGS DATA UDATA"
  assert_output --partial "kqctl's own vanish when it"
  assert_output --partial "timers, user events and EVFILT_PROC knotes stay"
  run kqctl trigger --help
  assert_output --partial "--fflags FFLAGS"
  assert_output --partial "--data DATA"
  assert_output --partial "--udata UDATA"
  run kqctl wait --help
  for option in "-n [ --count ] COUNT" "-t [ --timeout ] SECONDS" "--json" "--bin"; do
    assert_output --partial -- "$option"
  done
  run kqctl convert --help
  assert_output --partial "--from FORMAT"
  assert_output --partial "--to FORMAT"
  # -h works too, and after operands.
  run kqctl wait somequeue -h
  assert_success
  assert_line --index 0 --partial "Usage: kqctl [--mount DIR] wait NAME"
}

@test "COMMAND --help does nothing else" {
  name=$(queue_named)
  echo "1 user add|clear" >"$KQ/$name/changes"
  run kqctl create "made$BATS_TEST_NUMBER" --help
  assert_success
  [ ! -e "$KQ/made$BATS_TEST_NUMBER" ]
  run kqctl remove "$name" --help
  assert_success
  [ -d "$KQ/$name" ]
  run kqctl add "$name" "2 user add" --help
  run kqctl trigger "$name" 1 --help
  run kqctl delete "$name" 1 user --help
  [ "$(status_field "$KQ/$name" knotes)" = 1 ]
  [ "$(status_field "$KQ/$name" changes)" = 1 ]
  [ "$(status_field "$KQ/$name" pending)" = 0 ]
}

@test "kqctl --version and -V print the version" {
  run kqctl --version
  assert_success
  assert_output --regexp '^kqctl [0-9]+\.[0-9]+\.[0-9]+$'
  run kqctl -V
  assert_success
  assert_output --regexp '^kqctl [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "no command, an unknown command, a bad global option: exit 2 and a pointer to --help" {
  run --separate-stderr kqctl
  assert_failure 2
  [ -z "$output" ]
  [ "$stderr" = $'kqctl: missing COMMAND\nTry \'kqctl --help\'.' ]
  run --separate-stderr kqctl frobnicate q
  assert_failure 2
  [ "$stderr" = $'kqctl: unknown command \'frobnicate\'\nTry \'kqctl --help\'.' ]
  run --separate-stderr kqctl --bogus list
  assert_failure 2
  [[ "$stderr" == *"'--bogus'"* ]]
  run --separate-stderr kqctl --mount
  assert_failure 2
  [[ "$stderr" == *"'--mount' is missing"* ]]
}

@test "bad command lines: exit 2, what is wrong, and a pointer to the command's --help" {
  name=$(queue_named)
  check() {
    local expected=$1
    shift
    run --separate-stderr kqctl "$@"
    assert_failure 2
    [ -z "$output" ]
    [[ "$stderr" == *"$expected"* ]] || { echo "kqctl $*: $stderr" >&2; return 1; }
    [[ "$stderr" == *"Try 'kqctl $1 --help'."* ]]
  }
  check "kqctl create: missing NAME" create
  check "kqctl create: MODE must be permission bits in octal (e.g. 0700), not 'rwx'" \
    create x --mode rwx
  check "MODE must be permission bits in octal" create x --mode 0778
  check "kqctl remove: too many arguments" remove a b
  check "kqctl list: too many arguments" list extra
  check "kqctl add: missing RECORD" add "$name"
  check "kqctl add: missing NAME" add
  check "kqctl add: RECORD 2 has a line break: give one record per argument" \
    add "$name" "1 user add" $'2 user add\n3 user add'
  check "kqctl delete: missing FILTER" delete "$name" 1
  check "kqctl delete: IDENT must be one word, not '1 user'" delete "$name" "1 user" user
  check "kqctl trigger: missing IDENT" trigger "$name"
  check "kqctl trigger: FFLAGS must be one word" trigger "$name" 1 --fflags "ffor 1"
  check "kqctl trigger: DATA must be one word, not '1 2'" trigger "$name" 1 --data "1 2"
  check "kqctl trigger: the required argument for option '--udata' is missing" trigger "$name" 1 --udata
  check "kqctl wait: COUNT must be a whole number, not 'x'" wait "$name" -n x
  check "kqctl wait: COUNT must be a whole number, not '-1'" wait "$name" -n -1
  check "kqctl wait: COUNT must be at least 1 (--follow prints events until the queue is removed)" \
    wait "$name" -n 0
  check "kqctl wait: --follow and --count exclude each other" wait "$name" -f -n 2
  check "kqctl wait: SECONDS must be a number of seconds (e.g. 2 or 0.5), not 'soon'" \
    wait "$name" -t soon
  check "SECONDS must be a number of seconds" wait "$name" -t -1
  check "SECONDS must be a number of seconds" wait "$name" -t nan
  check "kqctl wait: --json and --bin exclude each other" wait "$name" --json --bin
  check "kqctl wait: unrecognised option '--format'" wait "$name" --format json
  check "kqctl wait: the required argument for option '--timeout' is missing" wait "$name" -t
  check "kqctl status: missing NAME" status
  check "kqctl convert: missing --from FORMAT" convert --to text
  check "kqctl convert: missing --to FORMAT" convert --from text
  check "kqctl convert: --from must be text, json or bin, not 'xml'" convert --from xml --to text
  check "kqctl convert: --to must be text, json or bin, not 'yaml'" convert --from text --to yaml
  # None of it touched the queue.
  [ "$(status_field "$KQ/$name" changes)" = 0 ]
  [ "$(status_field "$KQ/$name" last-error)" = none ]
}

@test "the mount: --mount before or after the command, else KQFS_MOUNT, else XDG_RUNTIME_DIR/kqfs" {
  name=$(queue_named)
  run env -u KQFS_MOUNT "$KQCTL" --mount "$MNT" list
  assert_success
  assert_line "$name"
  run env -u KQFS_MOUNT "$KQCTL" list --mount "$MNT"
  assert_success
  assert_line "$name"
  run env -u KQFS_MOUNT "$KQCTL" --mount="$MNT" list
  assert_success
  assert_line "$name"
  # After the command wins over before it.
  run env -u KQFS_MOUNT "$KQCTL" --mount /nonexistent status "$name" --mount "$MNT"
  assert_success
  assert_line "name: $name"
  run kqctl status "$name"
  assert_success
  assert_line "name: $name"
  ln -s "$MNT" "$BATS_TEST_TMPDIR/kqfs"
  run env -u KQFS_MOUNT XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR" "$KQCTL" status "$name"
  assert_success
  assert_line "name: $name"
  # The default is named in --help.
  run env -u KQFS_MOUNT XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR" "$KQCTL" --help
  assert_success
  # (--help wraps its lines where it likes.)
  [[ "$(echo $output)" == *"here $BATS_TEST_TMPDIR/kqfs)"* ]]
}

@test "no kqfs mount at the mount point: every command says so and exits 1" {
  local empty="$BATS_TEST_TMPDIR/empty"
  mkdir "$empty"
  local missing="no kqfs mount at $empty: start kqfsd $empty, or give --mount DIR or KQFS_MOUNT"
  expect_failure "kqctl list: $missing" --mount "$empty" list
  expect_failure "kqctl create: $missing" --mount "$empty" create x
  expect_failure "kqctl remove: $missing" --mount "$empty" remove x
  expect_failure "kqctl status: $missing" --mount "$empty" status x
  expect_failure "kqctl add: $missing" --mount "$empty" add x "1 user add"
  expect_failure "kqctl wait: $missing" --mount "$empty" wait x -t 0
}

@test "a mount whose kqfsd is gone: ENOTCONN, and kqctl says so" {
  local dead="$BATS_TEST_TMPDIR/dead" log="$BATS_TEST_TMPDIR/dead.log" pid
  mkdir "$dead"
  "$KQFSD" --log "$log" "$dead"
  pid=$(pgrep -f "kqfsd --log $log")
  kill -KILL "$pid"
  wait_until 10 eval "! kill -0 $pid 2>/dev/null"
  run --separate-stderr kqctl --mount "$dead" list
  local list_status=$status list_stderr=$stderr
  run --separate-stderr kqctl --mount "$dead" wait q -t 1
  umount -l "$dead"
  [ "$list_status" = 1 ]
  local gone="kqfsd of $dead is not running (transport endpoint not connected): unmount with fusermount3 -u $dead and start it again"
  [ "$list_stderr" = "kqctl list: $gone" ]
  assert_failure 1
  [ "$stderr" = "kqctl wait: $gone" ]
}

@test "another user's mount without allow_other: EACCES, and kqctl says whose and what to do (setpriv 65534)" {
  # Where another user can reach it: bats' own directory is private.
  local private log="$BATS_TEST_TMPDIR/private.log"
  private=$(mktemp -d /tmp/kqfs-private.XXXXXX)
  chmod 0755 "$private"
  remember_mount "$private"
  "$KQFSD" --log "$log" "$private"
  local refused="$private is another user's kqfs mount without allow_other: run as the user who mounted it, or have kqfsd mount it with -o allow_other"
  local command
  for command in list "status q" "create q" "wait q -t 0" "watch '1 user add'"; do
    run --separate-stderr as_nobody sh -c "cd / && exec timeout 60 '$KQCTL' --mount '$private' $command"
    assert_failure 1
    assert_equal "$stderr" "kqctl ${command%% *}: $refused"
  done
  kqfsd_stop "$private" TERM "$log"
  rmdir "$private"
}

# ------------------------------------------------------------------ queues

@test "create makes a queue, list shows it, remove destroys it" {
  name="made$BATS_TEST_NUMBER"
  run --separate-stderr kqctl create "$name"
  assert_success
  [ -z "$output$stderr" ]
  [ -d "$KQ/$name" ]
  [ "$(stat -c %U:%G "$KQ/$name")" = "$(id -un):$(id -gn)" ]
  run kqctl list
  assert_success
  assert_line "$name"
  refute_line "clone"  # the clone file is not a queue
  run --separate-stderr kqctl remove "$name"
  assert_success
  [ -z "$output$stderr" ]
  [ ! -e "$KQ/$name" ]
  run kqctl list
  refute_line "$name"
}

@test "list: every queue, one name per line, in name order" {
  for name in "b$BATS_TEST_NUMBER" "a$BATS_TEST_NUMBER" "c.x-$BATS_TEST_NUMBER"; do
    mkdir "$KQ/$name"
  done
  run kqctl list
  assert_success
  [ "$output" = "$(find "$KQ" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort)" ]
  assert_line "a$BATS_TEST_NUMBER"
  assert_line "c.x-$BATS_TEST_NUMBER"
}

@test "create --mode gives exactly those permission bits; without it, 0777 less the umask" {
  run kqctl create "m$BATS_TEST_NUMBER" --mode 0750
  assert_success
  [ "$(stat -c %a "$KQ/m$BATS_TEST_NUMBER")" = 750 ]
  (umask 077 && kqctl create "u$BATS_TEST_NUMBER" --mode 755)
  [ "$(stat -c %a "$KQ/u$BATS_TEST_NUMBER")" = 755 ]
  (umask 027 && kqctl create "d$BATS_TEST_NUMBER")
  [ "$(stat -c %a "$KQ/d$BATS_TEST_NUMBER")" = 750 ]
  # The queue's files follow (docs/semantics.md).
  [ "$(status_field "$KQ/m$BATS_TEST_NUMBER" mode)" = 0750 ]
}

@test "create: an existing name is EEXIST; a bad name is EINVAL" {
  name=$(queue_named)
  run --separate-stderr kqctl create "$name"
  assert_failure 1
  # Never taken over, whoever made it (docs/security.md).
  [ "$stderr" = "kqctl create: cannot create queue '$name': it already exists (owner uid 0, mode $(stat -c %04a "$KQ/$name"))" ]
  for bad in "a b" "semi;colon" "$(printf 'x%.0s' {1..65})" "é"; do
    run --separate-stderr kqctl create "$bad"
    assert_failure 1
    [ "$stderr" = "kqctl create: cannot create queue '$bad': Invalid argument (a queue name is 1 to 64 characters of A-Za-z0-9._-)" ]
  done
  # Names that are not one path component never leave kq/.
  for bad in "x/y" ".." "." ""; do
    run --separate-stderr kqctl create "$bad"
    assert_failure 1
    [ "$stderr" = "kqctl create: '$bad': Invalid argument (a queue name is 1 to 64 characters of A-Za-z0-9._-)" ]
  done
  [ ! -e "$KQ/x" ]
  # 64 characters are fine.
  run kqctl create "$(printf 'y%.0s' {1..64})"
  assert_success
}

@test "unknown queue: every command on it says ENOENT" {
  local missing="queue 'nosuchqueue': No such file or directory"
  expect_failure "kqctl remove: $missing" remove nosuchqueue
  expect_failure "kqctl status: $missing" status nosuchqueue
  expect_failure "kqctl add: $missing" add nosuchqueue "1 user add"
  expect_failure "kqctl delete: $missing" delete nosuchqueue 1 user
  expect_failure "kqctl trigger: $missing" trigger nosuchqueue 1
  expect_failure "kqctl wait: $missing" wait nosuchqueue -t 5
  # A name that is not one path component is EINVAL, before anything is opened.
  expect_failure "kqctl status: '../kq': Invalid argument (a queue name is 1 to 64 characters of A-Za-z0-9._-)" \
    status ../kq
  expect_failure "kqctl wait: 'a/b': Invalid argument (a queue name is 1 to 64 characters of A-Za-z0-9._-)" \
    wait a/b
}

@test "list shows a clone queue while a handle is open, and not once it is closed" {
  run kqctl list
  refute_line --regexp '^clone-'
  exec 5<>"$KQ/clone"
  run kqctl list
  assert_success
  assert_line --regexp '^clone-[0-9]+$'
  clone=$(kqctl list | grep '^clone-')
  [ "$(echo "$clone" | wc -l)" = 1 ]
  run kqctl status "$clone"
  assert_success
  assert_line "anonymous: yes"
  exec 5>&-
  # The last close reaches the daemon as a release, after close returns.
  wait_until 10 eval '! kqctl list | grep -q "^clone-"'
}

@test "status prints the queue's status file" {
  name=$(queue_named)
  echo "1 user add" >"$KQ/$name/changes"
  echo "1 nosuchfilter add" >"$KQ/$name/changes" || true
  run --separate-stderr kqctl status "$name"
  assert_success
  [ "$output" = "$(cat "$KQ/$name/status")" ]
  assert_line "name: $name"
  assert_line "knotes.user: 1"
  assert_line "last-error: unknown filter 'nosuchfilter'"
}

@test "remove ends a kqctl wait blocked on the queue: exit 1, 'was removed'" {
  name=$(queue_named)
  (
    rc=0
    kqctl wait "$name" -n 2 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" || rc=$?
    echo $rc >"$BATS_TEST_TMPDIR/rc"
  ) 3>&- &
  echo "1 user add|clear 0 0 0" >"$KQ/$name/changes"
  echo "1 user 0 trigger" >"$KQ/$name/changes"
  wait_until 10 test -s "$BATS_TEST_TMPDIR/out"
  run kqctl remove "$name"
  assert_success
  wait_until 10 test -s "$BATS_TEST_TMPDIR/rc"
  [ "$(cat "$BATS_TEST_TMPDIR/rc")" = 1 ]
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0" ]
  [ "$(cat "$BATS_TEST_TMPDIR/err")" = "kqctl wait: queue '$name' was removed while waiting (1 event of 2 arrived)" ]
}

# ----------------------------------------------------------------- changes

@test "add: several records in one write, applied in order, in the text syntax" {
  name=$(queue_named)
  run --separate-stderr kqctl add "$name" "1 user add" "1 user delete" "# a comment" "" \
    "0x10 EVFILT_USER EV_ADD|EV_CLEAR" "3 Timer add|oneshot seconds 100" "4 -11 0x21 0 5 9" \
    "5 user add|dispatch"
  assert_success
  [ -z "$output$stderr" ]
  [ "$(status_field "$KQ/$name" knotes.user)" = 3 ]
  [ "$(status_field "$KQ/$name" knotes.timer)" = 1 ]
  [ "$(status_field "$KQ/$name" changes)" = 6 ]
  [ "$(status_field "$KQ/$name" last-error)" = none ]
  echo "16 user 0 trigger" >"$KQ/$name/changes"
  run kqctl wait "$name" -t 10
  assert_success
  assert_output "16 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
}

@test "add: a malformed record is named with its reason; those before it stay, those after are not applied" {
  name=$(queue_named)
  run --separate-stderr kqctl add "$name" "1 user add" "2 user add" "3 usr add" "4 user add" "5 user add"
  assert_failure 1
  [ -z "$output" ]
  [ "$stderr" = "kqctl add: record 3 of 5 '3 usr add' failed: Invalid argument (unknown filter 'usr'); records 1 to 2 were applied, records 4 to 5 were not" ]
  [ "$(status_field "$KQ/$name" knotes.user)" = 2 ]
  [ "$(status_field "$KQ/$name" last-error)" = "unknown filter 'usr'" ]

  add_refused "kqctl add: record '6 user add|bogus' failed: Invalid argument (unknown flag 'bogus')" "6 user add|bogus"
  add_refused "kqctl add: record '7 user add 0 notanumber' failed: Invalid argument (bad data 'notanumber')" "7 user add 0 notanumber"
  # The first of two fails: nothing applied, the other is not.
  run --separate-stderr kqctl add "$name" "8 user add 0 0 0 0 extra" "9 user add"
  assert_failure 1
  [[ "$stderr" == "kqctl add: record 1 of 2 '8 user add 0 0 0 0 extra' failed: Invalid argument ("*"); record 2 was not" ]]
  # The last of two fails.
  run --separate-stderr kqctl add "$name" "10 user add" "11 timer add 0 -5"
  assert_failure 1
  [[ "$stderr" == "kqctl add: record 2 of 2 '11 timer add 0 -5' failed: Invalid argument"*"; record 1 was applied" ]]
  [ "$(status_field "$KQ/$name" knotes.user)" = 3 ]
  [ "$(status_field "$KQ/$name" knotes.timer)" = 0 ]
}

@test "add: a record the daemon refuses gives the errno's text and why" {
  name=$(queue_named)
  # Descriptor 57 is not open in kqctl.
  add_refused "kqctl add: record '57 read add' failed: Bad file descriptor (not a descriptor open in kqctl)" "57 read add"
  # No such knote.
  add_refused "kqctl add: record '5 user enable' failed: No such file or directory (no such knote)" "5 user enable"
  # No such process.
  run --separate-stderr kqctl add "$name" "999999999 proc add exit"
  assert_failure 1
  [[ "$stderr" == "kqctl add: record '999999999 proc add exit' failed: No such process"* ]]
  [ "$(status_field "$KQ/$name" knotes)" = 0 ]
}

@test "add: kqctl's own descriptor knotes vanish when it exits; timers, user and proc knotes stay" {
  name=$(queue_named)
  sleep 600 3>&- &
  sleeper=$!
  # Descriptor 0 is kqctl's standard input, a file here.
  echo data >"$BATS_TEST_TMPDIR/file"
  run kqctl add "$name" "0 read add" "0 vnode add write" "5 timer add 0 100000" "6 user add" \
    "$sleeper proc add exit" <"$BATS_TEST_TMPDIR/file"
  assert_success
  wait_status "$KQ/$name" knotes.read 0
  wait_status "$KQ/$name" knotes.vnode 0
  [ "$(status_field "$KQ/$name" knotes.timer)" = 1 ]
  [ "$(status_field "$KQ/$name" knotes.user)" = 1 ]
  [ "$(status_field "$KQ/$name" knotes.proc)" = 1 ]
  kill "$sleeper"
  run kqctl wait "$name" -t 10
  assert_success
  # Killed by SIGTERM: wait status 15; the exit ends the knote (EV_ONESHOT).
  assert_output "$sleeper EVFILT_PROC EV_ADD|EV_ONESHOT|EV_CLEAR|EV_EOF NOTE_EXIT 15 0"
}

@test "delete removes a knote, the filter by name or by number" {
  name=$(queue_named)
  kqctl add "$name" "1 user add" "2 timer add 0 100000" "3 user add"
  run --separate-stderr kqctl delete "$name" 1 EVFILT_USER
  assert_success
  [ -z "$output$stderr" ]
  run kqctl delete "$name" 2 timer
  assert_success
  # -11 is EVFILT_USER, an operand though it looks like an option.
  run kqctl delete "$name" 3 -11
  assert_success
  [ "$(status_field "$KQ/$name" knotes)" = 0 ]
  [ "$(status_field "$KQ/$name" changes)" = 6 ]
}

@test "delete of a knote that is not there, or of a bad filter, says why" {
  name=$(queue_named)
  run --separate-stderr kqctl delete "$name" 9 timer
  assert_failure 1
  [ "$stderr" = "kqctl delete: record '9 timer EV_DELETE' failed: No such file or directory (no such knote)" ]
  run --separate-stderr kqctl delete "$name" 9 tiemr
  assert_failure 1
  [ "$stderr" = "kqctl delete: record '9 tiemr EV_DELETE' failed: Invalid argument (unknown filter 'tiemr')" ]
}

@test "trigger fires a user event and keeps its udata" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|clear 0 0 7"
  run --separate-stderr kqctl trigger "$name" 1
  assert_success
  [ -z "$output$stderr" ]
  run kqctl wait "$name" -t 10
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 7"
  # Nothing more until the next trigger.
  run kqctl wait "$name" -t 0.2
  assert_failure 3
}

@test "trigger --fflags applies NOTE_FFOR or NOTE_FFCOPY; --data and --udata set those" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|clear 0 0 7"
  kqctl trigger "$name" 1 --fflags 'ffor|0x5'
  kqctl trigger "$name" 1 --fflags 'NOTE_FFOR|0x12' --data 4
  run kqctl wait "$name" -t 10
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0x17 4 7"
  kqctl trigger "$name" 1 --fflags=ffcopy\|0x3 --data=-3
  run kqctl wait "$name" -t 10
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0x3 -3 7"
  kqctl trigger "$name" 1 --udata 0x10
  run kqctl wait "$name" -t 10
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0x3 0 16"
}

@test "trigger of a user event that is not there, or with bad fields, says why" {
  name=$(queue_named)
  expect_failure "kqctl trigger: record '4 EVFILT_USER EV_KEEPUDATA NOTE_TRIGGER 0' failed: No such file or directory (no such knote: is the user event registered yet?)" \
    trigger "$name" 4
  expect_failure "kqctl trigger: record '4 EVFILT_USER EV_KEEPUDATA NOTE_TRIGGER|nosuchnote 0' failed: Invalid argument (unknown fflag 'nosuchnote' for EVFILT_USER)" \
    trigger "$name" 4 --fflags nosuchnote
  expect_failure "kqctl trigger: record '4 EVFILT_USER EV_KEEPUDATA NOTE_TRIGGER x' failed: Invalid argument (bad data 'x')" \
    trigger "$name" 4 --data x
}

# -------------------------------------------------------------------- wait

@test "wait prints text lines; -n takes exactly COUNT events and leaves the rest queued" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|oneshot 0 0 11" "2 user add|oneshot 0 0 22" "3 user add|oneshot 0 0 33"
  kqctl trigger "$name" 1
  kqctl trigger "$name" 2
  kqctl trigger "$name" 3
  run --separate-stderr kqctl wait "$name" -n 2 -t 10
  assert_success
  [ -z "$stderr" ]
  [ "${#lines[@]}" = 2 ]
  run kqctl wait "$name" --count=1 --timeout=10
  assert_success
  [ "${#lines[@]}" = 1 ]
  # Between the two: each event once.
  run kqctl wait "$name" -t 0
  assert_failure 3
  [ "$(status_field "$KQ/$name" delivered)" = 3 ]
  [ "$(status_field "$KQ/$name" knotes)" = 0 ]
}

@test "wait prints each event as text, in the events file's syntax" {
  name=$(queue_named)
  kqctl add "$name" "5 user add|clear 0 0 18446744073709551615"
  kqctl trigger "$name" 5 --fflags 'ffor|0xabc' --data -3
  run --separate-stderr kqctl wait "$name" -t 10
  assert_success
  assert_output "5 EVFILT_USER EV_ADD|EV_CLEAR 0xabc -3 18446744073709551615"
}

@test "wait --json prints one JSON object per line" {
  two_user_events
  run --separate-stderr kqctl wait "$name" -n 2 --json -t 10
  assert_success
  [ "${#lines[@]}" = 2 ]
  assert_line '{"ident":5,"filter":"EVFILT_USER","flags":"EV_ADD|EV_CLEAR","fflags":"0x7","data":-3,"udata":42}'
  assert_line '{"ident":6,"filter":"EVFILT_USER","flags":"EV_ADD|EV_CLEAR","fflags":"0","data":0,"udata":0}'
}

@test "wait --bin prints 32-byte binary records" {
  two_user_events
  kqctl wait "$name" -n 2 --bin -t 10 >"$BATS_TEST_TMPDIR/events.bin"
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/events.bin")" = 64 ]
  run binary_records "$BATS_TEST_TMPDIR/events.bin"
  assert_success
  [ "${#lines[@]}" = 2 ]
  # EVFILT_USER -11, EV_ADD|EV_CLEAR 0x21
  assert_line "5 -11 33 7 -3 42"
  assert_line "6 -11 33 0 0 0"
}

@test "wait without -t blocks until COUNT events arrive" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|clear" "2 user add|clear"
  (
    rc=0
    kqctl wait "$name" -n 2 >"$BATS_TEST_TMPDIR/out" || rc=$?
    echo $rc >"$BATS_TEST_TMPDIR/rc"
  ) 3>&- &
  kqctl trigger "$name" 1
  wait_until 10 test -s "$BATS_TEST_TMPDIR/out"
  # One of two arrived: still waiting, and it printed that one already.
  sleep 0.3
  [ ! -e "$BATS_TEST_TMPDIR/rc" ]
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0" ]
  kqctl trigger "$name" 2
  wait_until 10 test -s "$BATS_TEST_TMPDIR/rc"
  [ "$(cat "$BATS_TEST_TMPDIR/rc")" = 0 ]
  run cat "$BATS_TEST_TMPDIR/out"
  assert_line --index 1 "2 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
}

@test "wait -t: exit 3 after printing the events that did arrive, in each format" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|clear"
  kqctl trigger "$name" 1
  run --separate-stderr kqctl wait "$name" -n 3 -t 0.4
  assert_failure 3
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
  [ "$stderr" = "kqctl wait: timed out with 1 event of 3" ]
  kqctl trigger "$name" 1
  run --separate-stderr kqctl wait "$name" -n 2 -t 0.2 --json
  assert_failure 3
  assert_output '{"ident":1,"filter":"EVFILT_USER","flags":"EV_ADD|EV_CLEAR","fflags":"0","data":0,"udata":0}'
  kqctl trigger "$name" 1
  kqctl wait "$name" -n 2 -t 0.2 --bin >"$BATS_TEST_TMPDIR/out" || echo $? >"$BATS_TEST_TMPDIR/rc"
  [ "$(cat "$BATS_TEST_TMPDIR/rc")" = 3 ]
  run binary_records "$BATS_TEST_TMPDIR/out"
  assert_output "1 -11 33 0 0 0"
  # Nothing at all.
  run --separate-stderr kqctl wait "$name" -t 0.3
  assert_failure 3
  [ -z "$output" ]
  [ "$stderr" = "kqctl wait: timed out with 0 events of 1" ]
}

@test "wait -t 0 takes only what is pending" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|clear" "2 user add|clear"
  kqctl trigger "$name" 1
  kqctl trigger "$name" 2
  wait_status "$KQ/$name" pending 2
  run kqctl wait "$name" -n 2 -t 0
  assert_success
  [ "${#lines[@]}" = 2 ]
  run kqctl wait "$name" -t 0
  assert_failure 3
}

@test "wait loses no event across timeouts" {
  name=$(queue_named)
  local count=30 records=() i
  for ((i = 1; i <= count; i++)); do records+=("$i user add|oneshot 0 0 $i"); done
  kqctl add "$name" "${records[@]}"
  # Triggers with gaps longer than the waits' timeout, so that waits keep
  # timing out, some right as an event comes.
  (
    for ((i = 1; i <= count; i++)); do
      "$KQCTL" trigger "$name" "$i"
      sleep "0.0$((RANDOM % 6 + 2))"
    done
  ) 3>&- &
  local timeouts=0 status
  SECONDS=0
  while [ "$(wc -l <"$BATS_TEST_TMPDIR/got" 2>/dev/null || echo 0)" -lt "$count" ] &&
    [ "$SECONDS" -lt 120 ]; do
    status=0
    kqctl wait "$name" -n 2 -t 0.02 >>"$BATS_TEST_TMPDIR/got" || status=$?
    case $status in
      0) ;;
      3) timeouts=$((timeouts + 1)) ;;
      *) echo "wait exited $status" >&2; return 1 ;;
    esac
  done
  wait
  [ "$timeouts" -gt 0 ]
  # Every ident exactly once, and nothing left behind.
  [ "$(cut -d' ' -f1 "$BATS_TEST_TMPDIR/got" | sort -n)" = "$(seq "$count")" ]
  [ "$(status_field "$KQ/$name" delivered)" = "$count" ]
  [ "$(status_field "$KQ/$name" pending)" = 0 ]
  [ "$(status_field "$KQ/$name" knotes)" = 0 ]
}

@test "wait killed while waiting takes no event" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|clear"
  "$KQCTL" wait "$name" >"$BATS_TEST_TMPDIR/out" 3>&- &
  waiter=$!
  sleep 0.2
  kill -TERM "$waiter"
  wait "$waiter" || true
  kqctl trigger "$name" 1
  run kqctl wait "$name" -t 10
  assert_success
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
  [ ! -s "$BATS_TEST_TMPDIR/out" ]
}

# ----------------------------------------------------------------- convert

@test "convert: text to json to bin to text gives the canonical text" {
  printf '%s\n' "1 timer add 0 500 7" "# a comment" "" "0x10 EVFILT_USER EV_ADD|EV_CLEAR ffor|0x5 -3 0xff" \
    "SIGUSR1 signal add" "3 read add|eof 0 0 18446744073709551615" >"$BATS_TEST_TMPDIR/in.txt"
  run bash -c '"$1" convert --from text --to json <"$2" | "$1" convert --from json --to bin |
    "$1" convert --from bin --to text' - "$KQCTL" "$BATS_TEST_TMPDIR/in.txt"
  assert_success
  [ "$output" = "1 EVFILT_TIMER EV_ADD 0 500 7
16 EVFILT_USER EV_ADD|EV_CLEAR NOTE_FFOR|0x5 -3 255
10 EVFILT_SIGNAL EV_ADD 0 0 0
3 EVFILT_READ EV_ADD|EV_EOF 0 0 18446744073709551615" ]
}

@test "convert: text to json, json to text" {
  run bash -c 'echo "5 user add|clear ffor|0x7 -3 42" | "$1" convert --from text --to json' - "$KQCTL"
  assert_success
  assert_output '{"ident":5,"filter":"EVFILT_USER","flags":"EV_ADD|EV_CLEAR","fflags":"NOTE_FFOR|0x7","data":-3,"udata":42}'
  run bash -c 'printf "%s\n" "{\"ident\":5,\"filter\":\"user\",\"flags\":33}" "" "{\"udata\":9,\"filter\":-7}" |
    "$1" convert --from json --to text' - "$KQCTL"
  assert_success
  [ "$output" = "5 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0
0 EVFILT_TIMER 0 0 0 9" ]
}

@test "convert: a change naming another process's descriptor keeps its pid in text and JSON, not in bin" {
  run bash -c 'echo "4@1234 read add|clear lowat 5" | "$1" convert --from text --to json' - "$KQCTL"
  assert_success
  assert_output '{"ident":4,"pid":1234,"filter":"EVFILT_READ","flags":"EV_ADD|EV_CLEAR","fflags":"NOTE_LOWAT","data":5,"udata":0}'
  run bash -c 'echo "$2" | "$1" convert --from json --to text' - "$KQCTL" "$output"
  assert_success
  assert_output '4@1234 EVFILT_READ EV_ADD|EV_CLEAR NOTE_LOWAT 5 0'
  run --separate-stderr bash -c 'printf "%s\n" "1 user add" "4@1234 read add" |
    "$1" convert --from text --to bin | wc -c' - "$KQCTL"
  assert_output 32
  [ "$stderr" = "kqctl convert: line 2: its ident is a descriptor of process 1234, which binary records cannot carry" ]
}

@test "convert: text to bin is struct kevent, and back" {
  echo "5 user add|clear 0x7 -3 42" | kqctl convert --from text --to bin >"$BATS_TEST_TMPDIR/out.bin"
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/out.bin")" = 32 ]
  run binary_records "$BATS_TEST_TMPDIR/out.bin"
  assert_output "5 -11 33 7 -3 42"
  run bash -c 'python3 -c "
import sys, struct
sys.stdout.buffer.write(struct.pack(\"<QhHIqQ\", 7, -7, 0x11, 2, 500, 9) * 2)" |
    "$1" convert --from bin --to text' - "$KQCTL"
  assert_success
  [ "$output" = "7 EVFILT_TIMER EV_ADD|EV_ONESHOT NOTE_MSECONDS 500 9
7 EVFILT_TIMER EV_ADD|EV_ONESHOT NOTE_MSECONDS 500 9" ]
  run bash -c '"$1" convert --from bin --to json <"$2"' - "$KQCTL" "$BATS_TEST_TMPDIR/out.bin"
  assert_output '{"ident":5,"filter":"EVFILT_USER","flags":"EV_ADD|EV_CLEAR","fflags":"0x7","data":-3,"udata":42}'
}

@test "convert matches the daemon: wait --bin converted to text is what wait prints" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|clear 0 0 8"
  kqctl trigger "$name" 1 --fflags 'ffcopy|0x123' --data 9
  kqctl wait "$name" --bin -t 10 >"$BATS_TEST_TMPDIR/event.bin"
  kqctl trigger "$name" 1 --fflags 'ffcopy|0x123' --data 9
  run kqctl wait "$name" -t 10
  [ "$output" = "$(kqctl convert --from bin --to text <"$BATS_TEST_TMPDIR/event.bin")" ]
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0x123 9 8"
}

@test "convert: a malformed record names its line or record and the reason; earlier records are written" {
  run --separate-stderr bash -c 'printf "%s\n" "1 user add" "# fine" "2 usr add" "3 user add" |
    "$1" convert --from text --to text' - "$KQCTL"
  assert_failure 1
  assert_output "1 EVFILT_USER EV_ADD 0 0 0"
  [ "$stderr" = "kqctl convert: line 3: unknown filter 'usr'" ]

  run --separate-stderr bash -c 'printf "%s\n" "{\"ident\":1,\"filter\":\"user\"}" "{\"ident\":1,}" |
    "$1" convert --from json --to text' - "$KQCTL"
  assert_failure 1
  assert_output "1 EVFILT_USER 0 0 0 0"
  [[ "$stderr" == "kqctl convert: line 2: malformed JSON at byte 11: "* ]]

  run --separate-stderr bash -c 'printf "%s\n" "{\"ident\":1,\"filter\":\"user\",\"colour\":2}" |
    "$1" convert --from json --to text' - "$KQCTL"
  assert_failure 1
  [[ "$stderr" == "kqctl convert: line 1: "*"colour"* ]]

  run --separate-stderr bash -c 'head -c 70 /dev/zero | "$1" convert --from bin --to text' - "$KQCTL"
  assert_failure 1
  assert_output "0 0 0 0 0 0
0 0 0 0 0 0"
  [ "$stderr" = "kqctl convert: record 3: 6 bytes left over, not a 32-byte record" ]
}

@test "convert: empty input is empty output" {
  for from in text json bin; do
    run --separate-stderr kqctl convert --from "$from" --to text </dev/null
    assert_success
    [ -z "$output$stderr" ]
  done
}

# ------------------------------------------------------------------- watch

# kqctl_in_background NAME ARGS...: kqctl ARGS in the background (killed if
# it hangs), its standard output in NAME.out and error in NAME.err; its pid
# in bg. The caller's redirections (5<FILE) reach kqctl.
kqctl_in_background() {
  local name=$1
  shift
  timeout -k 5 60 "$KQCTL" "$@" >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" 3>&- &
  bg=$!
  BG_PIDS+=("$bg")
}

# No anonymous queue is open (kqctl watch's goes when it exits).
no_clone_queue() {
  ! compgen -G "$KQ/clone-*" >/dev/null
}

# finish_background NAME: waits for bg; sets rc, out and err.
finish_background() {
  rc=0
  wait "$bg" || rc=$?
  out=$(cat "$BATS_TEST_TMPDIR/$1.out")
  err=$(cat "$BATS_TEST_TMPDIR/$1.err")
}

@test "watch --help: the records, the formats, when it stops, the exit statuses" {
  run --separate-stderr kqctl watch --help
  assert_success
  assert_line --index 0 "Usage: kqctl [--mount DIR] watch [-m | -n COUNT] [-t SECONDS] [-q] [--json|--bin] RECORD..."
  for option in "-n [ --count ] COUNT" "-m [ --monitor ]" "-t [ --timeout ] SECONDS" "-q [ --quiet ]" \
    "--json" "--bin" "# exited with status 3" '"exit"' "SIGINT, SIGTERM or SIGHUP"; do
    assert_output --partial -- "$option"
  done
  assert_output --partial "Exit status: 0 the events came (or no knote is left), 1 a record failed or"
  assert_output --partial "3 the timeout passed first"
  run kqctl wait --help
  assert_output --partial "-f [ --follow ]"
  assert_output --partial "until the queue is removed (exit 0"
}

@test "watch: bad command lines exit 2 and register nothing" {
  check() {
    local expected=$1
    shift
    run --separate-stderr kqctl watch "$@"
    assert_failure 2
    [ -z "$output" ]
    [[ "$stderr" == "kqctl watch: $expected"$'\n'"Try 'kqctl watch --help'." ]] ||
      { echo "kqctl watch $*: $stderr" >&2; return 1; }
  }
  check "missing RECORD"
  check "COUNT must be at least 1 (--monitor never stops)" -n 0 "1 timer add"
  check "COUNT must be a whole number, not 'x'" -n x "1 timer add"
  check "--monitor and --count exclude each other" -m -n 2 "1 timer add"
  check "SECONDS must be a number of seconds (e.g. 2 or 0.5), not 'soon'" -t soon "1 timer add"
  check "--json and --bin exclude each other" --json --bin "1 timer add"
  check "RECORD 2 has a line break: give one record per argument" "1 timer add" $'2 timer add\n3 timer add'
  check "no RECORD to watch, only blank lines and comments" "# nothing" ""
  wait_until 10 no_clone_queue
}

@test "watch: a bad record or an unknown filter is named with its reason; exit 1 before waiting" {
  expect_failure "kqctl watch: record '1 usr add' failed: Invalid argument (unknown filter 'usr')" \
    watch "1 usr add"
  expect_failure "kqctl watch: record 2 of 2 '2 -30 add' failed: Invalid argument (unknown filter -30)" \
    watch "1 timer add 0 100" "2 -30 add"
  expect_failure "kqctl watch: record '1 timer add|bogus' failed: Invalid argument (unknown flag 'bogus')" \
    watch "1 timer add|bogus"
  expect_failure "kqctl watch: record '1 user enable' failed: No such file or directory (no such knote)" \
    watch "1 user enable"
  # The daemon refuses it: the first record was registered, kqctl stops at the second.
  expect_failure "kqctl watch: record 2 of 3 '2 timer add 0 -5' failed: Invalid argument" \
    watch "1 timer add 0 100" "2 timer add 0 -5" "3 timer add 0 100"
  run --separate-stderr kqctl watch "999999999 proc add exit"
  assert_failure 1
  [[ "$stderr" == "kqctl watch: record '999999999 proc add exit' failed: No such process"* ]]
  # A descriptor kqctl was not given.
  expect_failure "kqctl watch: record '57 read add' failed: Bad file descriptor (descriptor 57 is not open in kqctl: give it one, e.g. 57<FILE)" \
    watch "57 read add"
  # Another process's descriptor: binary records to kqctl's queue carry no pid.
  expect_failure "kqctl watch: record '0@1 read add' failed: Invalid argument (watch watches its own descriptors: give kqctl the descriptor, e.g. 3<&4, not FD@PID)" \
    watch "0@1 read add"
  # None waited: no anonymous queue is left.
  wait_until 10 no_clone_queue
  # No mount.
  local empty="$BATS_TEST_TMPDIR/empty"
  mkdir "$empty"
  expect_failure "kqctl watch: no kqfs mount at $empty: start kqfsd $empty, or give --mount DIR or KQFS_MOUNT" \
    --mount "$empty" watch "1 timer add"
}

@test "watch: exits 0 after the first event, printed in the events file's syntax" {
  run --separate-stderr kqctl watch "1 timer add 0 50 7"
  assert_success
  [ -z "$stderr" ]
  assert_output "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"
  # -n: that many events, then 0.
  run --separate-stderr kqctl watch -n 3 "1 timer add 0 50"
  assert_success
  [ "${#lines[@]}" = 3 ]
  # --json and --bin.
  run --separate-stderr kqctl watch --json "1 timer add|oneshot 0 10 5"
  assert_success
  assert_output '{"ident":1,"filter":"EVFILT_TIMER","flags":"EV_ADD|EV_ONESHOT|EV_CLEAR","fflags":"0","data":1,"udata":5}'
  kqctl watch --bin "2 timer add|oneshot 0 10 6" >"$BATS_TEST_TMPDIR/event.bin"
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/event.bin")" = 32 ]
  run binary_records "$BATS_TEST_TMPDIR/event.bin"
  assert_output "2 -7 $((0x1 | 0x10 | 0x20)) 0 1 6"
  # Its queue went with it.
  wait_until 10 no_clone_queue
}

@test "watch -t: exit 3 when nothing came, with -q nothing printed; -q with an event exits 0 silently" {
  run --separate-stderr kqctl watch -t 0.3 "1 timer add 0 100000"
  assert_failure 3
  [ -z "$output" ]
  [ "$stderr" = "kqctl watch: timed out with 0 events of 1" ]
  run --separate-stderr kqctl watch -q -t 0.3 "1 timer add 0 100000"
  assert_failure 3
  [ -z "$output$stderr" ]
  run --separate-stderr kqctl watch -q -t 10 "1 timer add 0 50"
  assert_success
  [ -z "$output$stderr" ]
  # -t 0: only what is there at once: a file is readable to its end.
  echo hello >"$BATS_TEST_TMPDIR/file"
  run --separate-stderr kqctl watch -t 0 "0 read add" <"$BATS_TEST_TMPDIR/file"
  assert_success
  assert_output "0 EVFILT_READ EV_ADD 0 6 0"
}

@test "watch -m with a periodic timer prints every tick until the timeout: exit 3" {
  run --separate-stderr kqctl watch -m -t 0.55 "1 timer add 0 100"
  assert_failure 3
  # About five ticks; a loaded machine merges some, none is lost (data counts them).
  [ "${#lines[@]}" -ge 2 ]
  local line ticks=0
  for line in "${lines[@]}"; do
    [[ "$line" =~ ^1\ EVFILT_TIMER\ EV_ADD\|EV_CLEAR\ 0\ ([0-9]+)\ 0$ ]]
    ticks=$((ticks + BASH_REMATCH[1]))
  done
  [ "$ticks" -ge 4 ]
  [ "$stderr" = "kqctl watch: timed out with ${#lines[@]} events" ]
}

@test "watch -m ends with 0 once no knote is left: a one-shot delivered, a process exited" {
  sleep 600 3>&- &
  local sleeper=$!
  BG_PIDS+=("$sleeper")
  kqctl_in_background w watch -m "1 timer add|oneshot 0 50" "$sleeper proc add exit"
  wait_until 10 test -s "$BATS_TEST_TMPDIR/w.out"
  # The timer fired; the process knote is still there, so it still watches.
  sleep 0.2
  kill -0 "$bg"
  kill -TERM "$sleeper"
  finish_background w
  [ "$rc" = 0 ]
  [ -z "$err" ]
  [ "$out" = "1 EVFILT_TIMER EV_ADD|EV_ONESHOT|EV_CLEAR 0 1 0
$sleeper EVFILT_PROC EV_ADD|EV_ONESHOT|EV_CLEAR|EV_EOF NOTE_EXIT 15 0 # killed by signal 15 (SIGTERM)" ]
}

@test "watch: a pipe on kqctl's standard input, inherited from the shell" {
  {
    wait_until 10 clone_with_knotes 1
    printf hello
    sleep 1 # the writer stays, so no end of file comes with the data
  } | {
    run --separate-stderr kqctl watch -t 20 "0 read add 0 0 9"
    assert_success
    assert_output "0 EVFILT_READ EV_ADD 0 5 9"
  }
}

@test "watch: a FIFO readable within the timeout, or exit 3" {
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  run --separate-stderr kqctl watch -t 0.3 "5 read add" 5<>"$BATS_TEST_TMPDIR/fifo"
  assert_failure 3
  [ "$stderr" = "kqctl watch: timed out with 0 events of 1" ]
  kqctl_in_background fifo watch -t 20 "5 read add" 5<>"$BATS_TEST_TMPDIR/fifo"
  wait_until 10 clone_with_knotes 1
  echo "through the fifo" >"$BATS_TEST_TMPDIR/fifo"
  finish_background fifo
  [ "$rc" = 0 ]
  [ "$out" = "5 EVFILT_READ EV_ADD 0 17 0" ]
}

@test "watch: a file written, then deleted, through the descriptor the shell opened" {
  local file="$BATS_TEST_TMPDIR/file"
  echo one >"$file"
  kqctl_in_background file watch -n 2 "5 vnode add|clear write|delete" 5<"$file"
  wait_until 10 clone_with_knotes 1
  echo two >>"$file"
  wait_until 10 test -s "$BATS_TEST_TMPDIR/file.out"
  rm "$file"
  finish_background file
  [ "$rc" = 0 ]
  [ "$out" = "5 EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_WRITE|NOTE_EXTEND 0 0
5 EVFILT_VNODE EV_ADD|EV_CLEAR NOTE_DELETE 0 0" ]
}

# gated_child STATUS: a child of this shell that exits with STATUS once
# $BATS_TEST_TMPDIR/gate is written; its pid in child.
gated_child() {
  mkfifo "$BATS_TEST_TMPDIR/gate"
  (read -r _ <"$BATS_TEST_TMPDIR/gate"; exit "$1") 3>&- &
  child=$!
  BG_PIDS+=("$child")
}

@test "watch: a process's exit status in words, after the six fields (text) and as \"exit\" (JSON)" {
  gated_child 3
  kqctl_in_background text watch "$child proc add exit"
  wait_until 10 clone_with_knotes 1
  echo go >"$BATS_TEST_TMPDIR/gate"
  finish_background text
  [ "$rc" = 0 ]
  [ "$out" = "$child EVFILT_PROC EV_ADD|EV_ONESHOT|EV_CLEAR|EV_EOF NOTE_EXIT 768 0 # exited with status 3" ]
  # Six fields for a script, the words in a seventh variable.
  read -r ident filter flags fflags data udata comment <<<"$out"
  [ "$data $udata" = "768 0" ]
  [ "$comment" = "# exited with status 3" ]
  rm "$BATS_TEST_TMPDIR/gate"

  gated_child 0
  kqctl_in_background json watch --json "$child proc add exit 0 4"
  wait_until 10 clone_with_knotes 1
  echo go >"$BATS_TEST_TMPDIR/gate"
  finish_background json
  [ "$rc" = 0 ]
  [ "$out" = "{\"ident\":$child,\"filter\":\"EVFILT_PROC\",\"flags\":\"EV_ADD|EV_ONESHOT|EV_CLEAR|EV_EOF\",\"fflags\":\"NOTE_EXIT\",\"data\":0,\"udata\":4,\"exit\":{\"status\":0}}" ]
}

@test "watch: a process killed by a signal, in words and in JSON" {
  sleep 600 3>&- &
  local sleeper=$!
  BG_PIDS+=("$sleeper")
  kqctl_in_background text watch "$sleeper proc add exit"
  kqctl_in_background json watch --json "$sleeper proc add exit"
  wait_until 10 eval '[ "$(grep -lsx "knotes: 1" "$KQ"/clone-*/status | wc -l)" = 2 ]'
  kill -KILL "$sleeper"
  finish_background json
  [ "$rc" = 0 ]
  [ "$out" = "{\"ident\":$sleeper,\"filter\":\"EVFILT_PROC\",\"flags\":\"EV_ADD|EV_ONESHOT|EV_CLEAR|EV_EOF\",\"fflags\":\"NOTE_EXIT\",\"data\":9,\"udata\":0,\"exit\":{\"signal\":\"SIGKILL\",\"signo\":9,\"core\":false}}" ]
  wait_until 10 test -s "$BATS_TEST_TMPDIR/text.out"
  [ "$(cat "$BATS_TEST_TMPDIR/text.out")" = "$sleeper EVFILT_PROC EV_ADD|EV_ONESHOT|EV_CLEAR|EV_EOF NOTE_EXIT 9 0 # killed by signal 9 (SIGKILL)" ]

  # SIGSEGV: a core dump, where the system writes one, is said too.
  sleep 600 3>&- &
  sleeper=$!
  BG_PIDS+=("$sleeper")
  kqctl_in_background segv watch "$sleeper proc add exit"
  wait_until 10 clone_with_knotes 1
  kill -SEGV "$sleeper"
  finish_background segv
  [ "$rc" = 0 ]
  [[ "$out" =~ ^$sleeper\ EVFILT_PROC\ .*\ NOTE_EXIT\ (139|11)\ 0\ \#\ killed\ by\ signal\ 11\ \(SIGSEGV\)(,\ core\ dumped)?$ ]]
}

@test "watch: SIGTERM and SIGINT end it by that signal, after the events it took are printed" {
  kqctl_in_background term watch -m "1 timer add 0 50"
  wait_until 10 test -s "$BATS_TEST_TMPDIR/term.out"
  kill -TERM "$bg"
  finish_background term
  [ "$rc" = 143 ]
  [ -z "$err" ]
  # Every line whole.
  [ "$(grep -cvx '1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 [0-9]* 0' <<<"$out")" = 0 ]

  # A background job of a script ignores SIGINT; kqctl here does not.
  (trap - INT && exec "$KQCTL" watch -m "1 timer add 0 100000") 3>&- &
  bg=$!
  BG_PIDS+=("$bg")
  wait_until 10 clone_with_knotes 1
  kill -INT "$bg"
  rc=0
  wait "$bg" || rc=$?
  [ "$rc" = 130 ]
}

@test "watch: a signal it watches is counted, and ends neither kqctl nor its wait" {
  "$KQCTL" watch -n 2 "USR1 signal add" "HUP signal add" >"$BATS_TEST_TMPDIR/out" 3>&- &
  bg=$!
  BG_PIDS+=("$bg")
  wait_until 10 clone_with_knotes 2
  kill -USR1 "$bg"
  wait_until 10 test -s "$BATS_TEST_TMPDIR/out"
  sleep 0.2
  kill -0 "$bg"
  kill -HUP "$bg"
  rc=0
  wait "$bg" || rc=$?
  [ "$rc" = 0 ]
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "10 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0
1 EVFILT_SIGNAL EV_ADD|EV_CLEAR 0 1 0" ]
}

# ----------------------------------------------------------- wait --follow

@test "wait --follow prints every event until the queue is removed: exit 0" {
  name=$(queue_named)
  kqctl add "$name" "1 user add|clear"
  kqctl_in_background follow wait "$name" --follow
  kqctl trigger "$name" 1 --data 1
  wait_until 10 test -s "$BATS_TEST_TMPDIR/follow.out"
  kqctl trigger "$name" 1 --data 2
  wait_until 10 eval '[ "$(wc -l <"$BATS_TEST_TMPDIR/follow.out")" = 2 ]'
  kqctl remove "$name"
  finish_background follow
  [ "$rc" = 0 ]
  [ -z "$err" ]
  [ "$out" = "1 EVFILT_USER EV_ADD|EV_CLEAR 0 1 0
1 EVFILT_USER EV_ADD|EV_CLEAR 0 2 0" ]
}

@test "wait -f -t: exit 3 at the timeout; --json; SIGTERM ends it by that signal" {
  name=$(queue_named)
  kqctl add "$name" "1 timer add 0 100"
  run --separate-stderr kqctl wait "$name" -f -t 0.55 --json
  assert_failure 3
  [ "${#lines[@]}" -ge 2 ]
  assert_line --index 0 --regexp '^\{"ident":1,"filter":"EVFILT_TIMER",.*\}$'
  [ "$stderr" = "kqctl wait: timed out with ${#lines[@]} events" ]

  kqctl_in_background term wait "$name" -f
  wait_until 10 test -s "$BATS_TEST_TMPDIR/term.out"
  kill -TERM "$bg"
  finish_background term
  [ "$rc" = 143 ]
  [ -z "$err" ]
  # Every event taken from the queue was printed.
  [ "$(status_field "$KQ/$name" delivered)" = "$((${#lines[@]} + $(wc -l <<<"$out")))" ]
}
