// Readahead markers of one mapping: the first chunk of a readahead piece
// (which ones: lib/worker/readahead.ts) is fetched but held back here instead of installed, so that the reader
// faults when it gets there (served from memory at once) and the readahead
// learns where the reader is. A reader slower than the network, which never
// faults on pages installed ahead of it, is so topped up before it runs out.
// Fault worker thread.

import { POLICY } from '../shared/defaults.js';

const MAX_MARKERS = POLICY.readahead.maxMarkers;

export class Markers {
  /** Chunk → its install bytes, oldest first. */
  private readonly held = new Map<number, Buffer>();
  /** First chunks of readahead pieces not fetched yet. */
  private readonly candidates = new Set<number>();

  /** A readahead piece starts at `chunk`: it will be a marker if nobody waits on it when it arrives. */
  plan(chunk: number): void {
    this.candidates.add(chunk);
  }

  /** The chunk's fetch is over, as a marker or not. */
  settled(chunk: number): void {
    this.candidates.delete(chunk);
  }

  /** A run of `count` chunks from `first` arrived in `data`: keeps its first
   *  chunk back when it is a marker. Returns how many chunks were held (0 or
   *  1), and the oldest marker to install when too many are held. */
  hold(first: number, count: number, firstBytes: number, data: Buffer, waitedOn: boolean): { held: number; overflow?: [number, Buffer] } {
    if (!this.candidates.delete(first) || count < 1 || waitedOn) return { held: 0 };
    this.held.set(first, Buffer.from(data.subarray(0, firstBytes)));
    if (this.held.size <= MAX_MARKERS) return { held: 1 };
    // A reader that stopped leaves its markers behind: the oldest goes in, as any fetched chunk.
    const overflow = this.held.entries().next().value as [number, Buffer];
    this.held.delete(overflow[0]);
    return { held: 1, overflow };
  }

  has(chunk: number): boolean {
    return this.held.has(chunk);
  }

  /** The marker's bytes, no longer held; undefined if the chunk is none. */
  take(chunk: number): Buffer | undefined {
    const bytes = this.held.get(chunk);
    if (bytes) this.held.delete(chunk);
    return bytes;
  }

  clear(): void {
    this.held.clear();
    this.candidates.clear();
  }
}
