// A mapped object as the caller sees it: the Buffer view, stats, load and
// prefetch, close. Lives on the thread that mapped it (normally the main
// thread, which may itself block in faults: nothing here serves one).
import { native } from '../shared/native.js';
import { S3MmapError } from '../shared/errors.js';
import type { MapReply, ReadaheadMode } from '../shared/protocol.js';
import { readStats, type MappingStats } from '../shared/stats.js';
import type { SourceInfo } from '../sources/source.js';
import { modeName, type UffdMode } from './uffd-info.js';
import { faultWorker } from './worker-client.js';

/** What another thread needs to make its own view of a mapping (see attach()). */
export interface MappingHandle {
  id: bigint;
  size: number;
}

export type Advice = ReadaheadMode | 'willneed';

const dispose: symbol = (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');

// Clears the worker client's routing entry of a mapping that was collected
// without close(); the region itself is unmapped by the view's finalizer.
const collected = new FinalizationRegistry<bigint>((id) => faultWorker.forget(id));

export class Mapping {
  readonly size: number;
  /** Version pinned at map time (S3: the ETag). */
  readonly version: string;
  readonly info: SourceInfo;
  readonly chunkSize: number;
  /** 'full': kernel-mode reads of cold pages are served; 'user-only': they fail with EFAULT until load(). */
  readonly mode: UffdMode;
  /** Errors met while serving faults, newest last (at most 16). */
  readonly errors: Error[] = [];
  #buffer: Buffer;
  #arrayBuffer: ArrayBuffer | null;
  #id: bigint | null;
  #stats: SharedArrayBuffer;
  #residency: Uint8Array;
  #closed = false;
  /** share() was called: other threads may hold views of the region. */
  #shared = false;

  /** @internal use mapSource(), mapFile(), mapObject() */
  constructor(reply: MapReply, chunkSize: number) {
    this.info = reply.info;
    this.size = reply.info.size;
    this.version = reply.info.version;
    this.chunkSize = chunkSize;
    this.#stats = reply.stats;
    this.#residency = new Uint8Array(reply.residency);
    this.#id = reply.region?.id ?? null;
    this.mode = modeName(reply.region?.mode ?? 0);
    if (this.#id === null) {
      this.#arrayBuffer = null;
      this.#buffer = Buffer.alloc(0);
      return;
    }
    const id = this.#id;
    try {
      this.#arrayBuffer = native.view(id);
    } catch (err) {
      native.unmap(id);
      throw err;
    }
    this.#buffer = Buffer.from(this.#arrayBuffer, 0, this.size);
    const errors = this.errors;
    faultWorker.onFaultError(id, (err) => {
      errors.push(err);
      if (errors.length > 16) errors.shift();
    });
    collected.register(this, id);
  }

  /** The object's bytes. Reading a cold page blocks the reading thread until it is fetched. */
  get buffer(): Buffer {
    return this.#buffer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): MappingStats {
    return readStats(this.#stats, this.size, this.chunkSize);
  }

  /** Makes [offset, offset+length) resident. Rejects with the source's error
   *  when a part cannot be read (and that part raises SIGBUS if touched). */
  load(offset = 0, length = this.size - offset): Promise<void> {
    return this.#rangeOp('load', offset, length);
  }

  /** Starts fetching a range in the background. */
  prefetch(offset = 0, length = this.size - offset): Promise<void> {
    return this.#rangeOp('prefetch', offset, length);
  }

  /** Drops the installed pages of a range; they fault back in on the next touch. */
  evict(offset = 0, length = this.size - offset): Promise<void> {
    return this.#rangeOp('evict', offset, length);
  }

  /** Like madvise(2): 'sequential' reads ahead at the largest window at once,
   *  'random' turns readahead off, 'normal' detects streams, 'willneed' prefetches the range. */
  async advise(advice: Advice, offset = 0, length = this.size - offset): Promise<void> {
    // async: a closed mapping rejects (ERR_CLOSED) like load(), instead of throwing synchronously.
    if (advice === 'willneed') return this.prefetch(offset, length);
    if (!['sequential', 'random', 'normal'].includes(advice)) {
      throw new S3MmapError('EINVAL', `s3mmap: unknown advice '${advice}'; use sequential, random, normal or willneed`);
    }
    const id = this.#live();
    if (id === null) return;
    return faultWorker.request({ type: 'advise', id, mode: advice as ReadaheadMode });
  }

  /** True when every page of the range is installed right now. */
  isResident(offset = 0, length = this.size - offset): boolean {
    this.#check(offset, length);
    if (length === 0) return true;
    const first = Math.floor(offset / this.chunkSize);
    const last = Math.floor((offset + length - 1) / this.chunkSize);
    for (let c = first; c <= last; c++) if (this.#residency[c] !== 1) return false;
    return true;
  }

  /** The range as a Buffer safe to hand to the kernel (fs.write, sockets). In
   *  user-only mode the kernel cannot fault pages in, so this throws unless
   *  the range is resident: await load() first. */
  kernelView(offset = 0, length = this.size - offset): Buffer {
    this.#check(offset, length);
    if (this.mode === 'user-only' && !this.isResident(offset, length)) {
      throw new S3MmapError(
        'ENOTRESIDENT',
        `s3mmap: bytes ${offset}-${offset + length - 1} are not resident and this mapping is user-mode-only, so the kernel cannot fault them in (fs.write and sockets fail with EFAULT); await mapping.load(${offset}, ${length}) first`,
      );
    }
    return this.#buffer.subarray(offset, offset + length);
  }

  /** A handle another thread passes to attach() to get its own Buffer view. */
  share(): MappingHandle {
    const id = this.#live();
    if (id === null) throw new S3MmapError('ERR_CLOSED', 's3mmap: the mapping is closed or empty; nothing to share');
    this.#shared = true;
    return { id, size: this.size };
  }

  /** Detaches the Buffer (its length becomes 0), lets the faults already
   *  waiting on the mapping finish (threads blocked in a read get their
   *  bytes), then unmaps it and stops serving it.
   *
   *  Once share() was called, views made with attach() in other threads keep
   *  the region mapped and served until the last of them is collected (then
   *  it is unmapped, as for a mapping that is garbage-collected): a thread
   *  woken from a fault may still be copying when the faults are all served,
   *  and unmapping under it would end the process with SIGSEGV. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const id = this.#id;
    if (this.#arrayBuffer) native.detach(this.#arrayBuffer);
    this.#arrayBuffer = null;
    if (id === null) return;
    // Other threads' views hold the region (the addon counts them); the last
    // one's finalizer unmaps it and the fault worker then stops serving it.
    // Until this Mapping is collected its registry entry keeps routing fault
    // errors and unmaps the region if the fault worker dies.
    if (this.#shared) return;
    collected.unregister(this);
    try {
      await faultWorker.request({ type: 'drain', id }).catch(() => {});
      // The worker unmaps before it closes the uffd; the unmap below covers a dead worker.
      await faultWorker.request({ type: 'close', id });
    } finally {
      native.unmap(id);
      faultWorker.forget(id);
    }
  }

  [dispose](): void {
    void this.close();
  }

  #live(): bigint | null {
    if (this.#closed) throw new S3MmapError('ERR_CLOSED', 's3mmap: the mapping is closed');
    return this.#id;
  }

  #check(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new S3MmapError('ERR_OUT_OF_RANGE', `s3mmap: range ${offset}+${length} is outside the object (size ${this.size})`);
    }
  }

  async #rangeOp(type: 'load' | 'prefetch' | 'evict', offset: number, length: number): Promise<void> {
    this.#check(offset, length);
    const id = this.#live();
    if (id === null || length === 0) return;
    await faultWorker.request({ type, id, offset, length });
  }
}

/** A view of a mapping in another thread (a worker): pass it mapping.share(). */
export function attach(handle: MappingHandle): Buffer {
  return Buffer.from(native.view(handle.id), 0, handle.size);
}
