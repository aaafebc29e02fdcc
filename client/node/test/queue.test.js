// Queues through a live mount: timers, user events with 64-bit udata,
// pipes, named and anonymous queues, write errors, iteration that stops
// and starts again.
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const test = require('node:test');

const kqfs = require('kqfs');
const { MOUNT, fifo, nextEvent, tempDir, uniqueName, until, within } = require('./helpers');

const U64_MAX = 18446744073709551615n;

test('an anonymous queue: a timer fires with its udata, and is gone when closed', async () => {
  const queue = new kqfs.Queue({ mount: MOUNT });
  assert.strictEqual(queue.anonymous, true);
  const name = queue.status().name;
  assert.match(name, /^clone-\d+$/);
  assert.ok(fs.existsSync(path.join(MOUNT, 'kq', name)));
  queue.change({ ident: 1, filter: kqfs.EVFILT_TIMER, flags: kqfs.EV_ADD, data: 20, udata: 7 });
  const started = Date.now();
  const event = await nextEvent(queue.events());
  assert.ok(Date.now() - started >= 15);
  assert.deepStrictEqual(event, { ident: 1n, filter: kqfs.EVFILT_TIMER, flags: kqfs.EV_ADD | kqfs.EV_CLEAR,
                                  fflags: 0, data: event.data, udata: 7n });
  assert.ok(event.data >= 1n);
  await queue.close();
  assert.ok(!fs.existsSync(path.join(MOUNT, 'kq', name)));
});

test('a user event carries a 64-bit udata and data exactly, as BigInt', async () => {
  const queue = new kqfs.Queue({ mount: MOUNT });
  try {
    queue.change({ ident: U64_MAX, filter: 'EVFILT_USER', flags: 'EV_ADD|EV_CLEAR', udata: U64_MAX },
                 // udata is the last change's, as on BSD.
                 { ident: U64_MAX, filter: 'user', fflags: 'NOTE_TRIGGER|NOTE_FFCOPY|0xabcdef',
                   data: -(1n << 63n), udata: U64_MAX });
    const event = await nextEvent(queue.events());
    assert.strictEqual(event.ident, U64_MAX);
    assert.strictEqual(event.udata, U64_MAX);
    assert.strictEqual(event.udata.toString(), '18446744073709551615');
    assert.strictEqual(event.data, -(1n << 63n));
    assert.strictEqual(event.fflags, 0xabcdef);
    // A Number that is not exact is refused rather than rounded.
    assert.throws(() => queue.change({ ident: 1, filter: 'user', flags: 'add', udata: 2 ** 64 }),
                  { name: 'RangeError', code: 'EINVAL' });
    assert.throws(() => queue.change({ ident: -1, filter: 'user', flags: 'add' }), RangeError);
  } finally {
    await queue.close();
  }
});

test('a pipe of this process readable with data: EVFILT_READ on its descriptor', async () => {
  const pipe = fifo(tempDir());
  const queue = new kqfs.Queue({ mount: MOUNT });
  try {
    queue.change({ ident: pipe.reader, filter: 'read', flags: 'add|clear', udata: 3 });
    const events = queue.events();
    const pending = events.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    fs.writeSync(pipe.writer, 'hello');
    const { value } = await within(5000, pending, 'pipe event');
    assert.strictEqual(value.ident, BigInt(pipe.reader));
    assert.strictEqual(value.filter, kqfs.EVFILT_READ);
    assert.strictEqual(value.data, 5n);
    assert.strictEqual(value.udata, 3n);
    await events.return();
  } finally {
    await queue.close();
    fs.closeSync(pipe.reader);
    fs.closeSync(pipe.writer);
  }
});

test('a named queue: made, shared with the files, reopened, removed', async () => {
  const name = uniqueName('named');
  const dir = path.join(MOUNT, 'kq', name);
  const queue = new kqfs.Queue(name, { mount: MOUNT });
  try {
    assert.strictEqual(queue.path, dir);
    assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700);
    assert.throws(() => new kqfs.Queue(name, { mount: MOUNT, exclusive: true }), { code: 'EEXIST' });
    assert.throws(() => new kqfs.Queue(uniqueName('missing'), { mount: MOUNT, create: false }),
                  { code: 'ENOENT' });
    // A change written as text by anyone reaches the Queue's reader.
    fs.writeFileSync(path.join(dir, 'changes'), '5 user add|clear 0 0 77\n5 user 0 trigger 0 77\n');
    const event = await nextEvent(queue.events());
    assert.strictEqual(kqfs.formatEvent(event), '5 EVFILT_USER EV_ADD|EV_CLEAR 0 0 77');
    await queue.close();
    // Closing a named queue keeps it, with its knotes, but not the wake-up knote.
    const again = new kqfs.Queue(name, { mount: MOUNT, create: false });
    assert.strictEqual(again.status().knotes, '2');
    await again.close();
    assert.strictEqual(fs.readFileSync(path.join(dir, 'status'), 'utf8').match(/^knote: /mg).length, 1);
  } finally {
    const last = new kqfs.Queue(name, { mount: MOUNT, create: false });
    await last.remove();
  }
  assert.ok(!fs.existsSync(dir));
});

