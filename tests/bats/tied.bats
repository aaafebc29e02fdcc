#!/usr/bin/env bats
# Queues tied to a process (kq/NAME/tied-to, kqctl create --tie, kqctl tie):
# removed as rmdir removes them when that process exits, killed or not
# (docs/design.md#the-mounted-tree). Real scripts, real signals.

bats_require_minimum_version 1.5.0

load mount_helpers
one_kqfsd_per_file

setup() {
  kqfs_setup
  export KQFS_MOUNT="$MNT"
}

# The daemon's pidfds: one per tied queue, and one per live writer.
daemon_pidfds() {
  find "/proc/$(kqfsd_pid)/fd" -mindepth 1 -printf '%l\n' | grep -c 'anon_inode:\[pidfd\]' || true
}

# All of the daemon's descriptors.
daemon_descriptors() {
  find "/proc/$(kqfsd_pid)/fd" -mindepth 1 | wc -l
}

descriptors_are() {
  [ "$(daemon_descriptors)" -eq "$1" ]
}

absent() {
  [ ! -e "$1" ]
}

# start_script NAME BODY [ARG...]: runs BODY as a bash script in the
# background and waits until BODY has run. The script writes its pid to
# $BATS_TEST_TMPDIR/NAME.pid (teardown kills it) and then waits for
# finish_script NAME, on short sleeps, so that none outlives it by long
# once it is killed.
start_script() {
  local name=$1 body=$2
  shift 2
  local dir=$BATS_TEST_TMPDIR
  cat >"$dir/$name.sh" <<SCRIPT
echo \$\$ >"$dir/$name.pid"
$body
echo ready >"$dir/$name.ready"
while [ ! -e "$dir/$name.done" ]; do sleep 0.1; done
SCRIPT
  bash "$dir/$name.sh" "$@" 3>&- &
  wait_until 10 test -e "$dir/$name.ready"
}

# The pid start_script NAME wrote.
script_pid() {
  cat "$BATS_TEST_TMPDIR/$1.pid"
}

# Lets start_script NAME end by itself (exit 0).
finish_script() {
  touch "$BATS_TEST_TMPDIR/$1.done"
}

# After a process's exit, time enough for the daemon to have acted on it.
settle() {
  sleep 0.3
}

@test "a script's tied queue is removed after kill -9 of the script; its blocked reader gets end of file" {
  local before_fds before_pidfds
  before_fds=$(daemon_descriptors)
  before_pidfds=$(daemon_pidfds)
  q=$(new_queue)
  start_script tied 'echo $$ >"$1/tied-to"
echo "1 timer add 0 60000" >"$1/changes"' "$q"
  pid=$(script_pid tied)
  run cat "$q/tied-to"
  assert_output "$pid"
  run status_field "$q" tied-to
  assert_output "$pid"
  start_cat_reader "$q/events" reader 30
  wait_status "$q" readers 1
  kill -KILL "$pid"
  assert_reader_got_eof reader 10
  [ ! -e "$q" ]
  run ls "$KQ"
  refute_line "${q##*/}"
  # The tie's pidfd, the script's as a writer, the queue's kernel objects:
  # all released.
  wait_until 5 descriptors_are "$before_fds"
  assert_equal "$(daemon_pidfds)" "$before_pidfds"
}

@test "a tied queue goes when its process exits normally too; other queues stay" {
  q=$(new_queue a)
  other=$(new_queue b)
  start_script tied 'echo $$ >"$1/tied-to"' "$q"
  finish_script tied
  wait_until 10 absent "$q"
  [ -d "$other" ]
}

@test "untying keeps the queue: none and 0; the process's death then changes nothing" {
  local value
  for value in none 0; do
    q=$(new_queue "$value")
    start_script "s$value" 'echo $$ >"$1/tied-to"
echo 1 user add >"$1/changes"
echo "$2" >"$1/tied-to"' "$q" "$value"
    run cat "$q/tied-to"
    assert_output none
    kill -KILL "$(script_pid "s$value")"
    settle
    [ -d "$q" ]
    assert_equal "$(status_field "$q" knotes)" 1
  done
}

@test "a new tie replaces the old: one tie per queue" {
  q=$(new_queue)
  start_script first 'echo $$ >"$1/tied-to"' "$q"
  start_script second 'echo $$ >"$1/tied-to"' "$q"
  run cat "$q/tied-to"
  assert_output "$(script_pid second)"
  kill -KILL "$(script_pid first)"
  settle
  [ -d "$q" ]
  kill -KILL "$(script_pid second)"
  wait_until 10 absent "$q"
}

@test "rmdir of a tied queue: its handles read end of file and write ENOENT; the exit later does nothing" {
  q=$(new_queue)
  sleep 60 3>&- &
  BG_PIDS+=($!)
  echo "$!" >"$q/tied-to"
  run kq_python 30 '' "$q" <<'EOF'
import errno, os, sys
q = sys.argv[1]
tied = os.open(q + "/tied-to", os.O_RDWR)
os.rmdir(q)
print(repr(os.read(tied, 100)))
try:
    os.write(tied, b"1\n")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
  assert_output "$(printf "%s\n" "b''" ENOENT)"
  mkdir "$q" # the same name, a new queue: the old tie is not its
  kill -KILL "${BG_PIDS[0]}"
  settle
  [ -d "$q" ]
  run cat "$q/tied-to"
  assert_output none
}

