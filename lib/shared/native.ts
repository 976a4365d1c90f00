// Loads the native addon (a from-source build in build/Release, else the
// prebuild for this platform and libc in prebuilds/, through node-gyp-build),
// types it, and names the numbers that cross the boundary (uffd modes,
// feature bits, errnos). Loaded on every thread that uses it: the caller's thread and
// reader workers (views), the fault worker (everything else). The addon does
// syscalls only; the functions on the fault path return bytes or -errno so
// that policy stays in TypeScript.
import { constants as bufferConstants } from 'node:buffer';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ProbeResult {
  ok: boolean;
  mode?: UffdOpenMode;
  features?: number;
  code?: string;
  errno?: number;
}

export interface RegionInfo {
  id: bigint;
  fd: number;
  address: number;
  length: number;
  mode: UffdOpenMode;
  features: number;
}

export interface NativeAddon {
  /** sysconf(_SC_PAGESIZE), read at load without opening anything. */
  readonly pageSize: number;
  probe(userModeOnly: boolean): ProbeResult;
  /** shmFd -1: private memory; else the shared pages file (shmOpen) is mapped MAP_SHARED. */
  createRegion(size: number, userModeOnly: boolean, wantFeatures: number, shmFd?: number): RegionInfo;
  /** Unmaps a region whatever its views: one whose first view failed, which nobody may hold. */
  unmap(id: bigint): void;
  /** Regions this fault worker serves that were unmapped since its last call. */
  takeReleased(): bigint[];
  /** Closes the uffd of a region this fault worker serves (or whose worker is
   *  gone); throws EPERM for one another live worker serves. */
  destroyRegion(id: bigint): void;
  liveRegions(): number;
  /** The longest ArrayBuffer view() may make; set at load from buffer.constants.MAX_LENGTH. */
  setViewLimit(maxLength: number): void;
  /** An ArrayBuffer over bytes [offset, offset+length) of the object. It holds
   *  the region mapped until release() or until it is collected. Throws a
   *  RangeError with code EFBIG past the view limit. */
  view(id: bigint, offset: number, length: number): ArrayBuffer;
  /** Length 0 now; the view still holds the region until release(). */
  detach(view: ArrayBuffer): void;
  /** Detaches and ends the view's hold: views of the region left (0: it was
   *  unmapped now), or -1 when this view had released it already. */
  release(view: ArrayBuffer): number;
  copy(fd: number, dst: number, src: Uint8Array, srcOffset: number, length: number, dontWake: boolean): number;
  /** copy() on the addon's I/O pool (a background job), through a dup of fd; src is kept alive until it settles. */
  copyAsync(fd: number, dst: number, src: Uint8Array, srcOffset: number, length: number, dontWake: boolean): Promise<number>;
  wake(fd: number, start: number, length: number): number;
  /** Shared memory full: the range becomes private memory holding src's
   *  bytes (one mremap, then registered again). 0 or -errno; wakes nobody. */
  patchPrivate(fd: number, dst: number, src: Uint8Array, srcOffset: number, length: number): number;
  poison(fd: number, start: number, length: number, dontWake: boolean): number;
  drop(start: number, length: number): number;
  /** Fault addresses into `out`, the faulting threads' ids into `tids` (0
   *  without UFFD_FEATURE_THREAD_ID): how many, or -errno. */
  readFaults(fd: number, out: Float64Array, tids: Uint32Array): number;
  /** fd -1 watches this fault worker's own "region released" eventfd. */
  watch(fd: number, onReadable: (status: number) => void): object;
  unwatch(handle: object): void;
  setExiting(code: number): void;
  /** Opens (creating, 0600) an object version's shared pages file, checked
   *  ours and private, sized for `length` bytes of pages in chunks of
   *  `chunkSize`, and holds it (flock shared). Throws an errno Error. */
  shmOpen(path: string, length: number, chunkSize: number): number;
  /** Lets go of the hold and closes; unlinks the file when no process holds it. True if unlinked. */
  shmClose(fd: number, path: string): boolean;
  /** 1 when every page of [offset, offset+length) is in the file, 0 if not, -errno. */
  shmPresent(fd: number, offset: number, length: number): number;
  /** 1 when another mapping (of any process) holds the same file, 0 if not, -errno. */
  shmOthers(fd: number): number;
  /** A chunk's fetch lock (OFD byte-range lock over [offset, offset+length)): 1 taken, 0 another holds it, -errno. */
  shmLock(fd: number, offset: number, length: number): number;
  shmUnlock(fd: number, offset: number, length: number): void;
  /** Records when the chunk was installed (0: punched) for the cap's LRU pass. */
  shmStamp(fd: number, length: number, chunk: number, ms: number): number;
  /** fallocate(PUNCH_HOLE): the pages are freed for every process. 0 or -errno. */
  shmPunch(fd: number, offset: number, length: number): number;
  /** The cap's pass over the directory: usage (-1 when another pass runs), bytes punched. */
  shmTrim(dir: string, cap: number, target: number): { usage: number; punched: number; busy: boolean };
  /** Unlinks the files no process holds; how many. */
  shmSweep(dir: string): number;
  armExitGuard(): void;
}

