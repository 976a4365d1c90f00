// Where a mapping's pages live, chosen once at map time and nowhere else:
// shared memory (one tmpfs file per object version, every process of the
// user mapping it) or private memory, with the reason when private. Fault
// worker thread, after the source is open (the name needs the pinned ETag,
// the choice the object's size). DESIGN.md: "Shared regions".
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { native } from '../shared/native.js';
import type { Backing, ServeOptions } from '../shared/protocol.js';
import type { CacheIdentity } from '../shared/cache-layout.js';
import { whyPrivate } from '../shared/sharing.js';

export interface SharedFile {
  fd: number;
  path: string;
  dir: string;
  cap: number;
}

/** The file an object version's pages live in: endpoint, bucket, key, ETag and chunk size name it. */
export function sharedFileName(id: CacheIdentity, chunkSize: number): string {
  const h = createHash('sha256');
  for (const p of ['s3mmap-shm-v1', id.endpoint, id.bucket, id.key, id.version, String(chunkSize)]) h.update(`${Buffer.byteLength(p)}:${p}`);
  return `${h.digest('hex').slice(0, 32)}.pages`;
}

/** Shared when it was asked for, the source names a version, the object
 *  fits the cap, and the file opens; else private and why. */
export function chooseBacking(serve: ServeOptions, identity: CacheIdentity | undefined, size: number, length: number): { file: SharedFile | null; backing: Backing } {
  const privately = (note: string) => ({ file: null, backing: { shared: false, note } });
  const why = whyPrivate(serve, identity !== undefined, size, length);
  if (why !== null || !identity) return privately(why ?? 'off');
  const opts = serve.shared!;
  // Files no process holds any more (every holder killed) go first.
  native.shmSweep(opts.dir);
  const path = join(opts.dir, sharedFileName(identity, serve.chunkSize));
  try {
    return { file: { fd: native.shmOpen(path, length, serve.chunkSize), path, dir: opts.dir, cap: opts.cap }, backing: { shared: true, note: null } };
  } catch (err) {
    return privately(`no shared memory (${(err as Error).message})`);
  }
}
