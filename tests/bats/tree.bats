#!/usr/bin/env bats
# The mounted tree: names, errors, ownership, lifetimes
# (docs/design.md#the-mounted-tree).
#
# The mount is made with -o allow_other so that the tests marked
# "(setpriv 65534)" can act as an unprivileged user (uid/gid 65534); they
# cd into the mount first, as bats' own temporary directory is private.

load mount_helpers
one_kqfsd_per_file -o allow_other

# The daemon's open descriptors, less the pidfds it keeps for writers
# (those follow client processes, not queues).
daemon_fds() {
  local pid
  pid=$(kqfsd_pid)
  find "/proc/$pid/fd" -mindepth 1 -printf '%l\n' | grep -vc 'anon_inode:\[pidfd\]'
}

fds_are() {
  [ "$(daemon_fds)" -eq "$1" ]
}

# The names under kq/ that start with "clone-", one per line.
clone_names() {
  ls "$KQ" | grep '^clone-' || true
}

absent() {
  [ ! -e "$1" ]
}

# ------------------------------------------------------------------ listing


# run_in_tree <<'EOF' ...: under `run`, kq_python (60 s) runs the Python on
# stdin with `import kq` done, mnt = $MNT and q, a new queue (its directory).
run_in_tree() {
  q=$(new_queue)
  run kq_python 60 'import kq
mnt, q = sys.argv[1:]' "$MNT" "$q"
}

@test "the root holds kq/ and status, and kq/ holds clone" {
  run ls "$MNT"
  assert_output "$(printf 'kq\nstatus')"
  run ls "$KQ"
  assert_output "clone"
}

@test "mkdir makes a queue with every file" {
  mkdir "$KQ/alpha"
  run ls -A "$KQ/alpha"
  assert_output "$(printf '%s\n' changes changes.bin changes.json events events.bin events.json status tied-to)"
}

@test "kq/ lists clone and every queue, and forgets removed ones" {
  local a b
  a=$(new_queue a)
  b=$(new_queue b)
  run ls -A "$KQ"
  assert_line clone
  assert_line "${a##*/}"
  assert_line "${b##*/}"
  rmdir "$a"
  run ls -A "$KQ"
  refute_line "${a##*/}"
  assert_line "${b##*/}"
  run stat -c %F "$b"
  assert_output directory
}

# -------------------------------------------------------------------- names

@test "queue names of 1 character are accepted" {
  local name
  for name in Z z 7 _ -; do
    mkdir -- "$KQ/$name"
    run stat -c %F "$KQ/$name"
    assert_output directory
    assert_equal "$(status_field "$KQ/$name" name)" "$name"
  done
}

@test "a queue name of 64 characters is accepted" {
  local name=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._
  assert_equal "${#name}" 64
  mkdir "$KQ/$name"
  run ls "$KQ"
  assert_line "$name"
  assert_equal "$(status_field "$KQ/$name" name)" "$name"
}

@test "each of . _ - is accepted anywhere in a queue name" {
  local name
  for name in .lead mid.dot trail. _lead mid_under trail_ -lead mid-dash trail- ... ._- a.b_c-d; do
    mkdir -- "$KQ/$name"
    assert_equal "$(status_field "$KQ/$name" name)" "$name"
  done
  run ls -A "$KQ"
  assert_line .lead
  assert_line -- -lead
  assert_line ...
}

@test "a queue name of 65 characters is EINVAL" {
  local name=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-
  assert_equal "${#name}" 65
  run outcome_of mkdir "$KQ/$name"
  assert_output EINVAL
  run ls "$KQ"
  refute_line "$name"
}

@test "a queue name with a space, unicode or other punctuation is EINVAL" {
  run py - "$KQ" <<'EOF'
import os, sys, kq
kqdir = sys.argv[1]
names = ["a b", " ", "\u00e9t\u00e9", "\u65e5\u672c", "a\tb", "a\nb", "a:b", "a*b",
         "a\\b", "a@b", "a+b", "a,b", "a~", "a'b", 'a"b', "$x", "a\x01b", "a\x7fb"]
for name in names:
    print(repr(name), kq.outcome(os.mkdir, os.path.join(kqdir, name)))
print("left behind:", sorted(set(os.listdir(kqdir)) & set(names)))
EOF
  assert_success
  refute_line --partial ' ok'
  assert_equal "$(grep -c ' EINVAL$' <<<"$output")" 18
  assert_line "left behind: []"
}

