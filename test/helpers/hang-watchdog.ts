// A setup file of the integration project: runs on each test file's main
// thread (a vitest fork) and starts one watchdog worker thread beside it.
// Vitest's test timeout is a timer on the main thread's event loop, so a main
// thread parked for good (a fault never served, a synchronous call that never
// returns) cannot time out: the whole run would wait until CI is killed. The
// watchdog sees the main thread's heartbeat stop, writes the test that was
// running and every thread's kernel state to stderr, and kills the fork, so
// vitest reports the file as failed and goes on with the next.
import { Worker } from 'node:worker_threads';
import { beforeEach } from 'vitest';

// Longer than any test may block its main thread on purpose (big-object hashes
// 4.5 GiB of a mapping synchronously), shorter than a CI run's patience.
const STALL_MS = 240_000;

const beat = new Int32Array(new SharedArrayBuffer(4));
const name = new Uint8Array(new SharedArrayBuffer(512));

setInterval(() => Atomics.add(beat, 0, 1), 1000).unref();

beforeEach((ctx) => {
  const bytes = Buffer.from(`${ctx.task.file?.name ?? ''} > ${ctx.task.name}`).subarray(0, name.length - 1);
  name.fill(0);
  name.set(bytes);
});

const watchdog = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { beat, name, stallMs } = workerData;
let last = Atomics.load(beat, 0);
let since = Date.now();
function read(path) { try { return fs.readFileSync(path, 'utf8').trim(); } catch { return '?'; } }
setInterval(() => {
  const now = Atomics.load(beat, 0);
  if (now !== last) { last = now; since = Date.now(); return; }
  if (Date.now() - since < stallMs) return;
  const test = Buffer.from(name).toString('utf8').replace(/\\0+$/, '');
  const lines = ['hang-watchdog: the main thread of pid ' + process.pid + ' has not run for ' + Math.round((Date.now() - since) / 1000) + ' s, in: ' + test];
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const t = '/proc/self/task/' + tid;
    const state = read(t + '/stat').replace(/^.*\\) /, '').split(' ')[0];
    lines.push('  thread ' + tid + ' ' + read(t + '/comm') + ' state ' + state + ' wchan ' + read(t + '/wchan'));
    const stack = read(t + '/stack');
    if (stack !== '?') for (const l of stack.split('\\n').slice(0, 6)) lines.push('      ' + l);
  }
  fs.writeSync(2, lines.join('\\n') + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, 5000);
`;

new Worker(watchdog, { eval: true, workerData: { beat, name, stallMs: STALL_MS } }).unref();
