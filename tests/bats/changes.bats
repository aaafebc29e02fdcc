#!/usr/bin/env bats
# Writing changes (docs/design.md#writing-changes, and the input side of
# docs/design.md#record-formats): text, JSON and binary change records through the mount,
# their errors, short writes, lines split across writes, and garbage.

load mount_helpers
one_kqfsd_per_file

# writes FILE CHUNK...: opens FILE write-only (O_TRUNC, as the shell's `>`),
# makes one write(2) per CHUNK (Python escapes: '\n', '\x00'), then closes.
# Prints each write's return (a byte count or an errno name) and
# "close:" with close's (0 or an errno name), space-separated.
writes() {
  py - "$@" <<'EOF'
import codecs, os, sys
from kq import write_outcome, errname
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
out = []
for chunk in sys.argv[2:]:
    out.append(str(write_outcome(fd, codecs.escape_decode(chunk)[0])))
try:
    os.close(fd)
    out.append("close:0")
except OSError as e:
    out.append("close:" + errname(e.errno))
print(" ".join(out))
EOF
}

# The first text event of queue $1, waiting at most 5 s.
first_event() {
  timeout 5 head -n1 "$1/events"
}

# The first line of events.json of queue $1 (a stream, so no head: it
# complains that it cannot seek back), waiting at most 5 s.
first_json_event() {
  py_timeout 5 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
sys.stdout.write(os.read(fd, 4096).decode().splitlines()[0] + "\n")
' "$1/events.json"
}

# Asserts that writing RECORD (Python escapes) to FILE of a fresh queue is
# rejected whole with EINVAL, that nothing of it was applied, and that
# status and the log give REASON.
assert_rejected() {
  local file=$1 record=$2 reason=$3 q
  q=$(new_queue "$4")
  written "$q/$file" "$record" "EINVAL close:0"
  fields_are "$q" knotes=0 changes=0
  assert_last_error "$q" --partial "$reason"
  run grep -F "queue $(basename "$q"): rejected" "$KQFS_LOG"
  assert_output --partial "$reason"
}

# ---------------------------------------------------------------- text


# fields_are DIR FIELD=VALUE...: each status field of queue DIR has its value.
fields_are() {
  local q=$1 pair
  shift
  for pair; do
    [ "$(status_field "$q" "${pair%%=*}")" = "${pair#*=}" ] || return 1
  done
}

# written FILE DATA... OUTPUT: `run writes FILE DATA...` prints OUTPUT.
written() {
  run writes "${@:1:$#-1}"
  assert_output "${!#}"
}

# run_writing FILE [Q] <<'EOF' ...: under `run`, kq_python (60 s) runs the
# Python on stdin with q, queue directory Q (default: a new queue), fd open
# O_WRONLY on its FILE (changes or changes.bin) and u = EVFILT["user"].
run_writing() {
  q=${2:-$(new_queue)}
  run kq_python 60 "q = sys.argv[1]
fd = os.open(q + '/$1', os.O_WRONLY)
u = EVFILT['user']" "$q"
}

@test "text record: echo registers a knote and its event arrives" {
  q=$(new_queue)
  echo "1 timer add 0 500 7" >"$q/changes"
  fields_are "$q" knotes=1 knotes.timer=1 changes=1
  run first_event "$q"
  assert_success
  assert_output "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"
}

@test "text record: filter names long or short in any case, or a number" {
  q=$(new_queue)
  printf '%s\n' "1 EVFILT_USER add" "2 user add" "3 USER add" "4 evfilt_user add" \
    "5 User add" "6 -11 add" "7 EVFILT_TIMER add 0 100000" "8 Timer add 0 100000" >"$q/changes"
  fields_are "$q" knotes.user=6 knotes.timer=2 last-error=none
}