@test "'/' cannot be part of a name: mkdir kq/NOSUCH/b is ENOENT" {
  run outcome_of mkdir "$KQ/nosuch$BATS_TEST_NUMBER/b"
  assert_output ENOENT
}

@test "empty, '.' and '..' names are refused by the kernel" {
  run py - "$KQ" <<'EOF'
import os, sys, kq
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
before = sorted(os.listdir(d))
for name in ["", ".", ".."]:
    print(repr(name), kq.outcome(os.mkdir, name, dir_fd=d))
print("unchanged:", sorted(os.listdir(d)) == before)
EOF
  assert_success
  assert_line "'' ENOENT"
  assert_line "'.' EEXIST"
  assert_line "'..' EEXIST"
  assert_line "unchanged: True"
}

@test "mkdir of an existing queue name is EEXIST and leaves the queue alone" {
  local q
  q=$(new_queue)
  echo "1 user add" >"$q/changes"
  run outcome_of mkdir "$q"
  assert_output EEXIST
  assert_equal "$(status_field "$q" knotes)" 1
}

@test "mkdir kq/clone is EEXIST" {
  run outcome_of mkdir "$KQ/clone"
  assert_output EEXIST
  run stat -c %F "$KQ/clone"
  assert_output "regular empty file"
}

@test "mkdir outside kq/ fails: in the root and inside a queue" {
  run_in_tree <<'EOF'
print("root", kq.outcome(os.mkdir, os.path.join(mnt, "sub")))
print("queue", kq.outcome(os.mkdir, os.path.join(q, "sub")))
EOF
  assert_success
  assert_line --regexp '^root (EPERM|EACCES)$'
  assert_line --regexp '^queue (EPERM|EACCES)$'
  run ls "$MNT"
  assert_output "$(printf 'kq\nstatus')"
  run ls "$q"
  refute_line sub
}

# ------------------------------------------------------- ownership and modes

@test "a queue belongs to the caller's uid/gid with the mode asked for (0700, 0750)" {
  mkdir -m 0700 "$KQ/own700"
  mkdir -m 0750 "$KQ/own750"
  run stat -c '%a %u %g' "$KQ/own700" "$KQ/own750"
  assert_line --index 0 "700 0 0"
  assert_line --index 1 "750 0 0"
  # The caller's gid, not the daemon's: root with another group.
  setpriv --regid=4242 --clear-groups mkdir -m 0710 "$KQ/owngid"
  run stat -c '%a %u %g' "$KQ/owngid"
  assert_output "710 0 4242"
  assert_equal "$(status_field "$KQ/owngid" owner)" "0:4242"
}

@test "mkdir without -m gets 0777 less the caller's umask" {
  (umask 027 && mkdir "$KQ/umask027")
  run stat -c %a "$KQ/umask027"
  assert_output 750
}

@test "a queue made by an unprivileged user belongs to that user (setpriv 65534)" {
  cd "$KQ"
  as_nobody mkdir -m 0750 nobodyq
  run stat -c '%a %u %g' nobodyq nobodyq/changes nobodyq/events
  assert_line --index 0 "750 65534 65534"
  assert_line --index 1 "200 65534 65534"
  assert_line --index 2 "400 65534 65534"
  assert_equal "$(status_field nobodyq owner)" "65534:65534"
  # Its owner uses it.
  as_nobody sh -c 'echo "1 user add" > nobodyq/changes && echo "1 user 0 trigger" > nobodyq/changes'
  run as_nobody timeout 10 head -n1 nobodyq/events
  assert_success
  assert_output --regexp '^1 EVFILT_USER '
}

