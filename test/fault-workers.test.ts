// Several fault workers in one process (every thread that maps gets its own):
// each retires only the regions it serves. The reproductions of issue 23: a
// worker thread holds a mapping while the main thread maps, drops without
// close() and maps again; threads that load() and close() without awaiting;
// and the registry refusing a destroy from a thread that does not serve the
// region. Each case runs in a child process (test/helpers/child.ts).
//
// Runs in a vitest fork against the run's MinIO.
import { beforeAll, describe, expect, it } from 'vitest';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { runChild } from './helpers/child.js';
import { testS3 } from './helpers/s3.js';
import { content } from './fixtures/content.mjs';

const s3 = testS3();
const MiB = 1024 * 1024;
const contentModule = new URL('./fixtures/content.mjs', import.meta.url).href;
let bucket: string;
let opts: string;

beforeAll(async () => {
  bucket = await s3.uniqueBucket('owners');
  await putObject(s3.client(), bucket, 'big', content(0, 16 * MiB, 231));
  await putObject(s3.client(), bucket, 'small', content(0, MiB, 232));
  for (let i = 0; i < 4; i++) await putObject(s3.client(), bucket, `o${i}`, content(0, 2 * MiB, 240 + i));
  opts = JSON.stringify({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials });
});

describe('a region is retired by the fault worker that serves it', () => {
  it('a worker thread holds its own mapping; the main thread maps 16 MiB, drops it without close(), GCs and maps again, 8 rounds: every round maps and reads exact bytes', async () => {
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      import { mapObject } from S3MMAP_LIB;
      import { firstMismatch } from ${JSON.stringify(contentModule)};
      const opts = ${opts};
      const w = new Worker(\`
        import { parentPort } from 'node:worker_threads';
        const { mapObject } = await import(\${JSON.stringify(S3MMAP_LIB)});
        const m = await mapObject('s3://${bucket}/small', ${opts});
        parentPort.postMessage(m.buffer[77]);
        parentPort.once('message', async () => { await m.close(); parentPort.close(); });
      \`, { eval: true, type: 'module' });
      await new Promise((r) => w.once('message', r));
      const rounds = [];
      for (let round = 0; round < 8; round++) {
        try {
          let a = await mapObject('s3://${bucket}/big', opts);
          const first = a.buffer[0];
          a = null; // dropped, never closed
          for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((s) => setTimeout(s, 30)); }
          const b = await mapObject('s3://${bucket}/big', opts);
          const off = round * ${2 * MiB} + 12345;
          const bad = firstMismatch(Buffer.from(b.buffer.subarray(off, off + 200000)), off, 231);
          await b.close();
          rounds.push(first === ${content(0, 1, 231)[0]} && bad < 0 ? 'ok' : 'bad bytes at ' + bad);
        } catch (e) {
          rounds.push(e.code + ': ' + e.message.split('\\n')[0]);
        }
      }
      w.postMessage('bye');
      await new Promise((r) => w.once('exit', r));
      console.log(JSON.stringify(rounds));
    `, { args: ['--expose-gc'], timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(Array(8).fill('ok'));
  });

  it('threads that each map objects, load() and close() without awaiting: every load() resolves or rejects with ERR_CLOSED, never EIO', async () => {
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      const threads = 4;
      const outcomes = await Promise.all(Array.from({ length: threads }, (_, t) => new Promise((resolve, reject) => {
        const w = new Worker(\`
          import { parentPort } from 'node:worker_threads';
          const { mapObject } = await import(\${JSON.stringify(S3MMAP_LIB)});
          const opts = ${opts};
          const seen = {};
          for (let round = 0; round < 6; round++) {
            const maps = await Promise.all([0, 1, 2, 3].map((i) => mapObject('s3://${bucket}/o' + i, opts)));
            const loads = maps.map((m) => m.load(0, m.size).then(() => 'resolved', (e) => e.code + (e.code === 'ERR_CLOSED' ? '' : ': ' + e.message)));
            const closes = maps.map((m) => m.close());
            for (const o of await Promise.all(loads)) seen[o] = (seen[o] ?? 0) + 1;
            await Promise.all(closes);
          }
          parentPort.postMessage(seen);
        \`, { eval: true, type: 'module' });
        w.once('message', resolve);
        w.once('error', reject);
      })));
      const total = {};
      for (const seen of outcomes) for (const [k, v] of Object.entries(seen)) total[k] = (total[k] ?? 0) + v;
      console.log(JSON.stringify(total));
    `, { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const total = JSON.parse(r.stdout) as Record<string, number>;
    expect(Object.keys(total).filter((k) => k !== 'resolved' && k !== 'ERR_CLOSED'), r.stdout).toEqual([]);
    expect((total.resolved ?? 0) + (total.ERR_CLOSED ?? 0)).toBe(4 * 6 * 4);
  });

  it('the registry refuses to destroy a region from a thread that does not serve it (EPERM), and the mapping goes on serving exact bytes', async () => {
    const r = await runChild(`
      import { mapObject } from S3MMAP_LIB;
      const { native } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
      const m = await mapObject('s3://${bucket}/small', ${opts});
      const before = m.buffer[5];
      let refused;
      try { native.destroyRegion(m.share().id); refused = 'obeyed'; } catch (e) { refused = e.code + ' ' + e.syscall; }
      console.log(JSON.stringify({ refused, before, after: m.buffer[700000], live: native.liveRegions() }));
      await m.close();
    `, { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ refused: 'EPERM destroyRegion', before: content(5, 1, 232)[0], after: content(700000, 1, 232)[0], live: 1 });
  });
});
