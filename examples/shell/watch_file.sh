#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# Waits until FILE is written, deleted or renamed, and says which, as
# `inotifywait -e modify,delete_self,move_self FILE` would.
#
#   bash examples/shell/watch_file.sh FILE
#
# kqctl finds the mount in $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else
# /run/kqfs.
set -euo pipefail
file=${1:?usage: watch_file.sh FILE}

# The knote is on kqctl's descriptor 3, opened on FILE by the shell: as on
# BSD it follows the open file, through a rename or an rm. EV_CLEAR
# reports each change once; kqctl exits after the first event.
event=$(kqctl watch "3 vnode add|clear write|extend|delete|rename" 3<"$file")
read -r ident filter flags fflags data udata <<<"$event"
echo "$file: $fflags"