@test "the permission bits keep another user out (setpriv 65534)" {
  mkdir -m 0700 "$KQ/private$BATS_TEST_NUMBER"
  cd "$KQ"
  run as_nobody cat "private$BATS_TEST_NUMBER/status"
  assert_failure
  assert_output --partial "Permission denied"
  run as_nobody sh -c "echo '1 user add' > private$BATS_TEST_NUMBER/changes"
  assert_failure
  assert_equal "$(status_field "$KQ/private$BATS_TEST_NUMBER" knotes)" 0
}

@test "files' modes follow the directory: changes and events its write bits, status its read bits, tied-to both" {
  # Reading events consumes the queue: it needs what writing changes needs
  # (docs/security.md), so events files are readable where changes are writable.
  mkdir -m 0750 "$KQ/modes"
  run stat -c '%a %n' "$KQ"/modes/*
  assert_output "$(printf '%s\n' "200 $KQ/modes/changes" "200 $KQ/modes/changes.bin" \
    "200 $KQ/modes/changes.json" "400 $KQ/modes/events" "400 $KQ/modes/events.bin" \
    "400 $KQ/modes/events.json" "440 $KQ/modes/status" "640 $KQ/modes/tied-to")"
  chmod 0666 "$KQ/modes"
  run stat -c '%a' "$KQ/modes/changes" "$KQ/modes/events.json" "$KQ/modes/status"
  assert_output "$(printf '%s\n' 222 444 444)"
  chmod 0300 "$KQ/modes"
  run stat -c '%a' "$KQ/modes/changes.bin" "$KQ/modes/events" "$KQ/modes/status"
  assert_output "$(printf '%s\n' 200 400 0)"
  chmod 0555 "$KQ/modes"
  run stat -c '%a' "$KQ/modes/changes" "$KQ/modes/events" "$KQ/modes/status"
  assert_output "$(printf '%s\n' 0 0 444)"
}

# ------------------------------------------------------------------- rmdir

@test "rmdir destroys a queue with knotes registered" {
  local q
  q=$(new_queue)
  printf '%s\n' "1 timer add 0 20" "2 user add" "3 user add|oneshot" >"$q/changes"
  assert_equal "$(status_field "$q" knotes)" 3
  rmdir "$q"
  run ls "$KQ"
  refute_line "${q##*/}"
  run cat "$q/status"
  assert_failure
  assert_output --partial "No such file or directory"
}

@test "rmdir releases the queue's resources at once: timer, epoll, descriptors" {
  local before q
  before=$(daemon_fds)
  q=$(new_queue)
  echo "1 timer add 0 10" >"$q/changes"
  echo "2 timer add 0 15" >"$q/changes"
  [ "$(daemon_fds)" -gt "$before" ]
  exec 5<"$q/events.bin"
  rmdir "$q"
  # Descriptors go back to what they were (a release may lag a little).
  wait_until 5 fds_are "$before"
  # A handle opened before sees end of file, never a timer event.
  run timeout 5 python3 -c 'import os; print(len(os.read(5, 320)))'
  exec 5<&-
  assert_success
  assert_output 0
}

@test "rmdir of an unknown name is ENOENT" {
  run outcome_of rmdir "$KQ/nosuch$BATS_TEST_NUMBER"
  assert_output ENOENT
}

@test "rmdir wakes blocked readers of every format with end of file" {
  local q start f
  q=$(new_queue)
  echo "1 user add" >"$q/changes"
  for f in events events.json events.bin; do
    start_cat_reader "$q/$f" "$f" 20
  done
  wait_status "$q" readers 3
  start=$SECONDS
  rmdir "$q"
  for f in events events.json events.bin; do
    assert_reader_got_eof "$f" 5
  done
  ((SECONDS - start < 5))
}

