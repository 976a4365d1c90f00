// Which cells the run measures: systems × workloads × sizes × repetitions from
// the options, each cell with the result groups its phases land in and the
// checksum every group expects. Pure planning, no I/O; orchestrator process,
// main thread.
import { sizeLabel, type SystemDef } from './catalog.js';
import { objectBytes } from './content.js';
import type { BenchOptions } from './options.js';
import type { Group } from './report.js';
import type { Seeded } from './seed.js';
import { expectedChecksum, plan, WORKLOAD_TITLES, type Workload } from './workloads.js';

/** Systems whose time to map is a whole download. */
const DOWNLOADERS = new Set(['get-object', 'parallel']);
/** The report's order of workloads; cells run in it too (map groups by size). */
const ORDER: Workload[] = ['sequential', 'warm', 'random', 'strided', 'parquet', 'map', 'fault-service'];

export interface Cell {
  workload: Exclude<Workload, 'warm'>;
  /** Result groups this cell's phases land in, by phase workload. */
  groups: Partial<Record<string, string>>;
  size: number;
  key: string;
  rep: number;
  def: SystemDef;
  warm: boolean;
  localPath?: string;
}

export interface Planned {
  cells: Cell[];
  /** In report order. */
  groups: Group[];
  /** Group key → the checksum its phases must return. */
  expected: Map<string, number>;
}

export function planCells(opts: BenchOptions, defs: SystemDef[], seeded: Seeded): Planned {
  const want = new Set(opts.workloads);
  const groups: Group[] = [];
  const expected = new Map<string, number>();
  const addGroup = (key: string, workload: Workload, objectSize: number, checksum: number) => {
    if (groups.some((g) => g.key === key)) return;
    groups.push({ key, workload, title: `${WORKLOAD_TITLES[workload]}, ${sizeLabel(objectSize)} object`, objectSize });
    expected.set(key, checksum);
  };
  const scanSum = (w: 'sequential' | 'random' | 'strided') => expectedChecksum(plan(w, opts.size), opts.seed).checksum;
  for (const w of ['sequential', 'warm', 'random', 'strided'] as const) {
    if (want.has(w)) addGroup(w, w, opts.size, scanSum(w === 'warm' ? 'sequential' : w));
  }
  if (want.has('parquet')) addGroup('parquet', 'parquet', seeded.parquet!.size, seeded.parquet!.checksum);
  if (want.has('map')) for (const size of opts.mapSizes) addGroup(`map ${sizeLabel(size)}`, 'map', size, objectBytes(opts.seed, 0, 1)[0]);
  if (want.has('fault-service')) addGroup('fault-service', 'fault-service', opts.size, scanSum('sequential'));
  const rank = (g: Group) => ORDER.indexOf(g.workload) * 1e15 + g.objectSize;
  groups.sort((a, b) => rank(a) - rank(b));

  // Workload, then repetition, then system, so that drift spreads over all systems.
  const cells: Cell[] = [];
  for (const w of ORDER) {
    if (w === 'warm') continue; // the sequential cells re-read
    const runsScan = w === 'sequential' && (want.has('sequential') || want.has('warm'));
    if (!runsScan && !want.has(w)) continue;
    const sizes = w === 'map' ? opts.mapSizes : [w === 'parquet' ? seeded.parquet!.size : opts.size];
    for (const size of sizes) {
      for (let rep = 1; rep <= opts.reps; rep++) {
        for (const def of defs) {
          const groupsOf = groupsFor(w, def, want, size);
          if (!Object.keys(groupsOf).length) continue;
          // Downloading an object larger than the scan object only restates the sequential table, slowly.
          if (w === 'map' && DOWNLOADERS.has(def.id) && size > opts.size) continue;
          const key = w === 'parquet' ? seeded.parquetKey : w === 'map' ? seeded.mapKeys.get(size)! : seeded.mainKey;
          cells.push({
            workload: w, groups: groupsOf, size, key, rep, def, warm: groupsOf.warm !== undefined,
            localPath: w === 'parquet' ? seeded.parquetLocal : def.id.startsWith('s3mmap-file') ? seeded.mainLocal : undefined,
          });
        }
      }
    }
  }
  return { cells, groups, expected };
}

/** The groups a cell of `def` on workload `w` fills; none when it does not apply. */
function groupsFor(w: Exclude<Workload, 'warm'>, def: SystemDef, want: Set<Workload>, size: number): Cell['groups'] {
  const does = (x: Workload) => want.has(x) && def.workloads.includes(x);
  const out: Cell['groups'] = {};
  if (w === 'sequential') {
    if (does('sequential')) out.sequential = 'sequential';
    if (does('warm')) out.warm = 'warm';
  } else if (def.workloads.includes(w)) {
    out[w] = w === 'map' ? `map ${sizeLabel(size)}` : w;
  }
  return out;
}
