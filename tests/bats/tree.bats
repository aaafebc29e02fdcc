#!/usr/bin/env bats
# The mounted tree: names, errors, ownership, lifetimes.

setup_file() {
  load mount_helpers
  start_kqfsd
}

teardown_file() {
  load mount_helpers
  stop_kqfsd
}

setup() {
  load mount_helpers
}

@test "the root holds kq/, and kq/ holds clone" {
  run ls "$MNT"
  assert_output "kq"
  run ls "$KQ"
  assert_output "clone"
}

@test "mkdir makes a queue with every file" {
  mkdir "$KQ/alpha"
  run ls "$KQ/alpha"
  assert_output "$(printf '%s\n' changes changes.bin changes.json events events.bin events.json status)"
}