@test "after rmdir, open handles read end of file and write ENOENT" {
  local q
  q=$(new_queue)
  run py - "$q" <<'EOF'
import os, sys, kq
q = sys.argv[1]
readers = {f: os.open(os.path.join(q, f), os.O_RDONLY) for f in ("events", "events.json", "events.bin")}
writers = {f: os.open(os.path.join(q, f), os.O_WRONLY) for f in ("changes", "changes.json", "changes.bin")}
os.write(writers["changes"], b"1 user add\n1 user 0 trigger\n")  # an event pending
os.rmdir(q)
for f, fd in readers.items():
    print(f, "read", len(os.read(fd, 4096)))
records = {"changes": b"2 user add\n", "changes.json": b'{"ident": 2, "filter": "user", "flags": "add"}\n',
           "changes.bin": kq.pack(2, kq.EVFILT["user"], kq.EV_ADD)}
for f, fd in writers.items():
    print(f, "write", kq.write_outcome(fd, records[f]))
EOF
  assert_success
  assert_output "$(printf '%s\n' "events read 0" "events.json read 0" "events.bin read 0" \
    "changes write ENOENT" "changes.json write ENOENT" "changes.bin write ENOENT")"
}

@test "a name made again after rmdir is a fresh, empty queue" {
  local q
  q=$(new_queue)
  printf '%s\n' "1 user add" "1 user 0 trigger" "2 timer add 0 10" >"$q/changes"
  echo "bogus" >"$q/changes" || true
  rmdir "$q"
  mkdir "$q"
  assert_equal "$(status_field "$q" knotes)" 0
  assert_equal "$(status_field "$q" pending)" 0
  assert_equal "$(status_field "$q" changes)" 0
  assert_equal "$(status_field "$q" delivered)" 0
  assert_equal "$(status_field "$q" last-error)" none
  sleep 0.2 # long enough for the old timer to have fired
  run py -c 'import os, sys, kq; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK); print(kq.outcome(os.read, fd, 4096))' "$q/events"
  assert_output EAGAIN
}

# ------------------------------------------------------ names that are not

@test "unknown names are ENOENT: MOUNT/nope, kq/nope, kq/QUEUE/nope" {
  run_in_tree <<'EOF'
for path in (os.path.join(mnt, "nope"), os.path.join(mnt, "kq", "nope"), os.path.join(q, "nope"),
             os.path.join(q, "Events"), os.path.join(q, "status.json")):
    print(kq.outcome(os.stat, path), kq.outcome(os.open, path, os.O_RDONLY))
EOF
  assert_output "$(printf 'ENOENT ENOENT\n%.0s' 1 2 3 4 5)"
}

# A path through a regular file is ENOTDIR: the VFS answers before kqfsd
# is asked, on every Linux filesystem.
@test "a path below a queue file (kq/QUEUE/events/x) is ENOTDIR" {
  local q
  q=$(new_queue)
  run outcome_of stat "$q/events/x"
  assert_output ENOTDIR
}

@test "creating plain files is EPERM or EACCES: in the root, in kq/, in a queue" {
  run_in_tree <<'EOF'
for d in (mnt, os.path.join(mnt, "kq"), q):
    for how, call in (("creat", lambda p: os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)),
                      ("excl", lambda p: os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)),
                      ("fifo", lambda p: os.mkfifo(p)),
                      ("symlink", lambda p: os.symlink("changes", p)),
                      ("link", lambda p: os.link(os.path.join(q, "changes"), p))):
        print(how, kq.outcome(call, os.path.join(d, "newfile")))
    print("exists", os.path.lexists(os.path.join(d, "newfile")))
EOF
  assert_success
  refute_line --partial " ok"
  refute_line "exists True"
  assert_equal "$(grep -cE ' (EPERM|EACCES)$' <<<"$output")" 15
  # The shell's ways.
  run touch "$KQ/newfile"
  assert_failure
  run touch "$q/newfile"
  assert_failure
  run bash -c "> '$q/newfile'"
  assert_failure
  assert_output --regexp "(Operation not permitted|Permission denied)"
  run ls "$q"
  refute_line newfile
}

