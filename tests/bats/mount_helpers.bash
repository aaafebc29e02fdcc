# The one setup helper of the suites that run against a real mount. Every
# suite loads it at its top (`load mount_helpers`) and gets:
# - setup/teardown: tests/support (kq.py) and the build tree's kqfs package
#   on PYTHONPATH, and afterwards the
#   test's leftovers gone, also when it failed: background processes in
#   BG_PIDS or in $BATS_TEST_TMPDIR/*.pid, the kqfsd instances the test
#   started itself, their mounts. A suite that needs more defines its own
#   setup or teardown and calls kqfs_setup or kqfs_teardown in it.
# - one_kqfsd_per_file [OPTION...]: one kqfsd for the whole file (MNT, KQ),
#   mounted by setup_file and stopped by teardown_file. Suites whose tests
#   start their own daemons (kqfsd_start) do without it.
# - KQFSD and KQCTL: the build tree's daemon and command-line tool.

load '/usr/lib/bats/bats-support/load.bash'
load '/usr/lib/bats/bats-assert/load.bash'

: "${KQFS_BUILD:?KQFS_BUILD must name the build directory}"
KQFSD="$KQFS_BUILD/daemon/kqfsd"
KQCTL="$KQFS_BUILD/client/kqctl/kqctl"
KQFS_SUPPORT="$(cd "$BATS_TEST_DIRNAME/../support" && pwd)"

# The suites start python3 hundreds of times. When python3 on PATH is a
# version manager's shim (pyenv: a shell script that looks the version up
# at every start, 0.2 to 2 s a call on a busy 2-core machine), the same
# interpreter is put first on PATH, found once per run.
kqfs_python_on_path() {
  local bin="$BATS_RUN_TMPDIR/kqfs-python-bin" exe
  if [ ! -x "$bin/python3" ]; then
    exe=$(command python3 -c 'import sys; print(sys.executable)') || return 0
    mkdir -p "$bin" && ln -sfn "$exe" "$bin/python3"
  fi
  case ":$PATH:" in *":$bin:"*) ;; *) export PATH="$bin:$PATH" ;; esac
}
kqfs_python_on_path

kqfs_setup() {
  # kq.py, and the kqfs package as built (client/python).
  export PYTHONPATH="$KQFS_SUPPORT:$KQFS_BUILD/client/python${PYTHONPATH:+:$PYTHONPATH}"
  export KQFSD_OUT="$BATS_TEST_TMPDIR/kqfsd.out"
  : >"$BATS_TEST_TMPDIR/mounts"
  BG_PIDS=()
}

kqfs_teardown() {
  local pid file m
  # The shared daemon resumes (a test may have stopped it with SIGSTOP).
  pid=$(kqfsd_pid)
  [ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null
  for pid in "${BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for file in "$BATS_TEST_TMPDIR"/*.pid; do
    [ -s "$file" ] && kill -KILL "$(cat "$file")" 2>/dev/null
  done
  local daemons
  daemons=$(our_daemons)
  for pid in $daemons; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $daemons; do
    wait_until 5 gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -f "$BATS_TEST_TMPDIR/mounts" ]; then
    while read -r m; do
      is_mounted "$m" && umount -l "$m"
    done <"$BATS_TEST_TMPDIR/mounts"
  fi
  return 0
}

setup() {
  kqfs_setup
}

teardown() {
  kqfs_teardown
}

one_kqfsd_per_file() {
  KQFSD_OPTIONS=("$@")
  setup_file() {
    start_kqfsd "${KQFSD_OPTIONS[@]}"
  }
  teardown_file() {
    stop_kqfsd
  }
}

# ------------------------------------------------------------------ kqfsd

# Starts kqfsd (extra arguments are passed on) and waits for the mount.
start_kqfsd() {
  export MNT
  MNT=$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/mnt.XXXXXX")
  export KQFS_LOG="$BATS_FILE_TMPDIR/kqfsd.log"
  "$KQFSD" --log "$KQFS_LOG" "$@" "$MNT"
  # Without -f kqfsd returns once the mount is ready.
  mountpoint -q "$MNT" || { cat "$KQFS_LOG" >&2; return 1; }
  export KQ="$MNT/kq"
}

# The pid of the kqfsd that start_kqfsd started.
kqfsd_pid() {
  [ -n "${KQFS_LOG:-}" ] || return 0
  pgrep -f "kqfsd --log $KQFS_LOG" | head -n1
}

stop_kqfsd() {
  [ -n "${MNT:-}" ] || return 0
  local pid
  pid=$(kqfsd_pid)
  if [ -n "$pid" ]; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  mountpoint -q "$MNT" && umount -l "$MNT"
  rmdir "$MNT" 2>/dev/null || true
  fail_on_sanitizer_reports "$KQFS_LOG"
}

