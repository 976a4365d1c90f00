// Sequential-stream detection for one mapping, in chunks. Fault worker thread.
// It sees only faults (a touch of a resident page is invisible), so a stream
// is a fault landing just past what an earlier fault of the same stream asked
// for; each such fault widens the stream's window (4 chunks, then x4) up to the cap, a fault
// anywhere else starts a new stream with none. Several streams at once (a
// reader per thread, or a merge of sorted runs) each keep their own window.

import type { ReadaheadMode } from '../shared/protocol.js';

interface Stream {
  /** Last chunk this stream faulted on. */
  last: number;
  /** End (exclusive) of what this stream has asked for so far. */
  end: number;
  window: number;
  used: number;
}

const MAX_STREAMS = 8;
const INITIAL_WINDOW = 4;

export class Readahead {
  private streams: Stream[] = [];
  private mode: ReadaheadMode = 'normal';
  private tick = 0;

  constructor(
    private readonly chunks: number,
    private readonly maxWindow: number,
  ) {}

  setMode(mode: ReadaheadMode): void {
    this.mode = mode;
    this.streams = [];
  }

  /** A fault at `chunk`: returns [from, to) chunks to fetch ahead of it. */
  onFault(chunk: number): [number, number] {
    if (this.mode === 'random' || this.maxWindow <= 0) return [0, 0];
    this.tick++;
    // Inside what the stream asked for (its fetches are still in flight), or
    // right past it: the same reader, moving forward.
    let s = this.streams.find((st) => chunk > st.last && chunk <= st.end);
    if (s) {
      // A confirmed stream starts at 4 chunks and quadruples: a reader of a
      // few MiB (a Parquet column chunk) is caught up with in 3-4 faults.
      s.window = Math.min(this.maxWindow, Math.max(INITIAL_WINDOW, s.window * 4));
    } else {
      // Marked used now, before the table is cut to size: with a full table the
      // newcomer is the most recent stream, not the first to go.
      s = { last: chunk, end: chunk + 1, window: this.mode === 'sequential' ? this.maxWindow : 0, used: this.tick };
      this.streams.push(s);
      if (this.streams.length > MAX_STREAMS) {
        this.streams.sort((a, b) => b.used - a.used);
        this.streams.length = MAX_STREAMS;
      }
    }
    s.used = this.tick;
    s.last = chunk;
    // Top up only once the reader is into the second half of what was asked
    // for, and then by at least half a window: few large GETs, not one small
    // one per fault.
    if (s.end - chunk > Math.ceil(s.window / 2) && s.end > chunk + 1) return [0, 0];
    const from = Math.max(chunk + 1, s.end);
    s.end = Math.max(s.end, Math.min(this.chunks, chunk + 1 + s.window));
    return [from, s.end];
  }
}
