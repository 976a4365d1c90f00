// Command-line options of `npm run bench` / `s3mmap bench`, with the defaults
// (full run) and --quick (small objects, one repetition, every system).
// Orchestrator process, main thread.
import { parseArgs } from 'node:util';
import { parseSize } from '../lib/index.js';
import { DEFAULT_SYSTEMS, systemDef } from './catalog.js';
import { isNetworkName, NETWORKS, type NetworkName } from '../lib/dev/s3-harness/network.js';
import { PROCS, RANDOM_READS, WORKLOADS, type Workload } from './workloads.js';

/** Cells on one network profile; without workloads/systems, all the run's. */
export interface NetworkRun {
  network: NetworkName;
  workloads?: Workload[];
  systems?: string[];
}

export interface BenchOptions {
  quick: boolean;
  workloads: Workload[];
  systems: string[];
  /** Object size for sequential, warm, random, strided, procs4 and fault-service. */
  size: number;
  /** Object sizes of the cold sequential scan (the main size among them). */
  scanSizes: number[];
  parquetSize: number;
  arrowSize: number;
  /** budget: seconds its threads read for. */
  budgetSeconds: number;
  /** procs4-random: the random reads each process makes (the first of the 1,000). */
  procsReads: number;
  mapSizes: number[];
  /** Record counts of the crossover workload. */
  crossoverKs: number[];
  /** The network profiles, each with the cells it runs. */
  networks: NetworkRun[];
  reps: number;
  /** Output folder; latest.{json,md,svg,png} go there. */
  out: string;
  seed: number;
  cellTimeoutS: number;
  /** Before each cell: the object's MinIO files evicted from the page cache
   *  (drop), the whole page cache dropped (drop-all), or the object's files read in (warm). */
  serverCache: 'drop' | 'drop-all' | 'warm';
  /** Update docs/benchmark.md between <!-- bench:start --> and <!-- bench:end --> (full runs into bench/results). */
  readme: boolean;
  /** Wipe MinIO's kept data folder (bench/tmp/minio-data) and seed again. */
  freshServer: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]      (or: s3mmap bench [options])

Starts MinIO and a counting proxy, seeds the objects, runs every system on
every workload (each measurement a fresh, cold process) and writes
OUT/latest.json, latest.md, latest.svg and latest.png.

  --quick              small objects (64 MiB), 1 repetition, all systems; output to bench/tmp/quick
  --workloads LIST     comma-separated, default all: ${WORKLOADS.join(',')}
  --systems LIST       comma-separated, default: ${DEFAULT_SYSTEMS.join(',')}
                       chunk variants: s3mmap-1m, s3mmap-mem-8m, s3mmap-file-256k, uffd-c-4m, ...;
                       s3mmap variants ending in -nora run with readahead off
  --size SIZE          object size for the scan, random, strided and procs4 workloads (default 1g; quick 64m)
  --scan-sizes LIST    object sizes of the cold sequential scan (default 64m and --size; quick --size)
  --parquet-size SIZE  Parquet file size (default 1g; quick 64m)
  --arrow-size SIZE    Arrow IPC file size (default 1g; quick 64m)
  --budget-seconds S   how long the budget workload's threads read (default 6; quick 2)
  --procs-reads N      random reads each of procs4-random's processes makes (default 1000; quick 250)
  --map-sizes LIST     object sizes for time-to-map (default 16m,4g; quick 16m,256m)
  --crossover-ks LIST  record counts for the crossover (default 1,10,100,1000,3000; quick 1,10,100)
  --network LIST       network profiles laid over every system's traffic at the proxy:
                       ${NETWORKS.join(', ')} (default all three; procs4 runs on the first
                       only; quick: loopback, plus strided on s3-standard and map on s3-express,
                       with s3mmap and ranged only)
  --reps N             repetitions of every measurement (default 3; quick 1)
  --out DIR            output folder (default bench/results; quick bench/tmp/quick)
  --seed N             object seed (default 1)
  --cell-timeout S     seconds one measurement may take (default 300)
  --server-cache MODE  drop (default): the object's MinIO files are evicted from the page cache before
                       every cell, so MinIO reads them from disk; drop-all: sync; echo 3 > drop_caches;
                       warm: the object's files are read into the page cache instead
  --no-readme          do not update the latest run's section of docs/benchmark.md
  --fresh-server       wipe MinIO's data folder (bench/tmp/minio-data, kept across runs) and seed again
  -h, --help