@test "text record: flag names long or short in any case, |-joined, or numbers" {
  q=$(new_queue)
  printf '%s\n' "1 user EV_ADD|EV_CLEAR" "2 user add|clear" "3 user Ev_Add|CLEAR" \
    "4 user 0x21" "5 user 33" "6 user add|0x20" >"$q/changes"
  fields_are "$q" knotes.user=6
  for i in 1 2 3 4 5 6; do echo "$i user 0 trigger"; done >"$q/changes"
  run timeout 5 head -n6 "$q/events"
  assert_success
  for i in 1 2 3 4 5 6; do assert_line "$i EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"; done
}

@test "text record: fflags names are looked up for the record's filter" {
  q=$(new_queue)
  echo "1 user add|clear" >"$q/changes"
  echo "1 user 0 NOTE_TRIGGER|note_ffor|0x5" >"$q/changes"
  run first_event "$q"
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0x5 0 0"
  # NOTE_SECONDS is a timer's: a user record may not use it.
  written "$q/changes" '2 user add NOTE_SECONDS\n' "EINVAL close:0"
  assert_last_error "$q" --partial "'NOTE_SECONDS'"
  written "$q/changes" '2 timer add|oneshot seconds 0\n' "30 close:0"
}

@test "text record: numbers are decimal or 0x hex" {
  q=$(new_queue)
  echo "0x10 user 0x21 0 0 0" >"$q/changes"
  echo "16 -11 0 0x01000000 0x20 0xFF" >"$q/changes"
  run first_event "$q"
  assert_output "16 EVFILT_USER EV_ADD|EV_CLEAR 0 32 255"
}

@test "text record: omitted trailing fields are 0" {
  q=$(new_queue)
  echo "3 user add 0 5 9" >"$q/changes"
  # The trigger's data and udata are left out: they are 0 and stored.
  echo "3 user 0 trigger" >"$q/changes"
  run first_event "$q"
  assert_output "3 EVFILT_USER EV_ADD 0 0 0"
  # A lone ident has filter 0, which is no filter: EINVAL.
  written "$q/changes" '3\n' "EINVAL close:0"
}

@test "text record: blank lines and # comments are skipped" {
  q=$(new_queue)
  written "$q/changes" '\n# a comment: 1 EVFILT_BOGUS\n   \n\t\n#\n1 user add\n\n' "49 close:0"
  fields_are "$q" knotes=1 changes=1 last-error=none
}

@test "text records: several in one write are applied in order (add, delete)" {
  q=$(new_queue)
  written "$q/changes" '1 user add\n1 user delete\n' "25 close:0"
  fields_are "$q" knotes=0 changes=2
  # Reversed, the delete finds nothing.
  written "$q/changes" '2 user delete\n2 user add\n' "ENOENT close:0"
}

@test "text records: several in one write are applied in order (add, trigger)" {
  q=$(new_queue)
  written "$q/changes" '7 user add|oneshot 0 0 70\n7 user 0 trigger 0 71\n' "48 close:0"
  run first_event "$q"
  assert_output "7 EVFILT_USER EV_ADD|EV_ONESHOT 0 0 71"
}

@test "text record: signal names are EVFILT_SIGNAL idents" {
  q=$(new_queue)
  # Added by name and deleted by number in one write: the delete finds the
  # knote only if the name meant signal 10.
  for record in "SIGUSR1 signal add" "usr1 EVFILT_SIGNAL add" "sigusr1 signal add"; do
    records="$record\n10 signal delete\n"
    written "$q/changes" "$records" "$(printf "$records" | wc -c) close:0"
  done
  records='SIGRTMIN+1 signal add\nSIGRTMIN+1 signal delete\n'
  written "$q/changes" "$records" "$(printf "$records" | wc -c) close:0"
  written "$q/changes" 'SIGNOPE signal add\n' "EINVAL close:0"
  assert_last_error "$q" --partial "'SIGNOPE'"
  # Names are for signals only.
  written "$q/changes" 'SIGUSR1 user add\n' "EINVAL close:0"
}

# ---------------------------------------------------------------- JSON

