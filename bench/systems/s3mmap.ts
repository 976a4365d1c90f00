// System 1, s3mmap, read through mapping.buffer; plus its no-network variants
// for the fault-service comparison with the C ceiling: a memory source
// (mapBytes) and a local-file source (mapFile) at a given chunk size.
// Cell process: the mapping lives on the main thread (reader threads attach
// views of it), faults are served by s3mmap's fault worker thread in the same process.
import { attach as attachView, DEFAULTS, mapBytes, mapFile, mapObject, type Mapping, type MappingHandle } from '../../lib/index.js';
import { BLOCK, fillBlocks } from '../content.js';
import { BUDGET_RESIDENT } from '../workloads.js';
import { bufferReader, type CellSpec, type Opened, type OpenSystem } from './types.js';

function mapFor(spec: CellSpec): Promise<Mapping> {
  const chunkSize = spec.chunkSize ?? DEFAULTS.chunkSize;
  // Options a build may lack (fill, shared) pass through: a build without them ignores them.
  const options = {
    chunkSize, ...(spec.noReadahead ? { readahead: 0 } : {}), ...(spec.workload === 'budget' ? { residentBudget: BUDGET_RESIDENT } : {}), ...spec.mapOptions,
  };
  if (spec.system.startsWith('s3mmap-mem')) {
    // Generated straight into shared memory, which mapBytes uses without a copy.
    const sab = new SharedArrayBuffer(Math.ceil(spec.size / BLOCK) * BLOCK);
    fillBlocks(spec.seed, 0, new Uint8Array(sab));
    return mapBytes(new Uint8Array(sab, 0, spec.size), options);
  }
  if (spec.system.startsWith('s3mmap-file')) {
    if (!spec.localPath) throw new Error(`${spec.system}: no local file`);
    return mapFile(spec.localPath, options);
  }
  const { endpoint, region, credentials, bucket, key } = spec.s3;
  return mapObject({ bucket, key }, { endpoint, region, credentials, forcePathStyle: true, ...options });
}

/** Starts the fault worker and, for S3, loads the S3 source by mapping the
 *  warm-up object and reading a byte of it; then unmaps it. */
export async function warmup(spec: CellSpec): Promise<void> {
  const { endpoint, region, credentials, bucket } = spec.s3;
  const m = spec.system.startsWith('s3mmap-mem') || spec.system.startsWith('s3mmap-file')
    ? await mapBytes(new Uint8Array(64 * 1024))
    : await mapObject({ bucket, key: spec.warmupKey }, { endpoint, region, credentials, forcePathStyle: true });
  if (m.buffer[0] === undefined) throw new Error('warm-up mapping is empty');
  await m.close();
  if (spec.system === 's3mmap-disk') await (await import('./disk-warm.js')).prewarm(spec);
}

/** Whether a background fill started, from stats().fill (an object, or flat fill* fields) where the
 *  build has one: fillStarted 1 or 0, absent when the build has no fill. */
export function fillFigures(s: Record<string, unknown>): Record<string, number> {
  const fill = s.fill;
  const flat = Object.fromEntries(Object.entries(s).filter(([k]) => /^fill./.test(k)));
  const f = (fill && typeof fill === 'object' ? fill : Object.keys(flat).length ? flat : undefined) as Record<string, unknown> | undefined;
  if (f === undefined) {
    if (typeof fill === 'boolean' || typeof fill === 'number') return { fillStarted: fill ? 1 : 0 };
    return {};
  }
  const pick = (...names: string[]) => names.map((n) => Object.entries(f).find(([k]) => k.toLowerCase() === n.toLowerCase())?.[1]).find((v) => v !== undefined);
  const started = pick('started', 'fillStarted', 'active', 'running');
  const at = pick('startedAt', 'startedAtMs', 'fillStartedAt', 'startedAfterBytes', 'startedAtBytes');
  const bytes = pick('bytes', 'bytesFetched', 'fillBytes', 'chunks', 'fillChunks');
  const state = pick('state', 'status', 'fillState');
  const yes = typeof started === 'boolean' ? started
    : at !== undefined && at !== null ? typeof at === 'number' ? at >= 0 && Number.isFinite(at) : true
    : typeof state === 'string' ? !/^(idle|off|none|never|waiting|not.?started)$/i.test(state)
    : typeof bytes === 'number' ? bytes > 0 : false;
  return { fillStarted: yes ? 1 : 0, ...(typeof bytes === 'number' ? { fillBytes: bytes } : {}) };
}

const mappings = new WeakMap<Opened, Mapping>();

export const share = (o: Opened): MappingHandle => mappings.get(o)!.share();

export const attach = (handle: unknown): Opened => {
  const view = attachView(handle as MappingHandle);
  return { reader: bufferReader(view), close: async () => {} };
};

export const open: OpenSystem = async (spec) => {
  const mapping = await mapFor(spec);
  const opened: Opened = {
    reader: { ...bufferReader(mapping.buffer, mapping.size), willRead: (offset, length) => mapping.load(offset, length) },
    stats: () => {
      const s = mapping.stats();
      return {
        faults: s.faults,
        fetches: s.fetches,
        bytesFetched: s.bytesFetched,
        chunksFetched: s.chunksFetched,
        prefetchedChunks: s.prefetchedChunks,
        cacheHits: s.cacheHits,
        diskCacheBytes: s.diskCacheBytes,
        faultP50Us: s.faultLatencyP50Us,
        faultP99Us: s.faultLatencyP99Us,
        errors: s.errors,
        evictions: s.evictions,
        residentPeak: s.residentPeak,
        ...fillFigures(s as unknown as Record<string, unknown>),
      };
    },
    detail: () => {
      const s = mapping.stats() as unknown as Record<string, unknown>;
      // Whatever this build says of a background fill and of the region's kind, as it says it.
      return Object.fromEntries(Object.entries(s).filter(([k]) => /^fill|shared|region/i.test(k)));
    },
    close: () => mapping.close(),
  };
  mappings.set(opened, mapping);
  return opened;
};