test('a refused change: Error with the errno name, the daemon reason, the index', async () => {
  const name = uniqueName('errors');
  const queue = new kqfs.Queue(name, { mount: MOUNT });
  try {
    // The first applied, the second refused (a short write, then -1).
    assert.throws(() => queue.change({ ident: 1, filter: 'user', flags: 'add' },
                                     { ident: 2, filter: 'user', flags: 'delete' }),
                  (error) => {
                    assert.strictEqual(error.code, 'ENOENT');
                    assert.strictEqual(error.index, 1);
                    assert.strictEqual(error.syscall, 'write');
                    assert.match(error.message, /^ENOENT: change 1 refused: /);
                    assert.ok(error.message.includes(queue.status()['last-error']));
                    return true;
                  });
    assert.match(queue.status().knotes, /^2$/); // user 1, and the wake-up knote
    // EBADF: a descriptor this process does not have.
    assert.throws(() => queue.change({ ident: 100000, filter: 'read', flags: 'add' }),
                  { code: 'EBADF', index: 0 });
    // EINVAL from the daemon: a filter number it does not know.
    assert.throws(() => queue.change({ ident: 1, filter: -99, flags: 'add' }),
                  (error) => error.code === 'EINVAL' && /refused: .*-99/.test(error.message));
    // The package's own checks, before anything is written.
    assert.throws(() => queue.change({ ident: 1, filter: 'timre' }),
                  { code: 'EINVAL', message: "unknown filter 'timre'" });
    assert.throws(() => queue.change({ ident: queue.wakeIdent, filter: 'user', flags: 'add' }),
                  { code: 'EINVAL', index: 0 });
  } finally {
    await queue.remove();
  }
  // An anonymous queue finds its status too.
  const anonymous = new kqfs.Queue({ mount: MOUNT });
  try {
    assert.throws(() => anonymous.change({ ident: 1, filter: 'timer', flags: 'add', fflags: 'seconds|useconds' }),
                  (error) => error.code === 'EINVAL' && error.message.includes(anonymous.status()['last-error']) &&
                             anonymous.status()['last-error'] !== 'none');
  } finally {
    await anonymous.close();
  }
});

test('leaving for await keeps the queue; events read and not given out come next time', async () => {
  const queue = new kqfs.Queue({ mount: MOUNT });
  try {
    const changes = [];
    for (let i = 1; i <= 5; i++) {
      changes.push({ ident: i, filter: 'user', flags: 'add|oneshot' },
                   { ident: i, filter: 'user', fflags: 'trigger' });
    }
    queue.change(changes);
    const seen = [];
    for await (const event of queue) {
      seen.push(event.ident);
      if (seen.length === 2) break;
    }
    for await (const event of queue) {
      seen.push(event.ident);
      if (seen.length === 5) break;
    }
    assert.deepStrictEqual(seen.sort(), [1n, 2n, 3n, 4n, 5n]);
    assert.strictEqual(queue.status().pending, '0');
    // The wake-up knote used by the first break is never shown.
    queue.change({ ident: 9, filter: 'user', flags: 'add|oneshot' }, { ident: 9, filter: 'user', fflags: 'trigger' });
    const iterator = queue.events();
    assert.strictEqual((await nextEvent(iterator)).ident, 9n);
    const nothing = iterator.next();
    const raced = await Promise.race([nothing, new Promise((r) => setTimeout(() => r('waiting'), 200))]);
    assert.strictEqual(raced, 'waiting');
    await queue.close();
    assert.deepStrictEqual(await nothing, { value: undefined, done: true });
  } finally {
    await queue.close();
  }
});

test('removing a named queue ends its iteration (end of file)', async () => {
  const name = uniqueName('removed');
  const queue = new kqfs.Queue(name, { mount: MOUNT });
  const iterator = queue.events();
  const pending = iterator.next();
  await until(() => queue.status().readers === '1', 5000, 'reader blocked');
  fs.rmdirSync(path.join(MOUNT, 'kq', name));
  assert.deepStrictEqual(await within(5000, pending, 'end of file'), { value: undefined, done: true });
  await queue.close();
});

test('no mount: a clear error', () => {
  const empty = tempDir();
  assert.throws(() => new kqfs.Queue({ mount: empty }), {
    code: 'ENOENT',
    message: `no kqfs mount at ${empty}: start kqfsd ${empty}, or pass mount or set KQFS_MOUNT`,
  });
});
