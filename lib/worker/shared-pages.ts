// One mapping's view of its shared pages file (a tmpfs file per object
// version, mapped MAP_SHARED by every process of the user that maps it,
// each registering its own uffd): which chunks are in it, the fetch lock of
// a chunk (one fetch across processes), install stamps for the cap's LRU
// order, hole punching (frees pages for everyone), and the cap. Fault worker
// thread; the syscalls are native/shm_pages.cc, on tmpfs (memory), never on
// the libuv pool.
//
// A MISSING fault fires only when the page is absent from the file, so a
// chunk another process installed is read here with no fault at all. What
// this process records as installed can be punched out by another process
// (its cap's pass, its evict()): the pages then fault again, and present()
// tells such a fault from a stale message.
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULTS } from '../shared/defaults.js';
import { native } from '../shared/native.js';
import type { ChunkGeometry } from './chunk-geometry.js';

/** The cap's pass frees down to this share of the cap, so it does not run at every install. */
const LOW_WATER = 0.9;

export type Claim = 'mine' | 'busy';

export class SharedPages {
  /** Chunks whose fetch lock this mapping holds. */
  private readonly claimed = new Set<number>();
  /** Bytes the directory held at the last pass, and what this process installed since. */
  private usage = 0;
  private sincePass = 0;
  private closed = false;

  constructor(
    readonly fd: number,
    readonly path: string,
    readonly dir: string,
    readonly cap: number,
    /** The region's length (whole pages): the install stamps follow it in the file. */
    private readonly length: number,
    private readonly geometry: ChunkGeometry,
    /** Chunks punched out by this process's passes (counted in stats). */
    private readonly onEvicted: (chunks: number) => void,
  ) {
    this.pass();
  }

  /** Every page of the chunk is in shared memory (some process installed it). */
  present(chunk: number): boolean {
    return native.shmPresent(this.fd, this.geometry.start(chunk), this.geometry.installBytes(chunk)) === 1;
  }

  /** Another mapping of this version is open (in any process). */
  othersMapping(): boolean {
    return native.shmOthers(this.fd) !== 0;
  }

  /** Takes the chunk's fetch lock without waiting: 'busy' when another process fetches it. */
  claim(chunk: number): Claim {
    if (this.claimed.has(chunk)) return 'mine';
    const r = native.shmLock(this.fd, this.geometry.start(chunk), this.geometry.chunkSize);
    // A lock that cannot be taken at all (-errno) must not stop the fetch: it is only a saving.
    if (r === 0) return 'busy';
    if (r === 1) this.claimed.add(chunk);
    return 'mine';
  }

  release(chunk: number): void {
    if (!this.claimed.delete(chunk) || this.closed) return;
    native.shmUnlock(this.fd, this.geometry.start(chunk), this.geometry.chunkSize);
  }

  /** Waits, at most the disk cache's lock wait (a holder that dies lets go
   *  at once), until the chunk's pages are there or its fetch lock is this
   *  process's: true then. False when it waited that long (the caller
   *  fetches on its own) or `stopped()`. */
  async awaitTurn(chunk: number, stopped: () => boolean): Promise<boolean> {
    const giveUpAt = Date.now() + DEFAULTS.diskCache.lockWaitMs;
    for (let delay = 1; !stopped(); delay = Math.min(delay * 2, 20)) {
      if (this.present(chunk)) return true;
      if (Date.now() > giveUpAt) return false;
      await sleep(delay);
      if (this.claim(chunk) === 'mine') return true;
    }
    return false;
  }

  /** Chunks [first, first+count) were installed by this process: stamped for
   *  the LRU order, and the cap's pass runs once the directory may be over. */
  installed(first: number, count: number, bytes: number): void {
    const now = Date.now();
    for (let c = first; c < first + count; c++) native.shmStamp(this.fd, this.length, c, now);
    this.sincePass += bytes;
    // Other processes install too: a pass at least every sixteenth of the cap.
    if (this.usage + this.sincePass > this.cap || this.sincePass > this.cap / 16) this.pass();
  }

  /** Frees the chunk's pages for every process. */
  punch(chunk: number): void {
    native.shmPunch(this.fd, this.geometry.start(chunk), this.geometry.installBytes(chunk));
    native.shmStamp(this.fd, this.length, chunk, 0);
  }

  /** UFFDIO_COPY found the tmpfs full: frees the least recently installed
   *  chunks of every object, a few times `bytes`. True when anything went. */
  makeRoom(bytes: number): boolean {
    return this.pass(0, -4 * bytes) > 0;
  }

  /** The cap's pass over the whole directory (native/shm_pages.cc shmTrim):
   *  past `cap` it frees down to `target` (negative: that many bytes below
   *  what is held). Returns the bytes it punched. */
  private pass(cap: number = this.cap, target = LOW_WATER * this.cap): number {
    const r = native.shmTrim(this.dir, cap, target);
    if (r.usage >= 0) {
      this.usage = r.usage;
      this.sincePass = 0;
    }
    if (r.punched > 0) this.onEvicted(Math.ceil(r.punched / this.geometry.chunkSize));
    return r.punched;
  }

  /** The region is unmapped: locks go, and the file too when no process holds it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.claimed.clear();
    native.shmClose(this.fd, this.path);
  }
}