@test "JSON records: one object per line with the six keys, strings in text syntax" {
  q=$(new_queue)
  run writes "$q/changes.json" \
    '{"ident": 1, "filter": "EVFILT_USER", "flags": "EV_ADD|EV_CLEAR", "fflags": "0", "data": 0, "udata": 42}\n'
  assert_output --regexp '^[0-9]+ close:0$'
  # Strings in the text syntax: short names, any case, hex, numbers as strings.
  run writes "$q/changes.json" \
    '{"ident": "0x1", "filter": "user", "flags": "0", "fflags": "trigger|FFor|0x3", "data": "0x10", "udata": 43}\n'
  assert_output --regexp '^[0-9]+ close:0$'
  run first_json_event "$q"
  assert_success
  run py -c 'import json,sys; print(sorted(json.loads(sys.argv[1]).items()))' "$output"
  assert_output "[('data', 16), ('fflags', '0x3'), ('filter', 'EVFILT_USER'), ('flags', 'EV_ADD|EV_CLEAR'), ('ident', 1), ('udata', 43)]"
}

@test "JSON records: missing keys are 0" {
  q=$(new_queue)
  written "$q/changes.json" '{"filter": "user", "flags": "add"}\n' "35 close:0"
  written "$q/changes.json" '{"filter": "user", "fflags": "trigger"}\n' "40 close:0"
  run first_event "$q"
  assert_output "0 EVFILT_USER EV_ADD 0 0 0"
  # No filter at all is filter 0: EINVAL.
  written "$q/changes.json" '{"ident": 5}\n' "EINVAL close:0"
}

@test "JSON records: several lines in one write are applied in order" {
  q=$(new_queue)
  run writes "$q/changes.json" \
    '{"ident":1,"filter":"user","flags":"add"}\n\n{"ident":1,"filter":"user","flags":"delete"}\n{"ident":2,"filter":"user","flags":"add"}\n'
  assert_output "130 close:0"
  fields_are "$q" knotes=1 changes=3
}

@test "JSON records as programs write them: mask arrays, numeric filters, 64-bit fields as strings" {
  q=$(new_queue)
  # What JavaScript sends: arrays of names and numbers, and a BigInt's
  # decimal string for a udata past 2^53.
  run writes "$q/changes.json" \
    '{"ident": "18446744073709551615", "filter": -11, "flags": ["add", "EV_CLEAR"], "udata": "18446744073709551615"}\n' \
    '{"ident": "18446744073709551615", "filter": "user", "flags": ["keepudata"], "fflags": ["trigger", "ffor", 5], "data": "-9223372036854775808"}\n' \
    '{"ident": 2, "filter": "EVFILT_TIMER", "flags": ["EV_ADD", 16], "fflags": [], "data": 1, "udata": "0x20000000000001"}\n'
  assert_output --regexp '^[0-9]+ [0-9]+ [0-9]+ close:0$'
  # Output: names in the text syntax, numbers for ident, data, udata.
  run py_timeout 5 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
lines = []
while len(lines) < 2:
    lines += os.read(fd, 4096).decode().splitlines()
print("\n".join(sorted(lines)))
' "$q/events.json"
  assert_output "$(printf '%s\n' \
    '{"ident":18446744073709551615,"filter":"EVFILT_USER","flags":"EV_ADD|EV_CLEAR","fflags":"0x5","data":-9223372036854775808,"udata":18446744073709551615}' \
    '{"ident":2,"filter":"EVFILT_TIMER","flags":"EV_ADD|EV_ONESHOT|EV_CLEAR","fflags":"0","data":1,"udata":9007199254740993}')"
}

@test "malformed JSON arrays and values are EINVAL with a readable reason in status and log" {
  assert_rejected changes.json '{"ident": 1, "filter": "user", "flags": ["add", ["clear"]]}\n' \
    "bad flags: an array of names and numbers only" a
  assert_rejected changes.json '{"ident": 1, "filter": "user", "flags": ["add", "clera"]}\n' \
    "unknown flag 'clera'" b
  assert_rejected changes.json '{"ident": [1], "filter": "user"}\n' \
    "bad ident: not a number or a string" c
  assert_rejected changes.json '{"ident": 1, "filter": "user", "udata": "18446744073709551616"}\n' \
    "bad udata '18446744073709551616'" d
  assert_rejected changes.json '{"ident": 1, "pid": -3, "filter": "read", "flags": "add"}\n' \
    "bad pid '-3' (a process id is a number above 0)" e
}

