// The server side's page cache before each cell: MinIO's files for the
// measured object evicted (or the whole cache dropped, or the files read in),
// so every system meets the same cold (or warm) server. Orchestrator process,
// main thread; these calls block it, which is why the proxy has its own thread.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type ServerCache = 'drop' | 'drop-all' | 'warm';

/** The whole page cache (and dentries, inodes): `sync; echo 3 > /proc/sys/vm/drop_caches`. */
function dropAllCaches(): string | undefined {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((e) => filesUnder(join(path, e)));
}

/** posix_fadvise DONTNEED through `dd iflag=nocache count=0`: MinIO reads that
 *  object cold from disk while code and everything else stays cached. */
function evictPath(path: string): string | undefined {
  for (const f of filesUnder(path)) {
    const r = spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
    if (r.status !== 0) return `dd iflag=nocache failed on ${f}: ${(r.stderr || r.error?.message || '').trim()}`;
  }
  return undefined;
}

/** Reads every file under `path` once, so it sits in the page cache. */
export function warmPath(path: string): void {
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (const f of filesUnder(path)) {
    const fd = openSync(f, 'r');
    try {
      while (readSync(fd, buf, 0, buf.length, null) > 0) { /* reading is the point */ }
    } finally {
      closeSync(fd);
    }
  }
}

/** Puts the object's server files in the state `mode` asks for; returns why it could not. */
export function prepareServerCache(mode: ServerCache, objectDir: string): string | undefined {
  const failed = mode === 'drop-all' ? dropAllCaches() : evictPath(objectDir);
  if (mode === 'warm') warmPath(objectDir);
  return failed;
}

export const SERVER_CACHE_TEXT: Record<ServerCache, string> = {
  drop: 'the object\'s MinIO files evicted from the page cache',
  'drop-all': 'the whole page cache dropped',
  warm: 'the object\'s MinIO files read into the page cache',
};
