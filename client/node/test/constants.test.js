// The package's constants are the C header's: every EVFILT_*, EV_* and
// NOTE_* of client/include/kqfs/constants.h and the kevent ioctl's numbers
// of call_ioctl.h, compiled with cc and printed, equal require('kqfs')'s.
'use strict';

const assert = require('assert');
const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');
const test = require('node:test');

const kqfs = require('kqfs');
const { SOURCE, tempDir } = require('./helpers');

const include = path.join(SOURCE, 'client', 'include');

// NAME → value as C computes it, for every name in `expressions`.
function cValues(expressions) {
  const dir = tempDir();
  const program = path.join(dir, 'values.c');
  fs.writeFileSync(program, [
    '#include <stdio.h>',
    '#include <sys/ioctl.h>',
    '#include "kqfs/constants.h"',
    '#include "kqfs/call_ioctl.h"',
    'int main(void) {',
    ...Object.entries(expressions).map(([name, expression]) =>
      `  printf("%s %lld\\n", "${name}", (long long)(${expression}));`),
    '  return 0;',
    '}',
  ].join('\n'));
  childProcess.execFileSync('cc', ['-I', include, '-o', path.join(dir, 'values'), program]);
  const values = {};
  for (const line of childProcess.execFileSync(path.join(dir, 'values'), { encoding: 'utf8' })
    .trim().split('\n')) {
    const [name, value] = line.split(' ');
    values[name] = Number(value);
  }
  return values;
}

function definedNames(header, pattern) {
  const text = fs.readFileSync(path.join(include, 'kqfs', header), 'utf8');
  return [...text.matchAll(pattern)].map((match) => match[1]);
}

test('every EVFILT_, EV_ and NOTE_ constant of the C header, with its value', () => {
  const names = definedNames('constants.h', /^#define ((?:EVFILT|EV|NOTE)_[A-Z0-9_]+)\s/gm);
  assert.ok(names.length > 60, `only ${names.length} names found`);
  const c = cValues(Object.fromEntries(names.map((name) => [name, name])));
  for (const name of names) {
    assert.strictEqual(kqfs[name], c[name], name);
  }
});

test('the kevent ioctl numbers are those of call_ioctl.h', () => {
  const expressions = Object.fromEntries(Object.keys(kqfs.constants.call).map((name) => [name, name]));
  assert.ok('KQFS_CALL_MAGIC' in expressions);
  expressions.KQFS_IOC_CALL_BASE = 'KQFS_IOC_CALL(0)';
  expressions.KQFS_IOC_CALL_SIZE_SHIFT = '_IOC_SIZESHIFT';
  const c = cValues(expressions);
  assert.deepStrictEqual(kqfs.constants.call, c);
});

test('the record is 32 bytes and filters are named in the engine order', () => {
  assert.strictEqual(kqfs.RECORD_SIZE, 32);
  assert.deepStrictEqual(kqfs.constants.filters.map(([, value]) => value),
                         kqfs.constants.filters.map((_, i) => -1 - i));
  const timer = kqfs.constants.implemented.find((row) => row.name === 'EVFILT_TIMER');
  assert.deepStrictEqual(timer.aliases, [['NOTE_ABSOLUTE', kqfs.NOTE_ABSTIME]]);
});

test('the constants are rendered at build time, not written by hand', () => {
  const text = fs.readFileSync(require.resolve('kqfs/constants'), 'utf8');
  assert.match(text, /^\/\/ Generated at build time by client\/node\/render_constants\.py/);
  for (const file of ['index.js', 'names.js', 'queue.js', 'records.js', 'reader.js']) {
    const source = fs.readFileSync(path.join(SOURCE, 'client', 'node', 'kqfs', file), 'utf8');
    // No constant's value in the code: names only (0x6b71, the reserved
    // tag, is the package's own).
    assert.doesNotMatch(source, /\b(EVFILT|EV|NOTE)_[A-Z_]+\s*[:=]\s*-?\d/, file);
  }
});