# -------------------------------------------------------------- binary

@test "binary records: 32-byte records on changes.bin (python struct)" {
  q=$(new_queue)
  run py - "$q" <<'EOF'
import os, sys
from kq import pack, write_result, EVFILT, EV_ADD, EV_CLEAR, NOTE_TRIGGER
NOTE_FFCOPY = 0xc0000000
q = sys.argv[1]
fd = os.open(q + "/changes.bin", os.O_WRONLY)
print(write_result(fd, pack(9, EVFILT["user"], EV_ADD | EV_CLEAR, 0, 0, 90)
                       + pack(9, EVFILT["user"], 0, NOTE_FFCOPY | NOTE_TRIGGER | 0x7, 5, 91)))
os.close(fd)
EOF
  assert_output "64"
  run first_event "$q"
  assert_output "9 EVFILT_USER EV_ADD|EV_CLEAR 0x7 5 91"
}

@test "binary records: the layout is struct kevent (u64 i16 u16 u32 i64 u64, little-endian)" {
  q=$(new_queue)
  # Spelled byte by byte, not with struct: ident 0x0102030405060708,
  # filter -11 (f5 ff), flags EV_ADD|EV_ONESHOT (11 00), fflags 0,
  # data 0, udata 0; then the trigger: fflags NOTE_FFCOPY|NOTE_TRIGGER|0x10203
  # (03 02 01 c1), data 0x0a0b0c0d, udata 0x1112131415161718.
  run writes "$q/changes.bin" \
    '\x08\x07\x06\x05\x04\x03\x02\x01\xf5\xff\x11\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' \
    '\x08\x07\x06\x05\x04\x03\x02\x01\xf5\xff\x00\x00\x03\x02\x01\xc1\x0d\x0c\x0b\x0a\x00\x00\x00\x00\x18\x17\x16\x15\x14\x13\x12\x11'
  assert_output "32 32 close:0"
  run first_event "$q"
  assert_output "$((0x0102030405060708)) EVFILT_USER EV_ADD|EV_ONESHOT 0x10203 $((0x0a0b0c0d)) $((0x1112131415161718))"
}

# -------------------------------------------------------------- errors

@test "malformed text record: unknown filter is EINVAL, not applied, reason in status and log" {
  assert_rejected changes '1 EVFILT_RAED add\n' "unknown filter 'EVFILT_RAED'"
}

@test "malformed text record: unknown flag is EINVAL, not applied, reason in status and log" {
  assert_rejected changes '1 user add|bogus\n' "unknown flag 'bogus'"
}

@test "malformed text record: too many fields is EINVAL, not applied, reason in status and log" {
  assert_rejected changes '1 user add 0 0 0 7\n' "too many fields"
}

@test "malformed text record: bad number is EINVAL, not applied, reason in status and log" {
  assert_rejected changes '1 user add 0 12x\n' "'12x'" a
  assert_rejected changes '0x1g user add\n' "'0x1g'" b
  assert_rejected changes '1 user add 0 0 -1\n' "'-1'" c
}

@test "malformed JSON is EINVAL, not applied, reason in status and log" {
  assert_rejected changes.json '{"ident": 1, "filter": "user", "flags": "add"\n' "malformed JSON"
}

@test "unknown JSON key is EINVAL, not applied, reason in status and log" {
  assert_rejected changes.json '{"ident": 1, "filter": "user", "flags": "add", "colour": 3}\n' \
    "unknown key 'colour'"
}

