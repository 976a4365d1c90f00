// Types of the addon's I/O half (native/io_pool.cc, native/disk_cache.cc):
// file reads on the addon's own threads and the disk cache's syscalls. Used
// in the fault worker (file source, disk cache) and on the caller's thread
// (the CLI's `cache` command: locks and the usage counter). Promises settle
// on the thread that made the call; none of it uses the libuv threadpool.
import { native } from './native.js';

/** One scan of a directory tree: parallel arrays, one element per file or directory. */
export interface ScanResult {
  /** Paths relative to the scanned root, '/'-separated. */
  paths: string[];
  sizes: Float64Array;
  atimes: Float64Array;
  mtimes: Float64Array;
  /** 1 for a directory. */
  dirs: Uint8Array;
}

export interface NativeIo {
  /** pread(2) until `length` bytes or end of file: the count read, or -errno. */
  ioPread(fd: number, into: Uint8Array, intoOffset: number, length: number, fileOffset: number): Promise<number>;
  /** Reads and verifies entries. `blocks`: 6 numbers per block (offset,
   *  length, dst offset, copy from, copy length, flags 1 = lock if missing,
   *  2 = unlink if bad); `out`: 3 per block (status, reason, 1 if this call
   *  took the block's lock: a byte-range lock on `lockFd`). */
  cacheLookup(identity: Uint8Array, dst: Uint8Array, blocks: Float64Array, paths: string[], lockFd: number, touchAfterSec: number, out: Int32Array): Promise<void>;
  /** Writes entries (temporary file, rename) holding the directory's lock
   *  shared, each only if it fits under `cap` on the counter, and lets go of
   *  their locks. `blocks`: 4 numbers per block (offset, length, src offset,
   *  1 if its lock is held); `out`: 0 or -errno per block. After -EAGAIN (a
   *  cleanup pass has the directory), -ENOSPC (no room) or -ENOENT (the
   *  directory is gone) the block's lock is kept: the caller retries or lets go. */
  cacheWrite(identity: Uint8Array, src: Uint8Array, blocks: Float64Array, tmpPaths: string[], paths: string[], lockFd: number, out: Int32Array, counter: number, cap: number, gatePath: string): Promise<void>;
  cacheScan(root: string, depth: number): Promise<ScanResult | { errno: number }>;
  /** Unlinks each path; resolves with how many were removed. */
  cacheUnlink(paths: string[]): Promise<number>;
  /** An object version's block-lock file: its fd, or -errno. */
  cacheLockFileOpen(path: string): number;
  /** Lets go of the lock of the block at byte `offset`. */
  cacheRangeUnlock(lockFd: number, offset: number): void;
  cacheCloseFd(fd: number): void;
  /** The directory's lock (flock, exclusive) without waiting: its fd, 0 when held elsewhere, or -errno. */
  cacheTryLock(path: string): number;
  /** Lets go of the directory's lock. */
  cacheUnlock(fd: number): void;
  /** The shared usage counter of a cache directory, mapped from the file at `path`. */
  cacheCounterOpen(path: string): number;
  cacheCounterAdd(handle: number, delta: number): number;
  /** Only a cleanup pass holding the directory's lock sets it. */
  cacheCounterSet(handle: number, value: number): void;
  cacheCounterGet(handle: number): number;
  /** When a cleanup pass last set the counter (ms since the epoch); 0: never, the counter means nothing yet. */
  cacheCounterLastPass(handle: number): number;
  /** A cleanup pass waits for the lock since `ms` (0: no longer): writers step aside. */
  cacheCounterPassWaiting(handle: number, ms: number): void;
  xxh64(data: Uint8Array, seed?: number): bigint;
}

export const io = native as unknown as NativeIo;

/** cacheLookup statuses (native/disk_cache.cc). */
export const LookupStatus = { miss: 0, hit: 1, owned: 2, busy: 3 } as const;

/** Why a present entry was refused and dropped. */
export const DropReason = { none: 0, checksum: 1, size: 2, header: 3, notOurs: 4, notFile: 5 } as const;
