// From measurements to the report: per-group summaries (median, min, max),
// s3mmap's ratios against the best peer and the ceiling, and latest.md.
// Pure functions; orchestrator process, main thread.
import { formatBytes } from '../lib/index.js';
import { fmtMs, fmtRate, fmtRatio, median } from './format.js';
import { ceilingFor, sizeLabel, systemDef, type Role } from './catalog.js';
import type { Traffic } from './control.js';
import type { NetworkName } from '../lib/dev/s3-harness/network.js';
import type { HeldMemory } from './reader-procs.js';
import type { Workload } from './workloads.js';

/** One measured phase of one cell (or a failure). */
export interface Measurement {
  group: string;
  workload: Workload;
  system: string;
  rep: number;
  ok: boolean;
  error?: string;
  wallMs?: number;
  firstByteMs?: number;
  readP50Us?: number;
  bytesRead?: number;
  checksum?: number;
  expected?: number;
  traffic?: Traffic;
  stats?: Record<string, number>;
  peakRssBytes?: number;
  daemonPeakRssBytes?: number;
  /** budget: reads made. */
  ops?: number;
  /** procs4: what the processes held together once all had read. */
  memory?: HeldMemory;
  /** The system's figures that are not numbers (s3mmap: fill, the region's kind). */
  detail?: Record<string, unknown>;
}

