#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# Script A of user_event.sh: makes queue NAME, registers user event 7 on
# it, says "A: ready", and waits for the event; removes the queue at the end.
#
#   bash examples/shell/user_event_wait.sh NAME
#
# kqctl finds the mount in $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else
# /run/kqfs.
set -euo pipefail
name=${1:?usage: user_event_wait.sh NAME}

kqctl create "$name" --mode 0700
trap 'kqctl remove "$name"' EXIT
# The knote first, then the announcement: a trigger sent before the knote
# exists fails (kqctl trigger: "no such knote: is the user event
# registered yet?"); one sent after it waits in the knote until read.
kqctl add "$name" "7 user add|clear"
echo "A: ready, waiting for user event 7"

read -r ident filter flags fflags data udata < <(kqctl wait "$name")
echo "A: got user event $ident with value $data"