@test "unlink of a queue file or kq/clone is EPERM" {
  local q
  q=$(new_queue)
  run py - "$q" "$KQ/clone" <<'EOF'
import os, sys, kq
q, clone = sys.argv[1:]
for f in ("changes", "events.bin", "status"):
    print(f, kq.outcome(os.unlink, os.path.join(q, f)))
print("clone", kq.outcome(os.unlink, clone))
EOF
  assert_output "$(printf '%s\n' "changes EPERM" "events.bin EPERM" "status EPERM" "clone EPERM")"
  run ls "$q"
  assert_line changes
  assert_line events.bin
  assert_line status
}

@test "rename of a queue or of a queue file fails" {
  local q
  q=$(new_queue)
  run py - "$q" <<'EOF'
import os, sys, kq
q = sys.argv[1]
print("queue", kq.outcome(os.rename, q, q + "renamed"))
print("file", kq.outcome(os.rename, os.path.join(q, "changes"), os.path.join(q, "renamed")))
print("swap", kq.outcome(os.rename, os.path.join(q, "changes"), os.path.join(q, "events")))
EOF
  refute_line --partial " ok"
  assert_equal "${#lines[@]}" 3
  run ls "$q"
  assert_line changes
  assert_line events
  refute_line renamed
  run ls "$KQ"
  refute_line "${q##*/}renamed"
}

# ------------------------------------------------------------ file directions

@test "writing an events file or reading a changes file fails with one errno (EBADF or EINVAL) in all three formats" {
  local q
  q=$(new_queue)
  run py - "$q" <<'EOF'
import os, sys, kq
q = sys.argv[1]
record = {"": b"1 user add\n", ".json": b'{"ident": 1, "filter": "user", "flags": "add"}\n',
          ".bin": kq.pack(1, kq.EVFILT["user"], kq.EV_ADD)}
for ext, data in record.items():
    fd = os.open(os.path.join(q, "events" + ext), os.O_RDWR)
    print("write events" + ext, kq.write_outcome(fd, data))
    os.close(fd)
for ext in record:
    fd = os.open(os.path.join(q, "changes" + ext), os.O_RDWR)
    print("read changes" + ext, kq.outcome(os.read, fd, 4096))
    os.close(fd)
EOF
  assert_success
  assert_equal "${#lines[@]}" 6
  local errnos
  errnos=$(awk '{print $3}' <<<"$output" | sort -u)
  assert_equal "$(wc -l <<<"$errnos")" 1
  assert_regex "$errnos" '^(EBADF|EINVAL)$'
  assert_equal "$(status_field "$q" knotes)" 0
}

@test "writing status fails" {
  local q
  q=$(new_queue)
  run py -c 'import os, sys, kq; fd = os.open(sys.argv[1], os.O_RDWR); print(kq.write_outcome(fd, b"1 user add\n"))' "$q/status"
  assert_output --regexp '^(EBADF|EINVAL|EPERM|EACCES)$'
  assert_equal "$(status_field "$q" knotes)" 0
}

@test "changes files opened with O_TRUNC (>) and O_APPEND (>>) take records" {
  local q
  q=$(new_queue)
  echo "1 user add" >"$q/changes"
  echo "2 user add" >>"$q/changes"
  echo '{"ident": 3, "filter": "user", "flags": "add"}' >"$q/changes.json"
  echo '{"ident": 4, "filter": "user", "flags": "add"}' >>"$q/changes.json"
  py - "$q" <<'EOF'
import os, sys, kq
q = sys.argv[1]
for ident, mode in ((5, os.O_TRUNC), (6, os.O_APPEND)):
    fd = os.open(os.path.join(q, "changes.bin"), os.O_WRONLY | mode)
    assert os.write(fd, kq.pack(ident, kq.EVFILT["user"], kq.EV_ADD)) == 32
    os.close(fd)
EOF
  assert_equal "$(status_field "$q" knotes)" 6
  assert_equal "$(status_field "$q" last-error)" none
}

@test "truncate -s 0 on a changes file works" {
  local q f
  q=$(new_queue)
  for f in changes changes.json changes.bin; do
    truncate -s 0 "$q/$f"
  done
  run stat -c %s "$q/changes"
  assert_output 0
}

