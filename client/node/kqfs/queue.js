// A kqueue on a kqfs mount: changes written in binary from the calling
// thread, events read by a worker thread of the queue's own and given out
// by an async iterator. docs/node.md is this file's manual.
'use strict';

const fs = require('fs');
const path = require('path');
const { Worker, threadId } = require('worker_threads');

const generated = require('./constants');
const names = require('./names');
const records = require('./records');

const N = generated.names;
const { RECORD_SIZE } = records;

// EVFILT_USER idents whose top 16 bits are this ('kq') are the package's:
// each Queue registers one, 0x6B71 << 48 | pid << 16 | serial, as its
// wake-up knote. Changes may not use them and events on them are never
// given out.
const RESERVED_TAG = 0x6b71n;
// Records one read of the worker asks for.
const READ_BATCH = 64;
// The worker's control words (a SharedArrayBuffer).
const WANT = 0;
const STOP = 1;

let serial = (threadId * 251) & 0xffff;

/** The mount: options.mount, else $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs. */
function mountPoint(given) {
  if (given) return given;
  if (process.env.KQFS_MOUNT) return process.env.KQFS_MOUNT;
  return path.join(process.env.XDG_RUNTIME_DIR || '/run', 'kqfs');
}

function isReserved(record) {
  return record.filter === N.EVFILT_USER && record.ident >> 48n === RESERVED_TAG;
}

// `key: value` lines of a status file, or {} when it cannot be read.
function readStatus(file) {
  const fields = {};
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return fields;
  }
  for (const line of text.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0 && !(line.slice(0, colon) in fields)) {
      fields[line.slice(0, colon)] = line.slice(colon + 2);
    }
  }
  return fields;
}

// Queues whose reader runs, woken at process exit: a thread blocked in
// read(2) would keep the process from ending.
const running = new Set();
process.on('exit', () => {
  for (const queue of running) queue._wakeReaderNow();
});

class Queue {
  /**
   * new Queue()            an anonymous queue (kq/clone), gone when closed
   * new Queue(name)        kq/NAME, made if missing (mode 0700), else opened
   * options: mount (the mount point), create (false: open only),
   *          exclusive (true: make it, EEXIST if it exists), mode
   */
  constructor(name, options = {}) {
    if (name !== undefined && name !== null && typeof name !== 'string') {
      options = name;
      name = undefined;
    }
    this.mount = mountPoint(options.mount);
    const queues = path.join(this.mount, 'kq');
    if (!fs.existsSync(path.join(queues, 'clone'))) {
      const error = new Error(`no kqfs mount at ${this.mount}: start kqfsd ${this.mount}, or pass mount or set KQFS_MOUNT`);
      error.code = 'ENOENT';
      throw error;
    }
    this.anonymous = name === undefined || name === null;
    this._events = [];     // events read and not yet given out
    this._waiters = [];    // next() calls waiting for one: { resolve, reject }
    this._worker = null;
    this._stopping = null; // the promise of the reader's end, while it stops
    this._iterating = false;
    this._triggered = false;
    this._closed = false;
    this._failure = null;  // a read error or end of file, for every later next()
    this.wakeIdent = (RESERVED_TAG << 48n) | (BigInt(process.pid >>> 0) << 16n) | BigInt(serial);
    serial = (serial + 1) & 0xffff;

    if (this.anonymous) {
      this.fd = fs.openSync(path.join(queues, 'clone'), 'r+');
      this._changesFd = this.fd;
      this._eventsFd = this.fd;
      this.name = null;
      this.path = null;
    } else {
      this.name = name;
      this.path = path.join(queues, name);
      if (options.create !== false) {
        try {
          fs.mkdirSync(this.path, { mode: options.mode === undefined ? 0o700 : options.mode });
        } catch (error) {
          if (error.code !== 'EEXIST' || options.exclusive) throw error;
        }
      }
      this._changesFd = fs.openSync(path.join(this.path, 'changes.bin'), 'w');
      try {
        this._eventsFd = fs.openSync(path.join(this.path, 'events.bin'), 'r');
      } catch (error) {
        fs.closeSync(this._changesFd);
        throw error;
      }
    }
    try {
      this._write([this._wakeChange(N.EV_ADD)]);
    } catch (error) {
      this._closeDescriptors();
      throw error;
    }
  }

