#!/usr/bin/env bash
# Script B of user_event.sh: fires user event 7 on queue QUEUE_DIR,
# carrying VALUE (a number, default 0) to whoever reads it.
#
#   bash examples/shell/user_event_trigger.sh QUEUE_DIR [VALUE]
set -euo pipefail
queue=${1:?usage: user_event_trigger.sh QUEUE_DIR [VALUE]}

echo "B: triggering user event 7 with value ${2:-0}"
# NOTE_TRIGGER fires the knote; the record's data travels with the event.
echo "7 user 0 trigger ${2:-0}" >"$queue/changes"
