// Property-based tests (fast-check, model-based): random sequences of map,
// read ranges, load, prefetch, advise, evict, close and out-of-range calls on
// up to three mappings at once, checked after every step against a plain
// Buffer of the same content (the model). Sources: bytes in memory, a module
// source whose bytes are a function of the offset, and S3 objects in MinIO.
// After every sequence all mappings are closed and no region may be left.
//
// Runs in a vitest fork, main thread: the main thread touches mapped pages
// directly (nothing on it serves faults; no proxy is involved).
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { mapBytes, mapObject, mapSource, type Mapping } from '../dist/lib/index.js';
import { native } from '../dist/lib/shared/native.js';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { pseudoRandom } from './helpers/content.js';
import { testS3 } from './helpers/s3.js';
import { content } from './fixtures/content.mjs';

const s3 = testS3();
const PAGE = 4096;
const sizedSource = fileURLToPath(new URL('./fixtures/sized-source.mjs', import.meta.url));
const SIZES = [0, 1, PAGE - 1, PAGE, PAGE + 1, 65536, 65537, 3 * 65536 + 17, (1 << 20) + 5, 2.5 * (1 << 20)];
const S3_SIZES = [1, 65537, (1 << 20) + 3];
const SLOTS = 3;
let bucket: string;
const s3Objects = new Map<number, { key: string; ref: Buffer }>();

beforeAll(async () => {
  bucket = await s3.uniqueBucket('property');
  for (const size of S3_SIZES) {
    const ref = content(0, size, size);
    await putObject(s3.client(), bucket, `p-${size}`, ref);
    s3Objects.set(size, { key: `p-${size}`, ref });
  }
});

interface Slot {
  ref: Buffer;
  size: number;
  budget: number;
  chunkSize: number;
  closed: boolean;
}
interface Model {
  slots: (Slot | null)[];
}
interface Real {
  slots: (Mapping | null)[];
  all: Mapping[];
}
type Kind = 'memory' | 'sized' | 's3';

/** Where a fraction pair lands in [0, size]. */
function range(size: number, a: number, b: number): [number, number] {
  const off = Math.floor(a * size);
  return [off, Math.floor(b * (size - off))];
}

/** Waits until the range is resident; fails after 10 s (a prefetch that fetched nothing). */
async function eventuallyResident(m: Mapping, off: number, len: number): Promise<void> {
  for (let i = 0; i < 1000 && !m.isResident(off, len); i++) await new Promise((r) => setTimeout(r, 10));
  expect(m.isResident(off, len), `prefetch(${off}, ${len}) made nothing resident`).toBe(true);
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string } | undefined> {
  return p.then(() => undefined, (e) => e as { code?: string });
}

/** Every call here takes well under a second; one that does not settle in
 *  STEP_MS is a hang, reported as a failure (with the sequence) instead of a
 *  test timeout. */
const STEP_MS = 30_000;
function settles<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${STEP_MS / 1000} s`)), STEP_MS);
  });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

class MapCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly slot: number, readonly kind: Kind, readonly size: number, readonly seed: number,
    readonly chunkPages: number, readonly budgetChunks: number, readonly readahead: number, readonly cacheSize: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.slots[this.slot] === null || m.slots[this.slot]!.closed;
  }
  async run(m: Model, r: Real): Promise<void> {
    const chunkSize = this.chunkPages * PAGE;
    const budget = this.budgetChunks * chunkSize;
    const opts = { chunkSize, residentBudget: budget, readahead: this.readahead, cacheSize: this.cacheSize };
    let ref: Buffer;
    let mapping: Mapping;
    if (this.kind === 'memory') {
      ref = pseudoRandom(this.size, this.seed);
      mapping = await mapBytes(ref, opts);
    } else if (this.kind === 'sized') {
      ref = content(0, this.size, this.seed);
      mapping = await mapSource({ kind: 'module', path: sizedSource, options: { size: this.size, seed: this.seed } }, opts);
    } else {
      const obj = s3Objects.get(this.size)!;
      ref = obj.ref;
      mapping = await mapObject(`s3://${bucket}/${obj.key}`, { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, ...opts });
    }
    r.all.push(mapping);
    r.slots[this.slot] = mapping;
    m.slots[this.slot] = { ref, size: ref.length, budget, chunkSize, closed: false };
    expect(mapping.size).toBe(ref.length);
    expect(mapping.buffer.length).toBe(ref.length);
  }
  toString(): string {
    return `map(${this.slot}, ${this.kind}, ${this.size}, chunk ${this.chunkPages}p, budget ${this.budgetChunks}c, ra ${this.readahead}, cache ${this.cacheSize})`;
  }
}

