// Unit tests of lib/worker/residency.ts with a fake dropPages: add, drop,
// reserve (eviction oldest first, counting installs under way), cancel, the
// high-water mark that stats().residentPeak reports, and the chunks kept for
// threads that have not read them yet (progress under any budget). Vitest 'unit'
// project, test-file thread.
import { describe, expect, it } from 'vitest';
import { ChunkGeometry } from '../../lib/worker/chunk-geometry.js';
import { ResidentSet } from '../../lib/worker/residency.js';

const C = 64 * 1024;

function setup(budget: number, chunks = 10, tail = 0, parked = new Set<number>(), clock = { ms: 0 }) {
  const geometry = new ChunkGeometry(chunks * C - tail, C, 4096);
  const bits = new Uint8Array(chunks);
  const dropped: [number, number, number][] = [];
  const set = new ResidentSet(geometry, bits, budget, (offset, length) => {
    // The bit must already read "not resident" when the pages go.
    dropped.push([offset, length, bits[offset / C]]);
  }, (tid) => parked.has(tid), () => clock.ms);
  return { set, bits, dropped, parked, clock };
}

describe('ResidentSet', () => {
  it('add() records a chunk once: its bit, its bytes, the high water', () => {
    const { set, bits } = setup(0);
    set.add(2);
    set.add(2);
    expect(set.has(2)).toBe(true);
    expect(set.has(3)).toBe(false);
    expect(bits[2]).toBe(1);
    expect(set.bytes).toBe(C);
    expect(set.highWater).toBe(C);
  });

  it('a short last chunk counts its whole pages', () => {
    const { set } = setup(0, 4, C - 5000);
    set.add(3);
    expect(set.bytes).toBe(8192);
  });

  it('drop() clears the bit before the pages go, and forgets the bytes; dropping a chunk not installed does nothing', () => {
    const { set, bits, dropped } = setup(0);
    set.add(1);
    set.add(4);
    set.drop(1);
    set.drop(7);
    set.drop(1);
    expect(dropped).toEqual([[C, C, 0]]);
    expect(bits[1]).toBe(0);
    expect(set.has(1)).toBe(false);
    expect(set.bytes).toBe(C);
  });

  it('the high water stays at the most ever installed at once', () => {
    const { set } = setup(0);
    for (const c of [0, 1, 2]) set.add(c);
    set.drop(0);
    set.drop(1);
    set.add(5);
    expect(set.bytes).toBe(2 * C);
    expect(set.highWater).toBe(3 * C);
    for (const c of [6, 7]) set.add(c);
    expect(set.highWater).toBe(4 * C);
  });

  it('without a budget, reserve() never evicts', () => {
    const { set, dropped } = setup(0);
    for (let c = 0; c < 10; c++) {
      expect(set.reserve(C)).toBe(0);
      set.add(c);
    }
    expect(dropped).toEqual([]);
    expect(set.bytes).toBe(10 * C);
  });

  it('under a budget, reserve() drops the oldest installs until the incoming one fits', () => {
    const { set, dropped } = setup(3 * C);
    for (const c of [4, 2, 7]) {
      expect(set.reserve(C)).toBe(0);
      set.add(c);
    }
    expect(set.reserve(C)).toBe(1);
    expect(dropped.map(([o]) => o / C)).toEqual([4]);
    set.add(9);
    // A run of two needs two places: the two oldest go.
    expect(set.reserve(2 * C)).toBe(2);
    expect(dropped.map(([o]) => o / C)).toEqual([4, 2, 7]);
    set.add(0);
    set.add(1);
    expect(set.bytes).toBe(3 * C);
    expect(set.highWater).toBe(3 * C);
  });

  it('a chunk installed again goes to the back of the line', () => {
    const { set, dropped } = setup(2 * C);
    set.add(0);
    set.add(1);
    set.drop(0);
    set.add(0); // now newer than 1
    expect(set.reserve(C)).toBe(1);
    expect(dropped.map(([o]) => o / C)).toEqual([0, 1]);
  });

  it('counts installs under way: two reserve()s before either lands make room for both', () => {
    const { set } = setup(3 * C);
    set.add(0);
    set.add(1);
    expect(set.reserve(C)).toBe(0); // for chunk 2: fits beside 0 and 1
    expect(set.reserve(C)).toBe(1); // for chunk 3, while 2 is still under way: 0 goes
    set.add(2);
    set.add(3);
    expect(set.bytes).toBe(3 * C);
    expect(set.highWater).toBe(3 * C);
    // Nothing is left reserved: a further install needs exactly one place.
    expect(set.reserve(C)).toBe(1);
  });

  it('an install whose room other installs under way hold waits for them (null), and their add() wakes it: the budget holds', async () => {
    const { set } = setup(C);
    expect(set.reserve(C)).toBe(0); // chunk 0, under way
    expect(set.reserve(C)).toBeNull(); // chunk 1: nothing to evict yet, 0 holds the room
    const woken = set.room();
    set.add(0);
    await woken;
    expect(set.reserve(C, true)).toBe(1); // now 0 is installed, kept for nobody: it goes
    set.add(1);
    expect(set.bytes).toBe(C);
    expect(set.highWater).toBe(C);
  });

  it('cancel() gives back a reservation that never landed, and never goes below nothing', () => {
    const { set } = setup(2 * C);
    set.add(0);
    set.reserve(C);
    set.cancel(C);
    expect(set.reserve(C)).toBe(0); // the cancelled one no longer counts
    set.add(1);
    set.cancel(10 * C); // more than is reserved
    set.add(0); // installed already, and no reservation to give back
    expect(set.reserve(0)).toBe(0);
    expect(set.reserve(C)).toBe(1);
  });

  it('cancel() of one install leaves the others under way counted', () => {
    const { set } = setup(3 * C);
    set.add(0);
    expect(set.reserve(C)).toBe(0); // A
    expect(set.reserve(C)).toBe(0); // B: 0, A and B fill the budget
    set.cancel(C); // A gave up; B is still under way
    expect(set.reserve(C)).toBe(0); // fits beside 0 and B
    expect(set.reserve(C)).toBe(1); // does not: 0 goes
  });

  it('add() without a reservation leaves nothing negative behind', () => {
    const { set } = setup(2 * C);
    set.add(0);
    set.add(1);
    expect(set.reserve(C)).toBe(1);
    expect(set.reserve(C)).toBe(1);
  });

  it('a reservation larger than the budget drops everything and still counts', () => {
    const { set } = setup(2 * C);
    set.add(0);
    set.add(1);
    expect(set.reserve(3 * C)).toBe(2);
    expect(set.bytes).toBe(0);
  });

  it('a chunk installed for a thread is not evicted for another install while that thread runs: reserve() says wait (null)', async () => {
    const { set, dropped, parked } = setup(C);
    expect(set.reserve(C)).toBe(0);
    set.add(3, [101]); // thread 101 woke on chunk 3 and has not read it yet
    expect(set.reserve(C)).toBeNull();
    expect(dropped).toEqual([]);
    // Once 101 faults twice more (it moved past 3 and past the next one), 3 may go.
    let roomed = false;
    void set.room().then(() => (roomed = true));
    set.faulted(101);
    await Promise.resolve();
    expect(roomed).toBe(true);
    // One fault leaves its last chunk kept: an access across a boundary needs it beside the next.
    expect(set.reserve(C, true)).toBeNull();
    set.add(4, [101]);
    expect(set.bytes).toBe(2 * C);
    set.faulted(101); // now 3 is behind it and goes; 4 is its last, kept while it runs
    expect(set.reserve(C, true)).toBeNull();
    expect(dropped.map(([o]) => o / C)).toEqual([3]);
    parked.add(101); // parked on the next chunk: it may need 4 beside it
    expect(set.reserve(C, true)).toBe(0);
    expect(set.has(4)).toBe(true);
  });

  it('when every thread holding kept chunks is parked in a fault, an install goes over the budget instead of waiting forever', () => {
    const { set, parked } = setup(C);
    set.reserve(C);
    set.add(0, [7]);
    expect(set.reserve(C)).toBeNull(); // 7 runs: wait for it
    parked.add(7); // 7 faulted on the next chunk, across the boundary: it needs both
    set.faulted(7);
    expect(set.reserve(C, true)).toBe(0);
    set.add(1, [7]);
    expect(set.bytes).toBe(2 * C);
    expect(set.has(0)).toBe(true);
  });

  it('an install waits behind one that waits already; a kept chunk whose thread went quiet expires', () => {
    const clock = { ms: 0 };
    const { set } = setup(C, 10, 0, new Set(), clock);
    set.reserve(C);
    set.add(0, [5]);
    expect(set.reserve(C)).toBeNull(); // first waiter
    // A chunk with no kept one in its way would fit once 0 goes, but it queues behind the first.
    expect(set.reserve(C)).toBeNull();
    clock.ms = 1000; // thread 5 never faulted again
    expect(set.reserve(C, true)).toBe(1);
    expect(set.has(0)).toBe(false);
  });

  it('chunks installed for nobody (prefetch, load()) are evicted as before; without a budget nothing is kept', () => {
    const { set } = setup(2 * C);
    set.add(0);
    set.add(1, [9]);
    expect(set.reserve(C)).toBe(1); // 0 goes, 1 stays
    expect(set.has(1)).toBe(true);
    const free = setup(0).set;
    free.add(0, [9]);
    expect(free.reserve(100 * C)).toBe(0);
  });
});
