// Unit tests of lib/worker/readahead.ts (pure: fault chunk in, chunks to fetch
// out): stream detection, the window's start and growth (pinned in
// test/helpers/pins.ts), the half-window top-up, the cap, the object's end,
// the advice modes and the stream table. Vitest 'unit' project, test-file thread.
import { describe, expect, it } from 'vitest';
import { Readahead } from '../../lib/worker/readahead.js';
import { PINNED, readaheadWindows } from '../helpers/pins.js';

const { initialWindow: W0, growth: G, maxStreams } = PINNED.readahead;

/** A reader that faults only where nothing was asked for yet (each fetch lands
 *  before it reads on): the chunks it faults on and what each fault fetched. */
function scan(ra: Readahead, chunks: number): { faults: number[]; fetched: [number, number][] } {
  const asked = new Uint8Array(chunks);
  const faults: number[] = [];
  const fetched: [number, number][] = [];
  for (let c = 0; c < chunks; c++) {
    if (asked[c]) continue;
    asked[c] = 1;
    faults.push(c);
    const [from, to] = ra.onFault(c);
    if (to > from) fetched.push([from, to]);
    for (let x = from; x < to; x++) asked[x] = 1;
  }
  return { faults, fetched };
}

describe('Readahead: a stream and its window', () => {
  it('a first fault fetches nothing ahead; the next chunk confirms the stream with the initial window', () => {
    const ra = new Readahead(1000, 512);
    expect(ra.onFault(0)).toEqual([1, 1]);
    expect(ra.onFault(1)).toEqual([2, 2 + W0]);
  });

  it(`the window starts at ${W0} chunks and grows x${G} per fault of the stream, up to the cap`, () => {
    const ra = new Readahead(10_000, 512);
    const { faults, fetched } = scan(ra, 2000);
    const windows = readaheadWindows(512, fetched.length);
    expect(windows.slice(0, 5)).toEqual([4, 16, 64, 256, 512]);
    // Each confirmed fault lands on the first chunk past what was asked for,
    // and fetches the window after it.
    let at = 1;
    fetched.forEach(([from, to], i) => {
      expect(faults[i + 1]).toBe(at);
      expect([from, to]).toEqual([at + 1, at + 1 + windows[i]]);
      at = to;
    });
    expect(faults.slice(0, 6)).toEqual([0, 1, 6, 23, 88, 345]);
  });

  it('the cap holds from the first window when it is smaller than the initial one', () => {
    const ra = new Readahead(100, 2);
    expect(ra.onFault(0)).toEqual([1, 1]);
    expect(ra.onFault(1)).toEqual([2, 4]);
    expect(ra.onFault(4)).toEqual([5, 7]);
  });

  it('never asks past the object: the window is clamped to the last chunk', () => {
    const ra = new Readahead(8, 512);
    ra.onFault(0);
    expect(ra.onFault(1)).toEqual([2, 6]);
    expect(ra.onFault(6)).toEqual([7, 8]);
    // At the end nothing is left to ask for.
    expect(ra.onFault(7)).toEqual([8, 8]);
  });

  it('a fault inside what the stream asked for (still in flight) grows the window and tops up past the end', () => {
    const ra = new Readahead(1000, 512);
    ra.onFault(0);
    expect(ra.onFault(1)).toEqual([2, 6]);
    // The reader caught up with the fetch of [2, 6): a fault at 2.
    expect(ra.onFault(2)).toEqual([6, 2 + 1 + 16]);
  });

  it('tops up only once the reader is into the second half of the window, then by at least half a window', () => {
    const ra = new Readahead(1000, 16);
    ra.onFault(0);
    ra.onFault(1); // [2, 6)
    expect(ra.onFault(6)).toEqual([7, 23]); // window 16: asked up to 23
    // 16 chunks ahead of 7 are asked for: more than half a window, nothing more yet.
    expect(ra.onFault(7)).toEqual([0, 0]);
    expect(ra.onFault(14)).toEqual([0, 0]); // 9 ahead
    expect(ra.onFault(15)).toEqual([23, 32]); // 8 ahead = half: top up to 15 + 1 + 16
  });

  it('with a window of 2, a top-up waits until one chunk is left ahead', () => {
    const ra = new Readahead(100, 2);
    ra.onFault(0);
    ra.onFault(1); // [2, 4), end 4
    expect(ra.onFault(2)).toEqual([0, 0]); // 2 ahead: more than half of 2
    expect(ra.onFault(3)).toEqual([4, 6]);
  });
});

