// Puts bytes into one mapping's region: UFFDIO_COPY (on this thread, or on
// the addon's I/O pool for pages no thread waits on) with every result the
// kernel can give treated as DESIGN.md rule 5 says, UFFDIO_WAKE, and
// UFFDIO_POISON for ranges that cannot be read (rule 8); for a shared region
// whose tmpfs is full (ENOMEM), room made or the range made private
// (DESIGN.md "Shared regions"). Fault worker thread;
// it hands the kernel the addresses of its own buffers, never of mapped
// memory (rule 1).
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { S3MmapError } from '../shared/errors.js';
import { Errno, native } from '../shared/native.js';
import { testHooks } from '../shared/test-hooks.js';

/** EAGAIN (the address space is changing: fork, mremap) this many times in a row is a bug, not a race. */
const MAX_EAGAIN = 10_000;

export type CopyOutcome = 'installed' | 'gone';

/** A shared region's answer to a full tmpfs (lib/worker/shared-gate.ts). */
export interface SharedFull {
  /** Frees room for `bytes`; true when the copy may be tried again. */
  makeRoom(bytes: number): boolean;
  /** [offset, offset+length) of the region is private memory of this process from now on. */
  patched(offset: number, length: number): void;
}

export class Installer {
  constructor(
    private readonly fd: number,
    /** The region's address. */
    private readonly base: number,
    private readonly pageSize: number,
    private readonly label: string,
    /** True once the mapping stops being served: a copy in progress gives up. */
    private readonly stopped: () => boolean,
    /** A copy was answered EAGAIN and will be tried again (counted in stats). */
    private readonly retried: () => void = () => {},
    /** For a shared region: what to do when its tmpfs is full. */
    private readonly full: SharedFull | null = null,
  ) {}

  /** Copies `data` (whole pages) to region offset `offset` without waking
   *  anyone, then calls `installed()` synchronously, in the same turn as the
   *  last ioctl's answer: residency and stats are true before the caller
   *  wake()s those asleep on the pages. `offLoop`: the ioctls run on the
   *  addon's I/O pool, for pages no thread waits on (a fill's, readahead's):
   *  a UFFDIO_COPY costs about 0.7 ms per MiB, time this thread's loop then
   *  spends reading sockets; a thread may read such pages before they are
   *  recorded, which costs nothing but a late count. 'gone' when the region
   *  was unmapped or the mapping stopped: nobody waits any more.
   *  `installed(pooled)`: pooled when every byte went in on the pool. */
  async copy(offset: number, data: Uint8Array, installed: (pooled: boolean) => void, offLoop = false): Promise<CopyOutcome> {
    const length = data.length;
    let done = 0;
    let eagain = 0;
    let pooled = offLoop;
    while (done < length) {
      if (this.stopped()) return 'gone';
      // Test hook (off by default): the first N copies answer EAGAIN.
      const r = testHooks.copyEagain > 0 && testHooks.copyEagain-- > 0
        ? -Errno.EAGAIN
        : offLoop
          ? await native.copyAsync(this.fd, this.base + offset + done, data, done, length - done, true)
          : native.copy(this.fd, this.base + offset + done, data, done, length - done, true);
      if (r > 0) {
        done += r; // a partial copy reports what it installed: go on from there
      } else if (r === -Errno.EEXIST) {
        // Installed already (by an earlier copy): success; the caller's wake
        // covers it so that no thread sleeps on it.
        done += this.pageSize;
      } else if (r === -Errno.EAGAIN) {
        if (++eagain > MAX_EAGAIN) throw this.failure(offset, 'EAGAIN');
        this.retried();
        await yieldToLoop();
      } else if (r === -Errno.ENOMEM && this.full) {
        // The tmpfs is full: room is made (for everyone, least recently
        // installed first) and the same pages tried again; when nothing can
        // be freed, the rest of the copy goes into private memory of this
        // process, under the same addresses. Never SIGBUS, never zeros.
        if (this.full.makeRoom(length - done)) continue;
        pooled = false;
        const p = native.patchPrivate(this.fd, this.base + offset + done, data, done, length - done);
        if (p < 0) throw this.failure(offset, `ENOMEM, then errno ${-p} making it private`);
        this.full.patched(offset + done, length - done);
        done = length;
      } else if (r === -Errno.ENOENT || r === -Errno.ESRCH) {
        return 'gone'; // region unmapped or process exiting
      } else {
        throw this.failure(offset, `errno ${-r}`);
      }
    }
    // Stopped while the pool copied: nobody reads the records any more.
    if (offLoop && this.stopped()) return 'gone';
    installed(pooled);
    return 'installed';
  }

  wake(offset: number, length: number): void {
    native.wake(this.fd, this.base + offset, length);
  }

  /** Touching the range raises SIGBUS from now on; threads asleep on it wake to that. */
  poison(offset: number, length: number): void {
    const r = native.poison(this.fd, this.base + offset, length, false);
    if (r < 0 && r !== -Errno.EEXIST) this.wake(offset, length);
  }

  /** Drops installed pages (and poison markers): the next touch faults again. */
  drop(offset: number, length: number): void {
    native.drop(this.base + offset, length);
  }

  private failure(offset: number, what: string): Error {
    return new S3MmapError('EIO', `s3mmap: UFFDIO_COPY at byte ${offset} of ${this.label} failed (${what})`);
  }
}
