// Readahead of one mapping: which faults are a sequential stream or a steady
// stride, and the chunks to fetch ahead of them (and which of those are
// markers). Fault worker thread; pure: chunk numbers in, pieces out, so the
// region server only queues what it is given. It sees faults only (a touch of
// an installed page is invisible), so a stream is confirmed by faults that
// follow one another closely, never by landing somewhere near a place seen
// before: a random reader's faults stay single chunks, whatever their number.
import type { ReadaheadMode } from '../shared/protocol.js';
import { POLICY } from '../shared/defaults.js';

const { confirmSteps, closeStep, initialWindow, windowPerRead, maxStreams, strideTouches } = POLICY.readahead;

interface Stream {
  /** The chunk this stream first faulted on. */
  origin: number;
  /** Last chunk this stream faulted on. */
  last: number;
  /** Chunks [start, end) this stream has asked for (or touched) so far. */
  start: number;
  end: number;
  /** Close steps seen; the stream is confirmed at confirmSteps. */
  steps: number;
  /** Chunks kept queued ahead of the reader; 0 until confirmed. */
  window: number;
  /** Where a run as long as the last stream's would end: asked whole at confirmation. */
  target: number;
  /** Chunks per GET of what it asked last going up. */
  piece: number;
  used: number;
}

interface Stride {
  /** Chunks between one touch and the next. */
  stride: number;
  /** Chunks each touch covers. */
  span: number;
  /** The last touch's first chunk. */
  last: number;
  /** Origin of the furthest touch asked for ahead. */
  asked: number;
  touches: number;
  used: number;
}

/** What to fetch in the background: each piece [from, to) is one GET,
 *  queued in this order; `markers` are first chunks to hold back. */
export interface ReadaheadPlan {
  pieces: Array<[from: number, to: number]>;
  markers: number[];
}

export interface ReadaheadLimits {
  /** Chunks in the object: nothing is planned past the end. */
  chunks: number;
  /** Largest window, in chunks (the readahead option, from the plan). */
  maxWindow: number;
  /** Connections: a window is cut into about this many pieces. */
  connections: number;
}

/** Sizes the network model gives, in chunks (they move as it learns). */
export interface ReadaheadTuning {
  /** Most chunks one GET of a window carries. */
  maxPiece: number;
  /** A hole up to this many chunks costs less to fetch than a first byte. */
  gap: number;
}

export class Readahead {
  private streams: Stream[] = [];
  private strides: Stride[] = [];
  /** Origins of the last fresh streams, oldest first (strideTouches - 1 of them). */
  private fresh: number[] = [];
  private mode: ReadaheadMode = 'normal';
  private tick = 0;
  /** Chunks the last stream the reader left had read (0: none yet). */
  private lastRun = 0;
  private tuning: ReadaheadTuning = { maxPiece: 1, gap: 0 };

  constructor(private readonly limits: ReadaheadLimits) {}

  /** The readahead a plan asks for, or null when it turns it off. */
  static forPlan(chunks: number, plan: { readaheadChunks: number; concurrency: number }): Readahead | null {
    if (plan.readaheadChunks <= 1) return null;
    return new Readahead({ chunks, maxWindow: plan.readaheadChunks, connections: plan.concurrency });
  }

  tune(t: ReadaheadTuning): void {
    this.tuning.maxPiece = Math.max(1, t.maxPiece);
    this.tuning.gap = Math.max(0, t.gap);
  }

  setMode(mode: ReadaheadMode): void {
    this.mode = mode;
    this.streams = [];
    this.strides = [];
    this.fresh = [];
    this.lastRun = 0;
  }

  /** A fault away from every stream: the reader left the one it used last,
   *  and how far that went upward is the best guess at how far the next goes. */
  private noteLeft(): void {
    let recent: Stream | undefined;
    for (const st of this.streams) if (!recent || st.used > recent.used) recent = st;
    if (!recent || recent.window === 0 || recent.last < recent.origin) return;
    // Its last fault was on a marker, at the start of a piece: that piece read whole.
    this.lastRun = Math.min(recent.end, recent.last + recent.piece) - recent.origin;
  }

  /** A fault at `chunk`: what to fetch ahead of it, or null. */
  onFault(chunk: number): ReadaheadPlan | null {
    if (this.mode === 'random') return null;
    this.tick++;
    const s = this.streams.find((st) => this.continues(st, chunk));
    if (s) return this.stepStream(s, chunk);
    const strided = this.stepStride(chunk);
    this.noteLeft();
    this.fresh.push(chunk);
    if (this.fresh.length > strideTouches - 1) this.fresh.shift();
    // A new stream: a sequential one is confirmed by the faults that follow it.
    const fresh: Stream = { origin: chunk, last: chunk, start: chunk, end: chunk + 1, steps: 0, window: 0, target: 0, piece: 1, used: this.tick };
    this.streams.push(fresh);
    if (this.streams.length > maxStreams) {
      this.streams.sort((a, b) => b.used - a.used);
      this.streams.length = maxStreams;
    }
    if (this.mode === 'sequential') {
      fresh.window = this.limits.maxWindow;
      fresh.steps = confirmSteps;
      return this.stepStream(fresh, chunk, true);
    }
    return strided;
  }

  /** Close: an unconfirmed stream's next chunk (or the one after, either
   *  way); a confirmed stream's fault inside what it asked for, or within one
   *  piece past it. */
  private continues(s: Stream, chunk: number): boolean {
    if (chunk === s.last) return false;
    if (s.window === 0) return Math.abs(chunk - s.last) <= closeStep;
    const reach = this.piece(s.window);
    return chunk >= s.start - reach && chunk < s.end + reach;
  }

