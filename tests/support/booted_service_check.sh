#!/usr/bin/env bash
# Runs inside a container booted with systemd as PID 1 (tests/bats/debian.bats
# boots one with systemd-nspawn, from this machine's /usr and /etc with the
# Debian packages installed), as a oneshot service ordered after kqfsd.service.
# It prints what it sees, one "name: value" line each; the test asserts on
# them, so a failed step here is a line the test names, not a lost boot.
# Usage: booted_service_check.sh UID (an unprivileged uid to try as).
set -uo pipefail
user_uid=${1:?unprivileged uid}
user_name=kqfs-check
kqctl=/usr/bin/kqctl
system_mount=/run/kqfs

say() { printf '%s: %s\n' "$1" "$2"; }

as_user() {
  setpriv --reuid "$user_uid" --regid "$user_uid" --clear-groups \
    env -i PATH=/usr/bin:/bin HOME=/ XDG_RUNTIME_DIR="/run/user/$user_uid" \
    ${KQFS_MOUNT:+KQFS_MOUNT="$KQFS_MOUNT"} "$@"
}

# The features a kqfsd has (its mount status says yes), by name.
features_yes_of() { grep -E '^feature\.[^:]+: yes' "$1/status" | cut -d: -f1 | tr '\n' ' '; }

# --- the system unit, as the package left it and the boot started it ---
say system.enabled "$(systemctl is-enabled kqfsd.service 2>&1)"
say system.active "$(systemctl is-active kqfsd.service 2>&1)"
for property in Type SubState NRestarts; do
  say "system.$property" "$(systemctl show -p "$property" --value kqfsd.service)"
done
say system.status-text "$(systemctl show -p StatusText --value kqfsd.service)"
main_pid=$(systemctl show -p MainPID --value kqfsd.service)
say system.exe "$(readlink "/proc/$main_pid/exe")"
say system.mount "$(findmnt -n -o FSTYPE,OPTIONS "$system_mount" | tr ',' ' ')"
say system.mount-status-version "$(grep -m1 '^version:' "$system_mount/status")"

# --- the demo as root ---
"$kqctl" --mount "$system_mount" create demo
"$kqctl" --mount "$system_mount" add demo '1 timer add 0 100 7'
say root.timer "$(timeout 10 "$kqctl" --mount "$system_mount" wait demo -n 1 -t 5 2>&1)"
"$kqctl" --mount "$system_mount" create exits
sh -c 'sleep 0.5; exit 3' &
"$kqctl" --mount "$system_mount" add exits "$! proc add|oneshot exit"
say root.proc "$(timeout 10 "$kqctl" --mount "$system_mount" wait exits -n 1 -t 5 2>&1 | cut -d' ' -f2-)"

# --- another user of the same mount (allow_other; docs/security.md) ---
say user.timer "$(KQFS_MOUNT=$system_mount as_user sh -c "
  $kqctl create mine && $kqctl add mine '2 timer add 0 50 8' &&
  timeout 10 $kqctl wait mine -n 1 -t 5" 2>&1)"
say user.reads-root-events "$(as_user head -c1 "$system_mount/kq/demo/events" 2>&1)"

# --- the hardening costs no feature: a kqfsd started here, outside the
# unit's sandbox, has the same ones ---
mkdir -p /tmp/plain
/usr/sbin/kqfsd /tmp/plain
say features.service-yes "$(features_yes_of "$system_mount")"
say features.plain-yes "$(features_yes_of /tmp/plain)"
say features.proc-connector "$(grep '^feature\.proc-connector:' "$system_mount/status" | cut -d' ' -f2-)"
umount /tmp/plain

# --- stopping: SIGTERM unmounts and ends with success ---
systemctl stop kqfsd.service
say system.result "$(systemctl show -p Result --value kqfsd.service)"
say system.exit-status "$(systemctl show -p ExecMainStatus --value kqfsd.service)"
say system.unmounted "$(mountpoint -q "$system_mount" && echo no || echo yes)"

# --- the user unit, under that user's own manager (systemctl --user) ---
useradd --uid "$user_uid" --no-create-home --home-dir / "$user_name"
systemctl start "user@$user_uid.service"
say user-unit.start "$(as_user systemctl --user start kqfsd.service 2>&1 && echo started)"
say user-unit.active "$(as_user systemctl --user is-active kqfsd.service 2>&1)"
say user-unit.mount "$(findmnt -n -o FSTYPE "/run/user/$user_uid/kqfs")"
# With no KQFS_MOUNT, the client looks in $XDG_RUNTIME_DIR/kqfs.
say user-unit.timer "$(as_user sh -c "
  $kqctl create mine && $kqctl add mine '3 timer add 0 50 9' &&
  timeout 10 $kqctl wait mine -n 1 -t 5" 2>&1)"
as_user systemctl --user stop kqfsd.service
say user-unit.stopped "$(as_user systemctl --user show -p Result --value kqfsd.service 2>&1)"
say user-unit.unmounted "$(mountpoint -q "/run/user/$user_uid/kqfs" && echo no || echo yes)"
say done yes
# For the test's output when it fails.
journalctl --no-pager -o cat -n 60 >&2
