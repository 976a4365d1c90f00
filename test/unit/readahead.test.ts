// Unit tests of lib/worker/readahead.ts (pure: fault chunk in, chunks to fetch
// out): stream detection and its skip tolerance, the window (what the stream
// has read, pinned in test/helpers/pins.ts) and its pieces, top-ups in whole
// pieces, the cap, the object's end, readers moving down, the advice modes
// and the stream table. Vitest 'unit' project, test-file thread.
import { describe, expect, it } from 'vitest';
import { Readahead, type ReadaheadLimits } from '../../lib/worker/readahead.js';
import { PINNED } from '../helpers/pins.js';

const { initialWindow: W0, windowPerRead, piecesPerWindow, maxStreams } = PINNED.readahead;

function ra(chunks: number, maxWindow: number, more: Partial<ReadaheadLimits> = {}): Readahead {
  return new Readahead({ chunks, maxWindow, maxPiece: 128, maxSkip: 256, ...more });
}

const up = (from: number, to: number, piece: number, frontier = from) => ({ from, to, piece, down: false, frontier });

/** A reader that faults only where nothing was asked for yet (each fetch lands
 *  before it reads on): the chunks it faults on and the windows it got. */
function scan(r: Readahead, chunks: number): { faults: number[]; windows: number[] } {
  let asked = 0;
  const faults: number[] = [];
  const windows: number[] = [];
  for (let c = 0; c < chunks; c = Math.max(c + 1, asked)) {
    faults.push(c);
    const plan = r.onFault(c);
    if (plan) windows.push(plan.to - c - 1);
    asked = plan ? plan.to : c + 1;
  }
  return { faults, windows };
}

describe('Readahead: a stream and its window', () => {
  it('a first fault fetches nothing ahead; the next chunk confirms the stream with the initial window', () => {
    const r = ra(1000, 512);
    expect(r.onFault(0)).toBeNull();
    expect(r.onFault(1)).toEqual(up(2, 2 + W0, 1));
  });

  it('the window is what the stream has read: each fault at the end of what was asked doubles what the reader has', () => {
    expect([W0, windowPerRead, piecesPerWindow]).toEqual([4, 1, 8]);
    const { faults, windows } = scan(ra(100_000, 100_000), 600);
    expect(faults).toEqual([0, 1, 6, 14, 29, 58, 115, 221, 418]);
    // Window = chunks read so far (the fault's own included), 4 at least,
    // asked in whole pieces (an eighth of it): 15 read gives 7 pieces of 2.
    expect(windows).toEqual([4, 7, 14, 28, 56, 105, 196, 371]);
  });

  it('the cap holds the window once the stream has read that much', () => {
    const { faults, windows } = scan(ra(100_000, 64), 500);
    expect(faults).toEqual([0, 1, 6, 14, 29, 58, 115, 180, 245, 310, 375, 440]);
    expect(windows).toEqual([4, 7, 14, 28, 56, 64, 64, 64, 64, 64, 64]);
  });

  it('pieces are an eighth of the window, at least one chunk, at most maxPiece', () => {
    const r = ra(100_000, 100_000, { maxPiece: 16 });
    r.onFault(0);
    expect(r.onFault(1)!.piece).toBe(1); // window 4
    expect(r.onFault(6)!.piece).toBe(1); // window 7
    expect(r.onFault(14)!.piece).toBe(2); // window 15
    expect(r.onFault(29)!.piece).toBe(4); // window 30
    expect(r.onFault(58)!.piece).toBe(8); // window 59
    expect(r.onFault(115)!.piece).toBe(15); // window 116
    expect(r.onFault(230)!.piece).toBe(16); // window 231, capped by maxPiece
  });

  it('never asks past the object: the window is clamped to the last chunk, and at the end nothing is asked', () => {
    const r = ra(8, 512);
    r.onFault(0);
    expect(r.onFault(1)).toEqual(up(2, 6, 1));
    expect(r.onFault(6)).toEqual(up(7, 8, 1));
    expect(r.onFault(7)).toBeNull();
  });

  it('tops up only by whole pieces (but for the last one of the object); a fault inside what was asked re-asks the holes below the frontier', () => {
    const r = ra(1000, 64);
    r.setMode('sequential');
    expect(r.onFault(0)).toEqual(up(1, 65, 8));
    // 3 chunks more would be less than a piece: only what lies below the frontier (the caller skips what is on its way).
    expect(r.onFault(3)).toEqual(up(4, 65, 8, 65));
    // 9 more is a piece and more: the frontier moves by one piece.
    expect(r.onFault(9)).toEqual(up(10, 73, 8, 65));
  });
});

