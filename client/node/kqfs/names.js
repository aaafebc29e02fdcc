// Names of filters, flags and fflags, both ways, by the rules of the text
// format (kqfs/names.cpp, kqfs/codec/text.cpp): long names or short ones
// (EV_ADD or add), any case, masks joined by '|', numbers in decimal or
// 0x hex. Everything comes from the generated constants module.
'use strict';

const os = require('os');
const generated = require('./constants');

const N = generated.names;

// name → value tables, in the engine's order (formatting follows it).
const filterTable = generated.filters;
const flagTable = generated.flags;
const fflagTables = new Map();
const aliasTables = new Map();
for (const row of generated.implemented) {
  fflagTables.set(row.value, row.fflags);
  aliasTables.set(row.value, row.aliases);
}

function einval(message) {
  const error = new Error(message);
  error.code = 'EINVAL';
  return error;
}

// The daemon's quoting of a token in its reasons, without its escapes.
function quote(token) {
  return `'${token.length > 64 ? token.slice(0, 64) + '...' : token}'`;
}

// True when `wanted` is `name`, or `name` without its prefix (EV_, NOTE_,
// EVFILT_), in any case.
function matches(name, wanted) {
  const lower = wanted.toLowerCase();
  if (name.toLowerCase() === lower) return true;
  const underscore = name.indexOf('_');
  return underscore >= 0 && name.slice(underscore + 1).toLowerCase() === lower;
}

function lookup(table, wanted) {
  for (const [name, value] of table) {
    if (matches(name, wanted)) return value;
  }
  return undefined;
}

function looksNumeric(token) {
  return /^[0-9+-]/.test(token);
}

// `token` as an integer of `bits` bits: an optional '-', then decimal
// digits or 0x and hex digits; undefined outside the range. Returns a BigInt.
function parseInteger(token, bits, signed) {
  const match = /^(-?)(0[xX][0-9a-fA-F]+|[0-9]+)$/.exec(token);
  if (match === null) return undefined;
  const magnitude = BigInt(match[2]);
  const negative = match[1] === '-';
  const limit = signed ? 1n << BigInt(bits - 1) : 1n << BigInt(bits);
  if (!negative) return magnitude < limit ? magnitude : undefined;
  if (!signed) return magnitude === 0n ? 0n : undefined;
  return magnitude <= limit ? -magnitude : undefined;
}

function parseMask(token, bits, find, kind, context) {
  let mask = 0n;
  for (const part of token.split('|')) {
    if (part === '') throw einval(`empty name in ${kind}s ${quote(token)}`);
    let value;
    if (looksNumeric(part)) {
      value = parseInteger(part, bits, false);
      if (value === undefined) throw einval(`bad ${kind} ${quote(part)}${context}`);
    } else {
      value = find(part);
      if (value === undefined) throw einval(`unknown ${kind} ${quote(part)}${context}`);
      value = BigInt(value);
    }
    mask |= value;
  }
  return Number(mask);
}

/** A filter from its name ('EVFILT_TIMER', 'timer') or number text. */
function parseFilter(token) {
  if (looksNumeric(token)) {
    const value = parseInteger(token, 16, true);
    if (value === undefined) throw einval(`bad filter ${quote(token)}`);
    return Number(value);
  }
  const value = lookup(filterTable, token);
  if (value === undefined) throw einval(`unknown filter ${quote(token)}`);
  return value;
}

/** EV_* flags from 'EV_ADD|EV_CLEAR', 'add|clear', '0x21'. */
function parseFlags(token) {
  return parseMask(token, 16, (name) => lookup(flagTable, name), 'flag', '');
}

/** The NOTE_* names of `filter` ('NOTE_TRIGGER', 'trigger', aliases too). */
function parseFflags(filter, token) {
  const find = (name) => {
    const value = lookup(fflagTables.get(filter) || [], name);
    return value !== undefined ? value : lookup(aliasTables.get(filter) || [], name);
  };
  return parseMask(token, 32, find, 'fflag', ` for ${formatFilter(filter)}`);
}

/** A signal number from 'SIGHUP' or 'hup' (Node's os.constants.signals). */
function parseSignal(token) {
  const upper = token.toUpperCase();
  const name = upper.startsWith('SIG') && upper.length > 3 ? upper : 'SIG' + upper;
  const number = os.constants.signals[name];
  if (number === undefined) throw einval(`unknown signal ${quote(token)}`);
  return number;
}

/** 'EVFILT_TIMER', or the number for a filter without a name. */
function formatFilter(filter) {
  for (const [name, value] of filterTable) {
    if (value === filter) return name;
  }
  return String(filter);
}

// Names of the bits of `mask` in table order, a field of several bits
// (NOTE_FFCOPY) as a whole, the bits left in one hex number, '0' for none.
function formatMask(table, mask) {
  const parts = [];
  let rest = mask >>> 0;
  for (const [name, value] of table) {
    if (value !== 0 && ((rest & value) >>> 0) === value) {
      parts.push(name);
      rest = (rest & ~value) >>> 0;
    }
  }
  if (rest !== 0) parts.push('0x' + rest.toString(16));
  return parts.length === 0 ? '0' : parts.join('|');
}

/** 'EV_ADD|EV_CLEAR', as the text format writes flags. */
function formatFlags(flags) {
  return formatMask(flagTable, flags & 0xffff);
}

/**
 * fflags as the text format writes them: NOTE_* names of the filter, as
 * flags are written, but a number for EVFILT_READ and EVFILT_WRITE with
 * EV_EOF in `flags` (the socket error there).
 */
function formatFflags(filter, fflags, flags = 0) {
  const errno = (filter === N.EVFILT_READ || filter === N.EVFILT_WRITE) && (flags & N.EV_EOF);
  if (errno) return String(fflags >>> 0);
  return formatMask(fflagTables.get(filter) || [], fflags);
}

/** An event as one line of the `events` file, without its newline. */
function formatEvent(event) {
  return [
    BigInt(event.ident).toString(),
    formatFilter(event.filter),
    formatFlags(event.flags),
    formatFflags(event.filter, event.fflags, event.flags),
    BigInt(event.data).toString(),
    BigInt(event.udata).toString(),
  ].join(' ');
}

module.exports = {
  parseFilter,
  parseFlags,
  parseFflags,
  parseSignal,
  formatFilter,
  formatFlags,
  formatFflags,
  formatEvent,
};
