// `s3mmap demo`: the whole idea in one run, with nothing set up beforehand.
// Starts a throwaway MinIO, uploads a file of fixed-size records (streamed,
// never whole in memory), maps it, reads a few records scattered across it
// through the Buffer, checks each, and shows how little was fetched. Main
// thread; MinIO is a child process, stopped on the way out (Ctrl-C too).
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { Argv, CommandModule } from 'yargs';
import { S3MmapError } from '../../lib/shared/errors.js';
import { mapObject } from '../../lib/api/map.js';
import type { Mapping } from '../../lib/api/mapping.js';
import { parseSize } from '../../lib/shared/sizes.js';
import { Interrupted, UsageError } from '../errors.js';
import { mapOptions, type GlobalArgs } from '../options.js';
import { err, fetchSummary, formatBytes, json, micros, out, Progress, statsJson } from '../output.js';

export const usage = 's3mmap demo [--size 256m] [--reads 12]';

interface DemoArgs extends GlobalArgs {
  size: number;
  reads: number;
}

const RECORD = 64;
const BLOCK = 1024 * 1024; // bytes generated (and sent) at a time

export const demoCommand: CommandModule<GlobalArgs, DemoArgs> = {
  command: 'demo',
  describe: 'Start a local MinIO, upload a record file, map it and read a few records',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .usage(`Usage: ${usage}\n\nStart a throwaway MinIO on loopback (built with \`go install\` if missing), upload an object of 64-byte records (record i holds i, 52 bytes derived from i and a checksum), map it, read records scattered across it through the Buffer, verify each, and show what was fetched against the object's size. Then stop MinIO.`)
      .option('size', {
        type: 'string',
        default: '256m',
        describe: 'Object size (a multiple of 64 bytes)',
        coerce: (v: unknown) => {
          let n: number;
          try {
            n = parseSize(String(v));
          } catch {
            throw new UsageError(`invalid --size '${v}': use a number of bytes or a binary unit, e.g. 64m, 1g`);
          }
          if (n < RECORD || n % RECORD) throw new UsageError(`invalid --size '${v}': it must be a positive multiple of ${RECORD} bytes (one record)`);
          return n;
        },
      })
      .option('reads', { type: 'number', default: 12, describe: 'Records to read, scattered over the object' })
      .check((a) => {
        if (!Number.isInteger(a.reads) || a.reads < 1 || a.reads > 10_000) throw new UsageError(`invalid --reads '${a.reads}': use a whole number from 1 to 10000`);
        return true;
      })
      // Named so it is listed before the global options.
      .group(['size', 'reads'], 'Options:')
      .example('$0 demo', '256 MiB of records; read 12 of them')
      .example('$0 demo --size 2g --chunk-size 4k', 'A bigger object; one page per fault') as unknown as Argv<DemoArgs>,
  handler: async (argv) => {
    const { findOrBuildMinio, startMinio, createBucket } = await import('../../lib/dev/minio-server.js');
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const say = argv.json ? () => {} : out;

    const bin = await findOrBuildMinio();
    const server = await startMinio({ bin: bin.path });
    // Ctrl-C must not leave a server and its data folder behind. Stopping it
    // ends the upload in flight; what failed because of that is not news.
    let interrupted: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted = sig;
      void server.stop();
    };
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    let mapping: Mapping | undefined;
    try {
      say(`MinIO ${minioVersion(bin.version)} is serving ${server.endpoint} (pid ${server.pid})`);
      if (argv.verbose) say(`  binary ${bin.path} (${bin.origin}), data in ${server.dataDir}`);
      const bucket = 's3mmap-demo';
      const key = `records-${sizeName(argv.size)}.bin`;
      const url = `s3://${bucket}/${key}`;
      const records = argv.size / RECORD;
      // A silent logger: the SDK would otherwise print its own warning to the
      // console when the upload is cut short by Ctrl-C.
      const quiet = { debug() {}, info() {}, warn() {}, error() {} };
      const client = server.client({ requestChecksumCalculation: 'WHEN_REQUIRED', logger: quiet });
      await createBucket(client, bucket);

      const progress = process.stderr.isTTY && !argv.json ? new Progress(`uploading ${key}`, argv.size) : undefined;
      const t0 = performance.now();
      let put;
      try {
        put = await client.send(new PutObjectCommand({
          Bucket: bucket, Key: key, ContentLength: argv.size, ContentType: 'application/octet-stream',
          Body: Readable.from(recordBlocks(records, (sent) => progress?.update(sent))),
        }));
      } finally {
        progress?.done();
        client.destroy();
      }
      const uploadMs = performance.now() - t0;
      say(`uploaded ${url}: ${formatBytes(argv.size)}, ${records.toLocaleString('en-US')} records of ${RECORD} bytes, in ${(uploadMs / 1000).toFixed(1)} s`);

      const t1 = performance.now();
      mapping = await mapObject(url, {
        ...mapOptions(argv),
        // The demo shows what reading a few records costs; with the default
        // fill, a few scattered reads of this small object already pay for
        // fetching it whole (--fill auto shows that).
        fill: argv.fill ?? 'off',
        endpoint: server.endpoint, region: server.region, profile: undefined,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      });
      const mapMs = performance.now() - t1;
      say(`mapped it in ${mapMs.toFixed(0)} ms (one GET; ${mapping.mode} mode, ${formatBytes(mapping.chunkSize)} chunks); ${formatBytes(mapping.stats().bytesFetched)} fetched so far`);

      const picks = scatter(records, argv.reads);
      say(`reading ${picks.length} records scattered over the object through the Buffer:`);
      const reads = picks.map((i) => {
        const start = performance.now();
        const ok = checkRecord(mapping!.buffer, i);
        const us = (performance.now() - start) * 1000;
        say(`  record ${String(i).padStart(String(records - 1).length)} at byte ${String(i * RECORD).padStart(String(argv.size).length)}: ${ok ? 'ok' : 'WRONG'}  (${micros(us)})`);
        // The bytes read, so that --json can be checked against the record layout by someone other than this checker.
        const bytes = mapping!.buffer.toString('hex', i * RECORD, (i + 1) * RECORD);
        return { record: i, offset: i * RECORD, ok, us: Math.round(us), bytes };
      });
      const first = mapping.stats();
      const again = performance.now();
      const stillOk = picks.every((i) => checkRecord(mapping!.buffer, i));
      const againUs = (performance.now() - again) * 1000;
      // Read after close(): its round trip to the fault worker lets the worker
      // finish the bookkeeping (fault latency) of the last fault it served.
      await mapping.close();
      const second = mapping.stats();
      const bad = reads.filter((r) => !r.ok).length + (stillOk ? 0 : 1);

      if (argv.json) {
        json({
          minio: { version: bin.version, endpoint: server.endpoint },
          object: { url, size: argv.size, etag: put.ETag, records, recordSize: RECORD },
          uploadMs: Math.round(uploadMs), mapMs: Math.round(mapMs), mode: mapping.mode,
          reads, rereadUs: Math.round(againUs), rereadFetches: second.fetches - first.fetches,
          stats: statsJson(second), verified: bad === 0,
        });
      } else {
        say(`all ${picks.length} verified again from memory in ${micros(againUs)}, ${second.fetches - first.fetches} new GETs`);
        say(fetchSummary(second).replace(/^./, (c) => c.toUpperCase()));
        say(`A download would have moved ${formatBytes(argv.size)}; the mapping moved ${formatBytes(second.bytesFetched)}.`);
      }
      if (bad) throw new S3MmapError('EBADDATA', `s3mmap: ${bad} record(s) read back wrong from ${url}; this is a bug, please report it with the output of \`s3mmap demo --verbose\``);
    } catch (e) {
      if (!interrupted) throw e;
    } finally {
      await mapping?.close();
      await server.stop();
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      if (!argv.json) err(`s3mmap: ${interrupted ? 'interrupted; ' : ''}stopped MinIO and removed its data`);
    }
    if (interrupted) throw new Interrupted(interrupted);
  },
};