export interface Group {
  key: string;
  workload: Workload;
  title: string;
  objectSize: number;
  /** The network profile its cells ran on. */
  network: NetworkName;
  /** crossover: records read. */
  k?: number;
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface Row {
  group: string;
  system: string;
  label: string;
  role: Role;
  status: 'ok' | 'failed' | 'unavailable';
  reason?: string;
  reps: number;
  failures: number;
  wallMs?: Spread;
  firstByteMs?: number;
  /** The median single read of a timed plan (random, random4, strided), µs. */
  readP50Us?: number;
  bytesRead?: number;
  throughputBps?: number;
  bytesFetched?: number;
  gets?: number;
  faults?: number;
  faultP50Us?: number;
  faultP99Us?: number;
  peakRssBytes?: number;
  daemonPeakRssBytes?: number;
  /** budget: reads per second, and chunks evicted per read. */
  opsPerSec?: number;
  evictionsPerOp?: number;
  /** Cells in which a background fill started, of those whose build reports one (undefined: none does). */
  fillStarted?: { started: number; of: number };
  /** procs4: what the processes held together (median over repetitions). */
  pssBytes?: number;
  daemonRssBytes?: number;
  /** procs4, s3mmap: the mappings were MAP_SHARED in every repetition. */
  sharedRegion?: boolean;
}

export interface Ratio {
  group: string;
  self: string;
  text: string;
}

function spread(xs: number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

function fillCount(ms: Measurement[]): Row['fillStarted'] {
  const known = ms.filter((m) => m.stats?.fillStarted !== undefined);
  return known.length ? { started: known.filter((m) => m.stats!.fillStarted > 0).length, of: known.length } : undefined;
}

function medianOf(ms: Measurement[], f: (m: Measurement) => number | undefined): number | undefined {
  const xs = ms.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return xs.length ? median(xs) : undefined;
}

export function summarize(groups: Group[], systems: string[], ms: Measurement[], unavailable: Map<string, string>): Row[] {
  const rows: Row[] = [];
  for (const g of groups) {
    for (const id of systems) {
      const def = systemDef(id)!;
      if (!def.workloads.includes(g.workload)) continue;
      const base = { group: g.key, system: id, label: def.label, role: def.role };
      const mine = ms.filter((m) => m.group === g.key && m.system === id);
      if (unavailable.has(id) && !mine.length) continue; // listed once, under the summary
      if (!mine.length) continue;
      const good = mine.filter((m) => m.ok);
      const failures = mine.length - good.length;
      if (!good.length) {
        rows.push({ ...base, status: 'failed', reason: mine[0].error, reps: mine.length, failures });
        continue;
      }
      const wall = spread(good.map((m) => m.wallMs!));
      const bytesRead = good[0].bytesRead ?? 0;
      rows.push({
        ...base,
        status: 'ok',
        reason: failures ? good.length === mine.length ? undefined : mine.find((m) => !m.ok)?.error : undefined,
        reps: mine.length,
        failures,
        wallMs: wall,
        firstByteMs: medianOf(good, (m) => m.firstByteMs),
        readP50Us: medianOf(good, (m) => m.readP50Us),
        bytesRead,
        throughputBps: bytesRead / (wall.median / 1000),
        bytesFetched: medianOf(good, (m) => m.traffic?.bytes),
        gets: medianOf(good, (m) => m.traffic?.gets),
        faults: medianOf(good, (m) => m.stats?.faults),
        faultP50Us: medianOf(good, (m) => m.stats?.faultP50Us),
        faultP99Us: medianOf(good, (m) => m.stats?.faultP99Us),
        peakRssBytes: medianOf(good, (m) => m.peakRssBytes),
        daemonPeakRssBytes: medianOf(good, (m) => m.daemonPeakRssBytes),
        opsPerSec: medianOf(good, (m) => (m.ops !== undefined ? m.ops / (m.wallMs! / 1000) : undefined)),
        evictionsPerOp: medianOf(good, (m) => (m.ops && m.stats?.evictions !== undefined ? m.stats.evictions / m.ops : undefined)),
        fillStarted: fillCount(good),
        pssBytes: medianOf(good, (m) => m.memory?.pssBytes),
        daemonRssBytes: medianOf(good, (m) => m.memory?.daemonRssBytes),
        sharedRegion: good.some((m) => m.memory?.shared !== undefined) ? good.every((m) => m.memory?.shared === true) : undefined,
      });
    }
  }
  return rows;
}

/** s3mmap's speed against each peer and the ceiling: the peer's median wall
 *  time over s3mmap's, so 2× means s3mmap took half the time. */
export function ratios(groups: Group[], rows: Row[]): Ratio[] {
  const out: Ratio[] = [];
  for (const g of groups) {
    // Their own sections say these: per k, and memory held rather than time.
    if (g.workload === 'crossover' || g.workload === 'procs4-scan' || g.workload === 'procs4-random') continue;
    const inGroup = rows.filter((r) => r.group === g.key && r.status === 'ok');
    const selves = inGroup.filter((r) => r.role === 'self');
    for (const self of selves) {
      // budget runs for a fixed time: its figure is reads per second, compared as speeds.
      const budget = g.workload === 'budget';
      const mine = budget ? 1 / (self.opsPerSec ?? NaN) : self.wallMs!.median;
      const peers = inGroup.filter((r) => r.role === 'peer').sort((a, b) => a.wallMs!.median - b.wallMs!.median);
      const parts = peers.map((p, i) => `${fmtRatio(p.wallMs!.median / mine)} ${p.label}${i === 0 ? ' (best peer)' : ''}`);
      const ceiling = inGroup.find((r) => r.system === ceilingFor(g.workload, self.system));
      const ceilingText = ceiling ? `${fmtRatio(ceiling.wallMs!.median / mine)} ceiling (${ceiling.label.replace(/ \(ceiling\)$/, '')})` : '';
      const speed = g.workload === 'map' ? '' : `, ${fmtRate(self.throughputBps!)}`;
      const figure = budget ? `${Math.round(self.opsPerSec ?? 0).toLocaleString('en-US')} reads/s` : `${fmtMs(mine)}${speed}`;
      const head = `**${g.key}**${self.system === 's3mmap' ? '' : ` — ${self.label}`} (${figure})`;
      const body = [parts.join(', '), ceilingText].filter(Boolean).join('; ');
      out.push({ group: g.key, self: self.system, text: `${head}: ${body || 'nothing to compare with'}` });
    }
  }
  // Time to map must not grow with the object: compare the smallest and largest sizes.
  for (const network of new Set(groups.map((g) => g.network))) {
    const maps = groups.filter((g) => g.workload === 'map' && g.network === network).sort((a, b) => a.objectSize - b.objectSize);
    if (maps.length < 2) continue;
    const at = (g: Group) => rows.find((r) => r.group === g.key && r.system === 's3mmap' && r.status === 'ok')?.wallMs?.median;
    const small = at(maps[0]);
    const large = at(maps[maps.length - 1]);
    if (small && large) {
      out.push({
        group: 'map',
        self: 's3mmap',
        text: `**time to map vs size${network === 'loopback' ? '' : ` @ ${network}`}**: ${fmtMs(small)} for ${sizeLabel(maps[0].objectSize)}, ${fmtMs(large)} for ${sizeLabel(maps[maps.length - 1].objectSize)} (${fmtRatio(large / small)} the time for ${fmtRatio(maps[maps.length - 1].objectSize / maps[0].objectSize)} the size)`,
      });
    }
  }
  return out;
}

/** Workloads whose table shows the median single read. */
const timed = (g: Group) => g.workload === 'random' || g.workload === 'random4' || g.workload === 'strided';

function cell(r: Row, g: Group): string[] {
  if (r.status !== 'ok') {
    const reason = (r.reason ?? '').split('\n')[0].slice(0, 160).replace(/\|/g, '/');
    return [`${r.status}: ${reason}`, '', '', '', '', '', ...(timed(g) ? [''] : [])];
  }
  const w = r.wallMs!;
  const wall = r.reps > 1 ? `${fmtMs(w.median)} (${fmtMs(w.min)}–${fmtMs(w.max)})` : fmtMs(w.median);
  const failed = r.failures ? ` ⚠ ${r.failures}/${r.reps} failed` : '';
  const fault = r.faultP50Us !== undefined && r.faults
    ? `${Math.round(r.faultP50Us)} / ${Math.round(r.faultP99Us!)} µs (${Math.round(r.faults).toLocaleString('en-US')} fault${Math.round(r.faults) === 1 ? '' : 's'})`
    : '';
  const rss = r.peakRssBytes ? formatBytes(r.peakRssBytes) + (r.daemonPeakRssBytes ? ` + daemon ${formatBytes(r.daemonPeakRssBytes)}` : '') : '';
  const offline = r.role === 'ceiling' || g.workload === 'fault-service';
  const fetched = offline ? '—' : r.bytesFetched === undefined ? '' : formatBytes(r.bytesFetched);
  const gets = offline ? '—' : r.gets === undefined ? '' : String(Math.round(r.gets));
  const rate = g.workload === 'budget' && r.opsPerSec !== undefined
    ? `${Math.round(r.opsPerSec).toLocaleString('en-US')} reads/s, ${r.evictionsPerOp?.toFixed(3) ?? '?'} evictions/read`
    : fmtRate(r.throughputBps!);
  const cols = [wall + failed, g.workload === 'map' ? '' : rate, fetched, gets, fault, rss];
  if (g.workload === 'map') cols.splice(1, 1, r.firstByteMs !== undefined ? fmtMs(r.firstByteMs) : '');
  if (timed(g)) cols.splice(2, 0, r.readP50Us !== undefined ? fmtMs(r.readP50Us / 1000) : '');
  return cols;
}

export interface ReportInput {
  title: string;
  machine: string;
  runLine: string;
  groups: Group[];
  rows: Row[];
  ratios: Ratio[];
  notes: string[];
  unavailable: Map<string, string>;
  chart?: string;
  /** Whole sections (markdown, headed at level 2) placed after the ratios. */
  sections?: string[];
}

export function markdown(input: ReportInput, headingLevel = 1): string {
  const h = (n: number) => '#'.repeat(headingLevel + n - 1);
  const lines: string[] = [];
  lines.push(`${h(1)} ${input.title}`, '');
  lines.push(`Machine: ${input.machine}`, '', input.runLine, '');
  if (input.chart) lines.push(`![wall time per system and workload](${input.chart})`, '');
  lines.push(`${h(2)} s3mmap against the best peer and the ceiling`, '');
  lines.push('N× X: s3mmap took 1/N of the time X took (median against median); below 1× s3mmap was slower.', '');
  for (const r of input.ratios) lines.push(`- ${r.text}`);
  lines.push('');
  if (input.unavailable.size) {
    lines.push('Not measured here:', '');
    for (const [id, why] of input.unavailable) lines.push(`- ${systemDef(id)?.label ?? id}: unavailable: ${why.split('\n')[0]}`);
    lines.push('');
  }
  for (const s of input.sections ?? []) lines.push(s.replace(/^## /gm, `${h(2)} `), '');
  for (const g of input.groups) {
    const rows = input.rows.filter((r) => r.group === g.key);
    if (!rows.length || g.workload === 'crossover') continue;
    lines.push(`${h(2)} ${g.key}: ${g.title}`, '');
    const isMap = g.workload === 'map';
    const read = timed(g) ? ' read p50 |' : '';
    lines.push(`| system | wall median (min–max) | ${isMap ? 'first byte' : 'throughput'} |${read} bytes fetched | GETs | fault p50 / p99 | peak RSS |`);
    lines.push(`|---|---|---|${read ? '---|' : ''}---|---|---|---|`);
    for (const r of rows) lines.push(`| ${r.label} | ${cell(r, g).join(' | ')} |`);
    lines.push('');
  }
  if (input.notes.length) {
    lines.push(`${h(2)} How this was measured`, '');
    for (const n of input.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}
