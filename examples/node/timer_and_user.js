#!/usr/bin/env node
// kqueue from Node with the kqfs package: a timer ticks three times, the
// third tick fires a user event, and the user event ends the program.
//
//   node examples/node/timer_and_user.js [MOUNT]
//
// MOUNT defaults to $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs.
// require('kqfs') finds the package once `meson install` has put it in
// node's global folder; from a build tree, NODE_PATH=BUILD/client/node.
'use strict';

const kqfs = require('kqfs');

const TIMER = 1;
const USER = 2;

async function main() {
  // An anonymous queue (kq/clone): it goes when closed, or when we exit.
  const queue = new kqfs.Queue({ mount: process.argv[2] });
  try {
    // Changes are applied in order; constants or the text format's names.
    queue.change({ ident: TIMER, filter: kqfs.EVFILT_TIMER, flags: kqfs.EV_ADD, data: 100 },
                 { ident: USER, filter: 'user', flags: 'add|clear' });
    let ticks = 0;
    // A thread of the queue's own waits for events: the event loop and
    // libuv's thread pool stay free. ident, data and udata are BigInts.
    for await (const event of queue) {
      if (event.filter === kqfs.EVFILT_TIMER) {
        ticks += 1;
        console.log(`tick ${ticks}: timer ${event.ident} (${event.data} expiration(s))`);
        if (ticks === 3) {
          // Deleting the timer in the same write means no tick can slip in
          // after the user event.
          console.log(`firing user event ${USER}`);
          queue.change({ ident: TIMER, filter: 'timer', flags: 'delete' },
                       { ident: USER, filter: 'user', fflags: 'trigger', data: 42 });
        }
      } else if (event.filter === kqfs.EVFILT_USER) {
        console.log(`user event ${event.ident} with value ${event.data}: done`);
        break; // stops the queue's reader thread
      }
    }
  } finally {
    await queue.close();
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 1;
});
