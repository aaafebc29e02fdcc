#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# A periodic timer driving a loop: five ticks, 200 ms apart.
#
#   bash examples/shell/timer_loop.sh [MOUNT]
#
# MOUNT is where kqfsd is mounted; it defaults to $KQFS_MOUNT, else
# $XDG_RUNTIME_DIR/kqfs, else /run/kqfs, as for kqfsd itself.
# shellcheck source-path=SCRIPTDIR source=kqfs_queue.sh
. "$(dirname "$0")/kqfs_queue.sh" timer-loop "$@"

# A queue of our own; removing it also removes its timer.
mkdir "$queue"
trap 'exec 3<&-; rmdir "$queue"' EXIT

# ident 1, every 200 ms (milliseconds are the default unit).
echo "1 timer add 0 200" >"$queue/changes"

# Open events once: each read() of it returns one whole record, so a
# plain `read` never splits or loses one.
exec 3<"$queue/events"
for tick in 1 2 3 4 5; do
  read -r ident filter flags fflags data udata <&3
  # data counts expirations since the last read: more than 1 means this
  # loop fell behind, and nothing was lost.
  echo "tick $tick: timer $ident fired ($data expiration(s))"
done
echo "done after 5 ticks"
