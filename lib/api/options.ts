// Mapping options: defaults and validation, on the caller's thread before
// anything is mapped, so that bad values fail with one line saying what to use.
import { S3MmapError } from '../shared/errors.js';
import { native } from '../shared/native.js';
import { DEFAULTS } from '../shared/defaults.js';
import type { ServeOptions } from '../shared/protocol.js';
import { parseSize } from '../shared/sizes.js';
import { FILL_MODES, planFetch, type FillMode } from '../shared/plan.js';
import { requestedDiskCache } from './cache-dir.js';

/** Defaults: DEFAULTS (lib/shared/defaults.ts), with the figures behind them. */
export interface MapOptions {
  /** Install unit: bytes installed per fault. A multiple of the page size. */
  chunkSize?: number | string;
  /** Largest single read from the source; sequential streams and readahead
   *  are fetched in requests up to this large. */
  fetchSize?: number | string;
  /** Bytes of fetched chunks the worker keeps to reinstall evicted pages
   *  without a fetch; 0 disables. */
  cacheSize?: number | string;
  /** Largest readahead window for sequential access; 0 disables. */
  readahead?: number | string;
  /** Reads in flight at once. */
  concurrency?: number;
  /** Most bytes of the mapping kept resident; older chunks are dropped past
   *  it and fault back in on the next touch. 0: no cap. */
  residentBudget?: number | string;
  /** When to fetch the rest of the object in the background: 'auto' once
   *  the faults' GETs have cost half what that would (by the network model),
   *  'off' never, 'eager' at the first fault. Only into room that exists. */
  fill?: FillMode;
  /** Use a UFFD_USER_MODE_ONLY uffd even where full mode is available: kernel
   *  reads of cold pages (fs.write from the Buffer) then fail with EFAULT. */
  userModeOnly?: boolean;
  /** A directory for the disk cache, shared by every process of this user:
   *  fetched chunks are kept there and read back instead of fetched again.
   *  Default $S3MMAP_CACHE_DIR, else off; false turns it off. S3 objects only. */
  cacheDir?: string | false;
  /** Most bytes the disk cache directory holds; least recently used entries
   *  are deleted past it. Default $S3MMAP_CACHE_SIZE, else 4 GiB. */
  cacheDirSize?: number | string;
  /** Share the pages with every process of this user that maps the same
   *  object version: one copy in memory per machine (a tmpfs file per
   *  version). Default true ($S3MMAP_SHARED=0 turns it off); where shared
   *  memory is missing or too small, or with residentBudget, the mapping is
   *  private and stats().sharedNote says why. S3 objects only. */
  shared?: boolean;
  /** The directory of the shared pages: default $S3MMAP_SHM_DIR, else /dev/shm/s3mmap-<uid>. */
  sharedDir?: string;
  /** Most bytes all shared pages of this user may hold: the least recently
   *  installed chunks are freed for everyone past it. Default
   *  $S3MMAP_SHARED_SIZE, else half the tmpfs. */
  sharedSize?: number | string;
}

function size(name: string, value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    return parseSize(value);
  } catch {
    throw new S3MmapError('EINVAL', `s3mmap: invalid ${name} '${value}'; use bytes or a unit, e.g. 64k, 1m, 8MiB`);
  }
}

/** Everything but shared memory, which mapSource resolves for the sources
 *  that can use it (lib/api/shm-dir.ts). `endpoint`: whose network model the
 *  mapping shares (lib/shared/plan.ts). */
export function resolveOptions(o: MapOptions, label: string, endpoint = 'local'): Omit<ServeOptions, 'shared' | 'sharedNote'> & { userModeOnly: boolean } {
  const page = native.pageSize;
  const chunkSize = size('chunk size', o.chunkSize, DEFAULTS.chunkSize);
  if (chunkSize <= 0 || chunkSize % page !== 0) {
    throw new S3MmapError(
      'EINVAL',
      `s3mmap: chunk size ${chunkSize} is not a positive multiple of the page size (${page}); use e.g. 64k, 1m or 8m`,
    );
  }
  const fetchSize = Math.max(chunkSize, size('fetch size', o.fetchSize, DEFAULTS.fetchSize));
  const concurrency = o.concurrency ?? DEFAULTS.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new S3MmapError('EINVAL', `s3mmap: concurrency ${concurrency} must be an integer from 1 to 1024`);
  }
  const residentBudget = size('resident budget', o.residentBudget, DEFAULTS.residentBudget);
  if (residentBudget > 0 && residentBudget < chunkSize) {
    throw new S3MmapError('EINVAL', `s3mmap: resident budget ${residentBudget} is smaller than one chunk (${chunkSize})`);
  }
  let readahead = size('readahead', o.readahead, DEFAULTS.readahead);
  let fetch = Math.floor(fetchSize / chunkSize) * chunkSize;
  if (residentBudget > 0) {
    // One install must fit the budget, and readahead must not evict the
    // pages the reader is on before it gets to the ones fetched ahead.
    fetch = Math.max(chunkSize, Math.min(fetch, Math.floor(residentBudget / 4 / chunkSize) * chunkSize));
    readahead = Math.min(readahead, Math.floor(residentBudget / 2));
  }
  const fill = o.fill ?? DEFAULTS.fill;
  if (!FILL_MODES.includes(fill)) {
    throw new S3MmapError('EINVAL', `s3mmap: fill '${String(fill)}' is not one of ${FILL_MODES.join(', ')}`);
  }
  return {
    chunkSize,
    fetchSize: fetch,
    cacheSize: size('cache size', o.cacheSize, DEFAULTS.cacheSize),
    readahead,
    concurrency,
    residentBudget,
    fill,
    plan: planFetch({ chunkSize, fetchSize: fetch, readahead, residentBudget, concurrency, fill, endpoint }),
    label,
    // Checked (and created) by mapSource, only for sources that can use it.
    diskCache: requestedDiskCache(o.cacheDir, o.cacheDirSize),
    userModeOnly: o.userModeOnly ?? false,
  };
}