@test "a malformed record is never partly applied (its good leading fields change nothing)" {
  q=$(new_queue)
  echo "1 user add|clear 0 0 5" >"$q/changes"
  # Flags that would disable or delete the knote, then a bad last field.
  written "$q/changes" '1 user disable 0 0 0x5z\n' "EINVAL close:0"
  written "$q/changes" '1 user delete 0 0 5 6 7\n' "EINVAL close:0"
  written "$q/changes.json" '{"ident":1,"filter":"user","flags":"disable","udata":"x"}\n' "EINVAL close:0"
  written "$q/changes.json" '{"ident":1,"filter":"user","flags":"delete","udata":1,"udata":2}\n' "EINVAL close:0"
  fields_are "$q" knotes.user=1 changes=1
  echo "1 user 0 trigger 0 5" >"$q/changes"
  run first_event "$q"
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 5"
}

@test "EV_DELETE of a missing knote is ENOENT" {
  q=$(new_queue)
  written "$q/changes" '5 user delete\n' "ENOENT close:0"
  assert_last_error "$q" --partial "5 EVFILT_USER EV_DELETE"
  echo "5 timer add 0 100000" >"$q/changes"
  written "$q/changes" '5 user delete\n' "ENOENT close:0"
  fields_are "$q" knotes=1
}

@test "a descriptor ident the writer does not have is EBADF" {
  q=$(new_queue)
  written "$q/changes" '999 read add\n' "EBADF close:0"
  written "$q/changes" '999 write add\n' "EBADF close:0"
  fields_are "$q" knotes=0
  assert_last_error "$q" --partial "999 EVFILT_WRITE EV_ADD"
}

@test "a bad filter number is EINVAL" {
  q=$(new_queue)
  for filter in 0 -99 5 -32768 32767; do
    written "$q/changes" "1 $filter add\\n" "EINVAL close:0"
  done
  fields_are "$q" knotes=0
}

# -------------------------------------------------------- short writes

@test "short write: records before the failing one are applied, write returns their bytes" {
  q=$(new_queue)
  # 11 + 11 bytes applied, then the malformed third; the fourth never runs.
  written "$q/changes" '1 user add\n2 user add\n3 EVFILT_RAED add\n4 user add\n' "22 close:0"
  fields_are "$q" knotes.user=2 "last-error=unknown filter 'EVFILT_RAED'"
  # The same for a record that parses and fails (ENOENT), in JSON and binary.
  written "$q/changes.json" '{"ident":5,"filter":"user","flags":"add"}\n{"ident":6,"filter":"user","flags":"delete"}\n{"ident":7,"filter":"user","flags":"add"}\n' "42 close:0"
  fields_are "$q" knotes.user=3
  run_writing changes.bin "$q" <<'EOF'
print(write_result(fd, pack(8, u, EV_ADD) + pack(9, u, EV_DELETE) + pack(10, u, EV_ADD)))
os.close(fd)
EOF
  assert_output "32"
  fields_are "$q" knotes.user=4 changes=4
}

@test "short write: when the first record fails, write returns -1 with its errno and later records are not applied" {
  q=$(new_queue)
  written "$q/changes" '9 user delete\n1 user add\n' "ENOENT close:0"
  written "$q/changes" '1 user add|bogus\n2 user add\n' "EINVAL close:0"
  written "$q/changes" '999 read add\n3 user add\n' "EBADF close:0"
  run_writing changes.bin "$q" <<'EOF'
print(errname(-write_result(fd, pack(9, u, EV_DELETE) + pack(4, u, EV_ADD))))
os.close(fd)
EOF
  assert_output "ENOENT"
  fields_are "$q" knotes=0 changes=0
}

# ------------------------------------------------------- partial lines

@test "partial line: a line split across two writes on one handle is joined" {
  q=$(new_queue)
  written "$q/changes" '1 user a' 'dd\n' "8 3 close:0"
  fields_are "$q" knotes.user=1
  written "$q/changes.json" '{"ident":2,"filter":' '"user","fl' 'ags":"add"}\n' "20 10 12 close:0"
  fields_are "$q" knotes.user=2 last-error=none
}

