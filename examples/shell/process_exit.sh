#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# Waits for process PID to exit and prints its exit status in words. Any
# process the caller can see may be watched, not only its children, and,
# unlike `tail --pid` or `pwait`, the status comes with the event.
#
#   bash examples/shell/process_exit.sh PID
#
# kqctl finds the mount in $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else
# /run/kqfs.
set -euo pipefail
pid=${1:?usage: process_exit.sh PID}

# The event's data is the wait(2) status; kqctl also tells it in words, in
# a comment after the six fields: "# exited with status 3", "# killed by
# signal 9 (SIGKILL)".
event=$(kqctl watch "$pid proc add exit")
read -r ident filter flags fflags data udata comment <<<"$event"
echo "process $ident ${comment#\# }"
