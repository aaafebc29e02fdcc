#!/usr/bin/env bash
# A user event as a signal between two scripts: user_event_wait.sh blocks
# until user_event_trigger.sh, another process, fires the event. This
# script sets up the queue and runs both.
#
#   bash examples/shell/user_event.sh [MOUNT]
#
# MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
# shellcheck source-path=SCRIPTDIR source=kqfs_queue.sh
. "$(dirname "$0")/kqfs_queue.sh" user-event "$@"
here=$(dirname "$0")

mkdir "$queue"
trap 'rmdir "$queue"' EXIT

# The knote exists before either script runs, so it does not matter which
# one gets there first: a trigger waits in the knote until it is read.
echo "7 user add|clear" >"$queue/changes"

bash "$here/user_event_wait.sh" "$queue" &
waiter=$!
sleep 0.5  # only so that the output shows A waiting before B fires
bash "$here/user_event_trigger.sh" "$queue" 42
wait "$waiter"
