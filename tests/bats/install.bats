#!/usr/bin/env bats
# The installed client: a BSD kqueue program builds unchanged against the
# header and libraries meson installs, and runs on a live mount.

load mount_helpers

setup_file() {
  start_kqfsd
  export ROOT="$BATS_FILE_TMPDIR/root"
  meson install -C "$KQFS_BUILD" --destdir "$ROOT" --no-rebuild --quiet >/dev/null
  PKG_CONFIG_PATH=$(dirname "$(find "$ROOT" -name kqfs-client.pc)")
  export PKG_CONFIG_PATH
  export PROGRAM="$BATS_TEST_DIRNAME/../../examples/c/bsd_kqueue.c"
}

# In a sanitizer build the installed library is instrumented, so the program
# that links it must be too.
sanitize_flags() {
  case "${KQFS_SANITIZE:-none}" in
    none | '') ;;
    *) echo "-fsanitize=$KQFS_SANITIZE" ;;
  esac
}

teardown_file() {
  stop_kqfsd
}

# The .pc file names the configured prefix; the install went under $ROOT.
pkg() {
  local prefix
  prefix=$(pkg-config --variable=prefix kqfs-client)
  pkg-config --define-variable=prefix="$ROOT$prefix" "$@" kqfs-client
}

assert_program_output() {
  assert_success
  assert_line --index 0 "timer 1 fired (1 expirations)"
  assert_line --index 1 "pipe readable: 5 bytes"
  assert_line --index 3 "user event 2 triggered (fflags 0x2a)"
  assert_equal "${#lines[@]}" 5
}

@test "pkg-config describes the installed client library" {
  run pkg --cflags --libs
  assert_success
  assert_output --regexp "-I$ROOT/.*/include/kqfs"
  assert_output --partial "-lkqfs-client"
}

# header_program CONSTANTS: a BSD program on <sys/event.h> alone, struct
# kevent and EV_SET with every EVFILT_*, EV_* and NOTE_* constant that
# CONSTANTS (the kqfs/constants.h beside that <sys/event.h>) defines, each in
# the field a BSD program puts it in, and calls to kqueue(), kqueuex() and
# kevent(). Made from the header, so a constant added there is compiled too.
header_program() {
  local constants=$1
  [[ -f $constants ]] || return 1
  {
    echo '#include <sys/event.h>'
    echo 'int main(void) {'
    echo '  struct kevent k;'
    sed -n -E \
      -e 's/^#define (EVFILT_[A-Z0-9_]+) .*/  EV_SET(\&k, 1, \1, EV_ADD, 0, 0, 0);/p' \
      -e 's/^#define (EV_[A-Z0-9_]+) .*/  EV_SET(\&k, 1, EVFILT_READ, \1, 0, 0, 0);/p' \
      -e 's/^#define (NOTE_[A-Z0-9_]+) .*/  EV_SET(\&k, 1, EVFILT_VNODE, EV_ADD, \1, 0, \&k);/p' \
      "$constants"
    echo '  if (k.ident == 2) return kevent(kqueue() + kqueuex(KQUEUE_CLOEXEC), &k, 1, &k, 1, 0);'
    echo '  return sizeof k == 32 && LIBKQFS ? 0 : 1;'
    echo '}'
  } >"$BATS_TEST_TMPDIR/header.c"
  # Every constant made it in.
  [[ $(grep -c EV_SET "$BATS_TEST_TMPDIR/header.c") -eq $(grep -cE '^#define (EVFILT|EV|NOTE)_' "$constants") ]]
}

@test "the installed <sys/event.h> is plain C99: a program using every constant compiles, pedantic, with no warning" {
  header_program "$(pkg --variable=includedir)/kqfs/kqfs/constants.h"
  run cc -std=c99 -pedantic -Wall -Wextra -Werror $(pkg --cflags) -c "$BATS_TEST_TMPDIR/header.c" \
    -o "$BATS_TEST_TMPDIR/header.o"
  assert_success
  assert_output ""
}

@test "the source tree's <sys/event.h> is the same: cc -std=c99 -pedantic ... -I client/include" {
  cd "$BATS_TEST_DIRNAME/../.."
  header_program client/include/kqfs/constants.h
  run cc -std=c99 -pedantic -Wall -Wextra -Werror -I client/include -c "$BATS_TEST_TMPDIR/header.c" \
    -o "$BATS_TEST_TMPDIR/header.o"
  assert_success
  assert_output ""
}

