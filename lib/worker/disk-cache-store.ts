// One cache directory as every process of the user shares it: the usage
// counter (one page of a MAP_SHARED file) that bounds what the directory
// holds, and the cleanup pass that keeps it within its cap, least recently
// used first, under the directory's lock taken exclusively (writers hold it
// shared from a reservation to its rename, so no write is half done when the
// pass scans). Fault worker thread; the scans and unlinks run on the addon's
// I/O threads (lib/shared/native-io.ts), never on this loop or the libuv pool.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheCap, formatRoot, isEntryName, isTempName, lockPath, usagePath } from '../shared/cache-layout.js';
import { DEFAULTS } from '../shared/defaults.js';
import { io } from '../shared/native-io.js';

const TUNING = DEFAULTS.diskCache;

export class DiskCacheStore {
  private static readonly stores = new Map<string, DiskCacheStore>();

  /** The store of `dir` (checked by the caller's thread), opened once per worker. */
  static open(dir: string): DiskCacheStore {
    let s = DiskCacheStore.stores.get(dir);
    if (!s) DiskCacheStore.stores.set(dir, (s = new DiskCacheStore(dir)));
    return s;
  }

  readonly root: string;
  private readonly lockFile: string;
  private readonly counter: number;
  private passing: Promise<void> | null = null;
  private firstPass: Promise<void> | null = null;

  private constructor(dir: string) {
    this.root = formatRoot(dir);
    this.lockFile = lockPath(dir);
    this.counter = io.cacheCounterOpen(usagePath(dir));
  }

  /** At a process's first mapping with this directory, in the background:
   *  a pass when the counter was never set (a new directory), when it is
   *  over this cap (another process used a larger one), or when no pass ran
   *  for an hour (crashed writers' temporary files are cleaned then). */
  opened(cap: number): void {
    if (this.firstPass) return;
    const last = io.cacheCounterLastPass(this.counter);
    const due = last === 0 || this.used > cap || Date.now() - last > TUNING.sweepAfterMs;
    this.firstPass = due ? this.pass(cap, false).catch(() => {}) : Promise.resolve();
  }

  /** Bytes the directory holds, as the shared counter says. */
  get used(): number {
    return io.cacheCounterGet(this.counter);
  }

  /** The cap in force for a mapping asking for `maxBytes` (cacheCap()). */
  capFor(maxBytes: number): number {
    return cacheCap(this.root, maxBytes, this.used);
  }

  /** Makes room after a write found none: one cleanup pass at a time per
   *  process, deleting down to the low water mark. */
  makeRoom(cap: number): Promise<void> {
    return this.pass(cap, true);
  }

  /** Writes entries under the directory's gate; see ObjectCache.write(). */
  writeEntries(identity: Buffer, src: Buffer, blocks: Float64Array, tmp: string[], paths: string[], lockFd: number, out: Int32Array, cap: number): Promise<void> {
    return io.cacheWrite(identity, src, blocks, tmp, paths, lockFd, out, this.counter, cap, this.lockFile);
  }

  private pass(cap: number, trim: boolean): Promise<void> {
    this.passing ??= this.runPass(cap, trim).finally(() => (this.passing = null));
    return this.passing;
  }

  /** Under the directory's lock, held exclusively: no write is between its
   *  reservation and its rename, so what the scan finds is exact. Deletes
   *  every temporary file (all are a crashed writer's) and,
   *  over the cap (or over the low water mark when asked to trim), the least
   *  recently used entries; then sets the counter to what is left. */
  private async runPass(cap: number, trim: boolean): Promise<void> {
    const fd = await this.lock(trim);
    if (fd <= 0) return; // another pass has it, or writers did not let go in time
    try {
      const scan = await io.cacheScan(this.root, 3);
      if ('errno' in scan) return;
      const entries: Array<{ path: string; size: number; atime: number }> = [];
      const doomed: string[] = [];
      let total = 0;
      for (let i = 0; i < scan.paths.length; i++) {
        if (scan.dirs[i]) continue;
        const rel = scan.paths[i];
        const parts = rel.split('/');
        const name = parts[parts.length - 1];
        // Temporary files at any depth: a block's beside its entries, the object file's a level up.
        if (isTempName(name)) doomed.push(rel);
        else if (parts.length === 3 && isEntryName(name)) {
          entries.push({ path: rel, size: scan.sizes[i], atime: scan.atimes[i] });
          total += scan.sizes[i];
        }
      }
      const low = Math.floor(cap * TUNING.lowWater);
      if (trim ? total > low : total > cap) {
        entries.sort((a, b) => a.atime - b.atime);
        for (const e of entries) {
          if (total <= low) break;
          doomed.push(e.path);
          total -= e.size;
        }
      }
      if (doomed.length > 0) await io.cacheUnlink(doomed.map((p) => join(this.root, p)));
      io.cacheCounterSet(this.counter, total);
    } finally {
      io.cacheUnlock(fd);
    }
  }

  /** The directory's lock, exclusively, without blocking: once, or (`wait`)
   *  polling while writers step aside, for a few seconds at most. */
  private async lock(wait: boolean): Promise<number> {
    let delay = 1;
    try {
      for (let waited = 0; ; waited += delay, delay = Math.min(delay * 2, 20)) {
        if (wait) io.cacheCounterPassWaiting(this.counter, Date.now());
        const fd = io.cacheTryLock(this.lockFile);
        if (fd !== 0 || !wait || waited > 5000) return fd;
        await sleep(delay);
      }
    } finally {
      if (wait) io.cacheCounterPassWaiting(this.counter, 0);
    }
  }
}
