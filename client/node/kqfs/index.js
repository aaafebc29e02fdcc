// kqfs: BSD kqueue for Node through a kqfs mount, with Node's own modules
// only. docs/node.md in the kqfs sources is the manual.
//
//   const kqfs = require('kqfs');
//   const queue = new kqfs.Queue();                 // kq/clone: anonymous
//   queue.change({ ident: 1, filter: 'EVFILT_TIMER', flags: 'EV_ADD', data: 500 });
//   for await (const event of queue) { ... }        // ident, data, udata: BigInt
//   await queue.close();
'use strict';

const generated = require('./constants');
const names = require('./names');
const records = require('./records');
const { Queue, mountPoint } = require('./queue');

module.exports = {
  Queue,
  mountPoint,
  ...names,
  encode: (changes) => records.encode(changes.map(records.normalize)),
  decode: records.decode,
  RECORD_SIZE: records.RECORD_SIZE,
  constants: generated,
  version: generated.version,
  // Every constant by its own name: EVFILT_TIMER, EV_ADD, NOTE_TRIGGER, ...
  ...generated.names,
};
