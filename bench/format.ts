// Numbers as the report writes them (times, ratios, rates) and the median the
// summaries use. Pure functions; orchestrator process, main thread.
import { formatBytes } from '../lib/shared/sizes.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 100_000 ? 0 : 2)} s`;
  if (ms >= 10) return `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
  return `${ms.toFixed(ms >= 1 ? 2 : 3)} ms`;
}

export function fmtRatio(x: number): string {
  if (x >= 100) return `${Math.round(x)}×`;
  if (x >= 10) return `${x.toFixed(0)}×`;
  return `${x.toFixed(x >= 1 ? 1 : 2)}×`;
}

export function fmtRate(bps: number): string {
  return `${formatBytes(Math.round(bps))}/s`;
}

