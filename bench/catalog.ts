// The systems the bench knows: ids, labels, roles, how each is run and which
// workloads apply. Pure data and parsing; orchestrator process, main thread.
import { DEFAULTS, formatBytes, parseSize } from '../lib/index.js';
import type { Workload } from './workloads.js';

export type Role = 'self' | 'peer' | 'ceiling';
export type Kind = 'node' | 'fuse' | 'c';

export interface SystemDef {
  id: string;
  label: string;
  role: Role;
  kind: Kind;
  workloads: readonly Workload[];
  /** Install unit for chunk variants. */
  chunkSize?: number;
  /** s3mmap variants ending in -nora: readahead off, so every chunk is one fault (as in the C handler). */
  noReadahead?: boolean;
  /** s3mmap variants: more mapObject() options. */
  mapOptions?: Record<string, unknown>;
}

const NETWORK: readonly Workload[] = [
  'sequential', 'warm', 'random', 'random4', 'strided', 'parquet', 'arrow', 'map', 'crossover', 'budget', 'procs4-scan', 'procs4-random',
];
const without = (...ws: Workload[]) => NETWORK.filter((w) => !ws.includes(w));
/** Several processes or a resident budget: what a mapping (or a mount's page cache) shares or caps. */
const MEMORY: Workload[] = ['budget', 'procs4-scan', 'procs4-random'];
/** A FUSE mount: one file, read as any program would; random4 reads it from 4 threads,
 *  procs4 from 4 processes that share the kernel's page cache. */
const FUSE = without('crossover', 'budget');

export const DEFAULT_SYSTEMS = [
  's3mmap', 'get-object', 'parallel', 'parallel-16', 'parallel-32', 'ranged', 's3fs', 'rclone', 'mountpoint', 'geesefs', 'goofys', 'uffd-c', 'memory',
  'uffd-c-64k', 'uffd-c-1m', 's3mmap-mem-64k', 's3mmap-mem-1m', 's3mmap-mem-64k-nora', 's3mmap-mem-1m-nora',
  's3mmap-file-64k', 's3mmap-file-1m',
  's3mmap-disk', 's3mmap-fill-off', 's3mmap-nora', 's3mmap-private',
];

const FIXED: Record<string, Omit<SystemDef, 'id'>> = {
  s3mmap: { label: 's3mmap', role: 'self', kind: 'node', workloads: NETWORK },
  // Its time to map is a whole download, as for parallel, only slower: left out of 'map' to save minutes.
  // A download's random4 or crossover is its download again: the parallel ones stand for it.
  'get-object': { label: 'GetObject → Buffer', role: 'peer', kind: 'node', workloads: without('map', 'random4', 'crossover', ...MEMORY) },
  parallel: { label: 'parallel download (8 MiB × 8)', role: 'peer', kind: 'node', workloads: without('random4', ...MEMORY) },
  // More lanes only matter where the download is the whole cost: the scan, the dense random reader, the crossover.
  'parallel-16': { label: 'parallel download (8 MiB × 16)', role: 'peer', kind: 'node', workloads: ['sequential', 'random', 'crossover'] },
  'parallel-32': { label: 'parallel download (8 MiB × 32)', role: 'peer', kind: 'node', workloads: ['sequential', 'crossover'] },
  // No cache: its warm re-read is the cold read again, at the same cost; left out of 'warm' to save minutes.
  // In the crossover it reads k records with k GETs: the other plain choice beside downloading.
  ranged: { label: 'ranged GET per read', role: 'peer', kind: 'node', workloads: without('warm', ...MEMORY) },
  s3fs: { label: 's3fs-fuse', role: 'peer', kind: 'fuse', workloads: FUSE },
  rclone: { label: 'rclone mount (vfs full)', role: 'peer', kind: 'fuse', workloads: FUSE },
  mountpoint: { label: 'mountpoint-s3', role: 'peer', kind: 'fuse', workloads: FUSE },
  geesefs: { label: 'geesefs', role: 'peer', kind: 'fuse', workloads: FUSE },
  goofys: { label: 'goofys', role: 'peer', kind: 'fuse', workloads: FUSE },
  memory: {
    label: 'in-memory Buffer (ceiling)', role: 'ceiling', kind: 'node',
    workloads: ['sequential', 'warm', 'random', 'strided', 'parquet', 'arrow', 'fault-service'],
  },
  // The disk cache warmed by an earlier process (systems/disk-warm.ts): a job's second run.
  's3mmap-disk': { label: 's3mmap, warm disk cache', role: 'self', kind: 'node', workloads: ['random', 'parquet'] },
  // The sparse reader's bytes with no background fill: what a build with a fill fetches before it starts one.
  's3mmap-fill-off': { label: "s3mmap, fill: 'off'", role: 'self', kind: 'node', workloads: ['random'], mapOptions: { fill: 'off' } },
  // What readahead costs under a resident budget: the same reads with none.
  's3mmap-nora': { label: 's3mmap, readahead: 0', role: 'self', kind: 'node', workloads: ['budget'], noReadahead: true },
  // One private region per process, as before shared regions.
  's3mmap-private': { label: 's3mmap, shared: false', role: 'self', kind: 'node', workloads: ['procs4-scan', 'procs4-random'], mapOptions: { shared: false } },
};

/** 64 KiB, 16 MiB, 4 GiB: exact binary units where they fit, else formatBytes. */
export function sizeLabel(n: number): string {
  for (const [unit, v] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= v && n % v === 0) return `${n / v} ${unit}`;
  }
  return formatBytes(n);
}

const chunkLabel = sizeLabel;

/** Resolves an id, including chunk variants: s3mmap-1m, uffd-c-64k, s3mmap-mem-1m, s3mmap-file-64k. */
export function systemDef(id: string): SystemDef | undefined {
  if (FIXED[id]) return { id, ...FIXED[id] };
  if (id === 'uffd-c') {
    const chunkSize = DEFAULTS.chunkSize;
    return { id, label: `C uffd handler, ${chunkLabel(chunkSize)} (ceiling)`, role: 'ceiling', kind: 'c', workloads: ['sequential'], chunkSize };
  }
  const m = /^(uffd-c|s3mmap-mem|s3mmap-file|s3mmap)-(\d+[kmg])(-nora)?$/.exec(id);
  if (!m || (m[1] === 'uffd-c' && m[3])) return undefined;
  const chunkSize = parseSize(m[2]);
  const noReadahead = m[3] ? true : undefined;
  const c = chunkLabel(chunkSize) + (noReadahead ? ', no readahead' : '');
  switch (m[1]) {
    case 'uffd-c':
      return { id, label: `C uffd handler, ${c}`, role: 'ceiling', kind: 'c', workloads: ['fault-service'], chunkSize };
    case 's3mmap-mem':
      return { id, label: `s3mmap mapBytes, ${c}`, role: 'self', kind: 'node', workloads: ['fault-service'], chunkSize, noReadahead };
    case 's3mmap-file':
      return { id, label: `s3mmap mapFile, ${c}`, role: 'self', kind: 'node', workloads: ['fault-service'], chunkSize, noReadahead };
    default:
      return { id, label: `s3mmap, ${c} chunks`, role: 'self', kind: 'node', workloads: NETWORK, chunkSize, noReadahead };
  }
}

/** The system s3mmap (or one of its variants) is held against as the ceiling. */
export function ceilingFor(workload: string, selfId: string): string {
  if (workload === 'fault-service') return selfId.replace(/^s3mmap-(mem|file)-/, 'uffd-c-').replace(/-nora$/, '');
  return workload === 'sequential' ? 'uffd-c' : 'memory';
}