# The daemon's stderr goes to its log: a sanitizer report there fails the suite.
fail_on_sanitizer_reports() {
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" 2>/dev/null; then
    echo "sanitizer report in $1:" >&2
    cat "$1" >&2
    return 1
  fi
}

# --------------------------------------------------------- queues, status

# A queue with a name unique to the test.
new_queue() {
  local name="q$BATS_TEST_NUMBER${1:-}"
  mkdir "$KQ/$name"
  echo "$KQ/$name"
}

# The value of one status field of queue directory $1.
status_field() {
  sed -n "s/^$2: //p" "$1/status"
}

# wait_status DIR FIELD VALUE [SECONDS]: waits (default 10 s) for status
# field FIELD of queue directory DIR to read VALUE; shows the status and
# fails if it never does.
wait_status() {
  local q=$1 field=$2 value=$3
  wait_until "${4:-10}" status_is "$q" "$field" "$value" && return 0
  echo "status $field never became $value:" >&2
  cat "$q/status" >&2
  return 1
}

status_is() {
  [ "$(status_field "$1" "$2")" = "$3" ]
}

# clone_with_knotes N: an anonymous queue (kq/clone-*, e.g. a `kqctl watch`'s)
# holds N knotes: for `wait_until 10 clone_with_knotes 1` before acting on
# what it watches.
clone_with_knotes() {
  grep -qsx "knotes: $1" "$KQ"/clone-*/status
}

# assert_last_error DIR [--partial|--regexp] TEXT: status field last-error
# of queue directory DIR, checked as assert_output checks (it sets output).
assert_last_error() {
  local q=$1
  shift
  run status_field "$q" last-error
  assert_output "$@"
}

# ------------------------------------------------------ waiting, processes

# Polls "$@" every 50 ms until it succeeds or $1 seconds pass.
wait_until() {
  local seconds=$1
  shift
  local tries=$((seconds * 20)) i
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  "$@"
}

# start_cat_reader FILE NAME SECONDS: a background `timeout SECONDS cat FILE`,
# its output in $BATS_TEST_TMPDIR/NAME.out and its exit status in NAME.rc.
start_cat_reader() {
  (
    timeout "$3" cat "$1" >"$BATS_TEST_TMPDIR/$2.out"
    echo $? >"$BATS_TEST_TMPDIR/$2.rc"
  ) 3>&- &
}

# assert_reader_got_eof NAME SECONDS: the start_cat_reader NAME ends within
# SECONDS with status 0 having read nothing, as on end of file.
assert_reader_got_eof() {
  wait_until "$2" test -s "$BATS_TEST_TMPDIR/$1.rc"
  assert_equal "$(cat "$BATS_TEST_TMPDIR/$1.rc")" 0
  assert_equal "$(stat -c %s "$BATS_TEST_TMPDIR/$1.out")" 0
}

