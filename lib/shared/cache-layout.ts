// Where the disk cache keeps what, shared by the fault worker (reads and
// writes entries) and the caller's thread (`s3mmap cache`, the directory
// checks). Naming, hashing and the cap in force (one statfs); sha256 and
// statfs here are the synchronous kind, once per mapping, never on the libuv
// pool.
//
//   DIR/v1/                        0700; the format version
//     lock                         flock'ed by the cleanup pass and `cache clear`
//     usage                        one page, MAP_SHARED by every process: bytes held
//     <object>/                    sha256(endpoint, bucket, key), 32 hex digits
//       object                     {"endpoint","bucket","key"}: what `s3mmap cache` shows
//       .tmp-<pid>-object          the object file being written
//       <version>/                 sha256(ETag), 32 hex digits
//         <block>                  entry: 64 KiB block number, 8+ hex digits
//         locks                    byte-range locked (one byte at each block's
//                                  offset) while a process fetches that block
//         .tmp-<pid>-<n>-<block>   an entry being written (renamed when whole)
//
// An entry is an 80-byte header (magic, format, the identity sha256 of
// endpoint+bucket+key+ETag, the block's offset and length, xxh64 of the data,
// xxh64 of the header) followed by the block's bytes; native/disk_cache.cc
// writes and verifies it. Blocks are 64 KiB of the object whatever the
// mapping's chunk size, so mappings with different chunk sizes share them.
import { createHash } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { join } from 'node:path';

export const CACHE_FORMAT = 'v1';
export const CACHE_BLOCK = 64 * 1024;
export const ENTRY_HEADER = 80;

/** What names an object's bytes in the cache: no credential is part of it. */
export interface CacheIdentity {
  /** Origin of the S3 endpoint, e.g. http://127.0.0.1:9000 or https://s3.us-east-1.amazonaws.com. */
  endpoint: string;
  bucket: string;
  key: string;
  /** The ETag pinned at map time. */
  version: string;
}

function sha(parts: string[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${Buffer.byteLength(p)}:${p}`);
  return h.digest();
}

export const objectDirName = (id: Omit<CacheIdentity, 'version'>): string => sha([id.endpoint, id.bucket, id.key]).toString('hex').slice(0, 32);
export const versionDirName = (version: string): string => sha([version]).toString('hex').slice(0, 32);
/** The 32 bytes every entry of this object version carries in its header. */
export const identityBytes = (id: CacheIdentity): Buffer => sha(['s3mmap-cache-v1', id.endpoint, id.bucket, id.key, id.version]);

export const blockName = (block: number): string => block.toString(16).padStart(8, '0');

export const formatRoot = (dir: string): string => join(dir, CACHE_FORMAT);
export const lockPath = (dir: string): string => join(formatRoot(dir), 'lock');
export const usagePath = (dir: string): string => join(formatRoot(dir), 'usage');
export const META_FILE = 'object';
export const LOCKS_FILE = 'locks';

export const isEntryName = (name: string): boolean => /^[0-9a-f]{8,}$/.test(name);
/** A writer's temporary file (blocks and the object file are written to one,
 *  then renamed); `object.tmp-<pid>` is the object file's older name for it. */
export const isTempName = (name: string): boolean => name.startsWith('.tmp-') || name.startsWith(`${META_FILE}.tmp-`);

/** The cap in force: the one asked for, but never more than the filesystem
 *  of `dir` can hold, which is what the cache holds now (`used`) plus the
 *  space still free to unprivileged users (statfs). A cap the filesystem
 *  cannot reach would never start a cleanup pass: the disk would fill up
 *  instead, and every new object would find no room. */
export function cacheCap(dir: string, maxBytes: number, used: number): number {
  const s = statfsSync(dir);
  return Math.min(maxBytes, used + s.bavail * s.bsize);
}
