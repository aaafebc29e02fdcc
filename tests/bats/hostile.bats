#!/usr/bin/env bats
# A client that serves a FUSE filesystem of its own, which stops answering,
# cannot stall kqfsd (docs/security.md, "Files kqfsd will not touch"):
# knotes on its files are refused with ENOTSUP, and every other queue keeps
# working. The server is tests/support/hostile_fuse: once its file is
# opened it answers nothing (getattr, poll, access, flush ...).

bats_require_minimum_version 1.5.0

load mount_helpers
one_kqfsd_per_file

setup() {
  kqfs_setup
  HOSTILE_PID=""
}

# start_hostile [OPTION...]: the hostile server on a fresh mount point,
# $HOSTILE_MNT; its file is $HOSTILE_MNT/file.
start_hostile() {
  HOSTILE_MNT="$BATS_TEST_TMPDIR/hostile"
  mkdir "$HOSTILE_MNT"
  "$KQFS_BUILD/tests/support/hostile_fuse" "$@" "$HOSTILE_MNT" 3>&- &
  HOSTILE_PID=$!
  wait_until 10 grep -q " $HOSTILE_MNT .* - fuse.hostile " /proc/self/mountinfo
}

teardown() {
  # The server first: its death fails every request still waiting on it
  # (ENOTCONN), which frees whoever waits, kqfsd included.
  if [ -n "$HOSTILE_PID" ]; then
    kill -KILL "$HOSTILE_PID" 2>/dev/null || true
    wait "$HOSTILE_PID" 2>/dev/null || true
    umount -l "$HOSTILE_MNT" 2>/dev/null || true
  fi
  kqfs_teardown
}

# assert_kqfsd_answers: a timer on a queue of its own fires within 5 s,
# through requests that are killed if kqfsd does not answer them.
assert_kqfsd_answers() {
  local q="$KQ/alive$BATS_TEST_NUMBER"
  run timeout -k 1 5 mkdir "$q"
  assert_success
  run timeout -k 1 5 sh -c "echo '1 timer add|oneshot 0 100' > '$q/changes'"
  assert_success
  run timeout -k 1 5 head -n1 "$q/events"
  assert_success
  assert_output --partial "EVFILT_TIMER"
  timeout -k 1 5 rmdir "$q"
}

# The client: opens the hostile file (from then on its server answers
# nothing), says so, then registers each record given on the command line
# and prints its outcome (a byte count or an errno name), one per line.
CLIENT='
import os, sys, kq
fd = os.open(sys.argv[2], os.O_RDONLY)
out = open(sys.argv[3], "w", buffering=1)
out.write("opened\n")
changes = os.open(os.path.join(sys.argv[1], "changes"), os.O_WRONLY)
for record in sys.argv[4:]:
    out.write("%s: %s\n" % (record, kq.write_outcome(changes, (record % fd + "\n").encode())))
out.write("done\n")
# Exiting closes the hostile file, which asks its server (a flush): this
# process waits for the teardown to kill the server, as any would.
'

@test "READ, WRITE and VNODE on a file of a FUSE server that stopped answering: ENOTSUP, and kqfsd keeps serving" {
  start_hostile
  q=$(new_queue)
  out="$BATS_TEST_TMPDIR/client.out"
  py_timeout 60 -c "$CLIENT" "$q" "$HOSTILE_MNT/file" "$out" \
    "%d read add" "%d write add" "%d vnode add|clear write|delete" 3>&- &
  BG_PIDS+=("$!")
  wait_until 10 grep -qs opened "$out"
  # Whatever the registrations do, kqfsd answers everyone else meanwhile.
  sleep 0.5
  assert_kqfsd_answers
  wait_until 10 grep -qs done "$out"
  run cat "$out"
  assert_line "%d read add: ENOTSUP"
  assert_line "%d write add: ENOTSUP"
  assert_line "%d vnode add|clear write|delete: ENOTSUP"
  assert_last_error "$q" --partial "FUSE filesystem (fuse.hostile)"
  assert_equal "$(status_field "$q" knotes)" 0
}

