#!/usr/bin/env bats
# The npm package kqfs (client/node, docs/node.md): its node:test suites
# against a kqfsd mounted for this file, and its tarball from `npm pack`
# installed offline and used.

bats_require_minimum_version 1.5.0

load mount_helpers
one_kqfsd_per_file

PACKAGE="$KQFS_BUILD/client/node/kqfs"
TESTS="$BATS_TEST_DIRNAME/../../client/node/test"

# node --test on the suite $1 (client/node/test/$1.test.js), the package
# from the build tree; the runner exits non-zero when any test fails.
node_suite() {
  KQFS_MOUNT=$MNT NODE_PATH="$KQFS_BUILD/client/node" \
    run timeout -k 5 240 node --test --test-reporter=tap "$TESTS/$1.test.js"
  echo "$output"
  assert_success
  # Every test ran and passed: none skipped, none left as todo.
  assert_line --regexp '^# pass [1-9][0-9]*$'
  assert_line '# fail 0'
  assert_line '# skipped 0'
  assert_line '# todo 0'
  assert_equal "$(ls "$KQ")" clone
}

@test "node: constants equal the C header's" {
  node_suite constants
}

@test "node: names both ways, as the daemon writes and reads them" {
  node_suite names
}

@test "node: queues, events, BigInt fields and errors through the mount" {
  node_suite queue
}

@test "node: readers never hold the thread pool; closed queues let the process exit" {
  node_suite threads
}

@test "node: the package is found from the build tree with NODE_PATH" {
  cd "$BATS_TEST_TMPDIR"
  NODE_PATH="$KQFS_BUILD/client/node" run node -p 'require("kqfs").EVFILT_USER'
  assert_success
  assert_output -11
  [ -f "$PACKAGE/constants.js" ]
}

@test "node: npm pack makes a tarball that installs offline and runs" {
  local tarballs="$BATS_TEST_TMPDIR/tarballs" app="$BATS_TEST_TMPDIR/app"
  mkdir -p "$tarballs" "$app"
  run npm pack --silent --pack-destination "$tarballs" "$PACKAGE"
  assert_success
  local tarball
  tarball=$(ls "$tarballs"/kqfs-*.tgz)
  # Everything the package needs is in it, the generated constants too.
  run tar -tzf "$tarball"
  assert_success
  assert_line package/constants.js
  assert_line package/reader.js
  assert_line package/package.json
  cd "$app"
  echo '{"name": "app", "version": "1.0.0", "private": true}' >package.json
  run npm install --offline --no-audit --no-fund "$tarball"
  assert_success
  [ -f node_modules/kqfs/constants.js ]
  KQFS_MOUNT=$MNT run timeout 20 node -e '
    const kqfs = require("kqfs");
    if (!require.resolve("kqfs").startsWith(process.cwd())) throw new Error("not the installed copy");
    (async () => {
      const queue = new kqfs.Queue();
      queue.change({ ident: 1, filter: "timer", flags: "add|oneshot", data: 10, udata: 18446744073709551615n });
      for await (const event of queue) { console.log(kqfs.formatEvent(event)); break; }
      await queue.close();
    })();'
  assert_success
  assert_output "1 EVFILT_TIMER EV_ADD|EV_ONESHOT|EV_CLEAR 0 1 18446744073709551615"
}