/** `go install` builds call themselves DEVELOPMENT.GOGET; the module version is the real name. */
function minioVersion(v: string): string {
  return /module (\S+)/.exec(v)?.[1] ?? v.replace(/^minio version /, '');
}

function sizeName(n: number): string {
  for (const [unit, b] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) if (n % b === 0) return `${n / b}${unit}`;
  return `${n}B`;
}

// Record i: bytes 0-7 i (u64 LE), 8-59 thirteen u32 words derived from i,
// 60-63 the FNV-1a hash of bytes 0-59. Any misplaced or mixed-up page breaks
// either the index or the hash.

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function writeRecord(view: DataView, at: number, i: number): void {
  const lo = i >>> 0;
  const hi = Math.floor(i / 2 ** 32) >>> 0;
  view.setUint32(at, lo, true);
  view.setUint32(at + 4, hi, true);
  const seed = fmix32(lo ^ fmix32(hi + 0x9e3779b9));
  for (let k = 0; k < 13; k++) view.setUint32(at + 8 + 4 * k, fmix32(seed + Math.imul(k + 1, 0x27d4eb2f)), true);
  view.setUint32(at + 60, fnv1a(view, at, 60), true);
}

function fnv1a(view: DataView, at: number, len: number): number {
  let h = 0x811c9dc5;
  for (let j = 0; j < len; j++) h = Math.imul(h ^ view.getUint8(at + j), 0x01000193);
  return h >>> 0;
}

/** The object, a block at a time, so a 10 GiB demo needs 1 MiB of memory. */
async function* recordBlocks(records: number, sent: (bytes: number) => void): AsyncGenerator<Buffer> {
  const perBlock = BLOCK / RECORD;
  for (let first = 0; first < records; first += perBlock) {
    const n = Math.min(perBlock, records - first);
    const block = Buffer.allocUnsafe(n * RECORD);
    const view = new DataView(block.buffer, block.byteOffset, block.length);
    for (let r = 0; r < n; r++) writeRecord(view, r * RECORD, first + r);
    sent((first + n) * RECORD);
    yield block;
  }
}

/** Reads record i through the mapping (the first touch faults) and checks it against the recipe. */
function checkRecord(buf: Buffer, i: number): boolean {
  const got = buf.subarray(i * RECORD, (i + 1) * RECORD);
  const want = Buffer.alloc(RECORD);
  writeRecord(new DataView(want.buffer, want.byteOffset, RECORD), 0, i);
  return got.equals(want);
}

/** `n` distinct records spread over [0, records): the first, the last, and
 *  one at a fixed pseudo-random place in each equal slice between. */
function scatter(records: number, n: number): number[] {
  const count = Math.min(n, records);
  const picks: number[] = [];
  for (let s = 0; s < count; s++) {
    const lo = Math.floor((s * records) / count);
    const hi = Math.floor(((s + 1) * records) / count);
    picks.push(s === 0 ? 0 : s === count - 1 ? records - 1 : lo + (fmix32(s) % (hi - lo)));
  }
  return picks;
}
