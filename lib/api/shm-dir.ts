// Whether a mapping may share its pages with the user's other processes (the
// `shared` option, on by default), in which directory (`sharedDir`, else
// $S3MMAP_SHM_DIR, else /dev/shm/s3mmap-<uid>) and under which cap
// (`sharedSize`, else $S3MMAP_SHARED_SIZE, else half the tmpfs). The
// directory is created 0700 and checked as the disk cache's is: whoever can
// write there could plant the pages this user's mappings read. Where shared
// memory is missing or unusable the mapping is private and the note says
// why (stats().sharedNote, `s3mmap stat`). Caller's thread, at map time.
import { statfsSync } from 'node:fs';
import { S3MmapError } from '../shared/errors.js';
import type { SharedMemoryOptions } from '../shared/protocol.js';
import { formatBytes, parseSize } from '../shared/sizes.js';
import { preparePrivateDir } from './cache-dir.js';

export const SHM_DIR_ENV = 'S3MMAP_SHM_DIR';
export const SHARED_ENV = 'S3MMAP_SHARED';
export const SHARED_SIZE_ENV = 'S3MMAP_SHARED_SIZE';
/** statfs f_type of tmpfs: only shmem files can be registered for missing faults. */
const TMPFS_MAGIC = 0x01021994;
/** Without sharedSize, shared pages may fill this share of the tmpfs. */
const DEFAULT_SHARE = 0.5;

export interface SharedRequest {
  shared?: boolean;
  sharedDir?: string;
  sharedSize?: number | string;
}

export function defaultShmDir(): string {
  return process.env[SHM_DIR_ENV] || `/dev/shm/s3mmap-${process.geteuid?.() ?? 0}`;
}

/** The shared memory options to serve with, or null and why not. Throws
 *  only for what the caller asked for explicitly and cannot have: a bad
 *  size, an unsafe directory given by name. */
export function resolveShared(o: SharedRequest): { shared: SharedMemoryOptions | null; note: string | null } {
  const env = process.env[SHARED_ENV];
  const on = o.shared ?? !(env === '0' || env === 'false' || env === 'off');
  let cap: number | null = null;
  const sizeGiven = o.sharedSize ?? (process.env[SHARED_SIZE_ENV] || undefined);
  if (sizeGiven !== undefined) {
    try {
      cap = parseSize(sizeGiven);
    } catch {
      throw new S3MmapError('EINVAL', `s3mmap: invalid shared memory size '${sizeGiven}'; use bytes or a unit, e.g. 512m, 4g`);
    }
    if (cap <= 0) throw new S3MmapError('EINVAL', `s3mmap: shared memory size ${cap} must be more than 0; use shared: false (--no-shared) for private memory`);
  }
  if (!on) return { shared: null, note: o.shared === false ? 'off (shared: false)' : `off (${SHARED_ENV}=${env})` };
  const named = o.sharedDir !== undefined || !!process.env[SHM_DIR_ENV];
  const dir = o.sharedDir ?? defaultShmDir();
  let real: string;
  try {
    real = preparePrivateDir(dir, 'shared memory directory');
  } catch (err) {
    if (named && err instanceof S3MmapError) throw err;
    const why = err instanceof S3MmapError ? err.message.replace(/^s3mmap: /, '') : `${(err as NodeJS.ErrnoException).code ?? 'EIO'} on ${dir}`;
    return { shared: null, note: `no shared memory (${why})` };
  }
  const fs = statfsSync(real);
  if (fs.type !== TMPFS_MAGIC) return { shared: null, note: `no shared memory (${real} is not on a tmpfs)` };
  const total = fs.blocks * fs.bsize;
  cap ??= Math.floor(total * DEFAULT_SHARE);
  cap = Math.min(cap, total);
  return cap > 0 ? { shared: { dir: real, cap }, note: null } : { shared: null, note: `no shared memory (${real} holds ${formatBytes(total)})` };
}
