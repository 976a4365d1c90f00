// One measurement in a fresh process: `node dist/bench/cell.js --spec JSON`.
// Opens the object with one system, runs one workload (and the warm re-read
// after a sequential scan), and prints one line `CELL-RESULT {json}`: wall
// time, bytes read, checksum, proxy traffic, peak RSS, the system's own stats.
// Runs on this process's main thread (random4 and budget add reader threads,
// bench/reader-threads.ts; procs4 reader processes, bench/reader-procs.ts); the orchestrator (bench/execute.ts) spawns it
// after dropping the page cache and checks its checksum.
import { readFileSync } from 'node:fs';
import { isMain } from './main-guard.js';
import { parseArgs } from 'node:util';
import { readTraffic, startPhase, trafficDelta, type Traffic } from './control.js';
import { arrowQuery } from './arrow.js';
import { asyncBuffer, parquetQuery } from './parquet.js';
import { startProcs, type HeldMemory } from './reader-procs.js';
import { startReaders } from './reader-threads.js';
import { loadSystem } from './systems/index.js';
import type { CellSpec, Opened, SystemModule } from './systems/types.js';
import { median } from './format.js';
import { combineChecksums, plan, runPlan, runPrefixes, type ReadResult } from './workloads.js';

export interface PhaseResult {
  workload: string;
  wallMs: number;
  bytesRead: number;
  checksum: number;
  traffic: Traffic;
  /** map: time until byte 0 was in hand. */
  firstByteMs?: number;
  /** parquet: rows decoded. */
  rows?: number;
  /** crossover: records read. */
  k?: number;
  /** Timed plans (random, random4, strided): the median read, µs. */
  readP50Us?: number;
  /** budget: reads made in the time. */
  ops?: number;
  /** procs4: what the processes held together once all had read. */
  memory?: HeldMemory;
  system?: Record<string, number>;
  /** The system's figures that are not numbers (s3mmap: stats().fill, the region's kind). */
  detail?: Record<string, unknown>;
}

export interface CellOutput {
  ok: boolean;
  error?: string;
  phases: PhaseResult[];
  peakRssBytes: number;
}

/** Opening is not part of the measurement for these: the data is generated in-process. */
function untimedOpen(spec: CellSpec): boolean {
  return spec.system === 'memory' || spec.workload === 'fault-service';
}

export function peakRss(): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

const readP50 = (r: ReadResult) => (r.readUs?.length ? median(r.readUs) : undefined);

/** random4 and budget: the threads are started and warmed before the clock; the clock covers opening
 *  (the one shared mapping, or each thread's own) and every thread's reads. */
async function measureThreads(spec: CellSpec, mod: SystemModule): Promise<PhaseResult[]> {
  const readers = await startReaders(spec);
  let opened: Opened | undefined;
  try {
    const before = await startPhase(spec.controlUrl);
    const t0 = performance.now();
    if (mod.share) opened = await mod.open(spec);
    const results = await readers.run(opened ? mod.share!(opened) : undefined);
    const t1 = performance.now();
    const all = { bytesRead: 0, checksum: combineChecksums(results.map((r) => r.checksum)), readUs: results.flatMap((r) => r.readUs ?? []) };
    for (const r of results) all.bytesRead += r.bytesRead;
    const ops = spec.workload === 'budget' ? results.reduce((a, r) => a + (r.ops ?? 0), 0) : undefined;
    return [{
      workload: spec.workload, wallMs: t1 - t0, bytesRead: all.bytesRead, checksum: all.checksum, readP50Us: readP50(all), ops,
      traffic: trafficDelta(before, await readTraffic(spec.controlUrl)), system: opened?.stats?.(), detail: opened?.detail?.(),
    }];
  } finally {
    await readers.close();
    await opened?.close().catch(() => {});
  }
}

/** procs4: the processes are started and warmed before the clock; the clock covers each opening
 *  the object and reading it, until the last is done. Their s3mmap figures are summed. */
async function measureProcs(spec: CellSpec): Promise<PhaseResult[]> {
  const procs = await startProcs(spec);
  try {
    const before = await startPhase(spec.controlUrl);
    const t0 = performance.now();
    const r = await procs.run();
    const t1 = performance.now();
    const sum = (xs: Array<Record<string, number> | undefined>) => {
      if (!xs.every(Boolean)) return undefined;
      const out: Record<string, number> = {};
      for (const x of xs as Array<Record<string, number>>) for (const [k, v] of Object.entries(x)) out[k] = (out[k] ?? 0) + v;
      // Latencies are not additive: the median of the processes' medians.
      for (const k of ['faultP50Us', 'faultP99Us']) if (k in out) out[k] = median((xs as Array<Record<string, number>>).map((x) => x[k]));
      return out;
    };
    return [{
      workload: spec.workload, wallMs: t1 - t0, bytesRead: r.results.reduce((a, x) => a + x.bytesRead, 0),
      checksum: combineChecksums(r.results.map((x) => x.checksum)), memory: r.memory,
      traffic: trafficDelta(before, await readTraffic(spec.controlUrl)), system: sum(r.stats), detail: r.details[0],
    }];
  } finally {
    await procs.close();
  }
}