@test "a BSD kqueue program builds unchanged against the installed shared library and runs" {
  run cc -Wall -Werror $(sanitize_flags) -o "$BATS_TEST_TMPDIR/bsd" "$PROGRAM" $(pkg --cflags --libs) \
    -Wl,-rpath,"$(pkg --variable=libdir)"
  assert_success
  KQFS_MOUNT=$MNT run timeout 10 "$BATS_TEST_TMPDIR/bsd"
  assert_program_output
}

@test "a BSD kqueue program builds against the installed static library and runs" {
  run cc -Wall -Werror $(sanitize_flags) -o "$BATS_TEST_TMPDIR/bsd-static" "$PROGRAM" $(pkg --cflags) \
    "$(pkg --variable=libdir)/libkqfs-client.a" -lstdc++
  assert_success
  run ldd "$BATS_TEST_TMPDIR/bsd-static"
  refute_output --partial "kqfs-client"
  KQFS_MOUNT=$MNT run timeout 10 "$BATS_TEST_TMPDIR/bsd-static"
  assert_program_output
}

# pkg-config --static names what the C++ inside the archive needs (README.md).
# A sanitizer runtime cannot go into a static executable: a sanitized build
# links the archive alone with those flags instead.
@test "a BSD kqueue program links fully static with pkg-config --static and no other flag, and runs" {
  local program="$BATS_TEST_TMPDIR/bsd-all-static" archive libs
  if [[ -z $(sanitize_flags) ]]; then
    run cc -static -Wall -Werror -o "$program" "$PROGRAM" $(pkg --static --cflags --libs)
    assert_success
    run ldd "$program"
    assert_output --partial "not a dynamic executable"
  else
    archive="$(pkg --variable=libdir)/libkqfs-client.a"
    libs=$(pkg --static --libs | sed "s|-lkqfs-client|$archive|")
    run cc $(sanitize_flags) -Wall -Werror -o "$program" "$PROGRAM" $(pkg --cflags) $libs
    assert_success
    run ldd "$program"
    refute_output --partial "kqfs-client"
  fi
  KQFS_MOUNT=$MNT run timeout 10 "$program"
  assert_program_output
}

# The Python package goes where the python3 on PATH imports from
# (docs/python.md): a real install needs no PYTHONPATH. Here, under $ROOT,
# the installed directory must be one of that python3's sys.path entries.
@test "the installed Python package is on the sys.path of the python3 on PATH, and works" {
  local init site
  init=$(find "$ROOT" -path '*/kqfs/__init__.py')
  [[ -n $init && $(wc -l <<<"$init") -eq 1 ]]
  [ -f "$(dirname "$init")/_constants.py" ]
  site=$(dirname "$(dirname "$init")")
  run env -u PYTHONPATH python3 -c 'import sys; print("\n".join(sys.path))'
  assert_line "${site#"$ROOT"}"
  PYTHONPATH=$site KQFS_MOUNT=$MNT run python3 -c '
import kqfs
from kqfs import select
print(kqfs.__file__)
kq = select.kqueue()
kq.control([select.kevent(1, select.KQ_FILTER_TIMER, select.KQ_EV_ADD, data=10)], 0)
print(kqfs.Event(*[getattr(kq.control(None, 1)[0], f) for f in kqfs.Event._fields]))'
  assert_success
  assert_line --index 0 "$init"
  assert_line --index 1 "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 0"
}