@test "partial line: byte-by-byte writes work" {
  run_writing changes <<'EOF'
results = {write_result(fd, bytes([b])) for b in b"1 user add|clear\n1 user 0 trigger 0 5\n"}
os.close(fd)
print(results)
EOF
  assert_output "{1}"
  run first_event "$q"
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 5"
}

@test "partial line: a trailing line without newline is applied at close" {
  q=$(new_queue)
  written "$q/changes" '1 user add' "10 close:0"
  fields_are "$q" knotes.user=1
  printf '2 user add' >"$q/changes"
  printf '{"ident":3,"filter":"user","flags":"add"}' >"$q/changes.json"
  fields_are "$q" knotes.user=3
}

# partial_writer SIGNAL FILE FRAGMENT: a python child opens FILE, writes
# FRAGMENT with one write(2) (no newline) and waits; it is then killed with
# SIGNAL, or with SIGNAL "exit" exits by itself. The writer holds the only
# copy of its descriptor, so the close that ends the line is its own, made
# while it dies.
partial_writer() {
  local signal=$1 file=$2 fragment=$3 ready="$BATS_TEST_TMPDIR/ready.$RANDOM"
  mkfifo "$ready"
  python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, sys.argv[2].encode())
with open(sys.argv[4], "w") as ready:
    ready.write("written\n")
if sys.argv[3] == "exit":
    sys.exit(0)
time.sleep(60)' "$file" "$fragment" "$signal" "$ready" 3>&- &
  local writer=$!
  read -r _ <"$ready"
  if [ "$signal" != exit ]; then kill "-$signal" "$writer"; fi
  wait "$writer" || true
}

@test "partial line: a writer killed by SIGKILL never has its unfinished line applied; status says so" {
  q=$(new_queue)
  partial_writer KILL "$q/changes" '5 timer add 0 10'
  wait_status "$q" last-fragment 'discarded: writer killed by SIGKILL: "5 timer add 0 10"'
  fields_are "$q" knotes=0 last-error=none
  grep -q 'discarded: writer killed by SIGKILL' "$KQFS_LOG"
  # JSON the same, and a default-action SIGTERM counts as killed too.
  partial_writer TERM "$q/changes.json" '{"ident":6,"filter":"user","flags":"add"}'
  wait_status "$q" last-fragment \
    'discarded: writer killed by SIGTERM: "{\"ident\":6,\"filter\":\"user\",\"flags\":\"add\"}"'
  fields_are "$q" knotes=0
}

@test "partial line: a writer that exits normally has its unfinished line applied at close; status says so" {
  q=$(new_queue)
  partial_writer exit "$q/changes" '7 user add'
  wait_status "$q" last-fragment 'applied at close: "7 user add"'
  fields_are "$q" knotes.user=1
  # Python exiting through sys.exit(3) is a normal exit, whatever its code.
  py -c 'import os, sys; os.write(os.open(sys.argv[1], os.O_WRONLY), b"8 user add"); sys.exit(3)' \
    "$q/changes" || true
  wait_status "$q" last-fragment 'applied at close: "8 user add"'
  fields_are "$q" knotes.user=2
  # A bad fragment at close: status points at last-error.
  partial_writer exit "$q/changes" '9 user bogus'
  wait_status "$q" last-fragment 'rejected at close (see last-error): "9 user bogus"'
  assert_last_error "$q" --partial "unknown flag 'bogus'"
}

@test "partial line: a python writer killing itself with SIGKILL mid-line registers nothing" {
  q=$(new_queue)
  run py -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, b"1 user add\n5 timer add 0 10")
os.kill(os.getpid(), 9)' "$q/changes"
  assert_equal "$status" 137
  wait_status "$q" last-fragment 'discarded: writer killed by SIGKILL: "5 timer add 0 10"'
  # The whole line before the fragment was applied when it was written.
  run grep '^knote:' "$q/status"
  assert_output "knote: 1 EVFILT_USER EV_ADD 0 0 0"
}

