// Unit tests of lib/worker/readahead.ts (pure: fault chunk in, pieces and
// markers out): what confirms a stream (close faults only), the window (what
// the stream has read, pinned in test/helpers/pins.ts) and its pieces (one per
// connection, at most the model's piece), top-ups in whole pieces, the cap,
// the object's end, readers moving down, strides (fetched at what they touch,
// never the gaps), random readers (nothing ahead), the advice modes and the
// stream table. Vitest 'unit' project, test-file thread.
import { describe, expect, it } from 'vitest';
import { Readahead, type ReadaheadLimits, type ReadaheadPlan } from '../../lib/worker/readahead.js';
import { PINNED } from '../helpers/pins.js';

const { initialWindow: W0, windowPerRead, confirmSteps, closeStep, maxStreams, strideTouches } = PINNED.readahead;

function ra(chunks: number, maxWindow: number, more: Partial<ReadaheadLimits> = {}, maxPiece = 128, gap = 0): Readahead {
  const r = new Readahead({ chunks, maxWindow, connections: 16, ...more });
  r.tune({ maxPiece, gap });
  return r;
}

/** Pieces [from, to) of `piece` chunks from `from` (the last one cut at `to`). */
function pieces(from: number, to: number, piece: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let c = from; c < to; c += piece) out.push([c, Math.min(to, c + piece)]);
  return out;
}

/** Everything a plan asks for, as a sorted list of chunks. */
function asked(p: ReadaheadPlan | null): number[] {
  return (p?.pieces ?? []).flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i)).sort((x, y) => x - y);
}

/** Faults that confirm a stream from `c`: c, c+1, ... (confirmSteps close steps). */
function confirm(r: Readahead, c: number): ReadaheadPlan | null {
  for (let i = 0; i < confirmSteps; i++) expect(r.onFault(c + i)).toBeNull();
  return r.onFault(c + confirmSteps);
}

/** A reader that faults only where nothing was asked yet (each fetch lands
 *  before it reads on): the chunks it faults on and the windows it got. */
function scan(r: Readahead, chunks: number): { faults: number[]; windows: number[] } {
  let end = 0;
  const faults: number[] = [];
  const windows: number[] = [];
  for (let c = 0; c < chunks; c = Math.max(c + 1, end)) {
    faults.push(c);
    const plan = r.onFault(c);
    if (plan) windows.push(plan.pieces.at(-1)![1] - c - 1);
    end = plan ? plan.pieces.at(-1)![1] : c + 1;
  }
  return { faults, windows };
}