@test "tied-to: malformed values are EINVAL with a readable last-error; no such process is ESRCH" {
  q=$(new_queue)
  write_tied_to() {
    run -1 bash -c 'printf "%s" "$2" >"$1/tied-to"' _ "$q" "$1"
  }
  write_tied_to "abc"
  assert_output --partial "Invalid argument"
  assert_last_error "$q" 'tied-to: Invalid argument ("abc" is not a process id, 0 or none)'
  local bad
  for bad in $'\n' "-1" "+1" "0x10" "1 2" "None" "99999999999999999999999"; do
    write_tied_to "$bad"
    assert_output --partial "Invalid argument"
  done
  write_tied_to 2147483647
  assert_output --partial "No such process"
  assert_last_error "$q" "tied-to 2147483647: No such process"
  run cat "$q/tied-to"
  assert_output none
}

@test "tied-to is read as status and written as changes: its mode follows the directory's" {
  mkdir -m 0750 "$KQ/m$BATS_TEST_NUMBER"
  run stat -c %a "$KQ/m$BATS_TEST_NUMBER/tied-to" "$KQ/m$BATS_TEST_NUMBER/changes"
  assert_output "$(printf '%s\n' 640 200)"
  chmod 0700 "$KQ/m$BATS_TEST_NUMBER"
  run stat -c %a "$KQ/m$BATS_TEST_NUMBER/tied-to"
  assert_output 600
}

@test "kqctl create --tie from a script: tied to the script, gone when it is killed" {
  name="k$BATS_TEST_NUMBER"
  start_script creator '"$1" create "$2" --tie' "$KQCTL" "$name"
  run cat "$KQ/$name/tied-to"
  assert_output "$(script_pid creator)"
  run "$KQCTL" status "$name"
  assert_line "tied-to: $(script_pid creator)"
  kill -KILL "$(script_pid creator)"
  wait_until 10 absent "$KQ/$name"
}

@test "kqctl create --tie=PID ties to PID; a PID that cannot be tied leaves no queue behind" {
  sleep 60 3>&- &
  BG_PIDS+=($!)
  "$KQCTL" create "t$BATS_TEST_NUMBER" --tie="${BG_PIDS[0]}"
  run cat "$KQ/t$BATS_TEST_NUMBER/tied-to"
  assert_output "${BG_PIDS[0]}"
  run --separate-stderr "$KQCTL" create "u$BATS_TEST_NUMBER" --tie=2147483647
  assert_failure 1
  assert_equal "$stderr" \
    "kqctl create: queue 'u$BATS_TEST_NUMBER': cannot tie it to process 2147483647: No such process"
  [ ! -e "$KQ/u$BATS_TEST_NUMBER" ]
  run --separate-stderr "$KQCTL" create "u$BATS_TEST_NUMBER" --tie=soon
  assert_failure 2
  [[ "$stderr" == *"PID must be a whole number, not 'soon'"* ]]
  run --separate-stderr "$KQCTL" create "u$BATS_TEST_NUMBER" --tie=none
  assert_failure 2
  [ ! -e "$KQ/u$BATS_TEST_NUMBER" ]
  kill -KILL "${BG_PIDS[0]}"
  wait_until 10 absent "$KQ/t$BATS_TEST_NUMBER"
}

@test "kqctl tie: to its caller by default, to PID, none or 0 unties; errors say why" {
  name=$(basename "$(new_queue)")
  start_script tier '"$1" tie "$2"' "$KQCTL" "$name"
  run cat "$KQ/$name/tied-to"
  assert_output "$(script_pid tier)"
  "$KQCTL" tie "$name" none
  run cat "$KQ/$name/tied-to"
  assert_output none
  "$KQCTL" tie "$name" "$(script_pid tier)"
  "$KQCTL" tie "$name" 0
  run cat "$KQ/$name/tied-to"
  assert_output none
  run --separate-stderr "$KQCTL" tie "$name" 2147483647
  assert_failure 1
  assert_equal "$stderr" \
    "kqctl tie: queue '$name': cannot tie it to process 2147483647: No such process"
  run --separate-stderr "$KQCTL" tie nosuchqueue 1
  assert_failure 1
  assert_equal "$stderr" "kqctl tie: queue 'nosuchqueue': No such file or directory"
  run --separate-stderr "$KQCTL" tie "$name" x
  assert_failure 2
  [[ "$stderr" == *"kqctl tie: PID must be a whole number, not 'x'"* ]]
  run --separate-stderr "$KQCTL" tie
  assert_failure 2
  [[ "$stderr" == *"kqctl tie: missing NAME"* ]]
  kill -KILL "$(script_pid tier)"
  settle
  [ -d "$KQ/$name" ]
}

@test "a daemon stopped with tied queues and blocked readers unmounts cleanly" {
  kqfsd_start
  sleep 60 3>&- &
  BG_PIDS+=($!)
  mkdir "$KQ/a" "$KQ/self"
  echo "${BG_PIDS[0]}" >"$KQ/a/tied-to"
  # Tied to the daemon itself: as good as untied.
  daemon_of "$M" >"$KQ/self/tied-to"
  start_cat_reader "$KQ/a/events" reader 30
  wait_status "$KQ/a" readers 1
  kqfsd_stop "$M"
  assert_reader_got_eof reader 10
  fail_on_sanitizer_reports "$LOG"
}
