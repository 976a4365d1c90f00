// A shared region's gate, for one mapping (DESIGN.md "Shared regions and the
// disk cache"): whether this process fetches a chunk, or another process has
// it (installed: recorded and woken here, nothing fetched or copied;
// fetching: a fault waits for it, a prefetch or a fill leaves it); the
// chunks made private memory of this process when the tmpfs was full; and
// which chunks this process installed that another process punched out.
// Fault worker thread; the file's syscalls are shared-pages.ts's.
import { Counter, type StatsWriter } from '../shared/stats.js';
import type { ChunkGeometry } from './chunk-geometry.js';
import type { SharedFull } from './installer.js';
import type { ResidentSet } from './residency.js';
import type { SharedFile } from './backing.js';
import { SharedPages } from './shared-pages.js';

export interface GateParts {
  /** The shared pages file the region maps (backing.ts). */
  file: SharedFile;
  /** The region's length (whole pages). */
  length: number;
  geometry: ChunkGeometry;
  resident: ResidentSet;
  stats: StatsWriter;
  stopped: () => boolean;
  /** A disk cache is beneath: its block locks already wait for another process's fetch. */
  diskBeneath: boolean;
  /** Records a chunk another process installed as resident here and wakes its threads (placement.ts). */
  adopt: (chunk: number) => Promise<void>;
}

export class SharedGate implements SharedFull {
  /** Chunks made private memory of this process when the tmpfs was full. */
  private readonly privateChunks = new Set<number>();
  private readonly pages: SharedPages;

  constructor(private readonly p: GateParts) {
    const { file, geometry, stats } = p;
    this.pages = new SharedPages(file.fd, file.path, file.dir, file.cap, p.length, geometry, (n) => stats.add(Counter.sharedEvictions, n));
  }

  /** The chunk's pages are the shared file's (not made private when it was full). */
  covers(chunk: number): boolean {
    return !this.privateChunks.has(chunk);
  }

  /** Every page of a shared chunk is in the file (some process installed it). */
  present(chunk: number): boolean {
    return this.covers(chunk) && this.pages.present(chunk);
  }

  /** true: this process fetches the chunk, decided in this turn so that the
   *  request reaches the scheduler inside the caller's hold() and shares a
   *  GET with its neighbours. Otherwise a promise of whether it is to fetch
   *  it after all. Whoever gets true holds the chunk's fetch lock until
   *  release(). */
  enter(chunk: number, urgent: boolean): true | Promise<boolean> {
    if (!this.covers(chunk)) return true;
    const { pages } = this;
    const { stats } = this.p;
    if (pages.claim(chunk) === 'busy') {
      // Another process fetches it: a prefetch or a fill leaves it to that process.
      if (!urgent) return Promise.resolve(false);
      stats.add(Counter.sharedWaits);
      // With a disk cache its block locks already wait for the other
      // process's fetch (and read what it wrote): waiting here first would
      // wait twice as long for a holder that is stuck.
      return this.p.diskBeneath ? true : this.awaitOther(chunk);
    }
    if (!pages.present(chunk)) return true;
    pages.release(chunk);
    return this.found(chunk).then(() => false);
  }

  /** The chunk's fetch lock goes (its fetch ended, installed or not). Markers
   *  included: a marker that kept its lock until this process's reader came
   *  would hold up another process's reader, which may hold up this one. */
  release(chunk: number): void {
    this.pages.release(chunk);
  }

  /** Installed by this process and still there: shared pages another process
   *  punched out are forgotten here, so their fault is served again. */
  installedHere(chunk: number): boolean {
    const { resident, stats } = this.p;
    if (!resident.has(chunk)) return false;
    if (!this.covers(chunk) || this.pages.present(chunk)) return true;
    resident.forget(chunk);
    stats.set(Counter.residentBytes, resident.bytes);
    return false;
  }

  /** Frees the chunk's pages for every process (evict(), the resident
   *  budget): false for a chunk made private, whose pages are this process's. */
  punch(chunk: number): boolean {
    if (!this.covers(chunk)) return false;
    this.pages.punch(chunk);
    return true;
  }

  /** A marker is not installed, and its lock goes when its run ends: another
   *  process reading the same version would fetch it again. So markers are
   *  held only while no other mapping shares the pages. */
  othersMapping(): boolean {
    return this.pages.othersMapping();
  }

  /** This process installed [first, first+count): stamped for the cap's LRU order. */
  installed(first: number, count: number, bytes: number): void {
    if (this.covers(first)) this.pages.installed(first, count, bytes);
  }

  /** The tmpfs is full: frees the least recently installed chunks of every object. */
  makeRoom(bytes: number): boolean {
    return this.pages.makeRoom(bytes);
  }

  /** [offset, offset+length) became private memory of this process. */
  patched(offset: number, length: number): void {
    const [first, last] = this.p.geometry.span(offset, length);
    for (let c = first; c <= last; c++) this.privateChunks.add(c);
    this.p.stats.add(Counter.sharedFallbacks, last - first + 1);
  }

  /** The region is unmapped: locks go, and the file too when no process holds it. */
  close(): void {
    this.pages.close();
  }

  /** A fault on a chunk another process is fetching: true when this process
   *  is to fetch it after all (the other let go without installing it, or
   *  took too long: a copy that finds the pages is EEXIST, success). */
  private async awaitOther(chunk: number): Promise<boolean> {
    const { pages } = this;
    const { stopped } = this.p;
    const mine = await pages.awaitTurn(chunk, stopped);
    if (stopped()) return false;
    if (!mine || !pages.present(chunk)) return true;
    pages.release(chunk);
    await this.found(chunk);
    return false;
  }

  /** Another process installed the chunk: recorded and woken, nothing copied. */
  private found(chunk: number): Promise<void> {
    this.p.stats.add(Counter.sharedHits);
    return this.p.adopt(chunk);
  }
}
