# Shared by the suites that run against a real mount: each file gets its own
# kqfsd on a fresh temporary mount point.

load '/usr/lib/bats/bats-support/load.bash'
load '/usr/lib/bats/bats-assert/load.bash'

: "${KQFS_BUILD:?KQFS_BUILD must name the build directory}"
KQFSD="$KQFS_BUILD/daemon/kqfsd"

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

stop_kqfsd() {
  [ -n "${MNT:-}" ] || return 0
  local pid
  pid=$(pgrep -f "kqfsd --log $KQFS_LOG" | head -n1)
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

# Runs python3 with the helper module tests/bats/kq.py importable.
py() {
  PYTHONPATH="$BATS_TEST_DIRNAME${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"
}
