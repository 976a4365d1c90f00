// `s3mmap stat`: what mapping an object would mean, without mapping it: its
// size and ETag (one ranged GET of one byte, through the same S3 source the fault worker uses,
// so errors read the same as cat's and mount's), the chunk plan the options
// give, whether one Buffer can hold it on this Node, and the userfaultfd this
// machine offers. Main thread.
import type { Argv, CommandModule } from 'yargs';
import { resolveOptions } from '../../lib/api/options.js';
import { endpointOf } from '../../lib/api/map.js';
import { resolveShared } from '../../lib/api/shm-dir.js';
import { POLICY } from '../../lib/shared/defaults.js';
import { NetworkModel } from '../../lib/shared/network-model.js';
import { fillShape, modelSizes } from '../../lib/shared/plan.js';
import { whyPrivate } from '../../lib/shared/sharing.js';
import { maxBufferLength, native } from '../../lib/shared/native.js';
import { parseS3Url } from '../../lib/s3/url.js';
import { uffdInfo, type UffdInfo } from '../../lib/api/uffd-info.js';
import { diskCacheRoom } from '../../lib/api/cache-admin.js';
import { clientOptions, mapOptions, type GlobalArgs } from '../options.js';
import { bytesExact, formatBytes, json, out, section } from '../output.js';

export const usage = 's3mmap stat s3://bucket/key [--json]';

interface StatArgs extends GlobalArgs {
  url: string;
}

export const statCommand: CommandModule<GlobalArgs, StatArgs> = {
  command: 'stat <url>',
  describe: "Show an object's size, ETag and chunk plan, and this machine's userfaultfd",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .usage(`Usage: ${usage}\n\nShow an object's size, ETag, last modified time, the chunk plan for mapping it, and the userfaultfd mode and features of this machine. One request (a one-byte ranged GET); nothing is mapped.`)
      .positional('url', { type: 'string', describe: 'The object, s3://bucket/key', demandOption: true })
      .example('$0 stat s3://data/shard-0001.tdb', 'Size, ETag, chunk plan, userfaultfd mode')
      .example('$0 stat s3://data/shard-0001.tdb --chunk-size 1m', 'The plan with 1 MiB chunks')
      .example("$0 stat s3://data/shard-0001.tdb --json | jq .size", 'For scripts') as unknown as Argv<StatArgs>,
  handler: async (argv) => {
    const loc = parseS3Url(argv.url);
    // Options first: a bad --chunk-size is a usage error before any request.
    const opts = resolveOptions(mapOptions(argv), argv.url, endpointOf({ kind: 's3', ...loc, client: clientOptions(argv) }));
    const shared = resolveShared(mapOptions(argv));
    const { S3Source } = await import('../../lib/s3/source.js');
    const source = new S3Source({ ...loc, client: clientOptions(argv) });
    let info;
    try {
      info = await source.open();
    } finally {
      source.close();
    }
    const uffd = uffdInfo(opts.userModeOnly);
    const chunks = Math.ceil(info.size / opts.chunkSize);
    const lastChunk = info.size - (chunks - 1) * opts.chunkSize;
    const meta = info.meta ?? {};
    const report = {
      url: argv.url,
      bucket: loc.bucket,
      key: loc.key,
      size: info.size,
      etag: info.version,
      lastModified: meta.lastModified ?? null,
      contentType: meta.contentType ?? null,
      plan: {
        chunkSize: opts.chunkSize,
        chunks,
        lastChunkSize: chunks ? lastChunk : 0,
        fetchSize: opts.fetchSize,
        readahead: opts.readahead,
        cacheSize: opts.cacheSize,
        concurrency: opts.concurrency,
        fill: opts.plan.fill, // the plan's: readahead 0 turns 'auto' off
        fetchPlan: opts.plan,
        diskCache: opts.diskCache && { ...opts.diskCache, room: diskCacheRoom(opts.diskCache.dir, opts.diskCache.maxBytes) },
        shared: shared.shared,
        sharedNote: whyPrivate({ ...opts, ...shared, sharedNote: shared.note }, true, info.size, Math.ceil(info.size / native.pageSize) * native.pageSize),
      },
      // Before any GET the model holds its seeds; a mapping's stats() shows what it learned.
      model: modelReport(opts.plan, info.size),
      // Node 20 is past its end of life (April 2026) and holds 4 GiB per Buffer: say what that means here.
      node: { version: process.version, endOfLife: nodeMajor() < 22, maxBufferLength, wholeBuffer: info.size <= maxBufferLength },
      uffd,
    };
    if (argv.json) return json(report);

    const p = report.plan;
    // One key column for all three sections, so they read as one table.
    const w = 'last modified'.length;
    const lines = [
      ...section(argv.url, [
        ['size', bytesExact(info.size)],
        ['etag', info.version],
        ['last modified', String(meta.lastModified ?? 'unknown')],
        ['content type', String(meta.contentType ?? 'unknown')],
      ], w),
      ...section('chunk plan', [
        ['chunk size', p.chunks === 0
          ? `${formatBytes(p.chunkSize)}: no chunks, the object is empty`
          : `${formatBytes(p.chunkSize)}: ${p.chunks} chunk${p.chunks === 1 ? '' : 's'}${lastChunk !== p.chunkSize ? ` (the last ${formatBytes(lastChunk)})` : ''}, each installed by one fault`],
        ['fetch size', `${formatBytes(p.fetchSize)} per ranged GET at most`],
        ['readahead', p.readahead ? `up to ${formatBytes(p.readahead)} ahead of a sequential reader` : 'off'],
        ['cache', p.cacheSize ? `${formatBytes(p.cacheSize)} of fetched chunks kept to reinstall evicted pages` : 'off'],
        ['disk cache', p.diskCache ? diskCacheText(p.diskCache) : 'off (--cache DIR or $S3MMAP_CACHE_DIR)'],
        ['memory', p.sharedNote === null && p.shared
          ? `shared with your other processes mapping this version (${p.shared.dir}, all shared pages up to ${formatBytes(p.shared.cap)})`
          : `private to each mapping: ${p.sharedNote}`],
        ['concurrency', `${p.concurrency} GETs in flight at most`],
        ['fill', p.fill === 'off' ? 'off' : p.fill === 'eager' ? 'the rest of the object at the first fault' : `the rest of the object once faults have waited ${report.model.fillAfterMs.toFixed(0)} ms on the network (by the model)`],
      ], w),
      ...section('network model', [
        ['first byte', `${report.model.firstByteMs} ms (seed; learned from each mapping's GETs)`],
        ['bandwidth', `${formatBytes(report.model.bytesPerSec)}/s per connection (seed)`],
        ['merge gap', `${formatBytes(report.model.gapBytes)}: a hole this small is fetched, not skipped`],
        ['largest piece', `${formatBytes(report.model.pieceBytes)} per readahead or fill GET`],
      ], w),
      ...section('node', nodePairs(report.node, info.size), w),
      ...section('userfaultfd', uffdPairs(uffd), w),
    ];
    for (const l of lines) out(l);
  },
};

