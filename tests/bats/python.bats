#!/usr/bin/env bats
# The Python package (client/python): its unittest suites, through the
# package in the build tree, against a kqfsd mounted for this file. A
# failure, an error or a skipped test fails the suite.

load mount_helpers
one_kqfsd_per_file

# python_suite MODULE: runs client/python/tests/MODULE.py with unittest.
python_suite() {
  cd "$BATS_TEST_DIRNAME/../../client/python/tests"
  KQFS_MOUNT=$MNT run timeout -k 5 240 python3 -m unittest -v "$1"
  assert_success
  assert_line --regexp '^OK$'
  refute_output --partial "skipped"
}

@test "python: the constants are the C headers' and the names the daemon's" {
  python_suite test_constants
}

@test "python: kqfs.Queue, named and anonymous, in the three formats, with asyncio" {
  python_suite test_queue
}

@test "python: kqfs.select behaves as BSD Python's select.kqueue and select.kevent" {
  python_suite test_select
}