# The Node package goes where the node found at configure time looks for
# global modules (docs/node.md), so require("kqfs") needs no NODE_PATH.
@test "meson install puts the Node package in one of node's global folders, and it runs" {
  local package
  package=$(dirname "$(find "$ROOT" -path '*/kqfs/package.json' -print -quit)")
  [ -f "$package/constants.js" ]
  run node -e 'console.log(require("module").globalPaths.join("\n"))'
  assert_line "$(dirname "${package#"$ROOT"}")"
  cd "$BATS_TEST_TMPDIR"
  NODE_PATH=$(dirname "$package") KQFS_MOUNT=$MNT run timeout 20 node -e '
    const kqfs = require("kqfs");
    (async () => {
      const queue = new kqfs.Queue();
      queue.change({ ident: 3, filter: "user", flags: "add|clear" }, { ident: 3, filter: "user", fflags: "trigger" });
      for await (const event of queue) { console.log(require.resolve("kqfs"), kqfs.formatEvent(event)); break; }
      await queue.close();
    })();'
  assert_success
  assert_output "$package/index.js 3 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
}

# The installed prefix, under $ROOT.
installed_prefix() {
  echo "$ROOT$(meson introspect --buildoptions "$KQFS_BUILD" |
    python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')"
}

@test "meson install puts the daemon kqfsd in sbin/, not bin/, and kqctl in bin/" {
  local prefix
  prefix=$(installed_prefix)
  [ -x "$prefix/sbin/kqfsd" ]
  [ ! -e "$prefix/bin/kqfsd" ]
  [ -x "$prefix/bin/kqctl" ]
  run "$prefix/sbin/kqfsd" --version
  assert_success
  assert_output --partial kqfsd
}

@test "meson install puts README.md, every docs/*.md and every example under share/doc/kqfs" {
  local doc source file
  doc="$(installed_prefix)/share/doc/kqfs"
  source="$BATS_TEST_DIRNAME/../.."
  cmp "$source/README.md" "$doc/README.md"
  for file in "$source"/docs/*.md; do
    cmp "$file" "$doc/$(basename "$file")"
  done
  run bash -c "cd '$source/examples' && find . -type f ! -name meson.build | sort"
  local examples=$output
  [ -n "$examples" ]
  run bash -c "cd '$doc/examples' && find . -type f | sort"
  assert_output "$examples"
}

# complete WORD...: sources the installed completion in a bash of its own
# (the kqctl on PATH is the build's) and prints COMPREPLY for the command
# line WORD... whose last word is being completed.
complete_kqctl() {
  local script
  script=$(find "$ROOT" -path '*/bash-completion/completions/kqctl')
  [[ -n $script && $(wc -l <<<"$script") -eq 1 ]] || return 1
  PATH="$KQFS_BUILD/client/kqctl:$PATH" bash -c '
    source "$0"
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kqctl
    printf "%s\n" "${COMPREPLY[@]}" | sort' "$script" "$@"
}

@test "the bash completion goes where bash-completion looks: share/bash-completion/completions/kqctl" {
  [ -f "$(installed_prefix)/share/bash-completion/completions/kqctl" ]
  run bash -n "$(installed_prefix)/share/bash-completion/completions/kqctl"
  assert_success
}

@test "the completion completes kqctl's commands and global options" {
  run complete_kqctl kqctl wa
  assert_success
  assert_output $'wait\nwatch'
  run complete_kqctl kqctl ''
  assert_output "$(
    "$KQCTL" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' | sort)"
  run complete_kqctl kqctl --v
  assert_output "--version"
}

@test "the completion offers the queues of the mount for a command taking NAME, not for create" {
  mkdir "$MNT/kq/completion-one" "$MNT/kq/completion-two"
  KQFS_MOUNT=$MNT run complete_kqctl kqctl wait ''
  assert_success
  assert_output "$(KQFS_MOUNT=$MNT "$KQCTL" list | sort)"
  assert_line completion-one
  assert_line completion-two
  # --mount given on the command line, before the command or after it.
  KQFS_MOUNT=/nonexistent run complete_kqctl kqctl --mount "$MNT" status completion-t
  assert_output completion-two
  KQFS_MOUNT=/nonexistent run complete_kqctl kqctl trigger --mount "$MNT" comp
  assert_output $'completion-one\ncompletion-two'
  # A second operand is no queue; create takes a new name.
  KQFS_MOUNT=$MNT run complete_kqctl kqctl wait completion-one ''
  assert_output ""
  KQFS_MOUNT=$MNT run complete_kqctl kqctl create ''
  assert_output ""
  rmdir "$MNT/kq/completion-one" "$MNT/kq/completion-two"
}

@test "the completion offers the formats after convert --from and --to" {
  run complete_kqctl kqctl convert --from ''
  assert_output $'bin\njson\ntext'
  run complete_kqctl kqctl convert --from text --to j
  assert_output json
}

# Each command's options as `kqctl COMMAND --help` lists them, and as the
# completion offers them after `kqctl COMMAND -`: the same.
@test "the completion offers each command's options, the ones its --help lists" {
  local kqctl="$KQCTL" command
  for command in $("$kqctl" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p'); do
    run complete_kqctl kqctl "$command" -
    local offered=$output
    run bash -c "'$kqctl' $command --help | grep -oE '^  +(-[a-zA-Z] \[ --[a-z-]+ \]|--[a-z-]+)' |
      tr -d '[]' | tr ' ' '\n' | grep . | sort"
    [ "$offered" = "$output" ] || { echo "$command: offered [$offered], --help [$output]"; return 1; }
  done
}