`;

export function parseOptions(args: string[], root: string): BenchOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      workloads: { type: 'string' },
      systems: { type: 'string' },
      size: { type: 'string' },
      'scan-sizes': { type: 'string' },
      'parquet-size': { type: 'string' },
      'arrow-size': { type: 'string' },
      'budget-seconds': { type: 'string' },
      'procs-reads': { type: 'string' },
      'map-sizes': { type: 'string' },
      'crossover-ks': { type: 'string' },
      network: { type: 'string' },
      reps: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      'cell-timeout': { type: 'string' },
      'server-cache': { type: 'string' },
      'no-readme': { type: 'boolean', default: false },
      'fresh-server': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const quick = values.quick!;
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const workloads = values.workloads ? list(values.workloads) : [...WORKLOADS];
  for (const w of workloads) {
    if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload '${w}'; use ${WORKLOADS.join(', ')}`);
  }
  const systems = values.systems ? list(values.systems) : [...DEFAULT_SYSTEMS];
  for (const s of systems) {
    if (!systemDef(s)) throw new Error(`unknown system '${s}'; use ${DEFAULT_SYSTEMS.join(', ')} or a chunk variant like s3mmap-1m`);
  }
  const int = (name: string, v: string | undefined, dflt: number, min: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  const size = (name: string, v: string | undefined, dflt: string) => {
    const n = parseSize(v ?? dflt);
    if (n < 64 * 1024) throw new Error(`--${name} must be at least 64k, got '${v}'`);
    return n;
  };
  const serverCache = values['server-cache'] ?? 'drop';
  if (serverCache !== 'drop' && serverCache !== 'drop-all' && serverCache !== 'warm') {
    throw new Error(`--server-cache must be drop, drop-all or warm, got '${serverCache}'`);
  }
  const out = values.out ?? (quick ? `${root}/bench/tmp/quick` : `${root}/bench/results`);
  const networks = list(values.network);
  for (const n of networks) if (!isNetworkName(n)) throw new Error(`unknown network '${n}'; use ${NETWORKS.join(', ')}`);
  const ks = (values['crossover-ks'] ? list(values['crossover-ks']) : quick ? ['1', '10', '100'] : ['1', '10', '100', '1000', '3000'])
    .map((v) => int('crossover-ks', v, 1, 1));
  const mainSize = size('size', values.size, quick ? '64m' : '1g');
  const scanSizes = values['scan-sizes'] ? list(values['scan-sizes']).map((v) => size('scan-sizes', v, v)) : quick ? [mainSize] : [64 * 1024 * 1024, mainSize];
  return {
    quick,
    workloads: workloads as Workload[],
    systems,
    size: mainSize,
    scanSizes: [...new Set(scanSizes)].sort((a, b) => a - b),
    arrowSize: size('arrow-size', values['arrow-size'], quick ? '64m' : '1g'),
    budgetSeconds: int('budget-seconds', values['budget-seconds'], quick ? 2 : 6, 1),
    procsReads: Math.min(RANDOM_READS, int('procs-reads', values['procs-reads'], quick ? 250 : RANDOM_READS, PROCS)),
    parquetSize: size('parquet-size', values['parquet-size'], quick ? '64m' : '1g'),
    mapSizes: (values['map-sizes'] ? list(values['map-sizes']) : quick ? ['16m', '256m'] : ['16m', '4g']).map((v) => size('map-sizes', v, v)),
    crossoverKs: [...new Set(ks)].sort((a, b) => a - b),
    networks: networks.length
      ? (networks as NetworkName[]).map((network) => ({ network }))
      // Quick keeps one emulated-S3 path in every run, so it cannot rot: a few short cells.
      : quick
        ? [
          { network: 'loopback' },
          { network: 's3-standard', workloads: ['strided'], systems: ['s3mmap', 'ranged'] },
          { network: 's3-express', workloads: ['map'], systems: ['s3mmap', 'ranged'] },
        ]
        : NETWORKS.map((network) => ({ network })),
    reps: int('reps', values.reps, quick ? 1 : 3, 1),
    out,
    seed: int('seed', values.seed, 1, 0),
    cellTimeoutS: int('cell-timeout', values['cell-timeout'], 300, 1),
    serverCache,
    readme: !values['no-readme'] && !quick && values.out === undefined,
    freshServer: values['fresh-server']!,
    help: values.help!,
  };
}
