# shellcheck shell=bash
# shellcheck disable=SC2034  # mount and queue are for the script that sources this
# Sourced by the examples here, as `. "$(dirname "$0")/kqfs_queue.sh" NAME "$@"`:
# strict mode, then the kqfs mount, the script's argument MOUNT, else
# $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs, as for kqfsd
# itself (it must be mounted); sets mount and queue, the name
# $mount/kq/NAME-PID for a queue of the script's own (the script makes it).
set -euo pipefail

mount=${2:-${KQFS_MOUNT:-${XDG_RUNTIME_DIR:-/run}/kqfs}}
[ -d "$mount/kq" ] || { echo "no kqfs mount at $mount (start kqfsd first)" >&2; exit 1; }
queue="$mount/kq/$1-$$"
