#!/usr/bin/env bash
# Waits up to SECONDS for FIFO to become readable, as select() would, and
# reads a line from it; the exit status says which: 0 read, 3 timed out.
#
#   bash examples/shell/fifo_readable.sh FIFO SECONDS
#
# kqctl finds the mount in $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else
# /run/kqfs.
set -euo pipefail
fifo=${1:?usage: fifo_readable.sh FIFO SECONDS}
seconds=${2:?usage: fifo_readable.sh FIFO SECONDS}

# Read-write, so the open does not wait for a writer and the FIFO never
# reports end of file between writers. kqctl inherits descriptor 4, the
# one its EVFILT_READ record names; -q: the exit status is the answer.
exec 4<>"$fifo"
status=0
kqctl watch -q -t "$seconds" "4 read add" || status=$?
case $status in
  0) read -r line <&4 && echo "read: $line" ;;
  3) echo "nothing to read after $seconds s" ;;
esac
exit "$status"
