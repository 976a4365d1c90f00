// Looking into a disk cache directory and emptying it, all of it or one
// object's entries: what `s3mmap cache` shows and does. Caller's thread (the
// CLI's main thread, a script): synchronous fs, nothing here runs while a
// fault waits. Clearing takes the directory's lock exclusively, as a cleanup
// pass does, so no write is half done when entries go and the shared usage
// counter is set to what is left; readers of removed entries fetch again.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheCap, CACHE_BLOCK, ENTRY_HEADER, formatRoot, isEntryName, lockPath, META_FILE, usagePath, type CacheIdentity } from '../shared/cache-layout.js';
import { S3MmapError } from '../shared/errors.js';
import { io } from '../shared/native-io.js';
import { prepareCacheDir } from './cache-dir.js';

export interface CachedObject {
  /** s3://bucket/key, or null when the object's description is missing. */
  url: string | null;
  endpoint: string | null;
  bucket: string | null;
  key: string | null;
  /** Cached versions (ETags) of it. */
  versions: number;
  entries: number;
  bytes: number;
  /** When an entry of it was last read or written (ms since the epoch). */
  lastUsedMs: number;
  /** Its directory, for clearDiskCache(). */
  dir: string;
}

export interface DiskCacheInfo {
  dir: string;
  exists: boolean;
  entries: number;
  /** Entries, headers included, as found now. */
  bytes: number;
  /** What the shared counter says the directory holds. */
  counted: number;
  objects: CachedObject[];
}

function objectsIn(root: string): CachedObject[] {
  const out: CachedObject[] = [];
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    let st;
    try {
      st = statSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    let meta: Partial<CacheIdentity> = {};
    try {
      meta = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as Partial<CacheIdentity>;
    } catch {}
    const o: CachedObject = {
      url: meta.bucket && meta.key !== undefined ? `s3://${meta.bucket}/${meta.key}` : null,
      endpoint: meta.endpoint ?? null, bucket: meta.bucket ?? null, key: meta.key ?? null,
      versions: 0, entries: 0, bytes: 0, lastUsedMs: 0, dir,
    };
    for (const version of readdirSync(dir)) {
      const vd = join(dir, version);
      try {
        if (!statSync(vd).isDirectory()) continue;
      } catch {
        continue;
      }
      o.versions++;
      for (const file of readdirSync(vd)) {
        if (!isEntryName(file)) continue;
        try {
          const es = statSync(join(vd, file));
          o.entries++;
          o.bytes += es.size;
          o.lastUsedMs = Math.max(o.lastUsedMs, es.atimeMs, es.mtimeMs);
        } catch {} // removed meanwhile
      }
    }
    out.push(o);
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** What the directory holds, per object. A directory that does not exist holds nothing (it is not created). */
export function diskCacheInfo(dir: string): DiskCacheInfo {
  if (!existsSync(dir)) return { dir, exists: false, entries: 0, bytes: 0, counted: 0, objects: [] };
  const checked = prepareCacheDir({ dir, maxBytes: 1 }).dir;
  const objects = objectsIn(formatRoot(checked));
  return {
    dir: checked,
    exists: true,
    entries: objects.reduce((n, o) => n + o.entries, 0),
    bytes: objects.reduce((n, o) => n + o.bytes, 0),
    counted: io.cacheCounterGet(io.cacheCounterOpen(usagePath(checked))),
    objects,
  };
}

/** The cap a mapping asking for `maxBytes` gets in `dir` (never more than
 *  its filesystem can hold), what the cache holds, and whether the
 *  filesystem is too full for one more entry: then mappings run without the
 *  cache until room is made (stats().diskCacheBypassed). Null when the
 *  directory does not exist yet. */
export function diskCacheRoom(dir: string, maxBytes: number): { cap: number; used: number; full: boolean } | null {
  if (!existsSync(dir)) return null;
  let used = 0;
  try {
    used = io.cacheCounterGet(io.cacheCounterOpen(usagePath(dir)));
  } catch {
    // No room even for the counter's page: the cache holds nothing countable.
  }
  const cap = cacheCap(dir, maxBytes, used);
  return { cap, used, full: cap < CACHE_BLOCK + ENTRY_HEADER };
}

/** Removes every cached object, or those of `target` (any endpoint, every
 *  version); resolves with what was removed. */
export async function clearDiskCache(dir: string, target?: { bucket: string; key: string }): Promise<{ objects: CachedObject[]; bytes: number }> {
  if (!existsSync(dir)) return { objects: [], bytes: 0 };
  const checked = prepareCacheDir({ dir, maxBytes: 1 }).dir;
  const counter = io.cacheCounterOpen(usagePath(checked));
  const fd = await lockExclusive(checked, counter);
  try {
    const root = formatRoot(checked);
    const all = objectsIn(root);
    const doomed = target ? all.filter((o) => o.bucket === target.bucket && o.key === target.key) : all;
    for (const o of doomed) rmSync(o.dir, { recursive: true, force: true });
    const left = all.filter((o) => !doomed.includes(o)).reduce((n, o) => n + o.bytes, 0);
    io.cacheCounterSet(counter, left);
    return { objects: doomed, bytes: doomed.reduce((n, o) => n + o.bytes, 0) };
  } finally {
    io.cacheUnlock(fd);
  }
}

async function lockExclusive(dir: string, counter: number): Promise<number> {
  const path = lockPath(dir);
  try {
    for (let waited = 0; waited < 30_000; waited += 10) {
      // Writers step aside while this is set: they hold the lock only for a moment each.
      io.cacheCounterPassWaiting(counter, Date.now());
      const fd = io.cacheTryLock(path);
      if (fd > 0) return fd;
      if (fd < 0) throw new S3MmapError('EIO', `s3mmap: cannot lock the cache directory ${dir} (errno ${-fd})`);
      await sleep(10);
    }
  } finally {
    io.cacheCounterPassWaiting(counter, 0);
  }
  throw new S3MmapError('ETIMEDOUT', `s3mmap: the cache directory ${dir} stayed locked for 30 s (another process is cleaning it up or clearing it); try again`);
}
