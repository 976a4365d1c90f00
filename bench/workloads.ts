// The workloads as read plans over a Reader, and their expected checksums.
// The plans run in the cell processes (bench/cell.ts, main thread); the
// expected checksums are computed in the orchestrator from the generated
// object (bench/content.ts), so a system that returns one wrong byte fails.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { foldBytes, foldPages, objectBytes, rng } from './content.js';

/** A byte source as a workload sees it. The returned view may be reused by
 *  the next read (FUSE readers read into one buffer). */
export interface Reader {
  size: number;
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
  /** Told a range before a reader that knows it reads it (hyparquet's
   *  AsyncBuffer.slice): s3mmap fetches it whole, spread over its connections. */
  willRead?(offset: number, length: number): Promise<void>;
  /** The whole object as one Buffer, where the system has one (a mapping, a
   *  download): a format library can read it zero-copy. */
  buffer?: Uint8Array;
}

/** `fn` with a Reader over a local file (each read a fresh copy), closed after. */
export async function withFileReader<T>(path: string, fn: (reader: Reader) => Promise<T>): Promise<T> {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    return await fn({
      size,
      read: (offset, length) => {
        const b = new Uint8Array(length);
        let n = 0;
        while (n < length) {
          const got = readSync(fd, b, n, length - n, offset + n);
          if (got === 0) throw new Error(`${path}: unexpected end at ${offset + n}`);
          n += got;
        }
        return b;
      },
    });
  } finally {
    closeSync(fd);
  }
}

export const SEQ_BLOCK = 1024 * 1024;
export const RANDOM_READS = 1000;
export const RANDOM_LEN = 4096;
export const RANDOM_SEED = 0x5eed;
export const STRIDE = 16 * 1024 * 1024;
export const STRIDE_LEN = 64 * 1024;
export const THREADS = 4;
export const RECORD = 64 * 1024;
export const RECORD_SEED = 0xc055;
/** budget: threads, object, resident budget, the reads each thread's checksum covers. */
export const BUDGET_THREADS = 3;
export const BUDGET_SIZE = 16 * 1024 * 1024;
export const BUDGET_RESIDENT = '2m';
export const BUDGET_READ = 8;
export const BUDGET_CHECKED = 100;
const BUDGET_SEED = 0xb0d6;
/** procs4: processes reading at once. */
export const PROCS = 4;

export const WORKLOADS = [
  'sequential', 'warm', 'random', 'random4', 'strided', 'parquet', 'arrow', 'map', 'crossover', 'budget', 'procs4-scan', 'procs4-random', 'fault-service',
] as const;
export type Workload = (typeof WORKLOADS)[number];

export const WORKLOAD_TITLES: Record<Workload, string> = {
  sequential: 'cold sequential scan (one byte of every 4 KiB page, read in 1 MiB blocks)',
  warm: 'warm re-read of what the sequential scan touched (same process)',
  random: 'sparse random: 1,000 reads of 4 KiB at seeded random offsets',
  random4: 'sparse random from 4 threads: the same 1,000 reads dealt round-robin to 4 threads reading at once',
  strided: 'strided: one 64 KiB read every 16 MiB',
  parquet: 'Parquet: one column of one row group, read with hyparquet',
  arrow: 'Arrow IPC file: one column of eight, every record batch, read with apache-arrow',
  map: 'time to map (open) an object, and to its first byte',
  crossover: 'crossover: k scattered 64 KiB records, read one after another',
  budget: `random 8-byte reads from ${BUDGET_THREADS} threads of one ${BUDGET_SIZE >> 20} MiB mapping under a resident budget of ${BUDGET_RESIDENT}, for a fixed time`,
  'procs4-scan': `${PROCS} processes scan the same object at once (one byte of every 4 KiB page)`,
  'procs4-random': `${PROCS} processes at once, each the same sparse random 4 KiB reads (the first of the 1,000; each process starting a quarter further along)`,
  'fault-service': 'fault service without a network: sequential scan from a memory or local-file source',
};

export type Fold = 'pages' | 'bytes';
export interface Plan {
  /** [offset, length] pairs, in order. */
  reads: Array<[number, number]>;
  fold: Fold;
  /** Time every read, for the per-read latency (where reads are few and the latency is the point). */
  timed?: boolean;
}

/** Read plans by workload; random4's thread `t` of THREADS, crossover's first `k` records,
 *  procs4-random's process `p` of PROCS, budget's thread `t` (its first BUDGET_CHECKED reads). */
