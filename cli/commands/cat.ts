// `s3mmap cat`: the object, or a byte range of it, to stdout through the
// mapping. Main thread; the fault worker fetches. Each piece is made resident
// with load() before it is written, which is what user-mode-only mode needs
// (the kernel cannot fault pages in for write(2)) and in full mode lets the
// next pieces download while this one is written. Written pieces are evicted
// so catting a 100 GiB object does not need 100 GiB of memory.
import type { Argv, CommandModule } from 'yargs';
import { mapObject } from '../../lib/api/map.js';
import type { Mapping } from '../../lib/api/mapping.js';
import { parseS3Url } from '../../lib/s3/url.js';
import { parseSize } from '../../lib/shared/sizes.js';
import { S3MmapError } from '../../lib/shared/errors.js';
import { UsageError } from '../errors.js';
import { mapOptions, type GlobalArgs } from '../options.js';
import { err, fetchSummary, json, Progress, statsJson } from '../output.js';
import { writeAll } from '../stdout.js';

export const usage = 's3mmap cat s3://bucket/key [--range START-END]';

interface CatArgs extends GlobalArgs {
  url: string;
  range?: string;
  progress?: boolean;
}

// A range as typed: [start, end] inclusive like HTTP, or from start to the
// end, or the last `suffix` bytes.
type RangeSpec = { start: number; end?: number } | { suffix: number };

const PIECE = 8 * 1024 * 1024;
// Pieces being fetched while one is written.
const AHEAD = 4;
// Below this a bar would flash and vanish.
const PROGRESS_MIN = 32 * 1024 * 1024;

export const catCommand: CommandModule<GlobalArgs, CatArgs> = {
  command: 'cat <url>',
  describe: 'Write an object, or a byte range of it, to stdout through the mapping',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .usage(`Usage: ${usage}\n\nWrite an object, or a byte range of it, to stdout through the mapping: each piece is fetched with ranged GETs into the mapping, then written from it.`)
      .positional('url', { type: 'string', describe: 'The object, s3://bucket/key', demandOption: true })
      .option('range', {
        type: 'string',
        describe: 'Bytes START to END inclusive (START-END), START- to the end, or -N for the last N; sizes like 1m work',
        requiresArg: true,
      })
      .option('progress', {
        type: 'boolean',
        describe: 'Progress bar on stderr [default: when stderr is a terminal and the transfer is 32 MiB or more]',
      })
      // Named so it is listed before the global options.
      .group(['range', 'progress'], 'Options:')
      .example('$0 cat s3://data/shard-0001.tdb > shard.tdb', 'Copy an object to a file')
      .example('$0 cat s3://data/logs.bin --range 4096-8191 | xxd | head', 'Bytes 4096..8191 (the second 4 KiB)')
      .example('$0 cat s3://data/archive.zip --range -22 | xxd', 'The last 22 bytes (a zip end record)')
      .example('$0 cat s3://data/big.bin | sha256sum', 'Checksum an object without a temporary file') as unknown as Argv<CatArgs>,
  handler: async (argv) => {
    const loc = parseS3Url(argv.url);
    const spec = argv.range === undefined ? undefined : parseRange(argv.range);
    const mapping = await mapObject(loc, mapOptions(argv));
    let start = 0;
    let end = 0;
    try {
      [start, end] = spec ? resolveRange(spec, mapping.size, argv.url) : [0, mapping.size];
      const show = argv.progress ?? (process.stderr.isTTY === true && !argv.json && end - start >= PROGRESS_MIN);
      await copyOut(mapping, start, end, show ? new Progress(argv.url, end - start) : undefined);
    } finally {
      await mapping.close();
    }
    // Read after close(): its round trip to the fault worker lets the worker
    // finish the bookkeeping of the last faults it served.
    if (argv.verbose) {
      const stats = mapping.stats();
      if (argv.json) json({ url: argv.url, range: [start, end], mode: mapping.mode, stats: statsJson(stats) }, 'stderr');
      else err(`s3mmap: ${argv.url}: wrote ${end - start} bytes (${mapping.mode} mode); ${fetchSummary(stats)}`);
    }
  },
};

export function parseRange(text: string): RangeSpec {
  const m = /^\s*([^-\s]*)\s*-\s*([^-\s]*)\s*$/.exec(text);
  const size = (s: string) => {
    try {
      return parseSize(s);
    } catch {
      return NaN;
    }
  };
  if (m && (m[1] || m[2])) {
    if (!m[1]) {
      const suffix = size(m[2]);
      if (Number.isSafeInteger(suffix) && suffix > 0) return { suffix };
    } else {
      const start = size(m[1]);
      const end = m[2] ? size(m[2]) : undefined;
      if (Number.isSafeInteger(start) && (end === undefined || (Number.isSafeInteger(end) && end >= start))) return { start, end };
    }
  }
  throw new UsageError(`invalid --range '${text}': use START-END (inclusive, START <= END), START- or -LAST, e.g. 0-1023, 1m-, -4096`);
}

/** [start, end) within an object of `size` bytes; an end past the object is cut to it, as HTTP does. */
export function resolveRange(spec: RangeSpec, size: number, url: string): [number, number] {
  if ('suffix' in spec) return [Math.max(0, size - spec.suffix), size];
  if (spec.start >= size) {
    throw new S3MmapError('InvalidRange', `s3mmap: range start ${spec.start} is past the end of ${url} (${size} bytes); the last byte is at ${Math.max(0, size - 1)}`);
  }
  return [spec.start, Math.min(size, (spec.end ?? size - 1) + 1)];
}

async function copyOut(mapping: Mapping, start: number, end: number, progress: Progress | undefined): Promise<void> {
  if (end <= start) return;
  // No readahead hint: cat loads its pieces ahead itself, and the library's
  // readahead acts on faults, which resident pieces never raise.
  const chunk = mapping.chunkSize;
  // Piece borders on chunk borders, so evicting a written piece never drops
  // a chunk the next piece still needs.
  const piece = Math.max(1, Math.floor(PIECE / chunk)) * chunk;
  const loads: { from: number; to: number; ready: Promise<void> }[] = [];
  let queued = start;
  const fill = () => {
    while (loads.length < AHEAD && queued < end) {
      const from = queued;
      const to = Math.min(end, (Math.floor(from / piece) + 1) * piece);
      const ready = mapping.load(from, to - from);
      // Awaited below; on an early exit (EPIPE) close() may reject the rest.
      ready.catch(() => {});
      loads.push({ from, to, ready });
      queued = to;
    }
  };
  try {
    for (;;) {
      fill();
      const next = loads.shift();
      if (!next) break;
      await next.ready;
      const open = await writeAll(mapping.kernelView(next.from, next.to - next.from));
      if (!open) return; // The reader has what it wanted (`| head -c 10`): not an error.
      const first = Math.ceil(next.from / chunk) * chunk;
      const last = Math.floor(next.to / chunk) * chunk;
      if (last > first && next.to < end) mapping.evict(first, last - first).catch(() => {});
      progress?.update(next.to - start);
    }
    progress?.update(end - start, true);
  } finally {
    progress?.done();
  }
}
