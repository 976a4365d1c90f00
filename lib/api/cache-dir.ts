// Which disk-cache directory a mapping uses (the cacheDir option, else
// S3MMAP_CACHE_DIR) and whether it is safe: created private to the user
// (0700), refused with one line when it, or a directory above it, belongs to
// another user or can be written by others, since whoever can write there
// can plant the bytes another user's mappings install. The shared memory
// directory (shm-dir.ts) is checked the same way. Caller's thread (and
// the CLI), at map time: synchronous stat and mkdir, never on the fault path.
import { lstatSync, mkdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { formatRoot } from '../shared/cache-layout.js';
import { DEFAULTS } from '../shared/defaults.js';
import { S3MmapError } from '../shared/errors.js';
import type { DiskCacheOptions } from '../shared/protocol.js';
import { parseSize } from '../shared/sizes.js';

export const CACHE_DIR_ENV = 'S3MMAP_CACHE_DIR';
export const CACHE_SIZE_ENV = 'S3MMAP_CACHE_SIZE';
const CACHE_DIR = 'cache directory';

/** The directory and cap asked for, unchecked; null when the cache is off. */
export function requestedDiskCache(dir: string | false | undefined, size: number | string | undefined): { dir: string; maxBytes: number } | null {
  const chosen = dir === false ? '' : (dir ?? process.env[CACHE_DIR_ENV] ?? '');
  if (!chosen) return null;
  const sizeGiven = size ?? (process.env[CACHE_SIZE_ENV] || undefined);
  let maxBytes: number = DEFAULTS.diskCache.size;
  if (sizeGiven !== undefined) {
    try {
      maxBytes = parseSize(sizeGiven);
    } catch {
      throw new S3MmapError('EINVAL', `s3mmap: invalid disk cache size '${sizeGiven}'; use bytes or a unit, e.g. 512m, 4g`);
    }
  }
  if (maxBytes <= 0) throw new S3MmapError('EINVAL', `s3mmap: disk cache size ${maxBytes} must be more than 0; leave cacheDir unset to turn the cache off`);
  return { dir: chosen, maxBytes };
}

function refuse(dir: string, why: string, what: string): S3MmapError {
  return new S3MmapError('UnsafeCacheDir', `s3mmap: refusing the ${what} ${dir}: ${why}`);
}

function writableBy(st: Stats): string | null {
  const group = (st.mode & 0o020) !== 0;
  const others = (st.mode & 0o002) !== 0;
  if (!group && !others) return null;
  return group && others ? 'its group and others' : group ? 'its group' : 'others';
}

const mode = (st: Stats) => (st.mode & 0o7777).toString(8).padStart(4, '0');

/** The checks on one directory we will read chunks from: ours, and nobody else can write it. */
function checkOwn(dir: string, shown: string, uid: number, what: string): void {
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new S3MmapError('ENOTDIR', `s3mmap: the ${what} ${shown} is not a directory (${dir}); give a directory, or a path to create one at`);
  if (st.uid !== uid) throw refuse(shown, `${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}), so its owner could plant chunks for this user to install; use a directory of your own`, what);
  const w = writableBy(st);
  if (w) throw refuse(shown, `${dir} is writable by ${w} (mode ${mode(st)}), so they could plant chunks for this user to install; chmod 700 ${dir} or use another directory`, what);
}

/** Above the directory: each must be ours or root's, and writable by no one
 *  else unless sticky (as /tmp is), or the directory could be swapped. */
function checkAncestors(real: string, shown: string, uid: number, what: string): void {
  for (let d = dirname(real); ; d = dirname(d)) {
    const st = statSync(d);
    if (st.uid !== uid && st.uid !== 0) throw refuse(shown, `it is inside ${d}, which belongs to uid ${st.uid}, who could replace it; use a directory under your own or a system directory`, what);
    const w = writableBy(st);
    if (w && (st.mode & 0o1000) === 0) throw refuse(shown, `it is inside ${d}, which is writable by ${w} (mode ${mode(st)}) without the sticky bit, so they could replace it; use a directory under your own`, what);
    if (d === dirname(d)) return;
  }
}

/** Creates `dir` (0700) if missing and checks that it, and every directory
 *  above it, is safe to take bytes from: the disk cache's directory and the
 *  shared memory directory (lib/api/shm-dir.ts). Returns its real path;
 *  throws UnsafeCacheDir, or the errno of what failed. */
export function preparePrivateDir(dir: string, what: string): string {
  const real = realpathSync(ensureDir(dir));
  const uid = process.geteuid?.() ?? 0;
  checkOwn(real, dir, uid, what);
  checkAncestors(real, dir, uid, what);
  return real;
}

function ensureDir(dir: string): string {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return abs;
}

/** Creates (0700) and checks the directory; the options the fault worker serves with. */
export function prepareCacheDir(requested: { dir: string; maxBytes: number }): DiskCacheOptions {
  const shown = requested.dir;
  const abs = resolve(requested.dir);
  const uid = process.geteuid?.() ?? 0;
  try {
    mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    if (code !== 'EEXIST') throw new S3MmapError(code, `s3mmap: cannot create the cache directory ${shown} (${code}); check the path and its permissions, or choose another (cacheDir, --cache, ${CACHE_DIR_ENV})`, { cause: err });
  }
  let real: string;
  try {
    real = realpathSync(abs);
    checkOwn(real, shown, uid, CACHE_DIR);
    checkAncestors(real, shown, uid, CACHE_DIR);
    const root = formatRoot(real);
    mkdirSync(root, { mode: 0o700, recursive: true });
    checkOwn(root, shown, uid, CACHE_DIR);
  } catch (err) {
    if (err instanceof S3MmapError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new S3MmapError(code, `s3mmap: cannot use the cache directory ${shown} (${code}); check the path and its permissions`, { cause: err });
  }
  return { dir: real, maxBytes: requested.maxBytes };
}
