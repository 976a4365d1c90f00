// The fetch plan of a mapping: its options in chunk units, resolved once on
// the caller's thread (lib/api/options.ts) and sent to the fault worker, which
// never divides a byte count by the chunk size itself; `s3mmap stat` prints
// it. Also the sizes the network model gives, in chunks. Both threads; plain
// values only (structured clone).
import { POLICY } from './defaults.js';
import type { NetworkModel } from './network-model.js';

export type FillMode = 'auto' | 'off' | 'eager';
export const FILL_MODES: readonly FillMode[] = ['auto', 'off', 'eager'];

export interface FetchPlan {
  chunkSize: number;
  /** Most chunks one GET carries (fetchSize). */
  fetchChunks: number;
  /** Largest readahead window (readahead); 0 or 1: no readahead. */
  readaheadChunks: number;
  /** The smallest GET a load() of a long range is split into. */
  loadMinPieceChunks: number;
  /** GETs in flight at once. */
  concurrency: number;
  /** Most chunks installed at once (residentBudget, rounded down); 0: no cap. */
  budgetChunks: number;
  fill: FillMode;
  /** Whose network model this mapping feeds and reads (one per endpoint and worker). */
  endpoint: string;
}

export interface PlanInput {
  chunkSize: number;
  fetchSize: number;
  readahead: number;
  residentBudget: number;
  concurrency: number;
  fill: FillMode;
  endpoint: string;
}

/** Bytes to chunks, rounded down, at least `min`. */
export function chunksIn(bytes: number, chunkSize: number, min = 0): number {
  return Math.max(min, Math.floor(bytes / chunkSize));
}

export function planFetch(o: PlanInput): FetchPlan {
  const readaheadChunks = chunksIn(o.readahead, o.chunkSize);
  return {
    chunkSize: o.chunkSize,
    fetchChunks: chunksIn(o.fetchSize, o.chunkSize, 1),
    readaheadChunks,
    loadMinPieceChunks: chunksIn(POLICY.loadMinPiece, o.chunkSize, 1),
    concurrency: o.concurrency,
    budgetChunks: chunksIn(o.residentBudget, o.chunkSize),
    // readahead 0 asks for what is touched and nothing more: no 'auto' fill either ('eager' is asked for by name).
    fill: o.fill === 'auto' && readaheadChunks <= 1 ? 'off' : o.fill,
    endpoint: o.endpoint,
  };
}

/** A fill of `missingBytes` over every connection but one (left to
 *  faults): its GETs' size in chunks (the model's piece, or spread over
 *  as many GETs as carry the aggregate if that is fewer: a small object goes
 *  wide at once), and its price by the model, in ms. Spread over all 15, a
 *  64 MiB object went out in GETs of 4.25 MiB that each carried less for
 *  the same first byte: on s3-standard a scan took 524 against 394 ms with 8
 *  GETs of 8 MiB, random reads 430 against 407 ms. */
export function fillShape(model: NetworkModel, plan: FetchPlan, missingBytes: number, maxPiece = modelSizes(model, plan).maxPiece): { pieceChunks: number; priceMs: number } {
  const lanes = Math.max(1, plan.concurrency - 1);
  const wide = Math.min(lanes, model.saturatingGets);
  const pieceChunks = Math.max(1, Math.min(maxPiece, Math.ceil(missingBytes / plan.chunkSize / wide)));
  return { pieceChunks, priceMs: model.parallelMs(missingBytes, lanes, pieceChunks * plan.chunkSize) };
}

/** The model's sizes for this plan, in chunks: the efficient GET (at most
 *  one fetch) and the hole worth fetching rather than a first byte. */
export function modelSizes(model: NetworkModel, plan: FetchPlan): { maxPiece: number; gap: number } {
  return {
    maxPiece: Math.min(plan.fetchChunks, chunksIn(model.pieceBytes, plan.chunkSize, 1)),
    gap: chunksIn(model.gapBytes, plan.chunkSize),
  };
}
