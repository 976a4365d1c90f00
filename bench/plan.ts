// Which cells the run measures: network profiles × workloads × sizes ×
// repetitions × systems from the options, each cell with the result groups its
// phases land in and the checksum every group expects. Pure planning, no I/O;
// orchestrator process, main thread.
import { sizeLabel, type SystemDef } from './catalog.js';
import { objectBytes } from './content.js';
import type { NetworkName } from '../lib/dev/s3-harness/network.js';
import type { BenchOptions, NetworkRun } from './options.js';
import type { Group } from './report.js';
import type { Seeded } from './seed.js';
import {
  BUDGET_SIZE, BUDGET_THREADS, combineChecksums, expectedChecksum, plan, PROCS, RECORD, THREADS, WORKLOAD_TITLES, WORKLOADS, type Workload,
} from './workloads.js';

/** Systems whose time to map is a whole download. */
const DOWNLOADERS = new Set(['get-object', 'parallel']);
/** The report's order of workloads; cells run in it too (map groups by size). */
const ORDER: readonly Workload[] = WORKLOADS;

export interface Cell {
  workload: Exclude<Workload, 'warm'>;
  network: NetworkName;
  /** Result groups this cell's phases land in, by phase: the workload, 'warm', or `k=N` (crossover). */
  groups: Partial<Record<string, string>>;
  size: number;
  key: string;
  rep: number;
  def: SystemDef;
  warm: boolean;
  /** crossover: the record counts this cell reads (all of them after one download; one per s3mmap cell). */
  ks?: number[];
  localPath?: string;
  /** budget: seconds its threads read for. */
  seconds?: number;
  /** procs4-random: the random reads each process makes. */
  reads?: number;
}

export interface Planned {
  cells: Cell[];
  /** In report order. */
  groups: Group[];
  /** Group key → the checksum its phases must return. */
  expected: Map<string, number>;
}

/** A group's key: the workload's (`map 16 MiB`, `crossover k=10`), then the network unless loopback. */
export function groupKey(base: string, network: NetworkName): string {
  return network === 'loopback' ? base : `${base} @ ${network}`;
}

/** The cold scan's group base at an object size: plain `sequential` at the run's main size. */
export function scanBase(objectSize: number, mainSize: number): string {
  return objectSize === mainSize ? 'sequential' : `sequential ${sizeLabel(objectSize)}`;
}

/** Workloads of several processes: memory and S3 bytes, not the network, are the point; run on one profile. */
const ONE_NETWORK = new Set<Workload>(['procs4-scan', 'procs4-random']);

export function planCells(opts: BenchOptions, defs: SystemDef[], seeded: Seeded): Planned {
  const out: Planned = { cells: [], groups: [], expected: new Map() };
  const ks = opts.crossoverKs.filter((k) => k <= Math.floor(opts.size / RECORD));
  const sums = new Map<string, number>();
  for (const run of opts.networks) {
    // Ceilings and fault service touch no network: measured once, on loopback.
    const offline = (d: SystemDef) => run.network !== 'loopback' && (d.role === 'ceiling' || d.workloads.every((w) => w === 'fault-service'));
    planNetwork(opts, run, defs.filter((d) => (!run.systems || run.systems.includes(d.id)) && !offline(d)), seeded, ks, out, sums);
  }
  const rank = (g: Group) => opts.networks.findIndex((n) => n.network === g.network) * 1e17 + ORDER.indexOf(g.workload) * 1e15 + g.objectSize + (g.k ?? 0);
  out.groups.sort((a, b) => rank(a) - rank(b));
  return out;
}

