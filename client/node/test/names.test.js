// Names both ways, as the daemon's text format writes and reads them: the
// package formats records exactly as kqctl convert (the daemon's codec)
// and a live queue's `events` file write them, and parses what they parse.
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const test = require('node:test');

const kqfs = require('kqfs');
const { MOUNT, convert, fifo, nextEvent, tempDir, uniqueName } = require('./helpers');

// Every filter number the engine names and some it does not, every flag
// bit, and fflags from each filter's names, unnamed bits and multi-bit
// fields.
function sampleRecords() {
  const filters = [...kqfs.constants.filters.map(([, value]) => value), 0, -14, -99, 7, 32767, -32768];
  const fflags = [0, 1, 2, 3, 0x2a, 0x100, 0x3ff, 0x1000000, 0x4000002a, 0x8000002a, 0xc000002a,
                  0xc1ffffff, 0x80000000, 0xe0000007, 0x1f, 0x18, 0xffffffff];
  const out = [];
  let i = 0;
  for (const filter of filters) {
    for (const fflag of fflags) {
      i += 1;
      out.push({ ident: BigInt(i) * 0x100000001n, filter, flags: (i * 0x1234567) & 0xffff,
                 fflags: fflag, data: BigInt(i) * -7919n, udata: (1n << 64n) - BigInt(i) });
    }
  }
  out.push({ ident: (1n << 64n) - 1n, filter: kqfs.EVFILT_USER, flags: 0xffff, fflags: 0,
             data: -(1n << 63n), udata: 0n });
  out.push({ ident: 0n, filter: kqfs.EVFILT_TIMER, flags: 0, fflags: 0, data: (1n << 63n) - 1n,
             udata: (1n << 64n) - 1n });
  return out;
}