abstract class SlotCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly slot: number) {}
  check(m: Readonly<Model>): boolean {
    return m.slots[this.slot] !== null;
  }
  abstract run(m: Model, r: Real): Promise<void>;
  abstract toString(): string;
}

class ReadCmd extends SlotCmd {
  constructor(slot: number, readonly a: number, readonly b: number) { super(slot); }
  async run(m: Model, r: Real): Promise<void> {
    const s = m.slots[this.slot]!;
    const real = r.slots[this.slot]!;
    if (s.closed) {
      expect(real.buffer.length).toBe(0);
      return;
    }
    const [off, len] = range(s.size, this.a, this.b);
    const got = real.buffer.subarray(off, off + len);
    expect(got.length).toBe(len);
    if (!got.equals(s.ref.subarray(off, off + len))) {
      const at = got.findIndex((v, i) => v !== s.ref[off + i]);
      throw new Error(`byte ${off + at} is ${got[at]}, the source has ${s.ref[off + at]}`);
    }
    if (off < s.size) expect(real.buffer[off]).toBe(s.ref[off]);
  }
  toString(): string { return `read(${this.slot}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)})`; }
}

class RangeCmd extends SlotCmd {
  constructor(slot: number, readonly op: 'load' | 'prefetch' | 'evict', readonly a: number, readonly b: number) { super(slot); }
  async run(m: Model, r: Real): Promise<void> {
    const s = m.slots[this.slot]!;
    const real = r.slots[this.slot]!;
    const [off, len] = range(s.size, this.a, this.b);
    if (s.closed) {
      expect((await settles(rejection(real[this.op](off, len)), `${this.op}()`))?.code).toBe('ERR_CLOSED');
      return;
    }
    await settles(real[this.op](off, len), `${this.op}()`);
    if (this.op === 'load' && s.budget === 0) expect(real.isResident(off, len)).toBe(true);
    // A prefetch must do something: without a budget to evict it, the range becomes resident on its own.
    if (this.op === 'prefetch' && s.budget === 0) await eventuallyResident(real, off, len);
  }
  toString(): string { return `${this.op}(${this.slot}, ${this.a.toFixed(3)}, ${this.b.toFixed(3)})`; }
}

class AdviseCmd extends SlotCmd {
  constructor(slot: number, readonly advice: string) { super(slot); }
  async run(m: Model, r: Real): Promise<void> {
    const s = m.slots[this.slot]!;
    const real = r.slots[this.slot]!;
    const p = real.advise(this.advice as 'normal');
    if (this.advice === 'bogus') expect((await rejection(p))?.code).toBe('EINVAL');
    else if (s.closed) expect((await rejection(p))?.code).toBe('ERR_CLOSED');
    else await settles(p, 'advise()');
  }
  toString(): string { return `advise(${this.slot}, ${this.advice})`; }
}