describe('Readahead: skips', () => {
  it('a confirmed stream that jumps forward within its window stays a stream', () => {
    const r = ra(1000, 512);
    r.onFault(0);
    r.onFault(1); // window 4, asked up to 6
    expect(r.onFault(8)).toEqual(up(9, 17, 2)); // 2 past the end: read 9, window 9, 4 pieces of 2
  });

  it('a jump past its end by its window or more is a new stream', () => {
    const r = ra(1000, 512);
    r.onFault(0);
    r.onFault(1); // window 4, asked up to 6
    expect(r.onFault(10)).toBeNull();
    // ... and a cap on the tolerance however large the window
    const big = ra(100_000, 100_000, { maxSkip: 16 });
    big.setMode('sequential'); // window 100,000 at once
    big.onFault(0);
    expect(big.onFault(100_001 + 16)).toBeNull();
  });

  it('a confirmed stream reaches as far below its start as above its end', () => {
    const r = ra(1000, 512);
    r.onFault(100);
    r.onFault(101); // window 4, asked from 100 up to 106
    expect(r.onFault(96)).toEqual({ from: 91, to: 96, piece: 1, down: true, frontier: 96 }); // 4 below: read 5
    const s = ra(1000, 512);
    s.onFault(100);
    s.onFault(101);
    expect(s.onFault(95)).toBeNull(); // 5 below: a new stream
  });

  it('a new stream tolerates skipping one chunk, not two', () => {
    const a = ra(1000, 512);
    a.onFault(0);
    expect(a.onFault(2)).toEqual(up(3, 7, 1)); // read 3, window 4
    const b = ra(1000, 512);
    b.onFault(0);
    expect(b.onFault(3)).toBeNull();
  });

  it('strided faults one window apart never become a stream', () => {
    const r = ra(100_000, 512);
    for (let c = 0; c < 10_000; c += 256) expect(r.onFault(c)).toBeNull();
  });
});

describe('Readahead: from a mapping\'s options', () => {
  const KiB = 1024;
  const MiB = 1024 * KiB;
  it('off when the readahead is no more than one chunk', () => {
    expect(Readahead.forMapping(1000, { chunkSize: 64 * KiB, fetchSize: 8 * MiB, readahead: 64 * KiB })).toBeNull();
    expect(Readahead.forMapping(1000, { chunkSize: 64 * KiB, fetchSize: 8 * MiB, readahead: 128 * KiB })).not.toBeNull();
  });

  it('the window cap is the readahead in chunks, a piece at most one fetch, and the skip tolerance 16 MiB', () => {
    const options = { chunkSize: 64 * KiB, fetchSize: 8 * MiB, readahead: 128 * MiB };
    const sequential = Readahead.forMapping(100_000, options)!;
    sequential.setMode('sequential');
    // 2,048 chunks at once in pieces of 128 chunks (8 MiB), not an eighth (256).
    expect(sequential.onFault(0)).toEqual(up(1, 2049, 128));
    // A stream whose window is past 256 chunks tolerates a jump of 256 (16 MiB) less one.
    const grown = () => {
      const r = Readahead.forMapping(100_000, options)!;
      const { faults, windows } = scan(r, 419);
      expect([faults.at(-1), windows.at(-1)]).toEqual([418, 371]); // asked up to 790
      return r;
    };
    expect(grown().onFault(790 + 255)).not.toBeNull();
    expect(grown().onFault(790 + 256)).toBeNull();
    // The same options in 1 MiB chunks: 128 chunks, pieces of 8, a tolerance of 16.
    const big = { ...options, chunkSize: MiB };
    const bigSequential = Readahead.forMapping(10_000, big)!;
    bigSequential.setMode('sequential');
    expect(bigSequential.onFault(0)).toEqual(up(1, 129, 8));
    const bigGrown = () => {
      const r = Readahead.forMapping(10_000, big)!;
      expect(scan(r, 30).windows.at(-1)).toBe(28); // fault 29: asked up to 58
      return r;
    };
    expect(bigGrown().onFault(58 + 15)).not.toBeNull();
    expect(bigGrown().onFault(58 + 16)).toBeNull();
  });
});

