// One run of chunks read through the disk cache: the blocks on disk are read
// back (verified), the missing ones are fetched, each contiguous stretch in
// one read, and blocks another process is fetching are waited for instead
// of fetched twice. Chunks are installed as soon as all their bytes are in,
// and only then are the fetched blocks written to the cache, in the
// background: the faulting thread never waits for a write. Fault worker
// thread; the run's buffer is its own (rule 1).
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULTS } from '../shared/defaults.js';
import { DropReason } from '../shared/native-io.js';
import { Counter, type StatsWriter } from '../shared/stats.js';
import { LookupStatus, type BlockRef, type LookupResult, type ObjectCache } from './disk-cache.js';

export interface RunHooks {
  /** Reads object bytes [offset, offset+length) from the source into the run's buffer at `bufOffset`. */
  fetch(offset: number, length: number, bufOffset: number): Promise<void>;
  /** Installs the run's chunks [i, i+n): all their bytes are in the buffer. */
  install(i: number, n: number): Promise<void>;
  /** Holds the run's buffer for a write that outlives the run; the returned function lets go. */
  retain(): () => void;
  stats: StatsWriter;
  signal: AbortSignal;
}

const enum State {
  Unknown,
  Present,
  /** Missing, and this process holds its lock: fetch it, then write it. */
  Owned,
  /** Another process holds its lock: wait for its entry. */
  Busy,
  /** Missing and not to be written (part of a block, or no lock to be had): fetch it. */
  Fetch,
}

export class CachedRun {
  private readonly refs: BlockRef[];
  private readonly state: Uint8Array;
  private readonly locked: Uint8Array;
  /** Per chunk of the run: blocks it needs that are not in the buffer yet. */
  private readonly missing: Int32Array;
  private readonly installed: Uint8Array;
  private readonly fetched: Uint8Array;

  constructor(
    private readonly obj: ObjectCache,
    private readonly start: number,
    length: number,
    private readonly buf: Buffer,
    private readonly chunkSize: number,
    private readonly hooks: RunHooks,
  ) {
    this.refs = obj.blocks(start, length);
    this.state = new Uint8Array(this.refs.length);
    this.locked = new Uint8Array(this.refs.length);
    const chunks = Math.ceil(length / chunkSize);
    this.missing = new Int32Array(chunks);
    this.installed = new Uint8Array(chunks);
    this.fetched = new Uint8Array(chunks);
    this.refs.forEach((_, j) => this.forChunks(j, (c) => this.missing[c]++));
  }

  /** Resolves when every chunk of the run is installed; the count of chunks that needed a fetch. */
  async run(): Promise<number> {
    const all = this.refs.map((_, j) => j);
    const fetchable = this.apply(all, await this.obj.lookup(this.refs, this.buf));
    // The fetches go out first; installing what the disk had runs meanwhile.
    const work = this.segments(fetchable).map((s) => this.fetchSegment(s));
    if (this.state.includes(State.Busy)) work.push(this.waitForOthers());
    work.push(this.flush());
    await settleAll(work);
    return this.fetched.reduce((n, f) => n + f, 0);
  }

  private forChunks(j: number, f: (chunk: number) => void): void {
    const r = this.refs[j];
    const first = Math.floor(r.dstOffset / this.chunkSize);
    const last = Math.floor((r.dstOffset + r.copyLength - 1) / this.chunkSize);
    for (let c = first; c <= last; c++) f(c);
  }

  private present(j: number): void {
    this.state[j] = State.Present;
    this.forChunks(j, (c) => this.missing[c]--);
  }