function diskCacheText(d: { dir: string; maxBytes: number; room: ReturnType<typeof diskCacheRoom> }): string {
  const r = d.room;
  if (r?.full) return `${d.dir}: its filesystem is full (${formatBytes(r.used)} of it cache entries); mappings run without the disk cache (stats().diskCacheBypassed) until there is room`;
  const cap = r && r.cap < d.maxBytes ? `up to ${formatBytes(r.cap)}, what its filesystem can hold (${formatBytes(d.maxBytes)} asked)` : `up to ${formatBytes(d.maxBytes)}`;
  return `${d.dir}, ${cap}, shared with your other processes`;
}

/** The seeded model's figures and what they make of this object. */
function modelReport(plan: ReturnType<typeof resolveOptions>['plan'], size: number) {
  const m = new NetworkModel();
  const { maxPiece } = modelSizes(m, plan);
  return {
    firstByteMs: m.firstByteMs,
    bytesPerSec: m.bytesPerSec,
    gapBytes: Math.round(m.gapBytes),
    pieceBytes: maxPiece * plan.chunkSize,
    fillAfterMs: POLICY.fill.startAt * fillShape(m, plan, size).priceMs,
  };
}

function nodeMajor(): number {
  return Number(process.versions.node.split('.')[0]);
}

function nodePairs(n: { version: string; endOfLife: boolean; wholeBuffer: boolean }, size: number): [string, string][] {
  const version = n.endOfLife
    ? `${n.version}: past its end of life (April 2026); s3mmap still runs on it, Node.js 22, 24 or 26 are current`
    : n.version;
  const buffer = n.wholeBuffer
    ? `mapping.buffer is the whole object (one Buffer holds up to ${formatBytes(maxBufferLength)} here)`
    : `${formatBytes(size)} is more than one Buffer holds here (${formatBytes(maxBufferLength)}): read it through mapping.view(offset, length), or use Node.js 22 or later`;
  return [['version', version], ['buffer', buffer]];
}

function uffdPairs(u: UffdInfo): [string, string][] {
  if (!u.available) return [['mode', `unavailable (${u.code})`], ['remedy', u.reason ?? '']];
  const mode = u.mode === 'full'
    ? 'full: kernel-mode reads of cold pages are served too (write(2) from the Buffer works)'
    : 'user-only: write(2) from cold pages fails with EFAULT until mapping.load()';
  return [
    ['mode', `${mode}`],
    ['via', String(u.via)],
    ['page size', String(u.pageSize)],
    ['features', wrap(u.features, 64).join('\n')],
  ];
}

function wrap(words: string[], width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.length ? lines : ['none'];
}
