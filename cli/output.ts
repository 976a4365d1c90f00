// What the CLI prints besides the object's bytes: key/value sections, JSON, the
// fetch summary, the progress bar. Main thread. Data goes to stdout,
// diagnostics (summaries, progress, errors) to stderr, so a pipe only ever
// carries what the user asked for.
import { formatBytes } from '../lib/shared/sizes.js';
import type { MappingStats } from '../lib/shared/stats.js';
import { scrub } from './errors.js';

export { formatBytes };

export function out(line = ''): void {
  process.stdout.write(scrub(line) + '\n');
}

export function err(line = ''): void {
  process.stderr.write(scrub(line) + '\n');
}

export function json(value: unknown, to: 'stdout' | 'stderr' = 'stdout'): void {
  const text = scrub(JSON.stringify(value, null, to === 'stdout' ? 2 : undefined));
  (to === 'stdout' ? process.stdout : process.stderr).write(text + '\n');
}

/** A key/value block under a heading: "  size           42 B"; a value's later lines line up under its first. */
export function section(title: string, pairs: [string, string][], keyWidth = 0): string[] {
  const w = Math.max(keyWidth, ...pairs.map(([k]) => k.length));
  const indent = ' '.repeat(w + 4);
  return [title, ...pairs.map(([k, v]) => `  ${k.padEnd(w)}  ${v.split('\n').join('\n' + indent)}`)];
}

/** "1,234 B (1.21 KiB)" style, exact first because scripts and people both read it. */
export function bytesExact(n: number): string {
  return n < 1024 ? `${n} B` : `${n.toLocaleString('en-US')} B (${formatBytes(n)})`;
}

export function micros(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

export function percent(part: number, whole: number): string {
  if (whole === 0) return '0%';
  const p = (100 * part) / whole;
  return p === 0 ? '0%' : p < 0.01 ? '<0.01%' : p < 10 ? `${p.toFixed(2)}%` : `${p.toFixed(1)}%`;
}

/** The one line that answers "what did it cost": bytes fetched against the object, GETs, faults, latency. */
export function fetchSummary(s: MappingStats): string {
  const gets = `${s.fetches} GET${s.fetches === 1 ? '' : 's'}`;
  const faults = `${s.faults} fault${s.faults === 1 ? '' : 's'}`;
  // No samples yet (a fault served a moment ago may not be in the histogram): say nothing rather than "0 µs".
  const latency = s.faults && s.faultLatencyP99Us > 0 ? `, fault latency p50 ${micros(s.faultLatencyP50Us)}, p99 ${micros(s.faultLatencyP99Us)}` : '';
  const errors = s.errors ? `, ${s.errors} failed read${s.errors === 1 ? '' : 's'}` : '';
  const disk = s.diskCacheBypassed
    ? ', without the disk cache (its filesystem is full)'
    : s.diskCacheBytes ? `, ${formatBytes(s.diskCacheBytes)} read from the disk cache` : '';
  // Said only when it tells something: pages other processes brought in, or why sharing was not possible.
  const memory = s.shared
    ? (s.sharedHits ? `; ${s.sharedHits} chunk${s.sharedHits === 1 ? '' : 's'} found in shared memory` : '')
    : s.sharedNote?.startsWith('no shared memory') || s.sharedNote?.includes('larger than the shared memory cap') ? `; private memory, ${s.sharedNote}` : '';
  return `fetched ${formatBytes(s.bytesFetched)} of ${formatBytes(s.size)} (${percent(s.bytesFetched, s.size)}) in ${gets}${disk}; ${faults}${latency}${errors}${memory}`;
}

/** Stats for --json: the library's fields, unchanged, so scripts can rely on their names. */
export function statsJson(s: MappingStats): Record<string, unknown> {
  return { ...s };
}

/** A one-line bar redrawn in place on a terminal's stderr, at most ten times a second. */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const rate = done / secs;
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const frac = this.total ? done / this.total : 1;
    const tail = ` ${String(Math.floor(frac * 100)).padStart(3)}%  ${formatBytes(done).padStart(8)} / ${formatBytes(this.total)}  ${formatBytes(rate).padStart(8)}/s  ETA ${clock(eta)}`;
    const cols = this.stream.columns || 80;
    const label = this.label.length > 30 ? '…' + this.label.slice(-29) : this.label;
    const barWidth = Math.max(10, Math.min(40, cols - label.length - tail.length - 4));
    const filled = Math.round(frac * barWidth);
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${tail}`;
    this.stream.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
    this.drawn = true;
  }

  /** Erase the bar so the shell prompt (or the next message) starts clean. */
  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

function clock(secs: number): string {
  if (!Number.isFinite(secs)) return '--:--';
  const s = Math.round(secs);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
