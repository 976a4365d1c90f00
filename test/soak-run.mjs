// The soak: THREADS worker threads × MAPPINGS S3 mappings × SECONDS of random
// reads, with a resident budget small enough to force eviction and a chunk
// cache small enough that evicted chunks are fetched again. Every read is
// checked against the content function of the offset (fixtures/content.mjs),
// never against the code under test. A reader that makes no progress for
// STALL_MS is reported as a deadlock. Totals are returned (and printed when run
// as a script).
//
// `npm run soak` runs it as a script for 60 s against a MinIO it starts (or
// $S3MMAP_TEST_ENDPOINT with S3MMAP_TEST_ACCESS_KEY_ID/_SECRET_ACCESS_KEY);
// test/load.test.ts runs a 5 s form in the default suite. The main thread
// here only coordinates: it never touches mapped memory.
//
//   node test/soak-run.mjs [--seconds 60] [--threads 8] [--mappings 4] [--size 16m] [--budget 1m]
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { mapObject, parseSize } from '../dist/lib/index.js';
import { createBucket, putObject, startMinio } from '../dist/lib/dev/minio-server.js';
import { content } from './fixtures/content.mjs';

const STALL_MS = 20_000;

/**
 * @param {{ seconds?: number, threads?: number, mappings?: number, size?: number|string, budget?: number|string,
 *   cacheSize?: number|string, chunkSize?: number|string, maxLen?: number, s3: { endpoint: string, region?: string,
 *   credentials: { accessKeyId: string, secretAccessKey: string } }, bucket?: string, log?: (line: string) => void }} o
 */
