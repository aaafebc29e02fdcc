#!/usr/bin/env bash
# shellcheck disable=SC2034  # every field of a record is named, used or not
# Runs COMMAND every MILLISECONDS until it fails, on a kqfs timer: the
# period does not drift with the time COMMAND takes, and a tick missed
# while it ran is counted, not lost.
#
#   bash examples/shell/every.sh MILLISECONDS COMMAND [ARGUMENT...]
#
# kqctl finds the mount in $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else
# /run/kqfs.
set -euo pipefail
period=${1:?usage: every.sh MILLISECONDS COMMAND [ARGUMENT...]}
shift
[ $# -gt 0 ] || { echo "usage: every.sh MILLISECONDS COMMAND [ARGUMENT...]" >&2; exit 2; }

# A periodic timer (milliseconds are the default unit), watched with -m:
# one line per tick, whose data counts the expirations since the last.
# The loop ends when COMMAND fails (exit 0), and kqctl with it, by SIGPIPE
# at its next line: so the pipeline's status is the loop's, not kqctl's. If
# kqctl ends first (no mount), the loop sees end of file: exit 1.
set +o pipefail
kqctl watch -m "1 timer add 0 $period" | {
  while read -r ident filter flags fflags data udata; do
    if [ "$data" -gt 1 ]; then echo "($((data - 1)) tick(s) missed while COMMAND ran)" >&2; fi
    "$@" || exit 0
  done
  exit 1
}