@test "partial line: another process closing its copy (a child that exits) does not end the line" {
  q=$(new_queue)
  run py - "$q" <<'EOF'
import os, subprocess, sys
from kq import pack, write_result, EVFILT, EV_ADD
q = sys.argv[1]
# Text: a child that inherits the descriptor and exits closes its copy.
fd = os.open(q + "/changes", os.O_WRONLY)
first = write_result(fd, b"1 user ")
subprocess.run(["/bin/true"], pass_fds=[fd], check=True)
print(first, write_result(fd, b"add|clear\n"))
os.close(fd)
# Binary: a forked child exits while a record is half written.
fd = os.open(q + "/changes.bin", os.O_WRONLY)
blob = pack(9, EVFILT["user"], EV_ADD)
first = write_result(fd, blob[:10])
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print(first, write_result(fd, blob[10:]))
os.close(fd)
EOF
  assert_output $'7 10\n10 22'
  fields_are "$q" knotes.user=2 last-error=none
}

@test "a write whose failing first record follows only comments fails whole (-1), not short" {
  q=$(new_queue)
  written "$q/changes" '# header\n\n5 user delete\n' "ENOENT close:0"
}

@test "partial line: a bad trailing line makes close fail with EINVAL, and status says why" {
  q=$(new_queue)
  written "$q/changes" '1 user add\n2 user bogus' "23 close:EINVAL"
  fields_are "$q" knotes.user=1 "last-error=unknown flag 'bogus'"
  # An errno from the engine reaches close too.
  written "$q/changes" '7 user delete' "13 close:ENOENT"
  written "$q/changes.json" '{"ident":1,' "11 close:EINVAL"
  assert_last_error "$q" --partial "malformed JSON"
}

@test "partial binary records across writes are joined" {
  run_writing changes.bin <<'EOF'
blob = pack(4, u, EV_ADD | EV_CLEAR) + pack(4, u, 0, NOTE_TRIGGER, 0, 44)
print(write_result(fd, blob[:20]), write_result(fd, blob[20:32]),
      write_result(fd, blob[32:33]), write_result(fd, blob[33:63]), write_result(fd, blob[63:]))
os.close(fd)
EOF
  assert_output "20 12 1 30 1"
  run first_event "$q"
  assert_output "4 EVFILT_USER EV_ADD|EV_CLEAR 0 0 44"
}

@test "a binary tail shorter than 32 bytes at close makes close fail with EINVAL" {
  run_writing changes.bin <<'EOF'
print(write_result(fd, pack(1, u, EV_ADD) + pack(2, u, EV_ADD)[:10]))
try:
    os.close(fd)
    print("close ok")
except OSError as e:
    print("close", errname(e.errno))
EOF
  assert_output "$(printf '42\nclose EINVAL')"
  fields_are "$q" knotes.user=1
  assert_last_error "$q" --partial "10 bytes"
}

# --------------------------------------------------- O_TRUNC, O_APPEND

@test "> and >> both work, repeatedly" {
  q=$(new_queue)
  for i in 1 2 3; do
    echo "$i user add" >"$q/changes"
    echo "1$i user add" >>"$q/changes"
    echo "{\"ident\":2$i,\"filter\":\"user\",\"flags\":\"add\"}" >"$q/changes.json"
    echo "{\"ident\":3$i,\"filter\":\"user\",\"flags\":\"add\"}" >>"$q/changes.json"
  done
  fields_are "$q" knotes.user=12 last-error=none
}

@test "printf piecewise in a shell loop, appending" {
  q=$(new_queue)
  # One handle for the loop, one write per printf: pieces of a line join.
  for piece in "1 " "user " "add" "|clear" $'\n' "2 user add" $'\n'; do
    printf '%s' "$piece"
  done >>"$q/changes"
  for i in 3 4 5; do printf '%s user add\n' "$i"; done >>"$q/changes"
  fields_are "$q" knotes.user=5 last-error=none
  echo "1 user 0 trigger" >>"$q/changes"
  run first_event "$q"
  assert_output "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
}

