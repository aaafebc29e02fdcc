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

@test "the installed <sys/event.h> is plain C99: it compiles alone, pedantic, with no warning" {
  printf '#include <sys/event.h>\nint main(void) { struct kevent k; EV_SET(&k, 1, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 1, 0); return sizeof k == 32 ? 0 : 1; }\n' \
    >"$BATS_TEST_TMPDIR/header.c"
  run cc -std=c99 -pedantic -Wall -Wextra -Werror $(pkg --cflags) -c "$BATS_TEST_TMPDIR/header.c" \
    -o "$BATS_TEST_TMPDIR/header.o"
  assert_success
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