@test "every file has size 0" {
  local q
  q=$(new_queue)
  printf '%s\n' "1 user add" "1 user 0 trigger" >"$q/changes"
  run stat -c '%s %n' "$q"/* "$KQ/clone"
  assert_equal "$(grep -c '^0 ' <<<"$output")" 9
}

# -------------------------------------------------------------------- clone

@test "kq/clone opened O_RDWR is a queue listed under kq/ while the handle is open" {
  local before
  before=$(clone_names)
  run py - "$KQ" <<'EOF'
import os, sys
kqdir = sys.argv[1]
before = set(os.listdir(kqdir))
fd = os.open(os.path.join(kqdir, "clone"), os.O_RDWR)
new = sorted(set(os.listdir(kqdir)) - before)
print("new", *new)
print(open(os.path.join(kqdir, new[0], "status")).read())
EOF
  assert_success
  assert_line --regexp '^new [A-Za-z0-9._-]{1,64}$'
  assert_line "anonymous: yes"
  local name
  name=$(sed -n 's/^new //p' <<<"$output")
  assert_line "name: $name"
  assert_line "owner: 0:0"
  # Closed when python exited: gone (the kernel sends release a little later).
  wait_until 5 absent "$KQ/$name"
  assert_equal "$(clone_names)" "$before"
}

@test "binary changes and events go through a kq/clone handle" {
  run timeout 10 python3 - "$KQ/clone" <<'EOF'
import os, sys, kq
fd = os.open(sys.argv[1], os.O_RDWR)
user = kq.EVFILT["user"]
NOTE_FFCOPY = 0xC0000000
changes = kq.pack(7, user, kq.EV_ADD | kq.EV_CLEAR, 0, 0, 0xfeed) + kq.pack(7, user, 0, kq.NOTE_TRIGGER | NOTE_FFCOPY | 5, 0, 0xfeed)
print("wrote", os.write(fd, changes))
print("user", kq.unpack_all(os.read(fd, 32 * 10)))
assert os.write(fd, kq.pack(9, kq.EVFILT["timer"], kq.EV_ADD | kq.EV_ONESHOT, 0, 20, 42)) == 32
print("timer", kq.unpack_all(os.read(fd, 32 * 10)))
EOF
  assert_success
  assert_line "wrote 64"
  assert_line "user [(7, -11, 33, 5, 0, 65261)]"
  assert_line --regexp '^timer \[\(9, -7, (17|49), 0, 1, 42\)\]$'
}

@test "poll on a kq/clone handle reports POLLIN only when events are pending" {
  run timeout 10 python3 - "$KQ/clone" <<'EOF'
import os, select, sys, kq
fd = os.open(sys.argv[1], os.O_RDWR)
p = select.poll()
p.register(fd, select.POLLIN)
print("idle", p.poll(200))
os.write(fd, kq.pack(1, kq.EVFILT["user"], kq.EV_ADD | kq.EV_CLEAR) + kq.pack(1, kq.EVFILT["user"], 0, kq.NOTE_TRIGGER))
print("pending", [bool(ev & select.POLLIN) for _, ev in p.poll(5000)])
os.read(fd, 320)
print("drained", p.poll(200))
os.write(fd, kq.pack(2, kq.EVFILT["timer"], kq.EV_ADD | kq.EV_ONESHOT, 0, 50))
print("later", [bool(ev & select.POLLIN) for _, ev in p.poll(5000)])
EOF
  assert_success
  assert_output "$(printf '%s\n' "idle []" "pending [True]" "drained []" "later [True]")"
}

@test "a kq/clone queue lives until the last of all its handles closes, named files included" {
  local fifo="$BATS_TEST_TMPDIR/go"
  mkfifo "$fifo"
  py - "$KQ" "$fifo" >"$BATS_TEST_TMPDIR/out" 3>&- <<'EOF' &
import os, sys, kq
kqdir, fifo = sys.argv[1:]
before = set(os.listdir(kqdir))
clone = os.open(os.path.join(kqdir, "clone"), os.O_RDWR)
name = (set(os.listdir(kqdir)) - before).pop()
q = os.path.join(kqdir, name)
changes = os.open(os.path.join(q, "changes"), os.O_WRONLY)
events = os.open(os.path.join(q, "events"), os.O_RDONLY)
os.write(clone, kq.pack(1, kq.EVFILT["user"], kq.EV_ADD))
os.close(clone)
print(name, flush=True)
open(fifo).read()  # the test looks at the tree meanwhile
os.write(changes, b"1 user 0 trigger\n")
print("event", os.read(events, 4096).decode().strip(), flush=True)
os.close(changes)
print("one left", os.path.isdir(q), flush=True)
open(fifo).read()
os.close(events)
print("closed", flush=True)
open(fifo).read()
EOF
  local name
  wait_until 10 test -s "$BATS_TEST_TMPDIR/out"
  name=$(head -n1 "$BATS_TEST_TMPDIR/out")
  # The clone handle is closed, the named handles keep the queue.
  sleep 0.2
  [ -d "$KQ/$name" ]
  assert_equal "$(status_field "$KQ/$name" knotes)" 1
  echo >"$fifo"
  wait_until 10 grep -q '^one left' "$BATS_TEST_TMPDIR/out"
  run cat "$BATS_TEST_TMPDIR/out"
  assert_line --regexp '^event 1 EVFILT_USER '
  assert_line "one left True"
  echo >"$fifo"
  wait_until 10 grep -q '^closed' "$BATS_TEST_TMPDIR/out"
  wait_until 5 absent "$KQ/$name"
  echo >"$fifo"
  wait
}

@test "a kq/clone queue of a process killed with SIGKILL is destroyed and leaks nothing" {
  local before pid name
  wait_until 5 test -z "$(clone_names)" # earlier tests' clones released
  before=$(daemon_fds)
  [ "$before" -gt 0 ]
  python3 - "$KQ" >"$BATS_TEST_TMPDIR/out" 3>&- <<'EOF' &
import os, sys, time, kq
kqdir = sys.argv[1]
before = set(os.listdir(kqdir))
fd = os.open(os.path.join(kqdir, "clone"), os.O_RDWR)
os.write(fd, kq.pack(1, kq.EVFILT["timer"], kq.EV_ADD, 0, 10) + kq.pack(2, kq.EVFILT["user"], kq.EV_ADD))
print((set(os.listdir(kqdir)) - before).pop(), flush=True)
time.sleep(60)
EOF
  pid=$!
  wait_until 10 test -s "$BATS_TEST_TMPDIR/out"
  name=$(head -n1 "$BATS_TEST_TMPDIR/out")
  [ -d "$KQ/$name" ]
  assert_equal "$(status_field "$KQ/$name" knotes)" 2
  kill -KILL "$pid"
  wait "$pid" || true
  wait_until 5 absent "$KQ/$name"
  wait_until 5 fds_are "$before"
}

@test "two kq/clone handles are two distinct queues" {
  run timeout 10 python3 - "$KQ" <<'EOF'
import fcntl, os, sys, kq
kqdir = sys.argv[1]
before = set(os.listdir(kqdir))
a = os.open(os.path.join(kqdir, "clone"), os.O_RDWR)
b = os.open(os.path.join(kqdir, "clone"), os.O_RDWR)
print("queues", len(set(os.listdir(kqdir)) - before))
os.write(a, kq.pack(1, kq.EVFILT["user"], kq.EV_ADD) + kq.pack(1, kq.EVFILT["user"], 0, kq.NOTE_TRIGGER))
fcntl.fcntl(b, fcntl.F_SETFL, fcntl.fcntl(b, fcntl.F_GETFL) | os.O_NONBLOCK)
print("b", kq.outcome(os.read, b, 320))
print("b has no knote 1", kq.errname(-kq.write_result(b, kq.pack(1, kq.EVFILT["user"], 0, kq.NOTE_TRIGGER))))
print("a", [e[0] for e in kq.unpack_all(os.read(a, 320))])
EOF
  assert_success
  assert_output "$(printf '%s\n' "queues 2" "b EAGAIN" "b has no knote 1 ENOENT" "a [1]")"
}
