#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# Waiting for a FIFO to become readable, as select() would, from bash.
#
#   bash examples/shell/fifo_readable.sh [MOUNT]
#
# MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
# shellcheck source-path=SCRIPTDIR source=kqfs_queue.sh
. "$(dirname "$0")/kqfs_queue.sh" fifo-readable "$@"

work=$(mktemp -d)
mkdir "$queue"
trap 'exec 4<&-; rmdir "$queue"; rm -rf "$work"' EXIT

mkfifo "$work/fifo"
# Read-write, so the open does not wait for a writer and the FIFO never
# reports end of file between writers.
exec 4<>"$work/fifo"

# An EVFILT_READ ident is a descriptor of the process that writes the
# record. The builtin echo runs in this shell, so "4" is our fd 4 (an
# external /bin/echo would be another process, and its knote would go
# when it exits).
echo "4 read add" >"$queue/changes"
echo "waiting for the FIFO to become readable"

# Someone else writes, a moment later.
(sleep 0.3 && echo "hello through the fifo" >"$work/fifo") &

read -r ident filter flags fflags data udata <"$queue/events"
echo "fd $ident is readable: $data bytes waiting"
read -r message <&4
echo "read: $message"
wait