  /** Records lookup results; returns the blocks now to be fetched. */
  private apply(indices: number[], results: LookupResult[]): number[] {
    const { stats } = this.hooks;
    const fetch: number[] = [];
    indices.forEach((j, k) => {
      const r = results[k];
      if (r.reason !== DropReason.none) stats.add(Counter.diskCacheDropped);
      if (r.status === LookupStatus.hit) {
        stats.add(Counter.diskCacheHits);
        stats.add(Counter.diskCacheBytes, this.refs[j].copyLength);
        this.present(j);
      } else if (r.status === LookupStatus.busy) {
        if (this.state[j] === State.Unknown) stats.add(Counter.diskCacheWaits);
        this.state[j] = State.Busy;
      } else {
        // Owned, or a miss that cannot be locked (part of a block), or an
        // error reading the cache: fetched either way.
        this.state[j] = r.status === LookupStatus.owned ? State.Owned : State.Fetch;
        this.locked[j] = r.locked ? 1 : 0;
        fetch.push(j);
      }
    });
    return fetch;
  }

  /** Consecutive blocks, each stretch one read from the source. */
  private segments(indices: number[]): number[][] {
    const out: number[][] = [];
    for (const j of [...indices].sort((a, b) => a - b)) {
      const last = out.at(-1);
      if (last && last.at(-1) === j - 1) last.push(j);
      else out.push([j]);
    }
    return out;
  }

  private async fetchSegment(seg: number[]): Promise<void> {
    const first = this.refs[seg[0]];
    const last = this.refs[seg[seg.length - 1]];
    const from = first.dstOffset;
    const to = last.dstOffset + last.copyLength;
    const owned = seg.filter((j) => this.state[j] === State.Owned);
    try {
      await this.hooks.fetch(this.start + from, to - from, from);
    } catch (err) {
      this.obj.unlock(owned.map((j) => ({ ref: this.refs[j], locked: this.locked[j] === 1 })));
      throw err;
    }
    for (const j of seg) {
      this.forChunks(j, (c) => (this.fetched[c] = 1));
      this.present(j);
    }
    try {
      await this.flush();
    } finally {
      // After the install: the faulting threads are awake before the write starts.
      if (owned.length > 0) this.writeBehind(owned);
    }
  }

  private writeBehind(owned: number[]): void {
    const release = this.hooks.retain();
    this.obj
      .write(owned.map((j) => ({ ref: this.refs[j], locked: this.locked[j] === 1 })), this.buf)
      .then((n) => this.hooks.stats.add(Counter.diskCacheWrites, n), () => {})
      .finally(release);
  }

  /** Polls the blocks other processes are fetching, without blocking, until
   *  their entries appear; a lock let go without an entry (its holder
   *  failed or died) is taken here and the block fetched. */
  private async waitForOthers(): Promise<void> {
    const work: Promise<void>[] = [];
    const deadline = Date.now() + DEFAULTS.diskCache.lockWaitMs;
    let delay = 1;
    for (;;) {
      const waiting = this.refs.map((_, j) => j).filter((j) => this.state[j] === State.Busy);
      if (waiting.length === 0) break;
      await sleep(delay, undefined, { signal: this.hooks.signal });
      delay = Math.min(delay * 2, 50);
      if (Date.now() > deadline) {
        // Held too long: fetch it here as well (never wrong, only twice).
        for (const j of waiting) this.state[j] = State.Fetch;
        work.push(...this.segments(waiting).map((s) => this.fetchSegment(s)));
        break;
      }
      const fetchable = this.apply(waiting, await this.obj.lookup(waiting.map((j) => this.refs[j]), this.buf));
      work.push(...this.segments(fetchable).map((s) => this.fetchSegment(s)), this.flush());
    }
    await settleAll(work);
  }

  /** Installs every chunk whose bytes are all in, contiguous ones together. */
  private async flush(): Promise<void> {
    const installs: Promise<void>[] = [];
    const n = this.missing.length;
    for (let c = 0; c < n; ) {
      if (this.missing[c] > 0 || this.installed[c]) {
        c++;
        continue;
      }
      let e = c;
      while (e < n && this.missing[e] === 0 && !this.installed[e]) this.installed[e++] = 1;
      installs.push(this.hooks.install(c, e - c));
      c = e;
    }
    await settleAll(installs);
  }
}

/** Waits for all, then throws the first failure: nothing is left running unseen. */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
