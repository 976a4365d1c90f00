// The disk cache as one mapping uses it (ObjectCache: its entries' paths,
// lookups, block locks, background writes) on top of its directory's store
// (disk-cache-store.ts: the shared usage counter and the cleanup pass).
// Fault worker thread. Every read, write, scan and unlink runs on the
// addon's I/O threads (lib/shared/native-io.ts), never on this loop or the
// libuv pool; what runs here synchronously is a mkdir and a small file at
// map time, atomics on the counter, and non-blocking flock attempts.
//
// Why it is safe with many processes:
// - An entry appears whole or not at all (written to a temporary file, then
//   renamed) and is verified on every read (length, header, identity,
//   xxh64): a torn, truncated, corrupted or misplaced file is dropped and
//   fetched again, never installed. No fsync: only a power loss can leave a
//   renamed entry short, and the check catches that too.
// - A reader racing the cleanup pass opens either the whole entry or
//   nothing (ENOENT: it fetches); an unlinked file stays readable through an
//   open descriptor.
// - One fetch per block across processes: a missing block is fetched by the
//   process that takes its lock (one byte of the version's lock file, an
//   open-file-description lock: nothing is created per block, and the
//   kernel lets go when that process dies); others poll without blocking
//   until the entry appears.
// - The cap: writers hold the directory's lock shared from the reservation
//   of an entry's bytes on the shared counter to its rename, and write only
//   what fits. When nothing fits, one process takes the lock exclusively (so
//   no write is half done), scans, deletes the least recently used entries
//   down to the low water mark and sets the counter to what is left.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { getSystemErrorName } from 'node:util';
import { blockName, CACHE_BLOCK, identityBytes, LOCKS_FILE, META_FILE, objectDirName, versionDirName, type CacheIdentity } from '../shared/cache-layout.js';
import { DEFAULTS } from '../shared/defaults.js';
import { io, LookupStatus } from '../shared/native-io.js';
import type { DiskCacheStore } from './disk-cache-store.js';

const TUNING = DEFAULTS.diskCache;
const ENOENT = 2;
const ENOSPC = 28;
const EAGAIN = 11;

/** A block of the object as one run needs it. */
export interface BlockRef {
  block: number;
  /** Object bytes of the block: 64 KiB, less at the object's end. */
  length: number;
  /** Where the part the run needs goes in the run's buffer. */
  dstOffset: number;
  /** That part: from which byte of the block, how many. */
  copyFrom: number;
  copyLength: number;
  /** The run covers the whole block: it can lock, fetch and write it. */
  whole: boolean;
}

export interface LookupResult {
  status: number;
  reason: number;
  /** This lookup took the block's lock: write it or let go. */
  locked: boolean;
}

export interface HeldBlock {
  ref: BlockRef;
  locked: boolean;
}

export class ObjectCache {
  readonly identity: Buffer;
  private readonly objectDir: string;
  private readonly dir: string;
  private tmpSeq = 0;
  private readonly writing = new Set<Promise<number>>();
  /** The version's block-lock file, open for the life of the mapping (its locks go with it). */
  private lockFd = -1;
  private closing = false;
  /** Lookups in flight: they hold the lock file's descriptor number too. */
  private looking = 0;

  constructor(
    readonly store: DiskCacheStore,
    private readonly id: CacheIdentity,
    readonly size: number,
    readonly cap: number,
  ) {
    this.identity = identityBytes(id);
    this.objectDir = join(store.root, objectDirName(id));
    this.dir = join(this.objectDir, versionDirName(id.version));
    this.ensureDirs();
    const fd = io.cacheLockFileOpen(join(this.dir, LOCKS_FILE));
    if (fd < 0) {
      const code = getSystemErrorName(fd);
      throw Object.assign(new Error(`cannot open ${join(this.dir, LOCKS_FILE)} (${code})`), { code });
    }
    this.lockFd = fd;
  }

  /** The mapping is done: the lock file closes once the last write ended. */
  close(): void {
    this.closing = true;
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (this.closing && this.writing.size === 0 && this.looking === 0 && this.lockFd >= 0) {
      io.cacheCloseFd(this.lockFd);
      this.lockFd = -1;
    }
  }

  /** Map time, and after `s3mmap cache clear` removed them: two mkdirs and
   *  a small file. A temporary file that could not be written whole (ENOSPC)
   *  is removed at once; one a crash leaves behind, the cleanup pass sweeps.
   *  That pass may sweep this one too, mid-write (it does not hold the
   *  directory's lock): then it is written again. */
  ensureDirs(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const meta = join(this.objectDir, META_FILE);
    const tmp = join(this.objectDir, `.tmp-${process.pid}-${META_FILE}`);
    const { endpoint, bucket, key } = this.id;
    for (let attempt = 0; !existsSync(meta); attempt++) {
      try {
        writeFileSync(tmp, JSON.stringify({ endpoint, bucket, key }) + '\n', { mode: 0o600 });
        renameSync(tmp, meta);
      } catch (err) {
        rmSync(tmp, { force: true });
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err;
      }
    }
  }