export async function runSoak(o) {
  const seconds = o.seconds ?? 60;
  const threads = o.threads ?? 8;
  const count = o.mappings ?? 4;
  const size = parseSize(o.size ?? '16m') + 12345; // not a chunk multiple
  const budget = parseSize(o.budget ?? '1m');
  const log = o.log ?? (() => {});
  const region = o.s3.region ?? 'us-east-1';
  const client = new S3Client({ endpoint: o.s3.endpoint, region, forcePathStyle: true, credentials: o.s3.credentials });
  const bucket = o.bucket ?? `s3mmap-soak-${process.pid}-${Date.now().toString(36)}`;
  if (!o.bucket) await createBucket(client, bucket);
  const objects = [];
  for (let i = 0; i < count; i++) {
    const seed = 1000 + i;
    const key = `soak/${i}.bin`;
    await putObject(client, bucket, key, content(0, size, seed));
    objects.push({ key, seed });
  }
  client.destroy();

  const mappings = [];
  try {
    for (const { key, seed } of objects) {
      const m = await mapObject(`s3://${bucket}/${key}`, {
        endpoint: o.s3.endpoint, region, credentials: o.s3.credentials,
        chunkSize: o.chunkSize ?? '64k', residentBudget: budget, cacheSize: o.cacheSize ?? '256k',
      });
      mappings.push({ m, seed });
    }
    log(`soak: ${threads} threads × ${count} mappings of ${size} bytes for ${seconds} s, resident budget ${budget} each`);

    const started = Date.now();
    const until = started + seconds * 1000;
    const maps = mappings.map(({ m, seed }) => ({ handle: m.share(), seed }));
    const lastSeen = new Array(threads).fill(started);
    const readerUrl = new URL('./soak-reader.mjs', import.meta.url);
    const readers = Array.from({ length: threads }, (_, t) => new Promise((resolve, reject) => {
      const w = new Worker(readerUrl, { workerData: { maps, until, seed: 7919 * (t + 1), maxLen: 256 * 1024 } });
      w.on('message', (msg) => {
        lastSeen[t] = Date.now();
        if (msg.type === 'done') resolve(msg);
      });
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`soak reader ${t} exited (code ${code}) before reporting`)));
    }));
    let watchdog;
    const stalled = new Promise((_, reject) => {
      watchdog = setInterval(() => {
        const now = Date.now();
        const stuck = lastSeen.map((t, i) => [i, now - t]).filter(([, idle]) => idle > STALL_MS);
        if (stuck.length) {
          const stats = mappings.map(({ m }) => m.stats());
          reject(Object.assign(new Error(`soak: readers ${stuck.map(([i]) => i).join(', ')} made no progress for ${STALL_MS / 1000} s (deadlock?); stats ${JSON.stringify(stats)}`), { code: 'ESTALL' }));
        }
      }, 1000);
    });
    let done;
    try {
      done = await Promise.race([Promise.all(readers), stalled]);
    } finally {
      clearInterval(watchdog);
    }
    const elapsed = (Date.now() - started) / 1000;
    const perMapping = mappings.map(({ m }) => {
      const s = m.stats();
      return { faults: s.faults, fetches: s.fetches, bytesFetched: s.bytesFetched, cacheHits: s.cacheHits, evictions: s.evictions, errors: s.errors, residentBytes: s.residentBytes, residentPeak: s.residentPeak, faultLatencyP50Us: s.faultLatencyP50Us, faultLatencyP99Us: s.faultLatencyP99Us };
    });
    const sum = (k) => perMapping.reduce((n, s) => n + s[k], 0);
    const totals = {
      seconds: Math.round(elapsed * 10) / 10,
      threads, mappings: count, objectSize: size, residentBudget: budget,
      reads: done.reduce((n, r) => n + r.reads, 0),
      bytesRead: done.reduce((n, r) => n + r.bytes, 0),
      badReads: done.reduce((n, r) => n + r.bad, 0),
      mismatches: done.flatMap((r) => r.mismatches).slice(0, 10),
      faults: sum('faults'), fetches: sum('fetches'), bytesFetched: sum('bytesFetched'), cacheHits: sum('cacheHits'),
      // The fault worker's own high-water mark, kept at every install: no overshoot between two samples is missed.
      evictions: sum('evictions'), errors: sum('errors'), maxResidentBytes: Math.max(0, ...perMapping.map((s) => s.residentPeak)),
      readsPerThread: done.map((r) => r.reads),
      perMapping,
    };
    log(`soak: ${totals.reads} reads (${(totals.bytesRead / 2 ** 20).toFixed(0)} MiB) in ${totals.seconds} s, ${totals.badReads} bad, ` +
      `${totals.faults} faults, ${totals.fetches} GETs (${(totals.bytesFetched / 2 ** 20).toFixed(0)} MiB), ${totals.evictions} evictions, ${totals.errors} errors, ` +
      `max resident ${totals.maxResidentBytes} of ${budget} per mapping`);
    return totals;
  } finally {
    for (const { m } of mappings) await m.close();
  }
}

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`soak: unexpected argument ${argv[i]}`);
    out[m[1]] = m[2] ?? argv[++i];
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // As in vitest.config.ts: the pinned SDK's notice about future Node versions is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const a = args(process.argv.slice(2));
  let server;
  let s3;
  if (process.env.S3MMAP_TEST_ENDPOINT) {
    s3 = { endpoint: process.env.S3MMAP_TEST_ENDPOINT, region: process.env.S3MMAP_TEST_REGION, credentials: { accessKeyId: process.env.S3MMAP_TEST_ACCESS_KEY_ID, secretAccessKey: process.env.S3MMAP_TEST_SECRET_ACCESS_KEY } };
  } else {
    server = await startMinio();
    s3 = { endpoint: server.endpoint, region: server.region, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } };
  }
  let failed = false;
  try {
    const totals = await runSoak({
      s3,
      seconds: a.seconds ? Number(a.seconds) : 60,
      threads: a.threads ? Number(a.threads) : undefined,
      mappings: a.mappings ? Number(a.mappings) : undefined,
      size: a.size, budget: a.budget,
      log: (line) => console.error(line),
    });
    console.log(JSON.stringify(totals, null, 2));
    failed = totals.badReads > 0 || totals.errors > 0 || totals.maxResidentBytes > totals.residentBudget;
  } catch (err) {
    console.error(err.message);
    failed = true;
  } finally {
    await server?.stop();
  }
  process.exit(failed ? 1 : 0);
}