describe('Readahead: a stream and its window', () => {
  it(`a stream is confirmed by ${confirmSteps} close steps: nothing is fetched ahead before, then the initial window`, () => {
    expect([confirmSteps, closeStep, W0, windowPerRead]).toEqual([3, 2, 4, 1]);
    const r = ra(1000, 512);
    expect(confirm(r, 0)).toEqual({ pieces: pieces(4, 4 + W0, 1), markers: [] });
  });

  it('the window is what the stream has read: each fault at the end of what was asked doubles what the reader has', () => {
    const { faults, windows } = scan(ra(100_000, 100_000), 600);
    expect(faults).toEqual([0, 1, 2, 3, 8, 18, 37, 74, 150, 301, 587]);
    // Window = chunks read (the fault's own included), 4 at least, asked in
    // whole pieces (a sixteenth of it, one per connection): 19 read gives 9 pieces of 2.
    expect(windows).toEqual([4, 9, 18, 36, 75, 150, 285, 555]);
  });

  it('the cap holds the window once the stream has read that much', () => {
    const { faults, windows } = scan(ra(100_000, 64), 500);
    expect(faults).toEqual([0, 1, 2, 3, 8, 18, 37, 74, 139, 204, 269, 334, 399, 464]);
    expect(windows).toEqual([4, 9, 18, 36, 64, 64, 64, 64, 64, 64, 64]);
  });

  it("pieces spread a window over every connection, at least one chunk, at most the model's piece; each piece of two chunks or more starts with a marker", () => {
    const r = ra(100_000, 100_000, { connections: 4 }, 16);
    expect(confirm(r, 0)).toEqual({ pieces: pieces(4, 8, 1), markers: [] }); // window 4
    expect(r.onFault(8)).toEqual({ pieces: pieces(9, 18, 3), markers: [9, 12, 15] }); // window 9: pieces of 3
    const big = r.onFault(18)!; // window 19: pieces of 5
    expect(big.pieces[0]).toEqual([19, 24]);
    const huge = ra(100_000, 100_000, { connections: 4 }, 16);
    huge.setMode('sequential');
    expect(huge.onFault(0)!.pieces[0]).toEqual([1, 17]); // capped at 16 by the model
  });

  it('never asks past the object: the window is clamped to the last chunk, and at the end nothing is asked', () => {
    const r = ra(8, 512);
    expect(asked(confirm(r, 0))).toEqual([4, 5, 6, 7]);
    expect(r.onFault(7)).toBeNull();
  });

  it('tops up only by whole pieces (but for the last one of the object); a fault inside what was asked re-asks the holes below the frontier', () => {
    const r = ra(1000, 64, { connections: 8 });
    r.setMode('sequential');
    expect(r.onFault(0)).toEqual({ pieces: pieces(1, 65, 8), markers: [1, 9, 17, 25, 33, 41, 49, 57] });
    // 3 chunks more would be less than a piece: only what lies below the frontier (the caller skips what is on its way).
    expect(r.onFault(3)).toEqual({ pieces: pieces(4, 65, 8), markers: [] });
    // 9 more is a piece and more: the frontier moves by one piece.
    expect(r.onFault(9)).toEqual({ pieces: [...pieces(10, 65, 8), [65, 73]], markers: [65] });
  });
});

describe('Readahead: runs as long as the last', () => {
  it("a new stream going up is asked at once as far as the last stream the reader left went; past that, by what it read past that", () => {
    const r = ra(100_000, 512);
    confirm(r, 0);
    r.onFault(8);
    // The last fault of a run: on the first chunk of a piece of 2, so a run of 20.
    expect(r.onFault(18)!.pieces[0]).toEqual([19, 21]);
    // A batch's column further on: confirmed, it is asked up to 20 chunks from its start.
    expect(confirm(r, 1000)).toEqual({ pieces: pieces(1004, 1020, 1), markers: [] });
    // A fault inside asks nothing past that (the holes below are asked
    // again; the caller skips what is on its way).
    expect(Math.max(...asked(r.onFault(1010)))).toBe(1019);
    // Past it, a window of what was read past it (4 at least), not of the 21 read.
    expect(asked(r.onFault(1020))).toEqual([1021, 1022, 1023, 1024]);
    expect(asked(r.onFault(1025))).toEqual([1026, 1027, 1028, 1029, 1030, 1031]);
  });

  it('only a confirmed stream going up sets the length: random faults and a reader moving down leave the window rule alone', () => {
    const r = ra(100_000, 512);
    for (const c of [500, 9000, 300, 70_000]) expect(r.onFault(c)).toBeNull();
    expect(confirm(r, 2000)).toEqual({ pieces: pieces(2004, 2008, 1), markers: [] });
    const down = ra(100_000, 512);
    for (const c of [600, 599, 598, 597]) down.onFault(c);
    down.onFault(590);
    expect(confirm(down, 3000)).toEqual({ pieces: pieces(3004, 3008, 1), markers: [] });
  });
});