class OutOfRangeCmd extends SlotCmd {
  constructor(slot: number, readonly past: number) { super(slot); }
  async run(m: Model, r: Real): Promise<void> {
    const s = m.slots[this.slot]!;
    const real = r.slots[this.slot]!;
    expect((await rejection(real.load(s.size - 1 + this.past, 2)))?.code).toBe('ERR_OUT_OF_RANGE');
    expect(() => real.isResident(-1, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  }
  toString(): string { return `outOfRange(${this.slot}, +${this.past})`; }
}

class StatsCmd extends SlotCmd {
  async run(m: Model, r: Real): Promise<void> {
    const s = m.slots[this.slot]!;
    const st = r.slots[this.slot]!.stats();
    expect(st.errors).toBe(0);
    expect(st.residentBytes).toBeLessThanOrEqual(Math.ceil(s.size / PAGE) * PAGE);
    // The budget's guarantee (DESIGN.md, "What a resident budget guarantees"):
    // progress first, so a read across a chunk boundary by the one reading
    // thread, parked on its second chunk, may hold two chunks over it.
    if (s.budget > 0) expect(st.residentBytes).toBeLessThanOrEqual(s.budget + 2 * s.chunkSize);
  }
  toString(): string { return `stats(${this.slot})`; }
}

class CloseCmd extends SlotCmd {
  async run(m: Model, r: Real): Promise<void> {
    const s = m.slots[this.slot]!;
    const real = r.slots[this.slot]!;
    await settles(real.close(), 'close()');
    s.closed = true;
    expect(real.closed).toBe(true);
    expect(real.buffer.length).toBe(0);
  }
  toString(): string { return `close(${this.slot})`; }
}

function commands(kinds: Kind[], sizes: number[]) {
  const slot = fc.integer({ min: 0, max: SLOTS - 1 });
  const frac = fc.double({ min: 0, max: 1, noNaN: true });
  return fc.commands([
    fc.tuple(slot, fc.constantFrom(...kinds), fc.constantFrom(...sizes), fc.integer({ min: 1, max: 1000 }),
      fc.constantFrom(1, 2, 16, 64), fc.constantFrom(0, 0, 1, 2, 5), fc.constantFrom(0, 256 * 1024, 1 << 20), fc.constantFrom(0, 128 * 1024, 64 << 20))
      .filter(([, kind, size]) => kind !== 's3' || s3Objects.has(size))
      .map((a) => new MapCmd(...a)),
    // Reads weigh three times as much as any other operation.
    ...[1, 2, 3].map(() => fc.tuple(slot, frac, frac).map(([s, a, b]) => new ReadCmd(s, a, b))),
    fc.tuple(slot, fc.constantFrom('load' as const, 'prefetch' as const, 'evict' as const), frac, frac).map(([s, op, a, b]) => new RangeCmd(s, op, a, b)),
    fc.tuple(slot, fc.constantFrom('sequential', 'random', 'normal', 'willneed', 'bogus')).map(([s, a]) => new AdviseCmd(s, a)),
    fc.tuple(slot, fc.integer({ min: 1, max: 1 << 20 })).map(([s, p]) => new OutOfRangeCmd(s, p)),
    slot.map((s) => new StatsCmd(s)),
    slot.map((s) => new CloseCmd(s)),
  ], { maxCommands: 40, size: 'large' });
}

async function runSequences(kinds: Kind[], sizes: number[], numRuns: number): Promise<void> {
  const baseline = native.liveRegions();
  const ran: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(commands(kinds, sizes), async (cmds) => {
      const real: Real = { slots: new Array(SLOTS).fill(null), all: [] };
      try {
        await fc.asyncModelRun(() => ({ model: { slots: new Array(SLOTS).fill(null) }, real }), cmds);
        // Iterated after the run, the commands are those that were executed.
        for (const c of cmds) {
          const k = String(c).split('(')[0];
          ran[k] = (ran[k] ?? 0) + 1;
        }
      } finally {
        for (const m of real.all) await settles(m.close(), 'close() after the sequence');
      }
      expect(native.liveRegions()).toBe(baseline);
    }),
    // A hang costs STEP_MS per attempt: report the first failing sequence without shrinking.
    { numRuns, endOnFailure: true },
  );
  // The sequences did exercise every operation (not just maps skipped by their checks).
  for (const k of ['map', 'read', 'load', 'prefetch', 'evict', 'advise', 'outOfRange', 'stats', 'close']) expect(ran[k] ?? 0, k).toBeGreaterThan(0);
  console.log(`commands run: ${JSON.stringify(ran)}`);
}

describe('random sequences of operations agree with a plain Buffer', () => {
  it('memory and offset-function sources, up to three mappings at once', async () => {
    await runSequences(['memory', 'sized'], SIZES, 150);
  });

  it('S3 objects in MinIO', async () => {
    await runSequences(['s3'], S3_SIZES, 30);
  });
});

