// Sequential-stream detection and readahead windows for one mapping, in
// chunks. Fault worker thread; pure. It sees only faults (a touch of an
// installed page is invisible), so a stream is a fault landing near what the
// same stream asked for before: a little beyond it, or a little below (memcpy
// often copies a long range from its end down). Each such fault sets the
// stream's window to what it has read (at least 4 chunks, at most the cap) and keeps that much queued ahead of the reader (below it, for
// one moving down), in pieces of an eighth of the window (one GET each, at
// most fetchSize), so that the first steps of a stream are fetched in
// parallel and the long ones in large GETs. A fault anywhere else starts a
// new stream with no window. Several streams at once (a reader per thread, a merge of sorted
// runs) keep their own windows.
import type { ReadaheadMode, ServeOptions } from '../shared/protocol.js';

interface Stream {
  /** The chunk this stream first faulted on. */
  origin: number;
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
  /** Where the newly asked part begins (moving up): [from, frontier) is asked again for holes. */
  frontier: number;
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
/** A confirmed stream that jumps forward at most this far (and within its window) stays a stream. */
const MAX_SKIP_BYTES = 16 * 1024 * 1024;
/** The smallest window of a confirmed stream. */
export const INITIAL_WINDOW = 4;
/** A confirmed stream's window is what it has read so far (at least
 *  INITIAL_WINDOW, at most the cap): every wait on the network doubles what the
 *  reader has in hand, and a bounded reader is overshot by at most what it
 *  read. On the s3-standard profile a window growing x4 a fault fetched 1.5x
 *  an 18.8 MiB range; half of what was read kept the overshoot near 1.2x but
 *  took 31 round trips for it instead of 8. */
export const WINDOW_PER_READ = 1;
/** GETs per window: its pieces run in parallel, so a small window's steps
 *  cost one first byte each, not one transfer of the whole window. */
export const PIECES_PER_WINDOW = 8;

export class Readahead {
  private streams: Stream[] = [];
  private mode: ReadaheadMode = 'normal';
  private tick = 0;

  constructor(private readonly limits: ReadaheadLimits) {}

  /** The readahead a mapping's options ask for, or null when they turn it off. */
  static forMapping(chunks: number, o: Pick<ServeOptions, 'chunkSize' | 'fetchSize' | 'readahead'>): Readahead | null {
    if (o.readahead <= o.chunkSize) return null;
    return new Readahead({
      chunks,
      maxWindow: Math.floor(o.readahead / o.chunkSize),
      maxPiece: Math.max(1, Math.floor(o.fetchSize / o.chunkSize)),
      maxSkip: Math.max(1, Math.floor(MAX_SKIP_BYTES / o.chunkSize)),
    });
  }

  setMode(mode: ReadaheadMode): void {
    this.mode = mode;
    this.streams = [];
  }

  /** A fault at `chunk`: what to fetch ahead of it, or null. */
  onFault(chunk: number): ReadaheadPlan | null {
    const { chunks, maxWindow, maxPiece } = this.limits;
    if (this.mode === 'random') return null;
    this.tick++;
    let s = this.streams.find((st) => chunk !== st.last && chunk >= st.start - this.skip(st) && chunk < st.end + this.skip(st));
    if (s) {
      const read = Math.abs(chunk - s.origin) + 1;
      s.window = Math.max(s.window, Math.min(maxWindow, Math.max(INITIAL_WINDOW, Math.ceil(read * WINDOW_PER_READ))));
    } else {
      // Marked used now, before the table is cut to size: with a full table the
      // newcomer is the most recent stream, not the first to go.
      s = { origin: chunk, last: chunk, start: chunk, end: chunk + 1, window: this.mode === 'sequential' ? maxWindow : 0, used: this.tick };
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
    const piece = Math.max(1, Math.min(maxPiece, Math.ceil(s.window / PIECES_PER_WINDOW)));
    // A window in the direction the reader moves, topped up in whole pieces
    // (few large GETs, not one small one per fault).
    if (down) {
      // Not clipped to what the stream asked for: a reader copying block after
      // block, each from its end, leaves holes below its last fault. Chunks
      // fetched or on their way are skipped by the caller.
      const from = Math.max(0, chunk - s.window);
      if (from >= chunk) return null;
      s.start = Math.min(s.start, from);
      return { from, to: chunk, piece, down: true, frontier: chunk };
    }
    // The frontier moves in whole pieces (few large GETs, not one small one
    // per fault); below it, whatever is missing is asked again: a reader whose
    // copies run out of order leaves holes. The caller skips chunks fetched or
    // on their way.
    let to = Math.min(chunks, chunk + 1 + s.window);
    const frontier = Math.max(chunk + 1, Math.min(s.end, to));
    // Whole pieces past the frontier, but for the object's last one.
    if (to < chunks) to = frontier + Math.floor((to - frontier) / piece) * piece;
    s.end = Math.max(s.end, to);
    if (to <= chunk + 1) return null;
    return { from: chunk + 1, to, piece, down: false, frontier };
  }

  /** How far outside what it asked for a stream may jump and stay one: a
   *  confirmed stream tolerates up to its window (capped); a new one the next
   *  chunk but one, either way. */
  private skip(s: Stream): number {
    return s.window > 0 ? Math.min(s.window, this.limits.maxSkip) : 2;
  }
}
