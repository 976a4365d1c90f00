// When a mapping fetches the rest of its object in the background (ski
// rental), and whether there is room for it. Fault worker thread. The
// faults' waits on the network are the rent, each priced by the network
// model as one GET of its chunk; the price is fetching what is missing with
// every connection. The fill starts once the rent reaches a share of the
// price (POLICY.fill.startAt, a half): faults go first, so a reader that
// goes on is done about when the fill is, at most (1 + startAt) times the
// better choice in hindsight; a reader that stops below that share of the
// crossover never fills.
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { POLICY } from '../shared/defaults.js';
import type { FillMode } from '../shared/plan.js';
import { FillWhy } from '../shared/stats.js';

export class SkiRental {
  /** What the faults' waits have cost so far, by the model, in ms. */
  rentMs = 0;
  private decided = false;

  constructor(private readonly mode: FillMode) {}

  /** A fault waited on the network. */
  rent(ms: number): void {
    this.rentMs += ms;
  }

  /** 'auto' would buy now: the rent has reached its share of `buyMs`. */
  pays(buyMs: number): boolean {
    return !this.decided && this.mode === 'auto' && this.rentMs >= buyMs * POLICY.fill.startAt;
  }

  /** Called at a fault: FillWhy.pays or .eager once (then never again), else null.
   *  `buyMs`: fetching what is missing with every connection. */
  due(buyMs: number): number | null {
    if (this.decided || this.mode === 'off') return null;
    if (this.mode === 'eager' || this.pays(buyMs)) {
      this.decided = true;
      return this.mode === 'eager' ? FillWhy.eager : FillWhy.pays;
    }
    return null;
  }
}

/** Bytes a fill may bring into memory: under a resident budget, what the
 *  budget leaves; without one, a share (POLICY.fill.freeShare) of the least of
 *  the memory the machine has free and what this process's cgroup
 *  (memory.max less memory.current, cgroup v2) still allows. */
export function fillRoom(budgetBytes: number, residentBytes: number): number {
  if (budgetBytes > 0) return Math.max(0, budgetBytes - residentBytes);
  return Math.floor(Math.min(freemem(), cgroupRoom()) * POLICY.fill.freeShare);
}

function cgroupRoom(): number {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    if (!line) return Infinity;
    const dir = `/sys/fs/cgroup${line.slice(3).trim()}`.replace(/\/$/, '');
    const max = readFileSync(`${dir}/memory.max`, 'utf8').trim();
    if (max === 'max') return Infinity;
    return Math.max(0, Number(max) - Number(readFileSync(`${dir}/memory.current`, 'utf8').trim()));
  } catch {
    return Infinity;
  }
}
