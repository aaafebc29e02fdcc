#!/usr/bin/env bash
# A user event as a signal between two scripts through a named queue:
# user_event_wait.sh (A) makes the queue, registers the event and says it
# is ready; only then does user_event_trigger.sh (B), another process,
# fire it. This script runs both.
#
#   bash examples/shell/user_event.sh [MOUNT]
#
# MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
# shellcheck source-path=SCRIPTDIR source=kqfs_queue.sh
. "$(dirname "$0")/kqfs_queue.sh" user-event "$@"
here=$(dirname "$0")
export KQFS_MOUNT=$mount
name=${queue##*/}

# A's standard output comes back on descriptor 5: its first line is the
# announcement, read before B runs.
exec 5< <(bash "$here/user_event_wait.sh" "$name")
waiter=$!
read -r announcement <&5
echo "$announcement"
bash "$here/user_event_trigger.sh" "$name" 42
cat <&5
wait "$waiter"
