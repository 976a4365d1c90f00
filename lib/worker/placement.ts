// Puts a run's bytes into one mapping's region: the first chunk held back
// when it is a readahead marker, room made under the resident budget, the
// pages copied without waking (installer: on the I/O pool when no thread
// waits on them and no budget is set), residency and stats recorded in the
// turn the copy answers, then one UFFDIO_WAKE for the run (rule 4); in a shared
// region, a chunk another process installed recorded and woken without a
// copy. Fault worker thread; the bytes are its own buffers (rule 1).
import { Counter, type StatsWriter } from '../shared/stats.js';
import type { ChunkGeometry } from './chunk-geometry.js';
import type { FaultIntake } from './fault-intake.js';
import type { CopyOutcome, Installer } from './installer.js';
import type { Markers } from './markers.js';
import type { PoisonList } from './poison.js';
import type { ResidentSet } from './residency.js';
import type { SharedGate } from './shared-gate.js';

export interface PlacementParts {
  geometry: ChunkGeometry;
  installer: Installer;
  resident: ResidentSet;
  poisoned: PoisonList;
  intake: FaultIntake;
  markers: Markers;
  stats: StatsWriter;
  stopped: () => boolean;
  /** The shared region's gate, or null: private memory. */
  shared: SharedGate | null;
}

export class Placement {
  constructor(private readonly p: PlacementParts) {}

  /** Chunks [chunk, chunk+n) of a run arrived in `data`: a background run's
   *  first chunk may be a marker, held back; the rest is installed. */
  async deliver(chunk: number, n: number, data: Buffer, urgent: boolean): Promise<void> {
    const { geometry, markers, intake } = this.p;
    const { held, overflow } = urgent || this.p.shared?.othersMapping() ? { held: 0 } : markers.hold(chunk, n, geometry.installBytes(chunk), data, intake.isWaiting(chunk));
    if (overflow) this.install(overflow[0], 1, overflow[1]).catch(() => {});
    if (held < n) await this.install(chunk + held, n - held, data.subarray(held * geometry.chunkSize));
  }

  /** Installs `count` chunks from `first` held contiguously in `data`: copies
   *  without waking, records residency, then one UFFDIO_WAKE for the run. */
  async install(first: number, count: number, data: Buffer): Promise<void> {
    const { geometry, installer, resident, poisoned, intake, stats } = this.p;
    if (this.p.stopped()) return;
    const start = geometry.start(first);
    // A load() retrying a chunk that failed before: its poison markers go, so the copy can install pages there.
    poisoned.clear(first, count);
    if (!(await this.reserve(data.length))) return;
    let outcome: CopyOutcome = 'gone';
    // Pages a thread waits on are copied at once, on this thread; the rest
    // on the I/O pool. Under a budget every copy is made here: a fault served
    // from a run whose pool copy is still queued counts its chunk twice until
    // that copy lands, and the budget would evict a chunk for it.
    let onLoop = resident.bounded;
    for (let c = first; c < first + count && !onLoop; c++) onLoop = intake.isWaiting(c);
    try {
      outcome = await installer.copy(start, data, (pooled) => {
        stats.add(Counter.installs, count);
        if (pooled) stats.add(Counter.installsOffLoop, count);
        for (let c = first; c < first + count; c++) resident.add(c, intake.settle(c));
        stats.set(Counter.residentBytes, resident.bytes);
        stats.set(Counter.residentPeak, resident.highWater);
        this.p.shared?.installed(first, count, data.length);
      }, !onLoop);
    } finally {
      if (outcome !== 'installed') resident.cancel(data.length);
    }
    if (outcome === 'installed') installer.wake(start, data.length);
  }

  /** Another process installed the chunk in the shared pages: recorded as
   *  resident here (room made as for an install) and its threads woken. */
  async adopt(chunk: number): Promise<void> {
    const { geometry, installer, resident, intake, stats } = this.p;
    if (this.p.stopped()) return;
    const bytes = geometry.installBytes(chunk);
    if (!(await this.reserve(bytes))) return;
    resident.add(chunk, intake.settle(chunk));
    stats.set(Counter.residentBytes, resident.bytes);
    stats.set(Counter.residentPeak, resident.highWater);
    installer.wake(geometry.start(chunk), bytes);
  }

  /** Counts `bytes` against the resident budget before they land; false
   *  when the mapping stopped meanwhile. Room taken from chunks that woken
   *  threads have not read yet would starve them (residency.ts): this waits
   *  until they have. */
  private async reserve(bytes: number): Promise<boolean> {
    const { resident, stats } = this.p;
    let evicted = resident.reserve(bytes);
    while (evicted === null) {
      await resident.room();
      if (this.p.stopped()) return false;
      evicted = resident.reserve(bytes, true);
    }
    if (evicted) stats.add(Counter.evictions, evicted);
    return true;
  }
}
