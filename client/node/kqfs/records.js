// Binary records (docs/design.md, Record formats): 32 bytes, little-endian,
// u64 ident, i16 filter, u16 flags, u32 fflags, i64 data, u64 udata. The
// 64-bit fields are BigInts in events; changes take BigInts or Numbers
// that are exact integers.
'use strict';

const generated = require('./constants');
const names = require('./names');

const RECORD_SIZE = generated.recordSize;
const N = generated.names;

function rangeError(message) {
  const error = new RangeError(message);
  error.code = 'EINVAL';
  return error;
}

// A BigInt in [min, max] from a BigInt, a safe-integer Number or a string
// of digits ('18446744073709551615', '0x10').
function integer(value, field, min, max) {
  let big;
  if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw rangeError(`${field} ${value} is not an exact integer: pass a BigInt`);
    }
    big = BigInt(value);
  } else if (typeof value === 'string' && /^-?(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(value)) {
    big = value.startsWith('-') ? -BigInt(value.slice(1)) : BigInt(value);
  } else {
    throw rangeError(`${field} must be an integer, not ${typeof value} ${String(value)}`);
  }
  if (big < min || big > max) throw rangeError(`${field} ${big} is out of range`);
  return big;
}

const U16 = 0xffffn;
const U32 = 0xffffffffn;
const U64 = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function filterOf(value) {
  if (typeof value === 'string') return names.parseFilter(value);
  return Number(integer(value, 'filter', -32768n, 32767n));
}

// flags and fflags: a number, a name mask ('EV_ADD|EV_CLEAR', 'add|clear')
// or an array of either.
function maskOf(value, field, max, parse) {
  if (Array.isArray(value)) {
    return value.reduce((mask, part) => (mask | maskOf(part, field, max, parse)) >>> 0, 0);
  }
  if (typeof value === 'string') return parse(value);
  return Number(integer(value, field, 0n, max));
}

/**
 * A change as the daemon takes it: { ident, filter, flags, fflags, data,
 * udata }, every key but filter optional (0). Names are accepted for
 * filter, flags and fflags (the text format's rules), and a signal name
 * for an EVFILT_SIGNAL ident.
 */
function normalize(change) {
  if (change === null || typeof change !== 'object') {
    throw new TypeError('a change is an object { ident, filter, flags, fflags, data, udata }');
  }
  const filter = filterOf(change.filter === undefined ? 0 : change.filter);
  let ident = change.ident === undefined ? 0n : change.ident;
  if (filter === N.EVFILT_SIGNAL && typeof ident === 'string' && !/^[0-9-]/.test(ident)) {
    ident = names.parseSignal(ident);
  }
  return {
    ident: integer(ident, 'ident', 0n, U64),
    filter,
    flags: maskOf(change.flags === undefined ? 0 : change.flags, 'flags', U16, names.parseFlags),
    fflags: maskOf(change.fflags === undefined ? 0 : change.fflags, 'fflags', U32,
                   (text) => names.parseFflags(filter, text)),
    data: integer(change.data === undefined ? 0n : change.data, 'data', I64_MIN, I64_MAX),
    udata: integer(change.udata === undefined ? 0n : change.udata, 'udata', 0n, U64),
  };
}

/** Binary records of normalized changes, one Buffer. */
function encode(records) {
  const buffer = Buffer.alloc(records.length * RECORD_SIZE);
  records.forEach((record, i) => {
    const at = i * RECORD_SIZE;
    buffer.writeBigUInt64LE(record.ident, at);
    buffer.writeInt16LE(record.filter, at + 8);
    buffer.writeUInt16LE(record.flags, at + 10);
    buffer.writeUInt32LE(record.fflags, at + 12);
    buffer.writeBigInt64LE(record.data, at + 16);
    buffer.writeBigUInt64LE(record.udata, at + 24);
  });
  return buffer;
}

/** The record at `offset` of `buffer` as an event object. */
function decode(buffer, offset = 0) {
  return {
    ident: buffer.readBigUInt64LE(offset),
    filter: buffer.readInt16LE(offset + 8),
    flags: buffer.readUInt16LE(offset + 10),
    fflags: buffer.readUInt32LE(offset + 12),
    data: buffer.readBigInt64LE(offset + 16),
    udata: buffer.readBigUInt64LE(offset + 24),
  };
}

module.exports = { RECORD_SIZE, normalize, encode, decode };
