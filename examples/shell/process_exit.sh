#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# Waiting for a process to exit, and getting its exit status (EVFILT_PROC).
# Any process the caller can see may be watched, not only its children.
#
#   bash examples/shell/process_exit.sh [MOUNT]
#
# MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
# shellcheck source-path=SCRIPTDIR source=kqfs_queue.sh
. "$(dirname "$0")/kqfs_queue.sh" process-exit "$@"

work=$(mktemp -d)
mkdir "$queue"
pid=
cleanup() {
  # A child still at its gate (this script failed early) would wait forever.
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rmdir "$queue"
  rm -rf "$work"
}
trap cleanup EXIT

# The child waits at a gate until it is watched: a pid that is already
# gone (bash reaps its children at once) cannot be registered (ESRCH).
mkfifo "$work/gate"
(read -r _ <"$work/gate"; sleep 0.3; exit 3) &
pid=$!

echo "$pid proc add exit" >"$queue/changes"
echo "watching process $pid"
echo go >"$work/gate"

read -r ident filter flags fflags data udata <"$queue/events"
# data is the status in wait(2) form: the exit code is its second byte.
echo "process $ident: $fflags, data $data, exit status $(((data >> 8) & 0xff))"

# The child was ours, so bash's own wait agrees.
status=0
wait "$pid" || status=$?
echo "wait says: $status"