  /** The blocks covering object bytes [start, start+length). */
  blocks(start: number, length: number): BlockRef[] {
    const out: BlockRef[] = [];
    const end = start + length;
    for (let b = Math.floor(start / CACHE_BLOCK); b * CACHE_BLOCK < end; b++) {
      const bStart = b * CACHE_BLOCK;
      const bLength = Math.min(CACHE_BLOCK, this.size - bStart);
      const from = Math.max(bStart, start);
      const to = Math.min(bStart + bLength, end);
      out.push({ block: b, length: bLength, dstOffset: from - start, copyFrom: from - bStart, copyLength: to - from, whole: from === bStart && to === bStart + bLength });
    }
    return out;
  }

  private path(b: number): string {
    return join(this.dir, blockName(b));
  }

  /** Reads the blocks present into `dst` (verified), and takes the lock of
   *  each missing whole block that no other process is fetching. */
  async lookup(refs: BlockRef[], dst: Buffer): Promise<LookupResult[]> {
    const blocks = new Float64Array(refs.length * 6);
    refs.forEach((r, i) => blocks.set([r.block * CACHE_BLOCK, r.length, r.dstOffset, r.copyFrom, r.copyLength, 0], i * 6));
    const out = new Int32Array(refs.length * 3);
    // Closed (the mapping stopped): blocks are read, but none is locked.
    const wantLock = this.lockFd >= 0 ? 1 : 0;
    refs.forEach((r, i) => (blocks[i * 6 + 5] = (r.whole ? wantLock : 0) | 2));
    this.looking++;
    try {
      await io.cacheLookup(this.identity, dst, blocks, refs.map((r) => this.path(r.block)), this.lockFd, TUNING.touchAfterSec, out);
    } finally {
      this.looking--;
      this.closeIfIdle();
    }
    return refs.map((_, i) => ({ status: out[3 * i], reason: out[3 * i + 1], locked: out[3 * i + 2] === 1 }));
  }

  /** Lets go of locks taken by lookup() whose blocks will not be written. */
  unlock(items: HeldBlock[]): void {
    for (const { ref, locked } of items) if (locked && this.lockFd >= 0) io.cacheRangeUnlock(this.lockFd, ref.block * CACHE_BLOCK);
  }

  /** Writes whole blocks held in `src` (each at its dstOffset) and lets go
   *  of their locks. While a cleanup pass has the directory the write comes
   *  back and is tried again shortly; blocks that find no room under the cap
   *  get one cleanup pass and one more try; a directory removed meanwhile
   *  (`s3mmap cache clear`) is made again, once. Resolves with the count written. */
  write(items: HeldBlock[], src: Buffer): Promise<number> {
    const p = this.writeNow(items, src);
    this.writing.add(p);
    void p.catch(() => {}).finally(() => {
      this.writing.delete(p);
      this.closeIfIdle();
    });
    return p;
  }

  /** Resolves when every write started so far has ended: close() waits for
   *  it, so a process that reads, closes and exits leaves its blocks behind. */
  async flush(): Promise<void> {
    while (this.writing.size > 0) await Promise.allSettled([...this.writing]);
  }

  private async writeNow(items: HeldBlock[], src: Buffer): Promise<number> {
    let written = 0;
    let batch = items;
    let madeRoom = false;
    let madeDirs = false;
    const giveUpAt = Date.now() + TUNING.lockWaitMs;
    try {
      for (let delay = 1; batch.length > 0; delay = Math.min(delay * 2, 20)) {
        const blocks = new Float64Array(batch.length * 4);
        batch.forEach((it, i) => blocks.set([it.ref.block * CACHE_BLOCK, it.ref.length, it.ref.dstOffset, it.locked ? 1 : 0], i * 4));
        const out = new Int32Array(batch.length);
        await this.store.writeEntries(
          this.identity, src, blocks,
          batch.map((it) => join(this.dir, `.tmp-${process.pid}-${this.tmpSeq++}-${blockName(it.ref.block)}`)),
          batch.map((it) => this.path(it.ref.block)),
          this.lockFd,
          out, this.cap,
        );
        const again: typeof items = [];
        let noRoom = false;
        let noDir = false;
        batch.forEach((it, i) => {
          const r = out[i];
          if (r === 0) written++;
          // Kept locked by the native side for another try:
          else if ((r === -EAGAIN && Date.now() < giveUpAt) || (r === -ENOSPC && !madeRoom) || (r === -ENOENT && !madeDirs)) again.push(it);
          else if (r === -EAGAIN || r === -ENOSPC || r === -ENOENT) this.unlock([it]);
          noRoom ||= r === -ENOSPC;
          noDir ||= r === -ENOENT;
        });
        batch = again;
        if (batch.length === 0) break;
        if (noDir && !madeDirs) {
          madeDirs = true;
          this.ensureDirs();
        }
        if (noRoom && !madeRoom) {
          madeRoom = true;
          await this.store.makeRoom(this.cap);
        } else if (!noDir) {
          await sleep(delay);
        }
      }
    } finally {
      this.unlock(batch);
    }
    return written;
  }
}

export { LookupStatus };
