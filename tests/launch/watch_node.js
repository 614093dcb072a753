// watch_node.js: real Node watchers for tests/launch/watch.sh and
// bench/run-watch.sh, run in the guest.
//
//   node watch_node.js plain DIR       fs.watch(DIR): each event as
//                                      "EVENT TYPE NAME TEXT", TEXT the
//                                      file's contents read at once (or
//                                      <ENOENT>...)
//   node watch_node.js recursive DIR   fs.watch(DIR, {recursive: true})
//   node watch_node.js rerun DIR FILE  what nodemon/vite/jest --watch do:
//                                      fs.watch on DIR; 20 ms after the
//                                      last event a "run" reads FILE and
//                                      prints "RUN N TEXT"
//
// Prints READY once watching; ends when watch-probe.stop appears in DIR
// (printing BYE), or after 10 minutes.
'use strict';
const fs = require('fs');
const path = require('path');

const [mode, dir, file] = process.argv.slice(2);
if (!['plain', 'recursive', 'rerun'].includes(mode) || !dir) {
  console.error('usage: node watch_node.js plain|recursive|rerun DIR [FILE]');
  process.exit(2);
}

function read(p) {
  try {
    return fs.readFileSync(p, 'utf8').trim().replace(/\n/g, ' ');
  } catch (e) {
    return '<' + e.code + '>';
  }
}

let runs = 0;
let timer = null;
function rerun() {
  timer = null;
  runs++;
  console.log('RUN ' + runs + ' ' + read(file));
}

const w = fs.watch(dir, { recursive: mode === 'recursive' }, (type, name) => {
  if (name === null)
    return;
  if (path.basename(name) === 'watch-probe.stop') {
    console.log('BYE');
    w.close();
    process.exit(0);
  }
  if (mode === 'rerun') {
    if (timer)
      clearTimeout(timer);
    timer = setTimeout(rerun, 20);
    return;
  }
  console.log('EVENT ' + type + ' ' + name + ' ' + read(path.join(dir, name)));
});
console.log('READY');
setTimeout(() => process.exit(1), 600000);