# Runs "$@" as uid/gid 65534 with no supplementary groups.
as_nobody() {
  setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# ------------------------------------------------------------------ python

# python3 with tests/support/kq.py importable (kqfs_setup exports
# PYTHONPATH, so python3 run directly, under timeout or in the background,
# finds it too).
py() {
  python3 "$@"
}

# py_timeout SECONDS ARGS...: python3 killed after SECONDS.
py_timeout() {
  local seconds=$1
  shift
  timeout -k 3 "$seconds" python3 "$@"
}

# kq_python SECONDS PRELUDE [ARG...] <<'EOF' ...: py_timeout SECONDS runs
# PRELUDE and then the Python on stdin, with `from kq import *` done.
kq_python() {
  local seconds=$1 prelude=$2
  shift 2
  py_timeout "$seconds" -c "from kq import *
$prelude
$(cat)" "$@"
}

# queue_py SECONDS Q [ARG...] <<'EOF' ...: kq_python with q = Q (sys.argv[1],
# ARGs after it) and c, e = queue_files(q).
queue_py() {
  kq_python "$1" 'q = sys.argv[1]
c, e = queue_files(q)' "${@:2}"
}

# new_queue_py SECONDS [ARG...] <<'EOF' ...: queue_py on q, a new queue.
new_queue_py() {
  q=$(new_queue)
  queue_py "$1" "$q" "${@:2}"
}

# run_on_queue SECONDS Q [ARG...] <<'EOF' ...: under `run`, kq_python with
# q = Q, a queue directory (sys.argv[1], ARGs after it).
run_on_queue() {
  run kq_python "$1" 'q = sys.argv[1]' "${@:2}"
}

# run_queue_py SECONDS [ARG...] <<'EOF' ...: run_on_queue on q, a new queue.
run_queue_py() {
  q=$(new_queue)
  run_on_queue "$1" "$q" "${@:2}"
}

# run_writer [ARG...] <<'EOF' ...: under `run`, kq_python (60 s) as the
# writer of q, a new queue: q = Queue(sys.argv[1]) (ARGs after it).
run_writer() {
  q=$(new_queue)
  run kq_python 60 'q = Queue(sys.argv[1])' "$q" "$@"
}

# no_event Q: nothing is delivered on queue directory Q within 0.5 s.
no_event() {
  run timeout 0.5 head -n1 "$1/events"
  assert_failure 124
  assert_output ""
}

# wait_for_pidfile FILE: waits up to 10 s for a process to write its pid.
wait_for_pidfile() {
  wait_until 10 grep -qx '[0-9][0-9]*' "$1" 2>/dev/null && return 0
  echo "no pid in $1" >&2
  return 1
}

# outcome_of CALL PATH: calls os.CALL(PATH) in python (mkdir, rmdir, stat)
# and prints "ok" or the errno name it failed with.
outcome_of() {
  py -c 'import os, sys, kq; print(kq.outcome(getattr(os, sys.argv[1]), sys.argv[2]))' "$1" "$2"
}

# ------------------------------------- daemons a test starts for itself

# The kqfsd processes of this test: those whose command line names a path in
# this test's temporary directory (two process scans, whatever else runs).
our_daemons() {
  comm -12 <(pgrep -x kqfsd | sort) <(pgrep -f -- "$BATS_TEST_TMPDIR" | sort)
}

# The kqfsd process whose command line contains $1.
daemon_of() {
  local pid
  for pid in $(our_daemons); do
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$1" && echo "$pid"
  done
  return 0
}

is_mounted() {
  awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

not_mounted() {
  ! is_mounted "$1"
}

gone() {
  ! kill -0 "$1" 2>/dev/null
}

# Remembers $1 for teardown to unmount.
remember_mount() {
  echo "$1" >>"$BATS_TEST_TMPDIR/mounts"
}

# A fresh empty directory to mount on.
new_mount_point() {
  local m
  m=$(mktemp -d "$BATS_TEST_TMPDIR/mnt.XXXXXX")
  remember_mount "$m"
  echo "$m"
}

# Runs kqfsd "$@" until it returns, under `run`. Its output goes through a
# file: a daemon left running must not hold a pipe that `run` waits on.
kqfsd_run() {
  run timeout 30 bash -c '"$0" "$@" >"$KQFSD_OUT" 2>&1 3>&-; s=$?; cat "$KQFSD_OUT"; exit $s' \
    "$KQFSD" "$@"
}

# Mounts kqfsd --log LOG "$@" on a fresh mount point: sets M, KQ and LOG.
kqfsd_start() {
  M=$(new_mount_point)
  LOG="$M.log"
  KQ="$M/kq"
  kqfsd_run --log "$LOG" "$@" "$M"
  assert_success
  is_mounted "$M"
}

# kqfsd_start_without CAPABILITY[,CAPABILITY...] ARGS...: kqfsd_start as
# root without those capabilities (setpriv drops them from the bounding and
# inheritable sets, so the daemon never holds them), e.g. sys_ptrace.
kqfsd_start_without() {
  local dropped="-${1//,/,-}"
  shift
  M=$(new_mount_point)
  LOG="$M.log"
  KQ="$M/kq"
  run timeout 30 setpriv --inh-caps="$dropped" --bounding-set="$dropped" \
    "$KQFSD" --log "$LOG" "$@" "$M"
  assert_success
  is_mounted "$M"
}

# has_capability PID CAPABILITY-NUMBER: whether process PID's effective set
# holds it (CAP_SYS_PTRACE is 19, CAP_NET_ADMIN 12).
has_capability() {
  local effective
  effective=$(sed -n 's/^CapEff:\t//p' "/proc/$1/status")
  (((0x$effective >> $2) & 1))
}

# Stops the daemon of mount $1 with signal $2 (TERM) and checks it
# unmounted; $3 is a word of its command line (default: the mount point).
kqfsd_stop() {
  local pid
  pid=$(daemon_of "${3:-$1}")
  [ -n "$pid" ]
  kill "-${2:-TERM}" "$pid"
  wait_until 10 gone "$pid"
  not_mounted "$1"
}

# Opens kq/clone of $1 O_RDWR in python: "ok", or the errno name.
outcome_of_clone() {
  py -c 'import os, sys, kq; print(kq.outcome(os.open, sys.argv[1], os.O_RDWR))' "$1/clone"
}

# assert_mount_point_refused PATH: kqfsd on mount point PATH fails with a
# message naming it, mounts nothing and leaves no daemon running.
assert_mount_point_refused() {
  local m=$1
  remember_mount "$m"
  kqfsd_run "$m"
  assert_failure
  assert_output --partial "$m"
  not_mounted "$m"
  wait_until 5 test -z "$(our_daemons)"
}
