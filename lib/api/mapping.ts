// A mapped object as the caller sees it: the Buffer over it (or windows of
// it, view()), stats, load and prefetch, close. Lives on the thread that
// mapped it (normally the main thread, which may itself block in faults:
// nothing here serves one).
import { maxBufferLength, native, UffdOpenMode } from '../shared/native.js';
import { S3MmapError } from '../shared/errors.js';
import type { Backing, MapReply, ReadaheadMode } from '../shared/protocol.js';
import type { FetchPlan } from '../shared/plan.js';
import { formatBytes } from '../shared/sizes.js';
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
// without close(); the region itself is unmapped once its last view goes.
const collected = new FinalizationRegistry<bigint>((id) => faultWorker.forget(id));

// Forgets a view() window once it is collected (its hold ended natively).
const windowGone = new FinalizationRegistry<{ windows: Set<WeakRef<ArrayBuffer>>; ref: WeakRef<ArrayBuffer> }>(
  ({ windows, ref }) => windows.delete(ref),
);

/** The error for a Buffer longer than this Node allows, with the way out. */
function tooLarge(what: string, length: number, remedy: string): S3MmapError {
  return new S3MmapError(
    'ERR_BUFFER_TOO_LARGE',
    `s3mmap: ${what} is ${formatBytes(length)} (${length} bytes), more than one Buffer holds in Node.js ${process.version} (${formatBytes(maxBufferLength)}); ${remedy}, or run Node.js 22 or later, where one Buffer holds up to 8 PiB`,
  );
}

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
  readonly #label: string;
  /** The whole object, when one Buffer can hold it. */
  #buffer: Buffer | null;
  /** The view holding the region for this Mapping: #buffer's, or the first page's. */
  #anchor: ArrayBuffer | null = null;
  /** Views made by view() when #buffer cannot exist; released by close(). */
  readonly #windows = new Set<WeakRef<ArrayBuffer>>();
  #id: bigint | null;
  #stats: SharedArrayBuffer;
  #residency: Uint8Array;
  #backing: Backing;
  #closed = false;
  readonly #plan: FetchPlan | undefined;

  /** @internal use mapSource(), mapFile(), mapObject() */
  constructor(reply: MapReply, chunkSize: number, label: string, plan?: FetchPlan) {
    this.#label = label;
    this.#plan = plan;
    this.info = reply.info;
    this.size = reply.info.size;
    this.version = reply.info.version;
    this.chunkSize = chunkSize;
    this.#stats = reply.stats;
    this.#residency = new Uint8Array(reply.residency);
    this.#backing = reply.backing;
    this.#id = reply.region?.id ?? null;
    this.mode = modeName(reply.region?.mode ?? UffdOpenMode.syscall);
    if (this.#id === null) {
      this.#buffer = Buffer.alloc(0);
      return;
    }
    const id = this.#id;
    const whole = this.size <= maxBufferLength;
    try {
      this.#anchor = native.view(id, 0, whole ? this.size : Math.min(this.size, native.pageSize));
    } catch (err) {
      // Nobody holds the region: unmapped, the fault worker retires it.
      native.unmap(id);
      throw err;
    }
    this.#buffer = whole ? Buffer.from(this.#anchor) : null;
    const errors = this.errors;
    faultWorker.onFaultError(id, (err) => {
      errors.push(err);
      if (errors.length > 16) errors.shift();
    });
    collected.register(this, id);
  }

  /** The object's bytes. Reading a cold page blocks the reading thread until
   *  it is fetched. Throws ERR_BUFFER_TOO_LARGE for an object longer than one
   *  Buffer can be (over 4 GiB on Node 20): read it through view(). */
  get buffer(): Buffer {
    if (this.#buffer) return this.#buffer;
    if (this.#closed) return Buffer.alloc(0);
    throw tooLarge(this.#label, this.size, 'read it through mapping.view(offset, length)');
  }

  /** A zero-copy Buffer over bytes [offset, offset+length): a window of
   *  `buffer`, or, for an object one Buffer cannot hold, a view of its own
   *  (any window up to buffer.constants.MAX_LENGTH). Like `buffer`, it is the
   *  Mapping's: close() detaches it (length 0). Other threads use attach(). */
  view(offset = 0, length = this.size - offset): Buffer {
    this.#check(offset, length);
    const id = this.#live();
    if (length === 0 || id === null) return Buffer.alloc(0);
    if (this.#buffer) return this.#buffer.subarray(offset, offset + length);
    if (length > maxBufferLength) {
      throw tooLarge(`a view of ${this.#label}`, length, `ask for at most ${maxBufferLength} bytes at a time`);
    }
    const ab = native.view(id, offset, length);
    const ref = new WeakRef(ab);
    this.#windows.add(ref);
    windowGone.register(ab, { windows: this.#windows, ref });
    return Buffer.from(ab);
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): MappingStats {
    return { ...readStats(this.#stats, this.size, this.chunkSize, this.#backing), ...(this.#plan ? { plan: this.#plan } : {}) };
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
    return this.view(offset, length);
  }

  /** A handle another thread passes to attach() to get its own Buffer view. */
  share(): MappingHandle {
    const id = this.#live();
    if (id === null) throw new S3MmapError('ERR_CLOSED', 's3mmap: the mapping is closed or empty; nothing to share');
    return { id, size: this.size };
  }

  /** Detaches `buffer` and every Buffer view() made (their length becomes 0),
   *  lets the faults already waiting on the mapping finish (threads blocked in
   *  a read get their bytes), then releases them: the region is unmapped and
   *  no longer served.
   *
   *  Views made with attach() in other threads keep the region mapped and
   *  served until the last of them is collected (then it is unmapped, as for a
   *  mapping that is garbage-collected): a thread woken from a fault may still
   *  be copying when the faults are all served, and unmapping under it would
   *  end the process with SIGSEGV. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const id = this.#id;
    const own: ArrayBuffer[] = this.#anchor ? [this.#anchor] : [];
    for (const ref of this.#windows) {
      const ab = ref.deref();
      if (ab) own.push(ab);
    }
    this.#windows.clear();
    this.#anchor = null;
    // Length 0 at once; each view still holds the region until released below.
    for (const ab of own) native.detach(ab);
    if (id === null) return;
    let left = -1;
    try {
      await faultWorker.request({ type: 'drain', id }).catch(() => {});
    } finally {
      for (const ab of own) {
        const n = native.release(ab);
        if (n >= 0) left = n;
      }
    }
    // attach() views elsewhere still hold it: until this Mapping is collected,
    // its routing entry reports fault errors and unmaps it if the worker dies.
    if (left !== 0) return;
    collected.unregister(this);
    faultWorker.forget(id);
    // Unmapped now; the worker retires it on the released eventfd anyway,
    // the request makes close() resolve once it has stopped serving it.
    await faultWorker.request({ type: 'close', id }).catch(() => {});
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

/** A view of a mapping in another thread (a worker): pass it mapping.share().
 *  The whole object, or the window [offset, offset+length) of it (the way to
 *  read an object one Buffer cannot hold). The view keeps the region mapped
 *  and served until it is collected, even after close(). */
export function attach(handle: MappingHandle, offset = 0, length = handle.size - offset): Buffer {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > handle.size) {
    throw new S3MmapError('ERR_OUT_OF_RANGE', `s3mmap: range ${offset}+${length} is outside the object (size ${handle.size})`);
  }
  if (length === 0) return Buffer.alloc(0);
  if (length > maxBufferLength) {
    throw tooLarge(length === handle.size ? 'the object' : 'the window', length, 'attach a window of it with attach(handle, offset, length)');
  }
  return Buffer.from(native.view(handle.id, offset, length));
}