  private stepStream(s: Stream, chunk: number, first = false): ReadaheadPlan | null {
    const { chunks, maxWindow } = this.limits;
    s.used = this.tick;
    if (!first) s.steps++;
    const down = chunk < s.last;
    s.last = chunk;
    s.start = Math.min(s.start, chunk);
    s.end = Math.max(s.end, chunk + 1);
    if (s.steps < confirmSteps) return null;
    // A stream going up is asked at once as far as the last stream the
    // reader left went (a columnar reader reads each batch's column as far as
    // the one before; Arrow's 16 MiB column of a 128 MiB batch took a round
    // trip per doubling of its window); past that, by its window.
    if (s.window === 0 && !down) s.target = Math.min(chunks, s.origin + Math.min(this.lastRun, maxWindow));
    const targeted = !down && s.target > chunk + 1;
    if (targeted) {
      s.window = Math.max(s.window, initialWindow);
    } else {
      // The window is what the stream has read (its faults were all close,
      // so the distance from its origin is what it went through); past a
      // target, what it read past that: a run a little longer than the last
      // is overshot by about its excess, not its length.
      const from = !down && s.target > s.origin ? s.target : s.origin;
      const read = Math.abs(chunk - from) + 1;
      s.window = Math.max(s.window, Math.min(maxWindow, Math.max(initialWindow, Math.ceil(read * windowPerRead))));
    }
    if (down) {
      const piece = this.piece(s.window);
      // Not clipped to what was asked: a reader copying block after block,
      // each from its end, leaves holes below its last fault (the caller
      // skips chunks fetched or on their way). Nearest piece first.
      const from = Math.max(0, chunk - s.window);
      if (from >= chunk) return null;
      s.start = Math.min(s.start, from);
      const pieces: Array<[number, number]> = [];
      for (let top = chunk; top > from; top -= piece) pieces.push([Math.max(from, top - piece), top]);
      return { pieces, markers: [] };
    }
    // The frontier moves in whole pieces (few large GETs, not one small one
    // per fault); below it, holes are asked again (copies out of order).
    let to = Math.min(chunks, targeted ? s.target : chunk + 1 + s.window);
    const piece = this.piece(Math.max(s.window, to - chunk - 1));
    s.piece = piece;
    const frontier = Math.max(chunk + 1, Math.min(s.end, to));
    if (to < chunks && !targeted) to = frontier + Math.floor((to - frontier) / piece) * piece;
    s.end = Math.max(s.end, to);
    if (to <= chunk + 1) return null;
    const pieces: Array<[number, number]> = [];
    const markers: number[] = [];
    for (let c = chunk + 1; c < frontier; c += piece) pieces.push([c, Math.min(frontier, c + piece)]);
    for (let c = frontier; c < to; c += piece) {
      pieces.push([c, Math.min(to, c + piece)]);
      // Every new piece of two chunks or more starts with a marker: the
      // reader faults once a piece, and that fault tops the window up.
      if (Math.min(to, c + piece) - c >= 2) markers.push(c);
    }
    return { pieces, markers };
  }

  /** A piece of a window: spread over every connection, no larger than the model's efficient GET. */
  private piece(window: number): number {
    return Math.max(1, Math.min(this.tuning.maxPiece, Math.ceil(window / this.limits.connections)));
  }

  /** A fault that starts no stream: is it the next touch of a steady stride
   *  (strideTouches equal steps between fresh streams), and what lies ahead? */
  private stepStride(chunk: number): ReadaheadPlan | null {
    let st = this.strides.find((x) => chunk === x.last + x.stride || (chunk > x.last && chunk <= x.asked && (chunk - x.last) % x.stride === 0));
    if (st) {
      st.touches += Math.round((chunk - st.last) / st.stride);
      st.last = chunk;
    } else {
      st = this.findStride(chunk) ?? undefined;
      if (!st) return null;
      this.strides.push(st);
      if (this.strides.length > maxStreams) {
        this.strides.sort((a, b) => b.used - a.used);
        this.strides.length = maxStreams;
      }
    }
    st.used = this.tick;
    const { chunks, maxWindow } = this.limits;
    // A gap cheaper than a first byte is fetched with the touches around it.
    const span = st.stride - st.span <= this.tuning.gap ? st.stride : st.span;
    // Strides ahead grow with the touches seen, like a window: a reader that
    // stops is overshot by at most what it read, and never by a gap.
    const ahead = Math.min(this.limits.connections, st.touches, Math.max(1, Math.floor(maxWindow / span)));
    const pieces: Array<[number, number]> = [];
    const markers: number[] = [];
    for (let k = 1; k <= ahead; k++) {
      const o = chunk + k * st.stride;
      if (o >= chunks) break;
      if (o <= st.asked) continue;
      pieces.push([o, Math.min(chunks, o + span)]);
      // Held back, so the reader's touch is seen and the stride moves on.
      markers.push(o);
      st.asked = o;
    }
    return pieces.length ? { pieces, markers } : null;
  }

  /** The stride of the last strideTouches fresh faults, if their steps are
   *  equal (consecutive ones: a reader interleaving two strides, or one whose
   *  step is not a whole number of chunks, is no steady stride), or null.
   *  Random faults almost never make two equal steps in a row. */
  private findStride(chunk: number): Stride | null {
    const recent = this.fresh;
    if (recent.length < strideTouches - 1) return null;
    const stride = chunk - recent[recent.length - 1];
    if (stride <= closeStep + 1) return null;
    for (let i = recent.length - 1; i > 0; i--) if (recent[i] - recent[i - 1] !== stride) return null;
    const spans = this.streams.filter((s) => recent.includes(s.origin)).map((s) => s.end - s.origin);
    const span = Math.max(1, ...spans);
    if (span >= stride) return null;
    return { stride, span, last: chunk, asked: chunk, touches: strideTouches, used: this.tick };
  }
}