# The descriptor changes under kqfsd while it looks: a thread of the client
# swaps a local file and the hostile one in and out of the same number
# while another registers and deletes knotes on that number. Whatever kqfsd
# borrows, it never waits on the hostile server.
@test "a descriptor swapped between a local file and a hostile one mid-registration never stalls kqfsd" {
  # FLUSH is answered: the client's own dup2 over the hostile file closes it.
  start_hostile --answer-flush
  q=$(new_queue)
  out="$BATS_TEST_TMPDIR/race.out"
  local_file="$BATS_TEST_TMPDIR/local"
  echo data >"$local_file"
  py_timeout 60 -c '
import os, sys, threading, time, kq
q, hostile_path, local_path, out = sys.argv[1:5]
hostile = os.open(hostile_path, os.O_RDONLY)
local = os.open(local_path, os.O_RDONLY)
n = os.dup(local)
stop = False
def swap():
    while not stop:
        os.dup2(hostile, n)
        os.dup2(local, n)
threading.Thread(target=swap, daemon=True).start()
changes = os.open(os.path.join(q, "changes"), os.O_WRONLY)
seen = {}
deadline = time.monotonic() + 3
while time.monotonic() < deadline:
    for record in ("%d read add" % n, "%d vnode add|clear write" % n,
                   "%d read delete" % n, "%d vnode delete" % n):
        r = kq.write_outcome(changes, (record + "\n").encode())
        key = r if isinstance(r, str) else "ok"
        seen[key] = seen.get(key, 0) + 1
stop = True
with open(out, "w") as f:
    f.write(" ".join("%s=%d" % kv for kv in sorted(seen.items())) + "\ndone\n")
' "$q" "$HOSTILE_MNT/file" "$local_file" "$out" 3>&- &
  BG_PIDS+=("$!")
  sleep 1
  assert_kqfsd_answers
  wait_until 20 grep -qs done "$out"
  run head -n1 "$out"
  echo "# outcomes: $output" >&3
  # Only these: applied, refused for the hostile file, or no such knote to
  # delete (its add was refused).
  local item
  for item in $output; do
    case ${item%%=*} in
      ok | ENOTSUP | ENOENT) ;;
      *) fail "unexpected outcome $item" ;;
    esac
  done
  assert_kqfsd_answers
}

# An epoll set polls its files each time it is polled, and may take a FUSE
# file at any time after its registration: it is refused from the start.
@test "READ on an epoll set is ENOTSUP: it could hold a FUSE file" {
  q=$(new_queue)
  run py -c '
import os, select, sys, kq
ep = select.epoll()
changes = os.open(os.path.join(sys.argv[1], "changes"), os.O_WRONLY)
print(kq.write_outcome(changes, b"%d read add\n" % ep.fileno()))
' "$q"
  assert_success
  assert_output ENOTSUP
  assert_last_error "$q" --partial "it is an epoll set"
}

# Lazily unmounted, the FUSE mount is in no mount table: nothing tells
# what serves the file, so it is refused too.
@test "a file of a lazily unmounted FUSE filesystem: ENOTSUP, and kqfsd keeps serving" {
  start_hostile
  q=$(new_queue)
  out="$BATS_TEST_TMPDIR/client.out"
  mkfifo "$BATS_TEST_TMPDIR/go"
  py_timeout 60 -c '
import os, sys, kq
q, path, out, go = sys.argv[1:5]
fd = os.open(path, os.O_RDONLY)
with open(out, "w") as f:
    f.write("opened\n")
open(go).read()  # until the mount is detached
changes = os.open(os.path.join(q, "changes"), os.O_WRONLY)
with open(out, "a") as f:
    for record in ("%d read add", "%d vnode add|clear write"):
        f.write("%s: %s\n" % (record, kq.write_outcome(changes, (record % fd + "\n").encode())))
    f.write("done\n")
' "$q" "$HOSTILE_MNT/file" "$out" "$BATS_TEST_TMPDIR/go" 3>&- &
  BG_PIDS+=("$!")
  wait_until 10 grep -qs opened "$out"
  umount -l "$HOSTILE_MNT"
  run grep -c " $HOSTILE_MNT " /proc/self/mountinfo
  assert_output 0
  echo go >"$BATS_TEST_TMPDIR/go"
  sleep 0.5
  assert_kqfsd_answers
  wait_until 10 grep -qs done "$out"
  run cat "$out"
  assert_line "%d read add: ENOTSUP"
  assert_line "%d vnode add|clear write: ENOTSUP"
  assert_last_error "$q" --partial "in no mount table kqfsd can read"
}