describe('Readahead: what is not a stream', () => {
  it('scattered faults never fetch ahead', () => {
    const ra = new Readahead(10_000, 512);
    for (const c of [500, 100, 9000, 3, 7000, 2]) expect(ra.onFault(c)).toEqual([c + 1, c + 1]);
  });

  it('a fault on the same chunk again, or behind the stream, starts a new stream', () => {
    const ra = new Readahead(1000, 512);
    ra.onFault(10);
    expect(ra.onFault(10)).toEqual([11, 11]);
    expect(ra.onFault(9)).toEqual([10, 10]);
    // The stream at 10 is still there: 11 confirms it.
    expect(ra.onFault(11)).toEqual([12, 12 + W0]);
  });

  it('a fault beyond the end of what the stream asked for is a new stream', () => {
    const ra = new Readahead(1000, 512);
    ra.onFault(0);
    expect(ra.onFault(2)).toEqual([3, 3]);
  });
});

describe('Readahead: modes', () => {
  it("'sequential': a new stream gets the whole window at once, clamped to the object", () => {
    const ra = new Readahead(1000, 64);
    ra.setMode('sequential');
    expect(ra.onFault(0)).toEqual([1, 65]);
    const small = new Readahead(10, 64);
    small.setMode('sequential');
    expect(small.onFault(3)).toEqual([4, 10]);
  });

  it("'random': nothing ahead, even for a sequential reader", () => {
    const ra = new Readahead(1000, 64);
    ra.setMode('random');
    for (let c = 0; c < 50; c++) expect(ra.onFault(c)).toEqual([0, 0]);
  });

  it("back to 'normal' after 'random' detects streams again; a mode change forgets the streams", () => {
    const ra = new Readahead(1000, 64);
    ra.onFault(0);
    ra.setMode('random');
    ra.setMode('normal');
    // The stream at 0 was forgotten: 1 is a new stream.
    expect(ra.onFault(1)).toEqual([2, 2]);
    expect(ra.onFault(2)).toEqual([3, 3 + W0]);
  });

  it('a zero window disables readahead whatever the mode', () => {
    const ra = new Readahead(1000, 0);
    expect(ra.onFault(0)).toEqual([0, 0]);
    expect(ra.onFault(1)).toEqual([0, 0]);
    ra.setMode('sequential');
    expect(ra.onFault(5)).toEqual([0, 0]);
  });
});

describe('Readahead: several streams', () => {
  it('interleaved readers each keep their own window', () => {
    const ra = new Readahead(100_000, 512);
    ra.onFault(0);
    ra.onFault(50_000);
    expect(ra.onFault(1)).toEqual([2, 6]);
    expect(ra.onFault(50_001)).toEqual([50_002, 50_006]);
    expect(ra.onFault(6)).toEqual([7, 23]);
    expect(ra.onFault(50_006)).toEqual([50_007, 50_023]);
  });

  it(`keeps the ${maxStreams} most recently used streams; the least recent is forgotten`, () => {
    const ra = new Readahead(1_000_000, 512);
    const starts = Array.from({ length: maxStreams + 1 }, (_, i) => i * 1000);
    for (const s of starts) ra.onFault(s);
    // The first stream was the least recently used when the ninth came: gone.
    expect(ra.onFault(starts[0] + 1)).toEqual([starts[0] + 2, starts[0] + 2]);
    // That made a new stream and dropped the next least recent (the second).
    expect(ra.onFault(starts[1] + 1)).toEqual([starts[1] + 2, starts[1] + 2]);
    // The most recent ones are still known.
    for (const s of starts.slice(3)) expect(ra.onFault(s + 1)).toEqual([s + 2, s + 2 + W0]);
  });

  it(`after a mode change the table holds ${maxStreams} new streams again`, () => {
    const ra = new Readahead(1_000_000, 512);
    ra.onFault(0);
    ra.setMode('normal');
    const starts = Array.from({ length: maxStreams }, (_, i) => 10_000 + i * 1000);
    for (const s of starts) ra.onFault(s);
    for (const s of starts) expect(ra.onFault(s + 1)).toEqual([s + 2, s + 2 + W0]);
  });

  it('a stream used recently survives the arrival of new ones', () => {
    const ra = new Readahead(1_000_000, 512);
    ra.onFault(0);
    for (let i = 1; i < maxStreams; i++) ra.onFault(i * 1000);
    ra.onFault(1); // stream 0 used again: now the most recent
    for (let i = 0; i < maxStreams - 1; i++) ra.onFault(100_000 + i * 1000);
    expect(ra.onFault(6)).toEqual([7, 23]);
  });
});
