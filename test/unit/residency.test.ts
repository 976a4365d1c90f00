// Unit tests of lib/worker/residency.ts with a fake dropPages: add, drop,
// reserve (eviction oldest first, counting installs under way), cancel, and
// the high-water mark that stats().residentPeak reports. Vitest 'unit'
// project, test-file thread.
import { describe, expect, it } from 'vitest';
import { ChunkGeometry } from '../../lib/worker/chunk-geometry.js';
import { ResidentSet } from '../../lib/worker/residency.js';

const C = 64 * 1024;

function setup(budget: number, chunks = 10, tail = 0) {
  const geometry = new ChunkGeometry(chunks * C - tail, C, 4096);
  const bits = new Uint8Array(chunks);
  const dropped: [number, number, number][] = [];
  const set = new ResidentSet(geometry, bits, budget, (offset, length) => {
    // The bit must already read "not resident" when the pages go.
    dropped.push([offset, length, bits[offset / C]]);
  });
  return { set, bits, dropped };
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
});