test('formatEvent writes each record as the daemon codec does (kqctl convert)', () => {
  const records = sampleRecords();
  const result = convert('bin', 'text', kqfs.encode(records));
  assert.strictEqual(result.status, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  assert.strictEqual(lines.length, records.length);
  records.forEach((record, i) => assert.strictEqual(kqfs.formatEvent(record), lines[i]));
});

test('parseFilter, parseFlags and parseFflags read what the daemon reads', () => {
  const lines = [
    ['1', 'timer', 'add|Clear|0x100', 'seconds|NOTE_ABSTIME', '5', '7'],
    ['2', 'EVFILT_USER', 'EV_ADD|ev_oneshot', 'ffcopy|trigger|0x2A', '-5', '0'],
    ['3', 'evfilt_vnode', '0x21', 'NOTE_WRITE|extend|close_write', '0', '0'],
    ['4', '-11', '33', 'FFOR|0xffffff', '0', '0'],
    ['5', 'proc', 'add', 'exit|fork|exec|track', '0', '0'],
    ['6', 'TIMER', 'ADD', 'absolute|useconds', '0', '0'],
    ['7', 'read', 'add|dispatch|receipt', 'lowat', '0', '0'],
    ['8', '0x7fff', '-0', '0x0', '0', '0'],
    ['9', 'sendfile', 'keepudata|forceoneshot|drop|flag1|error|eof', '0', '0', '0'],
  ];
  const result = convert('text', 'bin', lines.map((fields) => fields.join(' ') + '\n').join(''));
  assert.strictEqual(result.status, 0, String(result.stderr));
  lines.forEach(([, filterText, flagsText, fflagsText], i) => {
    const daemon = kqfs.decode(result.stdout, i * kqfs.RECORD_SIZE);
    const filter = kqfs.parseFilter(filterText);
    assert.strictEqual(filter, daemon.filter, filterText);
    assert.strictEqual(kqfs.parseFlags(flagsText), daemon.flags, flagsText);
    assert.strictEqual(kqfs.parseFflags(filter, fflagsText), daemon.fflags, fflagsText);
  });
});

test('what the daemon refuses, the package refuses with its reason', () => {
  const cases = [
    ['1 timre add', () => kqfs.parseFilter('timre'), "unknown filter 'timre'"],
    ['1 40000 add', () => kqfs.parseFilter('40000'), "bad filter '40000'"],
    ['1 timer add|bogus', () => kqfs.parseFlags('add|bogus'), "unknown flag 'bogus'"],
    ['1 timer add||clear', () => kqfs.parseFlags('add||clear'), "empty name in flags 'add||clear'"],
    ['1 timer 0x10000', () => kqfs.parseFlags('0x10000'), "bad flag '0x10000'"],
    ['1 timer add trigger', () => kqfs.parseFflags(kqfs.EVFILT_TIMER, 'trigger'),
     "unknown fflag 'trigger' for EVFILT_TIMER"],
    ['1 user add +1', () => kqfs.parseFflags(kqfs.EVFILT_USER, '+1'), "bad fflag '+1' for EVFILT_USER"],
  ];
  for (const [line, parse, reason] of cases) {
    const result = convert('text', 'bin', line + '\n');
    assert.notStrictEqual(result.status, 0, line);
    assert.match(String(result.stderr), new RegExp(reason.replace(/[|+]/g, '\\$&')), line);
    assert.throws(parse, (error) => error.code === 'EINVAL' && error.message === reason, line);
  }
});

test('signal names as EVFILT_SIGNAL idents, as the text format takes them', () => {
  const result = convert('text', 'bin', '1 signal add\nSIGUSR1 signal add\nhup signal add\n');
  assert.strictEqual(result.status, 0, String(result.stderr));
  const encoded = kqfs.encode([{ ident: 1, filter: 'signal', flags: 'add' },
                               { ident: 'SIGUSR1', filter: 'signal', flags: 'add' },
                               { ident: 'hup', filter: kqfs.EVFILT_SIGNAL, flags: kqfs.EV_ADD }]);
  assert.deepStrictEqual(encoded, result.stdout);
});

// Live events: each case makes one event pending twice; the first is read
// from the text `events` file, the second through the Queue, and the
// package must write the second as the daemon wrote the first.
test('formatEvent of live events equals the lines of the events file', async () => {
  const dir = tempDir();
  const pipe = fifo(dir);
  fs.writeSync(pipe.writer, 'seven b');
  const file = path.join(dir, 'watched');
  fs.writeFileSync(file, 'x');
  const watched = fs.openSync(file, 'r');
  const max = (1n << 64n) - 1n;
  const cases = [
    [{ ident: 42, filter: 'user', flags: 'add|clear|receipt', udata: max },
     { ident: 42, filter: 'user', fflags: 'trigger|ffcopy|0x2a', data: -3 }],
    [{ ident: 43, filter: 'user', flags: 'add|dispatch|oneshot', fflags: 'ffor|0xffffff', udata: 5 },
     { ident: 43, filter: 'user', fflags: 'trigger' }],
    [{ ident: 7, filter: 'timer', flags: 'add|oneshot', fflags: 'useconds', data: 1, udata: max - 1n }],
    [{ ident: 8, filter: 'timer', flags: 'add|oneshot', fflags: 'nseconds|abstime', data: 1 }],
    [{ ident: pipe.reader, filter: 'read', flags: 'add|oneshot', udata: 99 }],
    [{ ident: pipe.writer, filter: 'write', flags: 'add|oneshot|clear' }],
  ];
  const name = uniqueName('names');
  const queue = new kqfs.Queue(name, { mount: MOUNT });
  const text = fs.openSync(path.join(MOUNT, 'kq', name, 'events'), 'r');
  const iterator = queue.events();
  try {
    for (const changes of cases) {
      queue.change(changes);
      const buffer = Buffer.alloc(512);
      const line = buffer.toString('utf8', 0, fs.readSync(text, buffer)).trimEnd();
      queue.change(changes);
      const event = await nextEvent(iterator);
      assert.strictEqual(kqfs.formatEvent(event), line);
    }
    // A watched file: NOTE_WRITE|NOTE_EXTEND, twice.
    queue.change({ ident: watched, filter: 'vnode', flags: 'add|clear', fflags: 'write|extend|attrib' });
    fs.appendFileSync(file, 'more');
    const buffer = Buffer.alloc(512);
    const line = buffer.toString('utf8', 0, fs.readSync(text, buffer)).trimEnd();
    assert.match(line, /EVFILT_VNODE EV_ADD\|EV_CLEAR NOTE_WRITE\|NOTE_EXTEND /);
    fs.appendFileSync(file, 'more');
    assert.strictEqual(kqfs.formatEvent(await nextEvent(iterator)), line);
  } finally {
    await iterator.return();
    fs.closeSync(text);
    fs.closeSync(watched);
    await queue.remove();
  }
});
