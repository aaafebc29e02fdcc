# Shared by the suites that run against a real mount: each file gets its own
# kqfsd on a fresh temporary mount point.

load '/usr/lib/bats/bats-support/load.bash'
load '/usr/lib/bats/bats-assert/load.bash'

: "${KQFS_BUILD:?KQFS_BUILD must name the build directory}"
KQFSD="$KQFS_BUILD/daemon/kqfsd"

# ------------------------------------------------------------------ kqfsd

# Starts kqfsd (extra arguments are passed on) and waits for the mount.
start_kqfsd() {
  export MNT
  MNT=$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/mnt.XXXXXX")
  export KQFS_LOG="$BATS_FILE_TMPDIR/kqfsd.log"
  "$KQFSD" --log "$KQFS_LOG" "$@" "$MNT"
  # Without -f kqfsd returns once the mount is ready.
  mountpoint -q "$MNT" || { cat "$KQFS_LOG" >&2; return 1; }
  export KQ="$MNT/kq"
}

# The pid of the kqfsd that start_kqfsd started.
kqfsd_pid() {
  pgrep -f "kqfsd --log $KQFS_LOG" | head -n1
}

stop_kqfsd() {
  [ -n "${MNT:-}" ] || return 0
  local pid
  pid=$(kqfsd_pid)
  if [ -n "$pid" ]; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  mountpoint -q "$MNT" && umount -l "$MNT"
  rmdir "$MNT" 2>/dev/null || true
  fail_on_sanitizer_reports "$KQFS_LOG"
}

# The daemon's stderr goes to its log: a sanitizer report there fails the suite.
fail_on_sanitizer_reports() {
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" 2>/dev/null; then
    echo "sanitizer report in $1:" >&2
    cat "$1" >&2
    return 1
  fi
}

# --------------------------------------------------------- queues, status

# A queue with a name unique to the test.
new_queue() {
  local name="q$BATS_TEST_NUMBER${1:-}"
  mkdir "$KQ/$name"
  echo "$KQ/$name"
}

# The value of one status field of queue directory $1.
status_field() {
  sed -n "s/^$2: //p" "$1/status"
}

# wait_status DIR FIELD VALUE [SECONDS]: waits (default 10 s) for status
# field FIELD of queue directory DIR to read VALUE; shows the status and
# fails if it never does.
wait_status() {
  local q=$1 field=$2 value=$3
  wait_until "${4:-10}" status_is "$q" "$field" "$value" && return 0
  echo "status $field never became $value:" >&2
  cat "$q/status" >&2
  return 1
}

status_is() {
  [ "$(status_field "$1" "$2")" = "$3" ]
}

# assert_last_error DIR [--partial|--regexp] TEXT: status field last-error
# of queue directory DIR, checked as assert_output checks (it sets output).
assert_last_error() {
  local q=$1
  shift
  run status_field "$q" last-error
  assert_output "$@"
}

# ------------------------------------------------------ waiting, processes

# Polls "$@" every 50 ms until it succeeds or $1 seconds pass.
wait_until() {
  local seconds=$1
  shift
  local tries=$((seconds * 20)) i
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  "$@"
}

# start_cat_reader FILE NAME SECONDS: a background `timeout SECONDS cat FILE`,
# its output in $BATS_TEST_TMPDIR/NAME.out and its exit status in NAME.rc.
start_cat_reader() {
  (
    timeout "$3" cat "$1" >"$BATS_TEST_TMPDIR/$2.out"
    echo $? >"$BATS_TEST_TMPDIR/$2.rc"
  ) 3>&- &
}

# assert_reader_got_eof NAME SECONDS: the start_cat_reader NAME ends within
# SECONDS with status 0 having read nothing, as on end of file.
assert_reader_got_eof() {
  wait_until "$2" test -s "$BATS_TEST_TMPDIR/$1.rc"
  assert_equal "$(cat "$BATS_TEST_TMPDIR/$1.rc")" 0
  assert_equal "$(stat -c %s "$BATS_TEST_TMPDIR/$1.out")" 0
}

# Runs "$@" as uid/gid 65534 with no supplementary groups.
as_nobody() {
  setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# ------------------------------------------------------------------ python

# Runs python3 with the helper module tests/bats/kq.py importable.
py() {
  PYTHONPATH="$BATS_TEST_DIRNAME${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"
}

# py_timeout SECONDS ARGS...: py killed after SECONDS (timeout cannot run
# the shell function py).
py_timeout() {
  local seconds=$1
  shift
  PYTHONPATH="$BATS_TEST_DIRNAME${PYTHONPATH:+:$PYTHONPATH}" timeout -k 3 "$seconds" python3 "$@"
}

# outcome_of CALL PATH: calls os.CALL(PATH) in python (mkdir, rmdir, stat)
# and prints "ok" or the errno name it failed with.
outcome_of() {
  py -c 'import os, sys, kq; print(kq.outcome(getattr(os, sys.argv[1]), sys.argv[2]))' "$1" "$2"
}