describe('Readahead: a reader moving down', () => {
  it('gets its window below it, and the window grows with what it read', () => {
    const r = ra(1000, 512);
    expect(r.onFault(100)).toBeNull();
    expect(r.onFault(99)).toEqual({ from: 95, to: 99, piece: 1, down: true, frontier: 99 });
    expect(r.onFault(94)).toEqual({ from: 87, to: 94, piece: 1, down: true, frontier: 94 });
  });

  it('never below chunk 0', () => {
    const r = ra(1000, 512);
    r.onFault(3);
    expect(r.onFault(2)).toEqual({ from: 0, to: 2, piece: 1, down: true, frontier: 2 });
    expect(r.onFault(0)).toBeNull();
  });
});

describe('Readahead: what is not a stream', () => {
  it('scattered faults never fetch ahead', () => {
    const r = ra(10_000, 512);
    for (const c of [500, 100, 9000, 3, 7000, 5000]) expect(r.onFault(c)).toBeNull();
  });

  it('a fault on the same chunk again starts nothing', () => {
    const r = ra(1000, 512);
    r.onFault(10);
    expect(r.onFault(10)).toBeNull();
    // The stream at 10 is still there: 11 confirms it.
    expect(r.onFault(11)).toEqual(up(12, 12 + W0, 1));
  });
});

describe('Readahead: modes', () => {
  it("'sequential': a new stream gets the whole window at once, clamped to the object", () => {
    const r = ra(1000, 64);
    r.setMode('sequential');
    expect(r.onFault(0)).toEqual(up(1, 65, 8));
    const small = ra(10, 64);
    small.setMode('sequential');
    expect(small.onFault(3)).toEqual(up(4, 10, 8));
  });

  it("'random': nothing ahead, even for a sequential reader", () => {
    const r = ra(1000, 64);
    r.setMode('random');
    for (let c = 0; c < 50; c++) expect(r.onFault(c)).toBeNull();
  });

  it("back to 'normal' after 'random' detects streams again; a mode change forgets the streams", () => {
    const r = ra(1000, 64);
    r.onFault(0);
    r.setMode('random');
    r.setMode('normal');
    // The stream at 0 was forgotten: 10 is a new stream, 11 confirms it.
    expect(r.onFault(10)).toBeNull();
    expect(r.onFault(11)).toEqual(up(12, 12 + W0, 1));
  });

  it('a zero window disables readahead whatever the mode', () => {
    const r = ra(1000, 0);
    expect(r.onFault(0)).toBeNull();
    expect(r.onFault(1)).toBeNull();
    r.setMode('sequential');
    expect(r.onFault(5)).toBeNull();
  });
});

describe('Readahead: several streams', () => {
  it('interleaved readers each keep their own window', () => {
    const r = ra(100_000, 512);
    r.onFault(0);
    r.onFault(50_000);
    expect(r.onFault(1)).toEqual(up(2, 6, 1));
    expect(r.onFault(50_001)).toEqual(up(50_002, 50_006, 1));
    expect(r.onFault(6)).toEqual(up(7, 14, 1));
    expect(r.onFault(50_006)).toEqual(up(50_007, 50_014, 1));
  });

  it(`keeps the ${maxStreams} most recently used streams; the least recent is forgotten`, () => {
    const r = ra(1_000_000, 512);
    const starts = Array.from({ length: maxStreams + 1 }, (_, i) => i * 1000);
    for (const s of starts) r.onFault(s);
    // The first stream was the least recently used when the ninth came: gone.
    expect(r.onFault(starts[0] + 1)).toBeNull();
    // That made a new stream and dropped the next least recent (the second).
    expect(r.onFault(starts[1] + 1)).toBeNull();
    // The most recent ones are still known.
    for (const s of starts.slice(3)) expect(r.onFault(s + 1)).toEqual(up(s + 2, s + 2 + W0, 1));
  });

  it(`after a mode change the table holds ${maxStreams} new streams again`, () => {
    const r = ra(1_000_000, 512);
    r.onFault(0);
    r.setMode('normal');
    const starts = Array.from({ length: maxStreams }, (_, i) => 10_000 + i * 1000);
    for (const s of starts) r.onFault(s);
    for (const s of starts) expect(r.onFault(s + 1)).toEqual(up(s + 2, s + 2 + W0, 1));
  });

  it('a stream used recently survives the arrival of new ones', () => {
    const r = ra(1_000_000, 512);
    r.onFault(0);
    for (let i = 1; i < maxStreams; i++) r.onFault(i * 1000);
    r.onFault(1); // stream 0 used again: now the most recent
    for (let i = 0; i < maxStreams - 1; i++) r.onFault(100_000 + i * 1000);
    expect(r.onFault(6)).toEqual(up(7, 14, 1));
  });
});