export function plan(workload: 'sequential' | 'random' | 'strided', size: number): Plan;
export function plan(workload: 'random4' | 'budget', size: number, thread: number): Plan;
export function plan(workload: 'procs4-random', size: number, proc: number, reads: number): Plan;
export function plan(workload: 'crossover', size: number, k: number): Plan;
export function plan(workload: 'sequential' | 'random' | 'random4' | 'strided' | 'crossover' | 'procs4-random' | 'budget', size: number, arg = 0, count = RANDOM_READS): Plan {
  const reads: Array<[number, number]> = [];
  switch (workload) {
    case 'sequential':
      for (let o = 0; o < size; o += SEQ_BLOCK) reads.push([o, Math.min(SEQ_BLOCK, size - o)]);
      return { reads, fold: 'pages' };
    case 'random': {
      const next = rng(RANDOM_SEED);
      const span = Math.max(1, size - RANDOM_LEN + 1);
      for (let i = 0; i < RANDOM_READS; i++) reads.push([Math.floor(next() * span), Math.min(RANDOM_LEN, size)]);
      return { reads, fold: 'bytes', timed: true };
    }
    case 'random4': {
      const all = plan('random', size);
      return { ...all, reads: all.reads.filter((_, i) => i % THREADS === arg) };
    }
    case 'procs4-random': {
      // The same first `count` reads for every process (so one copy could serve them all), each from its own quarter on.
      const all = plan('random', size);
      const mine = all.reads.slice(0, count);
      const from = Math.floor((mine.length * arg) / PROCS);
      return { ...all, reads: [...mine.slice(from), ...mine.slice(0, from)] };
    }
    case 'budget': {
      const next = budgetOffsets(size, arg);
      for (let i = 0; i < BUDGET_CHECKED; i++) reads.push([next(), BUDGET_READ]);
      return { reads, fold: 'bytes' };
    }
    case 'strided':
      for (let o = 0; o < size; o += STRIDE) reads.push([o, Math.min(STRIDE_LEN, size - o)]);
      return { reads, fold: 'bytes', timed: true };
    case 'crossover': {
      // The first k of one seeded permutation of the records: each k reads a superset of the smaller ones.
      const records = Math.floor(size / RECORD);
      if (arg > records) throw new Error(`crossover: ${arg} records asked of an object of ${records}`);
      const next = rng(RECORD_SEED);
      const order = Array.from({ length: records }, (_, i) => i);
      for (let i = 0; i < arg; i++) {
        const j = i + Math.floor(next() * (records - i));
        [order[i], order[j]] = [order[j], order[i]];
        reads.push([order[i] * RECORD, RECORD]);
      }
      return { reads, fold: 'bytes' };
    }
  }
}

/** Thread `t`'s endless sequence of budget read offsets (8-byte aligned, seeded). */
export function budgetOffsets(size: number, thread: number): () => number {
  const next = rng(BUDGET_SEED + thread);
  const slots = Math.floor(size / BUDGET_READ);
  return () => Math.floor(next() * slots) * BUDGET_READ;
}

/** One checksum for several threads' plans, in thread order (the order they finish in does not matter). */
export function combineChecksums(sums: number[]): number {
  return sums.reduce((h, c) => (Math.imul(h, 31) + c) | 0, 0) >>> 0;
}

export interface ReadResult {
  bytesRead: number;
  checksum: number;
  /** budget: reads made (the first BUDGET_CHECKED of them make the checksum). */
  ops?: number;
  /** Timed plans: each read's time, µs, in order. */
  readUs?: number[];
}

export async function runPlan(reader: Reader, p: Plan): Promise<ReadResult> {
  let h = 0;
  let bytesRead = 0;
  const readUs: number[] | undefined = p.timed ? [] : undefined;
  for (const [offset, length] of p.reads) {
    const t0 = readUs ? performance.now() : 0;
    const r = reader.read(offset, length);
    const bytes = r instanceof Uint8Array ? r : await r;
    // The fold touches every byte: for a mapping, that is when the read really happens.
    if (bytes.length !== length) throw new Error(`short read at ${offset}: ${bytes.length} of ${length} bytes`);
    h = p.fold === 'pages' ? foldPages(h, bytes) : foldBytes(h, bytes);
    readUs?.push((performance.now() - t0) * 1000);
    bytesRead += length;
  }
  return { bytesRead, checksum: h >>> 0, readUs };
}

/** Runs `p` once and reports at each prefix length in `ks` (ascending) what
 *  runPlan would have returned for the first k reads, with the time taken so
 *  far; `pause` runs between prefixes, off the clock. */
export async function runPrefixes(
  reader: Reader, p: Plan, ks: number[], pause: (k: number, r: ReadResult, elapsedMs: number) => Promise<void>,
): Promise<void> {
  let h = 0;
  let bytesRead = 0;
  let elapsed = 0;
  let t0 = performance.now();
  let done = 0;
  for (const k of ks) {
    for (; done < k; done++) {
      const [offset, length] = p.reads[done];
      const r = reader.read(offset, length);
      const bytes = r instanceof Uint8Array ? r : await r;
      if (bytes.length !== length) throw new Error(`short read at ${offset}: ${bytes.length} of ${length} bytes`);
      h = p.fold === 'pages' ? foldPages(h, bytes) : foldBytes(h, bytes);
      bytesRead += length;
    }
    elapsed += performance.now() - t0;
    await pause(k, { bytesRead, checksum: h >>> 0 }, elapsed);
    t0 = performance.now();
  }
}

/** What runPlan must return for the seeded object. */
export function expectedChecksum(p: Plan, seed: number): ReadResult {
  let h = 0;
  let bytesRead = 0;
  for (const [offset, length] of p.reads) {
    const bytes = objectBytes(seed, offset, length);
    h = p.fold === 'pages' ? foldPages(h, bytes) : foldBytes(h, bytes);
    bytesRead += length;
  }
  return { bytesRead, checksum: h >>> 0 };
}
