#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# Watching a file for writes and for its deletion (EVFILT_VNODE).
#
#   bash examples/shell/watch_file.sh [MOUNT]
#
# MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
# shellcheck source-path=SCRIPTDIR source=kqfs_queue.sh
. "$(dirname "$0")/kqfs_queue.sh" watch-file "$@"

file=$(mktemp)
mkdir "$queue"
trap 'exec 3<&- 5<&-; rmdir "$queue"; rm -f "$file"' EXIT

# The watch follows an open descriptor of this shell, as on BSD: it keeps
# seeing the file after it is renamed or deleted.
exec 5<"$file"
# EV_CLEAR: report each change once, not for as long as it has happened.
echo "5 vnode add|clear write|delete" >"$queue/changes"
exec 3<"$queue/events"

echo "appending to $file"
echo "a new line" >>"$file"
# A write that grows the file is NOTE_WRITE|NOTE_EXTEND, one event: as on
# FreeBSD, a knote that asked for NOTE_WRITE takes NOTE_EXTEND with it.
read -r ident filter flags fflags data udata <&3
echo "event: $fflags"

echo "removing $file"
rm "$file"
read -r ident filter flags fflags data udata <&3
echo "event: $fflags"
