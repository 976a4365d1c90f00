// The fetch policy of one mapping: given a fault, what else to fetch (the
// readahead's pieces and markers) and whether the rest of the object is now
// worth fetching (the fill), every size taken from the network model of the
// mapping's endpoint, which its GETs feed. Publishes the model's figures and
// the fill's state in the mapping's stats. Fault worker thread; the region
// server only carries out what this decides.
import type { ReadaheadMode } from '../shared/protocol.js';
import { NetworkModel, type GetTiming } from '../shared/network-model.js';
import { fillShape, modelSizes, type FetchPlan } from '../shared/plan.js';
import { Counter, FillWhy, type StatsWriter } from '../shared/stats.js';
import { SkiRental, fillRoom } from './fill.js';
import { Readahead, type ReadaheadPlan } from './readahead.js';

/** One model per endpoint, shared by every mapping of this fault worker. */
const models = new Map<string, NetworkModel>();

export function modelFor(endpoint: string): NetworkModel {
  let m = models.get(endpoint);
  if (!m) models.set(endpoint, (m = new NetworkModel()));
  return m;
}

export interface FaultDecision extends ReadaheadPlan {
  /** Start the fill now, in GETs of `fillPiece` chunks. */
  fill: boolean;
  fillPiece: number;
}

/** What the region server knows of the mapping when a fault comes. */
export interface Occupancy {
  /** Object bytes neither installed nor on their way. */
  missingBytes: number;
  residentBytes: number;
  /** Another process maps the same shared pages (asked only when a fill would pay). */
  sharedWithOthers?: () => boolean;
}

/** Times GETs for the model: begin() as one starts, end() with the bytes it brought (0: it failed). */
export interface GetTimer {
  begin(): GetTiming;
  end(get: GetTiming, bytes: number): void;
}

export class FetchPolicy implements GetTimer {
  private readonly model: NetworkModel;
  private readonly readahead: Readahead | null;
  private readonly rental: SkiRental;
  private firstFault = -1;
  private faults = 0;

  constructor(
    private readonly plan: FetchPlan,
    chunks: number,
    private readonly stats: StatsWriter,
  ) {
    this.model = modelFor(plan.endpoint);
    this.readahead = Readahead.forPlan(chunks, plan);
    this.rental = new SkiRental(plan.fill);
    if (plan.fill === 'off') this.stats.set(Counter.fillWhy, FillWhy.off);
    this.publish();
  }

  setMode(mode: ReadaheadMode): void {
    this.readahead?.setMode(mode);
  }

  begin(): GetTiming {
    return this.model.begin();
  }

  /** A GET ended: the model learns from it if it ran uncrowded. */
  end(get: GetTiming, bytes: number): void {
    this.model.end(get, bytes);
    this.publish();
  }

  /** Chunks per GET of a load() of `n` chunks: n split about evenly into
   *  `concurrency` GETs, fewer when they would carry less than the plan's
   *  floor (a first byte costs the same for any size), more when they would
   *  carry more than one fetch. Even, because the load waits for its
   *  slowest GET: a 1.14 MiB Parquet column went out as 1 MiB and a 0.14 MiB
   *  runt that saved 2 ms of transfer and cost the later of two first bytes. */
  loadPiece(n: number): number {
    const { concurrency, loadMinPieceChunks, fetchChunks } = this.plan;
    const gets = Math.max(Math.ceil(n / fetchChunks), Math.min(concurrency, Math.max(1, Math.floor(n / loadMinPieceChunks))));
    return Math.ceil(n / gets);
  }

  /** A fault on `chunk`; `waits`: it waits on the network (no marker, no cached copy). */
  onFault(chunk: number, waits: boolean, occupancy: Occupancy): FaultDecision | null {
    const now = performance.now();
    if (this.firstFault < 0) this.firstFault = now;
    this.faults++;
    const sizes = modelSizes(this.model, this.plan);
    this.readahead?.tune(sizes);
    const ahead = this.readahead?.onFault(chunk) ?? null;
    const fillPiece = this.weighFill(waits, occupancy, sizes.maxPiece, now);
    if (!ahead && !fillPiece) return null;
    return { pieces: ahead?.pieces ?? [], markers: ahead?.markers ?? [], fill: fillPiece > 0, fillPiece };
  }

  /** The fill's GET size in chunks if it starts at this fault, else 0. */
  private weighFill(waits: boolean, o: Occupancy, maxPiece: number, now: number): number {
    if (this.plan.fill === 'off' || o.missingBytes <= 0) return 0;
    const { chunkSize, budgetChunks } = this.plan;
    const { pieceChunks, priceMs: buyMs } = fillShape(this.model, this.plan, o.missingBytes, maxPiece);
    if (waits) this.rental.rent(this.model.getMs(chunkSize));
    this.stats.set(Counter.fillRentUs, Math.round(this.rental.rentMs * 1000));
    this.stats.set(Counter.fillBuyUs, Math.round(buyMs * 1000));
    // Processes that map the same shared pages fetch what they read once,
    // between them; a fill in each would take the fetch locks of chunks
    // another's faults then wait on (at most 10 s each): 4 processes
    // scanning a 1 GiB object took 120-221 s, against 20 s for 4 private
    // copies. Asked again at later faults: the others may close.
    if (this.rental.pays(buyMs) && o.sharedWithOthers?.()) {
      this.stats.set(Counter.fillWhy, FillWhy.shared);
      return 0;
    }
    const why = this.rental.due(buyMs);
    if (why === null) return 0;
    if (o.missingBytes > fillRoom(budgetChunks * chunkSize, o.residentBytes)) {
      this.stats.set(Counter.fillWhy, FillWhy.noRoom);
      return 0;
    }
    this.stats.set(Counter.fillWhy, why);
    this.stats.set(Counter.fillAtFault, this.faults);
    this.stats.set(Counter.fillAtMs, Math.round(now - this.firstFault));
    return pieceChunks;
  }

  private publish(): void {
    const m = this.model;
    this.stats.set(Counter.modelFirstByteUs, Math.round(m.firstByteMs * 1000));
    this.stats.set(Counter.modelBytesPerSec, Math.round(m.bytesPerSec));
    this.stats.set(Counter.modelSamples, m.samples);
    const sizes = modelSizes(m, this.plan);
    this.stats.set(Counter.modelGapBytes, Math.round(m.gapBytes));
    this.stats.set(Counter.modelPieceBytes, sizes.maxPiece * this.plan.chunkSize);
  }
}
