#!/usr/bin/env bats
# The Debian packages (debian/), as an administrator gets them: built from a
# clean copy of the source tree with dpkg-buildpackage, checked by lintian,
# installed with apt on this machine, used (the installed /usr/sbin/kqfsd,
# kqctl, man, the Python package, a C program on pkg-config), then purged.
# The tests run in order and each needs the one before. teardown_file purges
# whatever was installed, so a failure halfway leaves the machine as it was.
# Runs in the plain build variant only (tests/meson.build says why).

load mount_helpers

# The daemon of every test is the installed one (kqfsd_start; the
# standard teardown stops it).
KQFSD=/usr/sbin/kqfsd

PACKAGES=(kqfs libkqfs-client0 libkqfs-client-dev python3-kqfs node-kqfs)

setup_file() {
  # The build goes in a directory of its own under the build tree, the same
  # every run, so that ccache hits when nothing changed.
  export WORK="$KQFS_BUILD/debian-package"
  export SRC="$WORK/kqfs"
  # Packages of this name installed before the suite are not ours to purge.
  local package
  for package in "${PACKAGES[@]}"; do
    if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed'; then
      echo "$package is installed already: the suite would replace it" >&2
      return 1
    fi
  done
}

teardown_file() {
  local installed=() package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed\|config-files' &&
      installed+=("$package")
  done
  if ((${#installed[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${installed[@]}" >/dev/null
  fi
  return 0
}

@test "dpkg-buildpackage -b -us -uc builds the five packages from a clean copy of the source tree" {
  rm -rf "$WORK"
  mkdir -p "$SRC"
  # The tracked and new files of the source tree as they are now (a build
  # directory is no part of it: .gitignore).
  (cd "$BATS_TEST_DIRNAME/../.." &&
    git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [[ -e $file ]] && printf '%s\0' "$file"; done |
      tar --null -T - -cf -) | tar -xf - -C "$SRC"
  [ -x "$SRC/debian/rules" ]
  [ ! -e "$SRC/build" ]
  cd "$SRC"
  # debhelper gives the build a HOME of its own: ccache's cache is named.
  # parallel=2: the machine has two cores; the tests are off (debian/rules).
  CCACHE_DIR=$(ccache -k cache_dir) CCACHE_NOHASHDIR=1 DEB_BUILD_OPTIONS=parallel=2 \
    run dpkg-buildpackage -b -us -uc
  [ "$status" -eq 0 ] || { echo "$output" | tail -n 60; return 1; }
  cd "$WORK"
  for package in kqfs libkqfs-client0 libkqfs-client-dev; do
    [ -f "$(echo "${package}"_*_"$(dpkg --print-architecture)".deb)" ]
  done
  [ -f "$(echo python3-kqfs_*_all.deb)" ]
  [ -f "$(echo node-kqfs_*_all.deb)" ]
}

@test "lintian finds no error in the packages" {
  cd "$WORK"
  run lintian --fail-on error ./*.changes
  echo "$output"
  assert_success
  refute_line --regexp '^E: '
}

@test "each package holds what it should: kqfsd in /usr/sbin, its units, the library, headers, Python and Node packages" {
  cd "$WORK"
  run dpkg-deb -c kqfs_*.deb
  assert_line --regexp ' \./usr/sbin/kqfsd$'
  assert_line --regexp ' \./usr/bin/kqctl$'
  assert_line --regexp ' \./usr/share/man/man8/kqfsd\.8\.gz$'
  assert_line --regexp ' \./usr/share/bash-completion/completions/kqctl$'
  assert_line --regexp ' \./usr/share/doc/kqfs/examples/c/bsd_kqueue\.c$'
  assert_line --regexp ' \./lib/systemd/system/kqfsd\.service$'
  assert_line --regexp ' \./usr/lib/systemd/user/kqfsd\.service$'
  refute_output --partial './usr/bin/kqfsd'
  run dpkg-deb -c libkqfs-client0_*.deb
  assert_line --regexp '/libkqfs-client\.so\.0 -> '
  refute_output --partial '.pc'
  run dpkg-deb -c libkqfs-client-dev_*.deb
  assert_line --regexp ' \./usr/include/kqfs/sys/event\.h$'
  assert_line --regexp '/pkgconfig/kqfs-client\.pc$'
  assert_line --regexp '/libkqfs-client\.a$'
  assert_line --regexp ' \./usr/share/man/man3/kqfs-client\.3\.gz$'
  run dpkg-deb -c python3-kqfs_*.deb
  assert_line --regexp ' \./usr/lib/python3/dist-packages/kqfs/__init__\.py$'
  run dpkg-deb -c node-kqfs_*.deb
  assert_line --regexp ' \./usr/share/nodejs/kqfs/package\.json$'
  run dpkg-deb -f kqfs_*.deb Depends
  assert_output --regexp '(^|, )fuse3(,|$)'
}

@test "apt-get installs the packages" {
  cd "$WORK"
  DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq ./kqfs_*.deb ./libkqfs-client0_*.deb \
    ./libkqfs-client-dev_*.deb ./python3-kqfs_*.deb ./node-kqfs_*.deb
  assert_success
  for package in "${PACKAGES[@]}"; do
    run dpkg-query -W -f='${Status}' "$package"
    assert_output "install ok installed"
  done
}

@test "the installed /usr/sbin/kqfsd mounts, and the installed kqctl makes a queue, registers a timer and reads its event" {
  kqfsd_start
  run daemon_of "$M"
  assert_success
  [ "$(readlink "/proc/$output/exe")" = /usr/sbin/kqfsd ]
  run /usr/bin/kqctl --mount "$M" create demo
  assert_success
  run /usr/bin/kqctl --mount "$M" add demo '1 timer add 0 100 7'
  assert_success
  run timeout 10 /usr/bin/kqctl --mount "$M" wait demo -n 1 -t 5
  assert_success
  assert_output "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"
  run timeout 10 /usr/bin/kqctl --mount "$M" wait demo -n 1 -t 5
  assert_success
  assert_output "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"
  run /usr/bin/kqctl --mount "$M" remove demo
  assert_success
}

# The packages' service under a real systemd: this machine's /usr (with the
# packages in it) and /etc (where the package enabled kqfsd.service, under
# an overlay that keeps the container's changes), booted by systemd-nspawn
# with systemd as PID 1. A oneshot unit ordered after kqfsd.service runs
# tests/support/booted_service_check.sh there and powers the container off;
# its lines come back through a bound directory.
@test "booted with systemd as PID 1, the installed kqfsd.service starts enabled, is ready, serves root and another user, and the user unit works under systemctl --user" {
  local box="$BATS_TEST_TMPDIR/box" check_uid=4242
  mkdir -p "$box/etc/systemd/system/multi-user.target.wants" "$box/check" "$box/dev"
  cp "$KQFS_SUPPORT/booted_service_check.sh" "$box/check/"
  printf '%s\n' '[Unit]' 'Description=kqfs: the booted service, checked' \
    'After=kqfsd.service' 'SuccessAction=poweroff' 'FailureAction=poweroff' '[Service]' \
    'Type=oneshot' "ExecStart=/bin/bash /kqfs-check/booted_service_check.sh $check_uid" \
    'StandardOutput=file:/kqfs-check/output' 'StandardError=file:/kqfs-check/journal' \
    >"$box/etc/systemd/system/kqfs-check.service"
  ln -s ../kqfs-check.service "$box/etc/systemd/system/multi-user.target.wants/"
  # No udev in a container: /dev/fuse with the mode udev gives it (0666),
  # on a tmpfs of our own so that the node opens wherever the test runs.
  mount -t tmpfs -o mode=0755,size=64k kqfs-dev "$box/dev"
  echo "$box/dev" >>"$BATS_TEST_TMPDIR/mounts"  # the standard teardown's to undo
  mknod -m 0666 "$box/dev/fuse" c 10 229
  # script: a pseudo-terminal for the container's console. Every capability,
  # as systemd has on a machine it boots.
  run timeout 180 script -qec "systemd-nspawn --quiet --directory=/ --volatile=yes \
    --register=no --keep-unit --machine=kqfs-check-$BASHPID --capability=all \
    --bind=$box/dev/fuse:/dev/fuse --overlay=/etc:$box/etc:/etc \
    --bind=$box/check:/kqfs-check --boot" /dev/null
  umount "$box/dev"
  [ "$status" -eq 0 ] && [ -f "$box/check/output" ] || { echo "$output" | tail -n 40; return 1; }
  cat "$box/check/output" "$box/check/journal"
  run cat "$box/check/output"
  # The package enabled it, the boot started it, READY=1 made it active.
  assert_line "system.enabled: enabled"
  assert_line "system.active: active"
  assert_line "system.Type: notify"
  assert_line "system.SubState: running"
  assert_line "system.NRestarts: 0"
  assert_line "system.status-text: serving /run/kqfs"
  assert_line "system.exe: /usr/sbin/kqfsd"
  assert_line --regexp '^system\.mount: fuse\.kqfs .* allow_other( |$)'
  assert_line --regexp '^system\.mount-status-version: version: [0-9]'
  # The demo as root, and a process's exit (NOTE_EXIT, status 3).
  assert_line "root.timer: 1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"
  assert_line "root.proc: EVFILT_PROC EV_ADD|EV_ONESHOT|EV_CLEAR|EV_EOF NOTE_EXIT 768 0"
  # Another user: queues of its own on the shared mount, none of root's.
  assert_line "user.timer: 2 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 8"
  assert_line --regexp '^user\.reads-root-events: .*Permission denied'
  # The unit's hardening takes no feature away: a kqfsd started outside it,
  # in the same container, has the same ones. In a container the kernel's
  # process-events connector is out of reach, and the status says so.
  local service plain
  service=$(grep '^features.service-yes: ' <<<"$output" | cut -d' ' -f2-)
  plain=$(grep '^features.plain-yes: ' <<<"$output" | cut -d' ' -f2-)
  [ -n "$plain" ] && [ "$service" = "$plain" ]
  assert_line --regexp '^features\.proc-connector: no \(.*PID namespace of its own'
  # systemctl stop: SIGTERM unmounts and the service ends in success.
  assert_line "system.result: success"
  assert_line "system.exit-status: 0"
  assert_line "system.unmounted: yes"
  # The user unit, under user@4242's manager, at $XDG_RUNTIME_DIR/kqfs.
  assert_line "user-unit.start: started"
  assert_line "user-unit.active: active"
  assert_line "user-unit.mount: fuse.kqfs"
  assert_line "user-unit.timer: 3 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 9"
  assert_line "user-unit.stopped: success"
  assert_line "user-unit.unmounted: yes"
  assert_line "done: yes"
}

@test "man finds the installed pages and opens them" {
  local section name
  for page in 8:kqfsd 1:kqctl 5:kqfs 3:kqfs-client; do
    section=${page%%:*} name=${page#*:}
    run man -w "$section" "$name"
    assert_success
    assert_output --regexp "^/usr/share/man/man$section/$name\.$section\.gz$"
    MANPAGER=cat run man "$section" "$name"
    assert_success
    assert_line --index 0 --regexp "^$name\($section\) "
    assert_line "NAME"
    assert_line --regexp '^ +[a-z].* - [A-Za-z]'  # NAME's line: what it is
  done
}

@test "the bash completion is where bash-completion loads it from, and completes kqctl" {
  run bash -c 'source /usr/share/bash-completion/completions/kqctl
    COMP_WORDS=(kqctl wa); COMP_CWORD=1; _kqctl; echo "${COMPREPLY[*]}"'
  assert_success
  assert_output "wait watch"
}

@test "/usr/bin/python3 imports the installed kqfs package with no PYTHONPATH, and it works" {
  kqfsd_start
  cd "$BATS_TEST_TMPDIR"
  KQFS_MOUNT=$M run env -u PYTHONPATH /usr/bin/python3 -c '
import kqfs
from kqfs import select
print(kqfs.__file__)
kq = select.kqueue()
kq.control([select.kevent(1, select.KQ_FILTER_TIMER, select.KQ_EV_ADD, data=10)], 0)
print(kq.control(None, 1)[0].ident)'
  assert_success
  assert_line --index 0 /usr/lib/python3/dist-packages/kqfs/__init__.py
  assert_line --index 1 1
}

# Debian's nodejs looks for global modules in /usr/share/nodejs; another
# node (nodejs.org's, NodeSource's) does not, so the module is named by path.
@test "the installed Node module loads from /usr/share/nodejs and triggers a user event" {
  kqfsd_start
  cd "$BATS_TEST_TMPDIR"
  KQFS_MOUNT=$M run timeout 20 node -e '
    const kqfs = require("/usr/share/nodejs/kqfs");
    (async () => {
      const queue = new kqfs.Queue();
      queue.change({ ident: 3, filter: "user", flags: "add|clear" }, { ident: 3, filter: "user", fflags: "trigger" });
      for await (const event of queue) { console.log(kqfs.formatEvent(event)); break; }
      await queue.close();
    })();'
  assert_success
  assert_output "3 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0"
}

@test "a C program built with pkg-config --cflags --libs kqfs-client runs against the installed kqfsd" {
  kqfsd_start
  run pkg-config --cflags --libs kqfs-client
  assert_success
  assert_output --partial "-I/usr/include/kqfs"
  run cc -Wall -Werror -o "$BATS_TEST_TMPDIR/bsd" "$BATS_TEST_DIRNAME/../../examples/c/bsd_kqueue.c" \
    $(pkg-config --cflags --libs kqfs-client)
  assert_success
  run ldd "$BATS_TEST_TMPDIR/bsd"
  assert_output --regexp 'libkqfs-client\.so\.0 => (/usr)?/lib/'
  KQFS_MOUNT=$M run timeout 10 "$BATS_TEST_TMPDIR/bsd"
  assert_success
  assert_line --index 0 "timer 1 fired (1 expirations)"
}

@test "apt-get purge removes the packages and leaves nothing of them" {
  DEBIAN_FRONTEND=noninteractive run apt-get purge -y -qq "${PACKAGES[@]}"
  assert_success
  for package in "${PACKAGES[@]}"; do
    run dpkg -L "$package"
    assert_failure
    run dpkg-query -W -f='${Status}' "$package"
    refute_output --partial installed
  done
  [ ! -e /usr/sbin/kqfsd ]
  [ ! -e /usr/bin/kqctl ]
  [ ! -e /usr/lib/python3/dist-packages/kqfs ]
  [ ! -e /usr/share/nodejs/kqfs ]
  [ ! -e /usr/include/kqfs ]
  [ ! -e /usr/share/doc/kqfs ]
  run man -w 8 kqfsd
  assert_failure
}
