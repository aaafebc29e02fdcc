// The reader of each queue is a thread of its own, never one of libuv's
// pool; closing a queue, or leaving its for await, lets the process exit.
'use strict';

const assert = require('assert');
const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');
const test = require('node:test');

const kqfs = require('kqfs');
const { MOUNT, runNode, tempDir, uniqueName, until, within } = require('./helpers');

test('8 queues waiting hold no thread of the pool: readFile completes at once, while they wait', async (t) => {
  const file = path.join(tempDir(), 'other');
  fs.writeFileSync(file, 'another file\n');
  await fs.promises.readFile(file);
  const queues = Array.from({ length: 8 }, () => new kqfs.Queue({ mount: MOUNT }));
  const settled = [];
  const pending = queues.map((queue, i) => queue.events().next().then((result) => {
    settled.push(i);
    return result;
  }));
  try {
    // Every reader is blocked in read(2) on its queue.
    await until(() => queues.every((queue) => queue.status().readers === '1'), 10000, '8 readers');
    // One readFile, timed (the code it runs was loaded before the queues).
    const started = process.hrtime.bigint();
    const text = await within(2000, fs.promises.readFile(file, 'utf8'), 'readFile');
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    assert.strictEqual(text, 'another file\n');
    assert.ok(elapsed < 50, `readFile took ${elapsed} ms`);
    t.diagnostic(`readFile with 8 queues waiting: ${elapsed.toFixed(2)} ms`);
    // More reads than the pool has threads (4), at once, complete too.
    const contents = await within(2000, Promise.all(
      Array.from({ length: 8 }, () => fs.promises.readFile(file, 'utf8'))), '8 readFile calls');
    assert.ok(contents.every((content) => content === 'another file\n'));
    // Not a fluke: all 8 iterators were, and still are, waiting.
    assert.deepStrictEqual(settled, []);
    assert.ok(queues.every((queue) => queue.status().readers === '1'));
  } finally {
    await Promise.all(queues.map((queue) => queue.close()));
  }
  assert.deepStrictEqual(await Promise.all(pending), Array(8).fill({ value: undefined, done: true }));
});

// The measure above can fail: the same with reads on the pool (what Node's
// fs.createReadStream does) starves readFile until the queues go.
test('control: 4 events.bin reads on the thread pool block readFile', async (t) => {
  const names = Array.from({ length: 4 }, () => uniqueName('pool'));
  for (const name of names) fs.mkdirSync(path.join(MOUNT, 'kq', name));
  const script = `
    const fs = require('fs');
    for (const dir of process.argv.slice(1)) fs.createReadStream(dir + '/events.bin').on('data', () => {});
    setTimeout(() => {
      const started = Date.now();
      fs.readFile('/proc/self/stat', () => { console.log(Date.now() - started); process.exit(0); });
    }, 300);`;
  const child = childProcess.spawn(process.execPath,
                                   ['-e', script, ...names.map((name) => path.join(MOUNT, 'kq', name))]);
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await until(() => names.every((name) => /readers: 1\n/.test(
      fs.readFileSync(path.join(MOUNT, 'kq', name, 'status'), 'utf8'))), 10000, 'pool readers');
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.strictEqual(output, '', 'readFile completed while the pool was held');
  } finally {
    // End of file frees the pool; the starved readFile then completes.
    for (const name of names) fs.rmdirSync(path.join(MOUNT, 'kq', name));
  }
  assert.strictEqual(await within(10000, exited, 'child exit'), 0);
  assert.ok(Number(output) >= 500, `readFile took ${output} ms`);
  t.diagnostic(`readFile behind the pool's reads: ${Number(output)} ms`);
});

// runs `body` (after `const kqfs = require('kqfs')` and `mount`) in a child
// node process, which must exit by itself within 5 s.
function exitsByItself(body) {
  const script = `const kqfs = require('kqfs'); const mount = ${JSON.stringify(MOUNT)};\n${body}`;
  const started = Date.now();
  const result = runNode(['-e', script], { timeout: 10000, killSignal: 'SIGKILL' });
  const elapsed = Date.now() - started;
  assert.strictEqual(result.signal, null, `killed after ${elapsed} ms: ${result.stderr}`);
  assert.strictEqual(result.status, 0, result.stderr);
  assert.ok(elapsed < 5000, `exited after ${elapsed} ms`);
  return result.stdout;
}

test('closing queues whose readers wait lets the process exit', () => {
  const name = uniqueName('exit');
  const out = exitsByItself(`
    const queues = [new kqfs.Queue({ mount }), new kqfs.Queue({ mount }), new kqfs.Queue({ mount }),
                    new kqfs.Queue(${JSON.stringify(name)}, { mount })];
    for (const queue of queues) {
      (async () => { for await (const event of queue) console.log('event', event); console.log('ended'); })();
    }
    setTimeout(async () => {
      await Promise.all(queues.slice(0, 3).map((queue) => queue.close()));
      await queues[3].remove();
      console.log('closed');
    }, 300);`);
  assert.deepStrictEqual(out.split('\n').sort(), ['', 'closed', 'ended', 'ended', 'ended', 'ended']);
});

test('leaving for await lets the process exit, the queue left open', () => {
  const out = exitsByItself(`
    const queue = new kqfs.Queue({ mount });
    queue.change({ ident: 1, filter: 'timer', flags: 'add', data: 50 });
    (async () => {
      for await (const event of queue) { console.log(kqfs.formatEvent(event)); break; }
      console.log('left');
    })();`);
  assert.match(out, /^1 EVFILT_TIMER EV_ADD\|EV_CLEAR 0 [1-9]\d* 0\nleft\n$/);
});

test('process.exit() with a reader blocked in read(2) exits', () => {
  exitsByItself(`
    const queue = new kqfs.Queue({ mount });
    queue.events().next();
    setTimeout(() => process.exit(0), 300);`);
});

test('a reader that waits keeps the process alive, until its queue is removed', async () => {
  const name = uniqueName('alive');
  const script = `const kqfs = require('kqfs');
    (async () => { for await (const e of new kqfs.Queue(${JSON.stringify(name)}, { mount: ${JSON.stringify(MOUNT)} })) {} })();`;
  const child = childProcess.spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const status = path.join(MOUNT, 'kq', name, 'status');
  try {
    await until(() => fs.existsSync(status) && /readers: 1\n/.test(fs.readFileSync(status, 'utf8')),
                10000, 'child reader');
    const raced = await Promise.race([exited, new Promise((r) => setTimeout(() => r('alive'), 500))]);
    assert.strictEqual(raced, 'alive');
  } finally {
    fs.rmdirSync(path.join(MOUNT, 'kq', name));
  }
  assert.strictEqual(await within(5000, exited, 'child exit'), 0);
});
