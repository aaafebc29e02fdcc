#!/usr/bin/env bash
# Script B of user_event.sh: fires user event 7 on queue NAME, carrying
# VALUE (a number, default 0) to whoever waits for it.
#
#   bash examples/shell/user_event_trigger.sh NAME [VALUE]
#
# kqctl finds the mount in $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else
# /run/kqfs.
set -euo pipefail
name=${1:?usage: user_event_trigger.sh NAME [VALUE]}

echo "B: triggering user event 7 with value ${2:-0}"
# NOTE_TRIGGER fires the knote; --data travels with the event.
kqctl trigger "$name" 7 --data "${2:-0}"
