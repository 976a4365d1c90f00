// Sequential-stream detection and readahead windows for one mapping, in
// chunks. Fault worker thread; pure. It sees only faults (a touch of an
// installed page is invisible), so a stream is a fault landing near what the
// same stream asked for before: a little beyond it, or a little below (memcpy
// often copies a long range from its end down). Each such fault widens the
// stream's window (4 chunks, then ×4, up to the cap) and keeps that much
// queued ahead of the reader (below it, for one moving down), in pieces of a
// quarter window (one GET each, at most fetchSize), so that the first steps
// of a stream are fetched in parallel and the long ones in large GETs. A
// fault anywhere else starts a new stream with no window. Several streams at once (a reader per thread, a merge of sorted
// runs) keep their own windows.
import type { ReadaheadMode } from '../shared/protocol.js';

interface Stream {
  /** Last chunk this stream faulted on. */
  last: number;
  /** Chunks [start, end) this stream has asked for so far. */
  start: number;
  end: number;
  window: number;
  used: number;
}

/** Chunks [from, to) to fetch in the background, `piece` chunks per GET. */
export interface ReadaheadPlan {
  from: number;
  to: number;
  piece: number;
  /** Below the fault, for a reader moving down (memcpy may copy a range from its end). */
  down: boolean;
}

export interface ReadaheadLimits {
  /** Chunks in the object: nothing is planned past the end. */
  chunks: number;
  /** Largest window, in chunks. */
  maxWindow: number;
  /** Most chunks one GET carries (fetchSize / chunkSize). */
  maxPiece: number;
  /** Largest jump, in chunks, past what a stream asked for that keeps it a stream. */
  maxSkip: number;
}

const MAX_STREAMS = 8;
/** The window of a stream confirmed by its second fault. */
export const INITIAL_WINDOW = 4;
/** Each fault of a confirmed stream multiplies its window by this, up to the cap. */
export const GROWTH = 4;

export class Readahead {
  private streams: Stream[] = [];
  private mode: ReadaheadMode = 'normal';
  private tick = 0;

  constructor(private readonly limits: ReadaheadLimits) {}

  setMode(mode: ReadaheadMode): void {
    this.mode = mode;
    this.streams = [];
  }

  /** A fault at `chunk`: what to fetch ahead of it, or null. */
  onFault(chunk: number): ReadaheadPlan | null {
    const { chunks, maxWindow, maxPiece } = this.limits;
    if (this.mode === 'random' || maxWindow <= 0) return null;
    this.tick++;
    let s = this.streams.find((st) => chunk !== st.last && chunk >= st.start - this.skip(st) && chunk < st.end + this.skip(st));
    if (s) {
      s.window = Math.min(maxWindow, Math.max(INITIAL_WINDOW, s.window * GROWTH));
    } else {
      s = { last: chunk, start: chunk, end: chunk + 1, window: this.mode === 'sequential' ? maxWindow : 0, used: 0 };
      this.streams.push(s);
      if (this.streams.length > MAX_STREAMS) {
        this.streams.sort((a, b) => b.used - a.used);
        this.streams.length = MAX_STREAMS;
      }
    }
    s.used = this.tick;
    const down = chunk < s.last;
    s.last = chunk;
    if (s.window === 0) return null;
    const piece = Math.max(1, Math.min(maxPiece, Math.ceil(s.window / 4)));
    // A window in the direction the reader moves, topped up in whole pieces
    // (few large GETs, not one small one per fault).
    if (down) {
      const from = Math.max(0, chunk - s.window);
      const to = Math.min(s.start, chunk);
      if (to - from < Math.min(piece, chunk) || to <= from) return null;
      s.start = from;
      return { from, to, piece, down: true };
    }
    const from = Math.max(chunk + 1, s.end);
    const to = Math.min(chunks, chunk + 1 + s.window);
    if (to - from < Math.min(piece, to - chunk - 1) || to <= from) return null;
    s.end = to;
    return { from, to, piece, down: false };
  }

  /** How far outside what it asked for a stream may jump and stay one: a
   *  confirmed stream tolerates up to its window (capped); a new one the next
   *  chunk but one, either way. */
  private skip(s: Stream): number {
    return s.window > 0 ? Math.min(s.window, this.limits.maxSkip) : 2;
  }
}