  /**
   * Applies changes in order: objects { ident, filter, flags, fflags, data,
   * udata } (or arrays of them). Returns how many were applied, all of them;
   * the first that fails throws an Error with `code` the errno name,
   * `index` the failed change (those before it were applied) and the
   * daemon's reason (status last-error) in the message.
   */
  change(...changes) {
    if (this._closed) throw Object.assign(new Error('the queue is closed'), { code: 'EBADF' });
    const list = changes.flat().map(records.normalize);
    const reserved = list.findIndex(isReserved);
    if (reserved >= 0) {
      throw Object.assign(new RangeError(
        `change ${reserved}: EVFILT_USER idents with top 16 bits 0x6b71 are reserved ` +
        'for the wake-up knotes of the kqfs package'), { code: 'EINVAL', index: reserved });
    }
    this._write(list);
    return list.length;
  }

  /** The queue's status file as { key: value }; {} if it cannot be read. */
  status() {
    const file = this._statusFile();
    return file === null ? {} : readStatus(file);
  }

  /** Events, one at a time, read by the queue's worker thread. */
  events() {
    return this[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator]() {
    if (this._iterating) throw new Error('this queue is already being iterated');
    this._iterating = true;
    let done = false;
    const finish = async () => {
      if (!done) {
        done = true;
        this._iterating = false;
        await this._stopReader();
      }
      return { value: undefined, done: true };
    };
    return {
      next: () => {
        if (done) return Promise.resolve({ value: undefined, done: true });
        return this._next().then((result) => (result.done ? finish() : result),
                                 async (error) => { await finish(); throw error; });
      },
      return: finish,
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Stops the reader and closes the queue (an anonymous one is gone). */
  async close() {
    if (this._closed) return;
    this._closed = true;
    await this._stopReader();
    if (!this.anonymous) {
      try {
        this._write([this._wakeChange(N.EV_DELETE)]);
      } catch {
        // The queue was removed: nothing left to delete.
      }
    }
    this._closeDescriptors();
    this._settleWaiters();
  }

  /** close(), then rmdir of a named queue. */
  async remove() {
    await this.close();
    if (!this.anonymous) fs.rmdirSync(this.path);
  }

  // ------------------------------------------------------------- writing

  _wakeChange(flags, fflags = 0) {
    return { ident: this.wakeIdent, filter: N.EVFILT_USER, flags, fflags, data: 0n, udata: 0n };
  }

  // Writes normalized records. A short write stops at the failed record;
  // writing the rest again applies nothing before it and returns -1 with
  // the failed record's errno (docs/design.md, Writing changes).
  _write(list) {
    const buffer = records.encode(list);
    let offset = 0;
    while (offset < buffer.length) {
      try {
        offset += fs.writeSync(this._changesFd, buffer, offset, buffer.length - offset);
      } catch (error) {
        throw this._changeError(error, list, offset / RECORD_SIZE);
      }
    }
  }

  _changeError(cause, list, index) {
    const reason = this.status()['last-error'];
    const record = list[index];
    // The daemon's reason names the record; without one, this does.
    const message = reason && reason !== 'none'
      ? `${cause.code}: change ${index} refused: ${reason}`
      : `${cause.code}: change ${index} (${names.formatEvent(record)}) refused`;
    const error = new Error(message);
    Object.assign(error, { code: cause.code, errno: cause.errno, syscall: 'write', index, record });
    return error;
  }

  _statusFile() {
    if (!this.anonymous) return path.join(this.path, 'status');
    // kq/clone-N, found by inode: a queue's directory has the lowest inode
    // of its files and the clone handle's is among them, so ours is the
    // queue directory with the greatest inode not above the handle's.
    try {
      const handle = BigInt(fs.fstatSync(this.fd, { bigint: true }).ino);
      const queues = path.join(this.mount, 'kq');
      let best = null;
      for (const entry of fs.readdirSync(queues)) {
        if (entry === 'clone') continue;
        const inode = fs.statSync(path.join(queues, entry), { bigint: true }).ino;
        if (inode <= handle && (best === null || inode > best.inode)) best = { entry, inode };
      }
      return best === null ? null : path.join(queues, best.entry, 'status');
    } catch {
      return null;
    }
  }

  _closeDescriptors() {
    fs.closeSync(this._changesFd);
    if (this._eventsFd !== this._changesFd) fs.closeSync(this._eventsFd);
  }

  // ------------------------------------------------------------- reading

  _next() {
    if (this._events.length > 0) return Promise.resolve({ value: this._events.shift(), done: false });
    if (this._closed || this._failure) return this._failure && this._failure.error
      ? Promise.reject(this._failure.error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this._waiters.push({ resolve, reject });
      if (this._stopping === null) this._ask();
      else this._stopping.then(() => this._waiters.length > 0 && this._ask());
    });
  }

  // Asks the worker for a read, starting it if need be; holds the event loop
  // open while someone waits.
  _ask() {
    if (this._worker === null) this._startReader();
    this._worker.ref();
    if (!this._asked) {
      this._asked = true;
      Atomics.store(this._control, WANT, 1);
      Atomics.notify(this._control, WANT);
    }
  }

  // The wake-up knote stays triggered once triggered (it has no EV_CLEAR,
  // so that no other reader of a named queue can take it for good): made
  // again, untriggered, once its reader has stopped.
  _rearmWake() {
    if (!this._triggered) return;
    this._write([this._wakeChange(N.EV_DELETE), this._wakeChange(N.EV_ADD)]);
    this._triggered = false;
  }

  _startReader() {
    this._rearmWake();
    this._control = new Int32Array(new SharedArrayBuffer(8));
    this._asked = false;
    const worker = new Worker(path.join(__dirname, 'reader.js'), {
      workerData: {
        fd: this._eventsFd,
        control: this._control.buffer,
        wakeIdent: this.wakeIdent,
        reservedTag: RESERVED_TAG,
        userFilter: N.EVFILT_USER,
        recordSize: RECORD_SIZE,
        batch: READ_BATCH,
      },
    });
    this._worker = worker;
    running.add(this);
    worker.on('message', (message) => this._onMessage(message));
    worker.on('error', (error) => this._fail({ error }));
    worker.on('exit', () => {
      running.delete(this);
      if (this._worker === worker) this._worker = null;
      // A reader that ended on its own (end of file, an error) ends the waits.
      if (this._stopping === null && this._waiters.length > 0 && !this._failure) {
        this._fail({ error: null });
      }
    });
  }

  _onMessage(message) {
    this._asked = false;
    if (message.records) {
      const bytes = Buffer.from(message.records.buffer, message.records.byteOffset,
                                message.records.byteLength);
      for (let at = 0; at + RECORD_SIZE <= bytes.length; at += RECORD_SIZE) {
        this._events.push(records.decode(bytes, at));
      }
      while (this._waiters.length > 0 && this._events.length > 0) {
        this._waiters.shift().resolve({ value: this._events.shift(), done: false });
      }
      if (this._waiters.length > 0) this._ask();
      else if (this._worker !== null) this._worker.unref();
    } else if (message.end) {
      this._fail({ error: null });
    } else if (message.error) {
      const error = new Error(`${message.error.code}: reading events: ${message.error.message}`);
      Object.assign(error, { code: message.error.code, errno: message.error.errno, syscall: 'read' });
      this._fail({ error });
    }
  }

  // End of file (error null: the queue was removed) or a read error: every
  // waiting and later next() ends with it.
  _fail(failure) {
    this._failure = failure;
    this._settleWaiters();
  }

  _settleWaiters() {
    const waiters = this._waiters.splice(0);
    for (const waiter of waiters) {
      if (this._failure && this._failure.error) waiter.reject(this._failure.error);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  // Wakes the worker wherever it is: waiting to be asked (the control
  // words) or blocked in read(2) (the wake-up knote, which it reads and
  // stops at). Synchronous, for process exit too.
  _wakeReaderNow() {
    Atomics.store(this._control, STOP, 1);
    Atomics.store(this._control, WANT, 1);
    Atomics.notify(this._control, WANT);
    if (!this._triggered) {
      try {
        this._write([this._wakeChange(0, N.NOTE_TRIGGER)]);
        this._triggered = true;
      } catch {
        // The queue is gone: its readers got end of file already.
      }
    }
  }

  // Stops the worker and waits for it to end; events it had read stay for
  // the next iteration.
  _stopReader() {
    if (this._stopping !== null) return this._stopping;
    const worker = this._worker;
    if (worker === null) return Promise.resolve();
    this._stopping = new Promise((resolve) => {
      worker.once('exit', () => {
        this._stopping = null;
        if (!this._closed) this._rearmWake();
        resolve();
      });
    });
    worker.ref();
    this._wakeReaderNow();
    this._settleWaiters();
    return this._stopping;
  }
}

module.exports = { Queue, mountPoint, RESERVED_TAG };