describe('Readahead: what continues a stream', () => {
  it('a confirmed stream continues with a fault inside what it asked for, or one piece past it', () => {
    const r = ra(1000, 512);
    confirm(r, 0); // asked up to 8, pieces of 1
    expect(asked(r.onFault(8))).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17]); // read 9
    const s = ra(1000, 512);
    confirm(s, 0);
    expect(s.onFault(10)).toBeNull(); // two past what it asked: a new stream
  });

  it(`an unconfirmed stream's close step is at most ${closeStep} chunks, either way`, () => {
    const a = ra(1000, 512);
    a.onFault(0);
    a.onFault(2);
    a.onFault(4);
    expect(asked(a.onFault(6))).toEqual([7, 8, 9, 10, 11, 12, 13]); // read 7
    const b = ra(1000, 512);
    b.onFault(0);
    expect(b.onFault(3)).toBeNull();
    expect(b.onFault(6)).toBeNull(); // 3 and 6: each a new stream, never confirmed
  });

  it('a random reader never fetches ahead, however many faults land near earlier ones', () => {
    // 16 MiB of 64 KiB chunks, as under a resident budget: faults land next to remembered ones often.
    let x = 12345;
    const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24);
    const r = ra(256, 8);
    let plans = 0;
    let extra = 0;
    for (let i = 0; i < 20_000; i++) {
      const p = r.onFault(next());
      if (p) plans++;
      extra += asked(p).length;
    }
    // Three close steps in a row on one stream: a few in a thousand faults at most.
    expect(plans / 20_000).toBeLessThan(0.005);
    expect(extra / 20_000).toBeLessThan(0.02);
  });

  it('a fault on the same chunk again starts nothing', () => {
    const r = ra(1000, 512);
    r.onFault(10);
    expect(r.onFault(10)).toBeNull();
    r.onFault(11);
    r.onFault(12);
    expect(asked(r.onFault(13))).toEqual([14, 15, 16, 17]);
  });
});

describe('Readahead: strides', () => {
  it(`${strideTouches} touches at equal steps make a stride: the next ones are fetched (their chunks only, as markers), as many as touches seen, never the gaps`, () => {
    expect(strideTouches).toBe(4);
    const r = ra(100_000, 512);
    for (const c of [0, 256, 512]) expect(r.onFault(c)).toBeNull();
    expect(r.onFault(768)).toEqual({ pieces: [[1024, 1025], [1280, 1281], [1536, 1537], [1792, 1793]], markers: [1024, 1280, 1536, 1792] });
    // The reader reaches the first marker: five touches now, the strides asked so far are not asked again.
    expect(r.onFault(1024)).toEqual({ pieces: [[2048, 2049], [2304, 2305]], markers: [2048, 2304] });
  });

  it('a touch of two chunks (a read across a chunk boundary) fetches two chunks per stride', () => {
    const r = ra(100_000, 512);
    for (const c of [0, 256, 512]) {
      r.onFault(c);
      r.onFault(c + 1);
    }
    expect(r.onFault(768)!.pieces).toEqual([[1024, 1026], [1280, 1282], [1536, 1538], [1792, 1794]]);
  });

  it("a gap no larger than the model's gap is fetched with the touches around it", () => {
    const r = ra(100_000, 512, {}, 128, 8);
    for (const c of [0, 8, 16]) r.onFault(c);
    expect(r.onFault(24)!.pieces).toEqual([[32, 40], [40, 48], [48, 56], [56, 64]]);
  });

  it('strides ahead are bounded by the window and the connections', () => {
    const r = ra(100_000, 2, { connections: 2 });
    for (const c of [0, 100, 200]) r.onFault(c);
    expect(r.onFault(300)!.pieces).toEqual([[400, 401], [500, 501]]);
  });

  it('uneven steps are no stride, nor are steps alternating 25 and 26 chunks (a stride of 25.6 chunks: every other touch is 51 apart)', () => {
    const r = ra(100_000, 512);
    for (const c of [0, 256, 512, 770, 1030]) expect(r.onFault(c)).toBeNull();
    const alt = ra(100_000, 512);
    let c = 0;
    for (let i = 0; i < 40; i++, c += i % 2 ? 25 : 26) expect(alt.onFault(c)).toBeNull();
  });
});

