// One measurement in a fresh process: `node dist/bench/cell.js --spec JSON`.
// Opens the object with one system, runs one workload (and the warm re-read
// after a sequential scan), and prints one line `CELL-RESULT {json}`: wall
// time, bytes read, checksum, proxy traffic, peak RSS, the system's own stats.
// Runs on this process's main thread; the orchestrator (bench/run.ts) spawns
// it after dropping the page cache and checks its checksum.
import { readFileSync } from 'node:fs';
import { isMain } from './main-guard.js';
import { parseArgs } from 'node:util';
import { readTraffic, trafficDelta, type Traffic } from './control.js';
import { asyncBuffer, parquetQuery } from './parquet.js';
import type { CellSpec, Opened, OpenSystem, SystemModule } from './systems/types.js';
import { plan, runPlan } from './workloads.js';

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
  system?: Record<string, number>;
}

export interface CellOutput {
  ok: boolean;
  error?: string;
  phases: PhaseResult[];
  peakRssBytes: number;
}

const MODULES: Array<[RegExp, string]> = [
  [/^s3mmap/, './systems/s3mmap.js'],
  [/^get-object$/, './systems/get-object.js'],
  [/^parallel$/, './systems/parallel.js'],
  [/^ranged$/, './systems/ranged.js'],
  [/^(s3fs|rclone|goofys|geesefs)$/, './systems/fuse-file.js'],
  [/^memory$/, './systems/memory.js'],
];

/** Opening is not part of the measurement for these: the data is generated in-process. */
function untimedOpen(spec: CellSpec): boolean {
  return spec.system === 'memory' || spec.workload === 'fault-service';
}

export function peakRss(): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

async function measure(spec: CellSpec, open: OpenSystem): Promise<PhaseResult[]> {
  const phases: PhaseResult[] = [];
  const untimed = untimedOpen(spec);
  let opened: Opened | undefined = untimed ? await open(spec) : undefined;
  try {
    const before = await readTraffic(spec.controlUrl);
    const t0 = performance.now();
    opened ??= await open(spec);
    const o = opened;
    if (spec.workload === 'map') {
      const tMap = performance.now();
      // Touch the byte: for a mapping, the view alone faults nothing.
      const byte = (await o.reader.read(0, 1))[0];
      const tFirst = performance.now();
      phases.push({
        workload: 'map', wallMs: tMap - t0, firstByteMs: tFirst - t0, bytesRead: 1, checksum: byte,
        traffic: trafficDelta(before, await readTraffic(spec.controlUrl)), system: o.stats?.(),
      });
      return phases;
    }
    if (spec.workload === 'parquet') {
      const q = await parquetQuery(asyncBuffer(o.reader));
      const t1 = performance.now();
      phases.push({
        workload: 'parquet', wallMs: t1 - t0, bytesRead: q.columnBytes, checksum: q.checksum, rows: q.rows,
        traffic: trafficDelta(before, await readTraffic(spec.controlUrl)), system: o.stats?.(),
      });
      return phases;
    }
    const p = plan(spec.workload === 'fault-service' ? 'sequential' : spec.workload, spec.size);
    const r = await runPlan(o.reader, p);
    const t1 = performance.now();
    const mid = await readTraffic(spec.controlUrl);
    phases.push({ workload: spec.workload, wallMs: t1 - t0, ...r, traffic: trafficDelta(before, mid), system: o.stats?.() });
    if (spec.warm) {
      const t2 = performance.now();
      const w = await runPlan(o.reader, p);
      const t3 = performance.now();
      phases.push({ workload: 'warm', wallMs: t3 - t2, ...w, traffic: trafficDelta(mid, await readTraffic(spec.controlUrl)), system: o.stats?.() });
    }
    return phases;
  } finally {
    await opened?.close().catch(() => {});
  }
}

export async function runCell(spec: CellSpec): Promise<CellOutput> {
  const entry = MODULES.find(([re]) => re.test(spec.system));
  if (!entry) return { ok: false, error: `unknown system ${spec.system}`, phases: [], peakRssBytes: 0 };
  try {
    const mod = (await import(entry[1])) as SystemModule;
    await mod.warmup?.(spec);
    const phases = await measure(spec, mod.open);
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
