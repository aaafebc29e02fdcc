// What the package's tests share. They run against a live mount named by
// KQFS_MOUNT (tests/bats/node.bats mounts one) with the built package on
// NODE_PATH; KQFS_BUILD names the build directory (kqctl).
'use strict';

const assert = require('assert');
const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const MOUNT = process.env.KQFS_MOUNT;
if (!MOUNT || !fs.existsSync(path.join(MOUNT, 'kq', 'clone'))) {
  throw new Error(`KQFS_MOUNT (${MOUNT}) must name a live kqfs mount`);
}
const BUILD = process.env.KQFS_BUILD;
const SOURCE = path.resolve(__dirname, '..', '..', '..');

let counter = 0;
/** A queue name unique to this process and call. */
function uniqueName(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** A temporary directory, removed when the process exits. */
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kqfs-node-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `promise`, or a rejection after `ms` milliseconds. */
function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The next event of `iterator`, failing after `ms`. */
async function nextEvent(iterator, ms = 5000) {
  const result = await within(ms, iterator.next(), 'next event');
  assert.strictEqual(result.done, false, 'the iteration ended');
  return result.value;
}

/** Polls `check` every 10 ms until it is true, failing after `ms`. */
async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `program` (a path) with node and the test's environment. */
function runNode(args, options = {}) {
  return childProcess.spawnSync(process.execPath, args, {
    encoding: 'utf8', timeout: 20000, env: process.env, ...options,
  });
}

/** kqctl convert --from FROM --to TO on `input`. */
function convert(from, to, input) {
  const kqctl = path.join(BUILD, 'client', 'kqctl', 'kqctl');
  return childProcess.spawnSync(kqctl, ['convert', '--from', from, '--to', to],
                                { input, encoding: to === 'bin' ? undefined : 'utf8' });
}

/** A FIFO opened read-write (a pipe of this process) and a writer of it. */
function fifo(dir) {
  const file = path.join(dir, `fifo-${++counter}`);
  childProcess.execFileSync('mkfifo', [file]);
  const reader = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const writer = fs.openSync(file, 'w');
  return { reader, writer };
}

module.exports = { MOUNT, BUILD, SOURCE, uniqueName, tempDir, within, nextEvent, until, runNode, convert, fifo };
