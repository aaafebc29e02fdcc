// The reader of one Queue: a worker thread of its own that blocks in
// read(2) on the queue's binary events handle, so that no thread of
// libuv's pool waits on kqfs. It reads only when the main thread asks
// (control[WANT] set), posts what it read, and stops when the main thread
// sets control[STOP], or when it reads the queue's wake-up knote (an
// EVFILT_USER knote on a reserved ident, triggered by Queue.close() to end
// a read that would otherwise block for ever), or at end of file.
'use strict';

const fs = require('fs');
const { parentPort, workerData } = require('worker_threads');

const { fd, control, wakeIdent, reservedTag, userFilter, recordSize, batch } = workerData;
const WANT = 0;
const STOP = 1;
const flags = new Int32Array(control);
const buffer = Buffer.alloc(batch * recordSize);

// The records of buffer[0, length) that are the user's: every EVFILT_USER
// event on a reserved ident is dropped (this queue's wake-up, or another
// process's sharing a named queue). Says whether ours was among them.
function userRecords(length) {
  const kept = [];
  let woken = false;
  for (let at = 0; at + recordSize <= length; at += recordSize) {
    const ident = buffer.readBigUInt64LE(at);
    if (buffer.readInt16LE(at + 8) === userFilter && ident >> 48n === reservedTag) {
      if (ident === wakeIdent) woken = true;
      continue;
    }
    kept.push(buffer.subarray(at, at + recordSize));
  }
  return { records: Buffer.concat(kept), woken };
}

function run() {
  let asked = false;
  for (;;) {
    if (!asked) Atomics.wait(flags, WANT, 0);
    if (Atomics.load(flags, STOP) !== 0) return;
    let length;
    try {
      length = fs.readSync(fd, buffer, 0, buffer.length, null);
    } catch (error) {
      // A signal (SIGCHLD of a child the main thread spawned) ends the read
      // and takes no event with it (docs/design.md, Reading events).
      if (error.code === 'EINTR') {
        asked = true;
        continue;
      }
      Atomics.store(flags, WANT, 0);
      parentPort.postMessage({ error: { code: error.code, errno: error.errno, message: error.message } });
      return;
    }
    if (length === 0) {
      Atomics.store(flags, WANT, 0);
      parentPort.postMessage({ end: true });
      return;
    }
    const { records, woken } = userRecords(length);
    // Only reserved records: nothing to give, read again as still asked.
    asked = records.length === 0 && !woken;
    if (asked) continue;
    Atomics.store(flags, WANT, 0);
    if (records.length > 0) parentPort.postMessage({ records });
    if (woken) return;
  }
}

run();
