#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# Script A of user_event.sh: waits for user event 7 on queue QUEUE_DIR
# (a directory kq/NAME of the mount, with the knote already added).
#
#   bash examples/shell/user_event_wait.sh QUEUE_DIR
set -euo pipefail
queue=${1:?usage: user_event_wait.sh QUEUE_DIR}

echo "A: waiting for user event 7"
while read -r ident filter flags fflags data udata; do
  # Other knotes may share the queue: wait for ours.
  if [ "$filter" = EVFILT_USER ] && [ "$ident" = 7 ]; then
    echo "A: got user event $ident with value $data"
    exit 0
  fi
done <"$queue/events"
echo "A: the queue was removed" >&2
exit 1
