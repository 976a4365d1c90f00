// Loads the native addon (build/Release/s3mmap_native.node) and types it. Used
// on the main thread (views, close) and in the fault worker (everything else).
// The addon does syscalls only; the functions on the fault path return bytes
// or -errno so that policy stays in TypeScript.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ProbeResult {
  ok: boolean;
  pageSize: number;
  mode?: number;
  features?: number;
  code?: string;
  errno?: number;
}

export interface RegionInfo {
  id: bigint;
  fd: number;
  address: number;
  length: number;
  /** 0 userfaultfd(2), 1 /dev/userfaultfd, 2 user-mode-only */
  mode: number;
  features: number;
  ioctls: number;
}

export interface NativeAddon {
  probe(userModeOnly: boolean): ProbeResult;
  createRegion(size: number, userModeOnly: boolean, wantFeatures: number): RegionInfo;
  view(id: bigint): ArrayBuffer;
  detach(ab: ArrayBuffer): void;
  unmap(id: bigint): void;
  takeReleased(): bigint[];
  destroyRegion(id: bigint): void;
  copy(fd: number, dst: number, src: Uint8Array, srcOffset: number, length: number, dontWake: boolean): number;
  wake(fd: number, start: number, length: number): number;
  zeropage(fd: number, start: number, length: number, dontWake: boolean): number;
  poison(fd: number, start: number, length: number, dontWake: boolean): number;
  drop(start: number, length: number): number;
  unregister(fd: number, start: number, length: number): number;
  readFaults(fd: number, out: Float64Array): number;
  /** fd -1 watches the process-wide "region released" eventfd. */
  watch(fd: number, onReadable: (status: number) => void): object;
  unwatch(handle: object): void;
  setExiting(code: number): void;
  armExitGuard(): void;
  liveRegions(): number;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function load(): NativeAddon {
  const path = join(root, 'build', 'Release', 's3mmap_native.node');
  try {
    return createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    const e = new Error(
      `s3mmap: the native addon is not built (${(err as Error).message.split('\n')[0]}); run \`npm rebuild s3mmap\` (needs g++, make, python3)`,
    );
    (e as Error & { code: string }).code = 'ENOADDON';
    throw e;
  }
}

export const native: NativeAddon = load();

/** Errno numbers the fault path reacts to (x86-64 and arm64 agree). */
export const Errno = {
  ENOENT: 2,
  ESRCH: 3,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EEXIST: 17,
  EINVAL: 22,
} as const;