/** How the addon obtained a uffd (native/uffd.h UffdMode). */
export const UffdOpenMode = {
  /** userfaultfd(2), kernel-mode faults served */
  syscall: 0,
  /** /dev/userfaultfd, kernel-mode faults served */
  device: 1,
  /** UFFD_USER_MODE_ONLY: kernel-mode touches fail with EFAULT */
  userOnly: 2,
} as const;
export type UffdOpenMode = (typeof UffdOpenMode)[keyof typeof UffdOpenMode];

/** UFFD_FEATURE_* bits, in bit order (linux/userfaultfd.h). */
export const UffdFeature = {
  PAGEFAULT_FLAG_WP: 2 ** 0,
  EVENT_FORK: 2 ** 1,
  EVENT_REMAP: 2 ** 2,
  EVENT_REMOVE: 2 ** 3,
  MISSING_HUGETLBFS: 2 ** 4,
  MISSING_SHMEM: 2 ** 5,
  EVENT_UNMAP: 2 ** 6,
  SIGBUS: 2 ** 7,
  THREAD_ID: 2 ** 8,
  MINOR_HUGETLBFS: 2 ** 9,
  MINOR_SHMEM: 2 ** 10,
  EXACT_ADDRESS: 2 ** 11,
  WP_HUGETLBFS_SHMEM: 2 ** 12,
  WP_UNPOPULATED: 2 ** 13,
  POISON: 2 ** 14,
  WP_ASYNC: 2 ** 15,
  MOVE: 2 ** 16,
} as const;

/** Errno numbers the fault path reacts to (x86-64 and arm64 agree). */
export const Errno = {
  ENOENT: 2,
  ESRCH: 3,
  EAGAIN: 11,
  ENOMEM: 12,
  EEXIST: 17,
} as const;

/** The longest Buffer (and view) this Node makes: 4 GiB on Node 20, 2^53 - 1
 *  from Node 22 on. S3MMAP_SIMULATE_BUFFER_LIMIT lowers it, to try Node 20's
 *  limit on a later Node. */
export const maxBufferLength: number = Math.min(
  bufferConstants.MAX_LENGTH,
  Number(process.env.S3MMAP_SIMULATE_BUFFER_LIMIT) || Infinity,
);

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** What prebuilds/ holds ("linux-x64 (glibc, musl), ..."), for the error that none loads. */
function shippedPrebuilds(): string {
  const dir = join(root, 'prebuilds');
  const found = existsSync(dir)
    ? readdirSync(dir).map((platform) => {
        const libcs = readdirSync(join(dir, platform)).map((f) => /\.(glibc|musl)\.node$/.exec(f)?.[1]).filter(Boolean);
        return `${platform} (${libcs.join(', ')})`;
      })
    : [];
  return found.length ? `prebuilt for ${found.join(', ')}` : 'no prebuilt addons in this copy';
}

function load(): NativeAddon {
  // node-gyp-build takes build/Release (a from-source build) first, then the
  // prebuild for this platform, CPU and libc from prebuilds/.
  const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as (dir: string) => unknown;
  let addon: NativeAddon;
  try {
    addon = nodeGypBuild(root) as NativeAddon;
  } catch (err) {
    const e = new Error(
      `s3mmap: no native addon loads for ${process.platform}-${process.arch} (${(err as Error).message.split('\n')[0]}; ${shippedPrebuilds()}); to build it from source, install g++, make and python3 and run \`npm rebuild s3mmap\``,
    );
    (e as Error & { code: string }).code = 'ENOADDON';
    throw e;
  }
  // N-API cannot tell the addon how long an ArrayBuffer may be; asking V8 for
  // more than that aborted the process on Node 20.
  addon.setViewLimit(maxBufferLength);
  return addon;
}

export const native: NativeAddon = load();
