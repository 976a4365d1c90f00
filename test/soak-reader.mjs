// One reader of the soak (test/soak-run.mjs): a worker thread that reads
// random ranges of every mapping it is given until the deadline, copying each
// range out of the mapping (the copy is where it faults and blocks) and
// checking it against the content function of the offset. Worker thread.
// workerData: { maps: [{ handle, seed }], until, seed, maxLen, report }
import { parentPort, workerData } from 'node:worker_threads';
import { attach } from '../dist/lib/index.js';
import { firstMismatch } from './fixtures/content.mjs';

const { maps, until, seed, maxLen } = workerData;
const views = maps.map((m) => ({ buf: attach(m.handle), seed: m.seed }));
let x = seed >>> 0 || 1;
const rand = () => {
  x ^= x << 13; x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5; x >>>= 0;
  return x / 2 ** 32;
};
const totals = { reads: 0, bytes: 0, bad: 0, mismatches: [] };
let lastReport = Date.now();
while (Date.now() < until) {
  const which = Math.floor(rand() * views.length);
  const { buf, seed: contentSeed } = views[which];
  const off = Math.floor(rand() * buf.length);
  // Mostly small reads, some long ones that span chunks (and evictions).
  const len = Math.min(buf.length - off, 1 + Math.floor(rand() ** 3 * maxLen));
  const got = Buffer.from(buf.subarray(off, off + len));
  const at = firstMismatch(got, off, contentSeed);
  if (at >= 0) {
    totals.bad++;
    if (totals.mismatches.length < 5) totals.mismatches.push({ mapping: which, offset: off, length: len, firstBadByte: off + at, got: got[at] });
  }
  totals.reads++;
  totals.bytes += len;
  if (Date.now() - lastReport > 250) {
    lastReport = Date.now();
    parentPort.postMessage({ type: 'progress', reads: totals.reads });
  }
}
parentPort.postMessage({ type: 'done', ...totals });
