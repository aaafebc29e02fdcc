#!/usr/bin/env bash
# The README's first command: installs dependencies, builds kqfs, mounts it
# and shows a timer and a user event firing through echo and head. The
# mount stays up afterwards for you to try; `umount "$KQFS_MOUNT"` ends it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build >/dev/null

mount_point=${KQFS_MOUNT:-${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/kqfs}}
mount_point=${mount_point:-/run/kqfs}
if mountpoint -q "$mount_point"; then
  umount "$mount_point" 2>/dev/null || fusermount3 -u "$mount_point"
fi
mkdir -p "$mount_point"
./build/daemon/kqfsd --log "${TMPDIR:-/tmp}/kqfsd-demo.log" "$mount_point"
echo "kqfsd mounted kqfs at $mount_point"

show() {
  echo "\$ $*"
  eval "$@"
}
cd "$mount_point"
rmdir kq/demo 2>/dev/null || true
show 'mkdir kq/demo'
show 'echo "1 timer add 0 500 7" > kq/demo/changes   # ident 1, every 500 ms, udata 7'
show 'head -n1 kq/demo/events'
show 'echo "42 user add|clear" > kq/demo/changes'
show 'echo "42 user 0 trigger|ffcopy|0x5 0 9" > kq/demo/changes'
show 'head -n1 kq/demo/events'
show 'echo "1 timer delete" > kq/demo/changes'
show 'echo "1 timre add" > kq/demo/changes || true'
show 'grep -E "^(knotes|delivered|last-error):" kq/demo/status'
echo
echo "Try it: cd $mount_point; unmount with: umount $mount_point"