# ------------------------------------------------------------ garbage

@test "the daemon never crashes on garbage written to changes, changes.json, changes.bin" {
  pid=$(kqfsd_pid)
  [ -n "$pid" ]
  q=$(new_queue)
  run py_timeout 60 - "$q" <<'EOF'
import errno, os, random, sys
from kq import write_result
bad = set()
for name in ("changes", "changes.json", "changes.bin"):
    for handle in range(4):
        fd = os.open(sys.argv[1] + "/" + name, os.O_WRONLY)
        for _ in range(100):
            data = os.urandom(random.randint(1, 80))
            if name != "changes.bin" and random.random() < 0.3:
                data += b"\n"
            r = write_result(fd, data)
            if not (0 <= r <= len(data)) and -r in (errno.EIO, errno.ENOTCONN, errno.ECONNABORTED):
                bad.add(errno.errorcode[-r])
        try:
            os.close(fd)
        except OSError as e:
            if e.errno in (errno.EIO, errno.ENOTCONN, errno.ECONNABORTED):
                bad.add(errno.errorcode[e.errno])
print("bad:", sorted(bad))
EOF
  assert_success
  assert_output "bad: []"
  kill -0 "$pid"
  mountpoint -q "$MNT"
  rmdir "$q"
  q=$(new_queue after)
  echo "1 user add" >"$q/changes"
  echo "1 user 0 trigger" >"$q/changes"
  run first_event "$q"
  assert_output "1 EVFILT_USER EV_ADD 0 0 0"
}

# ------------------------------------------------- handles and files

@test "a write to a removed queue's changes handle is ENOENT" {
  run_writing changes <<'EOF'
print(write_result(fd, b"1 user add\n"))
os.rmdir(sys.argv[1])
print(errname(-write_result(fd, b"2 user add\n")))
os.close(fd)
EOF
  assert_output "$(printf '11\nENOENT')"
}

@test "writing an events file is EBADF, as reading a changes file is" {
  q=$(new_queue)
  run py - "$q" <<'EOF'
import os, sys
from kq import write_result, errname
for kind in ("", ".json", ".bin"):
    fd = os.open(sys.argv[1] + "/events" + kind, os.O_WRONLY)  # root passes the mode bits
    print("write events%s" % kind, errname(-write_result(fd, b"1 user add\n")))
    os.close(fd)
    fd = os.open(sys.argv[1] + "/changes" + kind, os.O_RDONLY)
    try:
        os.read(fd, 64)
        print("read changes%s ok" % kind)
    except OSError as e:
        print("read changes%s" % kind, errname(e.errno))
    os.close(fd)
EOF
  assert_output "$(printf '%s\n' "write events EBADF" "read changes EBADF" \
    "write events.json EBADF" "read changes.json EBADF" \
    "write events.bin EBADF" "read changes.bin EBADF")"
  fields_are "$q" knotes=0
}

# ------------------------------------------------------ writer identity

@test "a descriptor ident names the writer's descriptor (python's pipe, not the shell's)" {
  q=$(new_queue)
  # The shell has no descriptor 57.
  written "$q/changes" '57 read add\n' "EBADF close:0"
  run py_timeout 10 - "$q" <<'EOF'
import os, select, sys
from kq import write_result
q = sys.argv[1]
r, w = os.pipe()
os.dup2(r, 57)
os.close(r)
fd = os.open(q + "/changes", os.O_WRONLY)
print(write_result(fd, b"57 read add 0 0 77\n"))
os.close(fd)
ev = os.open(q + "/events", os.O_RDONLY | os.O_NONBLOCK)
try:
    os.read(ev, 4096)
    print("event before data")
except BlockingIOError:
    print("no event yet")
os.write(w, b"hello")
ready, _, _ = select.select([ev], [], [], 5)
print(os.read(ev, 4096).decode().strip() if ready else "no event")
EOF
  assert_output "$(printf '%s\n' 19 "no event yet" "57 EVFILT_READ EV_ADD 0 5 77")"
}
