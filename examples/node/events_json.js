#!/usr/bin/env node
// Reading kqfs events as JSON lines from Node, with only its built-in
// modules: a timer ticks three times, the third tick fires a user event,
// and the user event ends the program.
//
//   node examples/node/events_json.js [MOUNT]
//
// MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

const TIMER = 1;
const USER = 2;

function mountPoint() {
  if (process.argv[2]) return process.argv[2];
  const runtime = process.env.XDG_RUNTIME_DIR || '/run';
  return process.env.KQFS_MOUNT || path.join(runtime, 'kqfs');
}

const queue = path.join(mountPoint(), 'kq', `node-${process.pid}`);

// Records are applied in order; keys left out are 0, and filter and
// flags use the names of the text format.
function change(...records) {
  fs.writeFileSync(path.join(queue, 'changes.json'),
                   records.map((r) => JSON.stringify(r) + '\n').join(''));
}

async function main() {
  fs.mkdirSync(queue);
  change({ident: TIMER, filter: 'EVFILT_TIMER', flags: 'EV_ADD', data: 100},
         {ident: USER, filter: 'EVFILT_USER', flags: 'EV_ADD|EV_CLEAR'});

  // Node reads files on its thread pool, so a read blocked in kqfs does not
  // block JavaScript. One read is always in flight; removing the queue ends
  // it with end of file, so the stream can close and the program exit.
  const lines = readline.createInterface({
    input: fs.createReadStream(path.join(queue, 'events.json')),
    crlfDelay: Infinity,
  });
  let ticks = 0;
  for await (const line of lines) {
    const event = JSON.parse(line);
    if (event.filter === 'EVFILT_TIMER') {
      // The stream keeps a read in flight, so a tick may be read after we
      // decided to stop and before the delete below takes effect.
      if (ticks === 3) continue;
      ticks += 1;
      console.log(`tick ${ticks}: timer ${event.ident} (${event.data} expiration(s))`);
      if (ticks === 3) {
        // Deleting the timer in the same write means no tick can slip in
        // after the user event.
        console.log(`firing user event ${USER}`);
        change({ident: TIMER, filter: 'EVFILT_TIMER', flags: 'EV_DELETE'},
               {ident: USER, filter: 'EVFILT_USER', fflags: 'NOTE_TRIGGER', data: 42});
      }
    } else if (event.filter === 'EVFILT_USER') {
      console.log(`user event ${event.ident} with value ${event.data}: done`);
      fs.rmdirSync(queue);
      return;
    }
  }
  throw new Error('the queue was removed before the user event came');
}

main().catch((err) => {
  console.error(err.message);
  try {
    fs.rmdirSync(queue);
  } catch {
    // never made, or already gone
  }
  process.exitCode = 1;
});