function planNetwork(
  opts: BenchOptions, run: NetworkRun, defs: SystemDef[], seeded: Seeded, ks: number[], out: Planned, sums: Map<string, number>,
): void {
  const first = opts.networks[0].network;
  const want = new Set(opts.workloads.filter((w) => (!run.workloads || run.workloads.includes(w)) &&
    (w !== 'fault-service' || run.network === 'loopback') && (!ONE_NETWORK.has(w) || run.network === first)));
  const { network } = run;
  const addGroup = (base: string, workload: Workload, objectSize: number, checksum: number, k?: number) => {
    const key = groupKey(base, network);
    if (out.groups.some((g) => g.key === key)) return key;
    const title = `${WORKLOAD_TITLES[workload]}${k ? `, k = ${k}` : ''}, ${sizeLabel(objectSize)} object, ${network}`;
    out.groups.push({ key, workload, title, objectSize, network, k });
    out.expected.set(key, checksum);
    return key;
  };
  // Generating the object to check against is the slow part: once per plan, whatever the network.
  const sum = (id: string, p: () => ReturnType<typeof plan>) => {
    if (!sums.has(id)) sums.set(id, expectedChecksum(p(), opts.seed).checksum);
    return sums.get(id)!;
  };
  const size = opts.size;
  const groupsOf = (w: Exclude<Workload, 'warm'>, def: SystemDef, objectSize: number): Cell['groups'] => {
    const does = (x: Workload) => want.has(x) && def.workloads.includes(x);
    const g: Cell['groups'] = {};
    switch (w) {
      case 'sequential':
        if (does('sequential')) g.sequential = addGroup(scanBase(objectSize, size), 'sequential', objectSize, sum(`sequential ${objectSize}`, () => plan('sequential', objectSize)));
        if (does('warm') && objectSize === size) g.warm = addGroup('warm', 'warm', size, sum(`sequential ${size}`, () => plan('sequential', size)));
        break;
      case 'random4':
        if (does(w)) g[w] = addGroup(w, w, size, combineChecksums(Array.from({ length: THREADS }, (_, t) => sum(`random4 ${t}`, () => plan('random4', size, t)))));
        break;
      case 'crossover':
        if (does(w)) for (const k of ks) g[`k=${k}`] = addGroup(`crossover k=${k}`, w, size, sum(`k=${k}`, () => plan('crossover', size, k)), k);
        break;
      case 'parquet':
        if (does(w)) g[w] = addGroup(w, w, objectSize, seeded.parquet!.checksum);
        break;
      case 'arrow':
        if (does(w)) g[w] = addGroup(w, w, objectSize, seeded.arrow!.checksum);
        break;
      case 'budget':
        if (does(w)) g[w] = addGroup(w, w, objectSize, combineChecksums(Array.from({ length: BUDGET_THREADS }, (_, t) => sum(`budget ${t}`, () => plan('budget', objectSize, t)))));
        break;
      case 'procs4-scan':
        if (does(w)) g[w] = addGroup(w, w, size, combineChecksums(Array.from({ length: PROCS }, () => sum(`sequential ${size}`, () => plan('sequential', size)))));
        break;
      case 'procs4-random':
        if (does(w)) g[w] = addGroup(w, w, size, combineChecksums(Array.from({ length: PROCS }, (_, p) => sum(`procs4-random ${p}`, () => plan('procs4-random', size, p, opts.procsReads)))));
        break;
      case 'map':
        if (does(w)) g[w] = addGroup(`map ${sizeLabel(objectSize)}`, w, objectSize, objectBytes(opts.seed, 0, 1)[0]);
        break;
      case 'fault-service':
        if (does(w)) g[w] = addGroup(w, w, size, sum(`sequential ${size}`, () => plan('sequential', size)));
        break;
      default:
        if (does(w)) g[w] = addGroup(w, w, size, sum(w, () => plan(w, size)));
    }
    return g;
  };

  // Workload, then repetition, then system, so that drift spreads over all systems.
  for (const w of ORDER) {
    if (w === 'warm') continue; // the sequential cells re-read
    const sizes = w === 'map' ? opts.mapSizes : w === 'sequential' ? opts.scanSizes
      : [w === 'parquet' ? seeded.parquet?.size ?? 0 : w === 'arrow' ? seeded.arrow?.size ?? 0 : w === 'budget' ? BUDGET_SIZE : size];
    for (const objectSize of sizes) {
      for (let rep = 1; rep <= opts.reps; rep++) {
        for (const def of defs) {
          // Downloading an object larger than the scan object only restates the sequential table, slowly.
          if (w === 'map' && DOWNLOADERS.has(def.id) && objectSize > size) continue;
          const groups = groupsOf(w, def, objectSize);
          if (!Object.keys(groups).length) continue;
          const key = w === 'parquet' ? seeded.parquetKey : w === 'arrow' ? seeded.arrowKey : w === 'map' ? seeded.mapKeys.get(objectSize)!
            : w === 'budget' ? seeded.budgetKey : w === 'sequential' ? seeded.scanKeys.get(objectSize)! : seeded.mainKey;
          const base = {
            workload: w, network, groups, size: objectSize, key, rep, def, warm: groups.warm !== undefined,
            localPath: w === 'parquet' ? seeded.parquetLocal : w === 'arrow' ? seeded.arrowLocal : def.id.startsWith('s3mmap-file') ? seeded.mainLocal : undefined,
            seconds: w === 'budget' ? opts.budgetSeconds : undefined,
            reads: w === 'procs4-random' ? opts.procsReads : undefined,
          };
          // One download serves every k; a mapping must start cold for each, so one process per k.
          if (w === 'crossover' && def.role === 'self') {
            for (const k of ks) out.cells.push({ ...base, groups: { [`k=${k}`]: groups[`k=${k}`] }, ks: [k] });
          } else {
            out.cells.push({ ...base, ks: w === 'crossover' ? ks : undefined });
          }
        }
      }
    }
  }
}
