// Progress under the smallest resident budget the options accept: one chunk,
// two reader threads reading random ranges through attach()ed views. Without
// the protection of a chunk installed for a waiting thread, each thread's
// chunk was evicted for the other before it was read, forever (issue 23).
// The readers run in a child process with a deadline of its own, so a
// livelock is a reported failure with its counts, not a hung suite.
//
// Runs in a vitest fork; the mapping lives in the child (test/helpers/child.ts).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runChild } from './helpers/child.js';

const chunk = 64 * 1024;
const sizedSource = fileURLToPath(new URL('./fixtures/sized-source.mjs', import.meta.url));
const contentModule = new URL('./fixtures/content.mjs', import.meta.url).href;

describe('a budget of one chunk', () => {
  for (const threads of [1, 2, 4]) {
    it(`${threads} threads reading random ranges of up to 128 KiB on a 64 MiB mapping all finish, every byte exact`, async () => {
      const reads = 1000;
      const r = await runChild(`
        import { Worker } from 'node:worker_threads';
        import { mapSource } from S3MMAP_LIB;
        const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${1024 * chunk}, seed: 61 } }, { residentBudget: '64k', readahead: 0 });
        const report = (done) => { const s = m.stats(); return { done, faults: s.faults, evictions: s.evictions, installs: s.installs, residentPeak: s.residentPeak }; };
        // The deadline: a livelock ends here, with its counts, instead of never.
        const deadline = setTimeout(() => { console.log(JSON.stringify({ ...report(false), results })); process.exit(3); }, 30_000);
        const results = [];
        await Promise.all(Array.from({ length: ${threads} }, (_, t) => new Promise((resolve, reject) => {
          const w = new Worker(\`
            import { parentPort, workerData } from 'node:worker_threads';
            import { firstMismatch } from ${JSON.stringify(contentModule)};
            const { attach } = await import(workerData.lib);
            const b = attach(workerData.handle);
            let x = 0x9e3779b9 ^ workerData.t;
            const rand = (n) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; };
            let bad = 0;
            for (let i = 0; i < ${reads}; i++) {
              const len = 1 + rand(${2 * chunk});
              const off = rand(b.length - len);
              if (firstMismatch(Buffer.from(b.subarray(off, off + len)), off, 61) >= 0) bad++;
            }
            parentPort.postMessage({ reads: ${reads}, bad });
          \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB, handle: m.share(), t } });
          w.once('message', (msg) => { results.push(msg); resolve(); });
          w.once('error', reject);
        })));
        clearTimeout(deadline);
        console.log(JSON.stringify({ ...report(true), results }));
        await m.close();
      `, { timeoutMs: 90_000 });
      const out = JSON.parse(r.stdout || '{}');
      console.log(`${threads} thread(s): ${r.stdout.trim()}`);
      expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
      expect(out.done).toBe(true);
      expect(out.results).toEqual(Array(threads).fill({ reads, bad: 0 }));
      // The cap held, and each read of at most 3 chunks faulted a bounded number of times.
      expect(out.residentPeak).toBeLessThanOrEqual(chunk + 2 * threads * chunk);
      expect(out.faults).toBeLessThanOrEqual(threads * reads * 3 * 2);
      expect(out.evictions).toBeLessThan(out.installs);
    });
  }
});