async function measure(spec: CellSpec, mod: SystemModule): Promise<PhaseResult[]> {
  if (spec.workload === 'random4' || spec.workload === 'budget') return measureThreads(spec, mod);
  if (spec.workload === 'procs4-scan' || spec.workload === 'procs4-random') return measureProcs(spec);
  const phases: PhaseResult[] = [];
  const untimed = untimedOpen(spec);
  let opened: Opened | undefined = untimed ? await mod.open(spec) : undefined;
  try {
    const before = await startPhase(spec.controlUrl);
    const t0 = performance.now();
    opened ??= await mod.open(spec);
    const o = opened;
    const tOpen = performance.now();
    if (spec.workload === 'map') {
      // Touch the byte: for a mapping, the view alone faults nothing.
      const byte = (await o.reader.read(0, 1))[0];
      const tFirst = performance.now();
      phases.push({
        workload: 'map', wallMs: tOpen - t0, firstByteMs: tFirst - t0, bytesRead: 1, checksum: byte,
        traffic: trafficDelta(before, await readTraffic(spec.controlUrl)), system: o.stats?.(),
      });
      return phases;
    }
    if (spec.workload === 'parquet') {
      const q = await parquetQuery(asyncBuffer(o.reader));
      const t1 = performance.now();
      phases.push({
        workload: 'parquet', wallMs: t1 - t0, bytesRead: q.columnBytes, checksum: q.checksum, rows: q.rows,
        traffic: trafficDelta(before, await readTraffic(spec.controlUrl)), system: o.stats?.(), detail: o.detail?.(),
      });
      return phases;
    }
    if (spec.workload === 'arrow') {
      const q = await arrowQuery(o.reader);
      const t1 = performance.now();
      phases.push({
        workload: 'arrow', wallMs: t1 - t0, bytesRead: q.columnBytes, checksum: q.checksum, rows: q.rows,
        traffic: trafficDelta(before, await readTraffic(spec.controlUrl)), system: o.stats?.(), detail: o.detail?.(),
      });
      return phases;
    }
    if (spec.workload === 'crossover') {
      // Each k costs the opening (for a downloader, the whole download) plus its first k records,
      // read once: the k records of a smaller k are the first of a larger one's.
      const ks = spec.ks ?? [];
      await runPrefixes(o.reader, plan('crossover', spec.size, Math.max(...ks)), ks, async (k, r, readMs) => {
        phases.push({
          workload: 'crossover', k, wallMs: tOpen - t0 + readMs, bytesRead: r.bytesRead, checksum: r.checksum,
          traffic: trafficDelta(before, await readTraffic(spec.controlUrl)), system: o.stats?.(), detail: o.detail?.(),
        });
      });
      return phases;
    }
    const p = plan(spec.workload === 'fault-service' ? 'sequential' : spec.workload as 'sequential' | 'random' | 'strided', spec.size);
    const r = await runPlan(o.reader, p);
    const t1 = performance.now();
    const mid = await readTraffic(spec.controlUrl);
    phases.push({
      workload: spec.workload, wallMs: t1 - t0, bytesRead: r.bytesRead, checksum: r.checksum, readP50Us: readP50(r),
      traffic: trafficDelta(before, mid), system: o.stats?.(), detail: o.detail?.(),
    });
    if (spec.warm) {
      const t2 = performance.now();
      const w = await runPlan(o.reader, p);
      const t3 = performance.now();
      phases.push({ workload: 'warm', wallMs: t3 - t2, bytesRead: w.bytesRead, checksum: w.checksum, traffic: trafficDelta(mid, await readTraffic(spec.controlUrl)), system: o.stats?.() });
    }
    return phases;
  } finally {
    await opened?.close().catch(() => {});
  }
}

export async function runCell(spec: CellSpec): Promise<CellOutput> {
  try {
    const mod = await loadSystem(spec.system);
    await mod.warmup?.(spec);
    const phases = await measure(spec, mod);
    return { ok: true, phases, peakRssBytes: peakRss() };
  } catch (e) {
    const err = e as Error;
    return { ok: false, error: err.stack ?? String(err), phases: [], peakRssBytes: peakRss() };
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { spec: { type: 'string' } } });
  if (!values.spec) {
    process.stderr.write('usage: node dist/bench/cell.js --spec JSON\n');
    process.exit(2);
  }
  const out = await runCell(JSON.parse(values.spec) as CellSpec);
  process.stdout.write(`CELL-RESULT ${JSON.stringify(out)}\n`);
  process.exit(out.ok ? 0 : 1);
}