describe('Readahead: from a plan', () => {
  it('off when the readahead is no more than one chunk', () => {
    expect(Readahead.forPlan(1000, { readaheadChunks: 1, concurrency: 16 })).toBeNull();
    expect(Readahead.forPlan(1000, { readaheadChunks: 2, concurrency: 16 })).not.toBeNull();
  });
});

describe('Readahead: a reader moving down', () => {
  it('gets its window below it, nearest piece first, and the window grows with what it read', () => {
    const r = ra(1000, 512);
    r.onFault(100);
    r.onFault(99);
    r.onFault(98);
    expect(r.onFault(97)).toEqual({ pieces: [[96, 97], [95, 96], [94, 95], [93, 94]], markers: [] });
    expect(asked(r.onFault(92))).toEqual([83, 84, 85, 86, 87, 88, 89, 90, 91]);
  });

  it('never below chunk 0', () => {
    const r = ra(1000, 512);
    r.onFault(5);
    r.onFault(4);
    r.onFault(3);
    expect(asked(r.onFault(2))).toEqual([0, 1]);
    expect(r.onFault(0)).toBeNull();
  });
});

describe('Readahead: modes', () => {
  it("'sequential': a new stream gets the whole window at once, clamped to the object", () => {
    const r = ra(1000, 64, { connections: 8 });
    r.setMode('sequential');
    expect(asked(r.onFault(0))).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    const small = ra(10, 64);
    small.setMode('sequential');
    expect(asked(small.onFault(3))).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it("'random': nothing ahead, even for a sequential or strided reader", () => {
    const r = ra(100_000, 64);
    r.setMode('random');
    for (let c = 0; c < 50; c++) expect(r.onFault(c)).toBeNull();
    for (let c = 1000; c < 10_000; c += 256) expect(r.onFault(c)).toBeNull();
  });

  it("back to 'normal' after 'random' detects streams again; a mode change forgets the streams", () => {
    const r = ra(1000, 64);
    r.onFault(0);
    r.onFault(1);
    r.onFault(2);
    r.setMode('random');
    r.setMode('normal');
    expect(r.onFault(3)).toBeNull(); // the stream at 0 was forgotten
    expect(r.onFault(4)).toBeNull();
    expect(r.onFault(5)).toBeNull();
    expect(asked(r.onFault(6))).toEqual([7, 8, 9, 10]);
  });
});

describe('Readahead: several streams', () => {
  it('interleaved readers each keep their own window', () => {
    const r = ra(100_000, 512);
    for (const c of [0, 50_000, 1, 50_001, 2, 50_002]) expect(r.onFault(c)).toBeNull();
    expect(asked(r.onFault(3))).toEqual([4, 5, 6, 7]);
    expect(asked(r.onFault(50_003))).toEqual([50_004, 50_005, 50_006, 50_007]);
  });

  it(`keeps the ${maxStreams} most recently used streams; the least recent is forgotten`, () => {
    const r = ra(1_000_000, 512);
    const starts = Array.from({ length: maxStreams + 1 }, (_, i) => i * 1000);
    for (const s of starts) r.onFault(s);
    // The most recent ones are still known: two close steps confirm them.
    for (const s of starts.slice(-2)) {
      expect(r.onFault(s + 1)).toBeNull();
      expect(r.onFault(s + 2)).toBeNull();
      expect(asked(r.onFault(s + 3))).toEqual([s + 4, s + 5, s + 6, s + 7]);
    }
    // The first was the least recently used when the ninth came: its next
    // chunk starts a new stream, so the ones after confirm nothing.
    expect(r.onFault(starts[0] + 1)).toBeNull();
    expect(r.onFault(starts[0] + 2)).toBeNull();
    expect(r.onFault(starts[0] + 3)).toBeNull();
  });
});
