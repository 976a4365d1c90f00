// The public API of s3mmap. Main thread (or whichever thread maps).
import { resolve } from 'node:path';
import { mapSource, type Mapping } from './api/mapping.js';
import type { MapOptions } from './api/options.js';

export { attach, Mapping, mapSource, type Advice, type MappingHandle } from './api/mapping.js';
export { S3MmapError } from './shared/errors.js';
export { DEFAULTS, type MapOptions } from './api/options.js';
export { formatBytes, parseSize } from './shared/sizes.js';
export type { MappingStats } from './shared/stats.js';
export type { RetryOptions, S3ClientOptions, Source, SourceInfo, SourceSpec } from './sources/source.js';
export { uffdInfo, type UffdInfo, type UffdMode } from './api/uffd-info.js';

/** Maps a local file, fetched page by page like an S3 object. */
export function mapFile(path: string, options?: MapOptions): Promise<Mapping> {
  return mapSource({ kind: 'file', path: resolve(path) }, options);
}

/** Maps bytes already in memory (copied once into shared memory unless they are shared already). */
export function mapBytes(data: Uint8Array | SharedArrayBuffer, options?: MapOptions): Promise<Mapping> {
  let sab: SharedArrayBuffer;
  let length: number;
  if (data instanceof SharedArrayBuffer) {
    sab = data;
    length = data.byteLength;
  } else if (data.buffer instanceof SharedArrayBuffer && data.byteOffset === 0) {
    sab = data.buffer;
    length = data.byteLength;
  } else {
    sab = new SharedArrayBuffer(data.byteLength);
    new Uint8Array(sab).set(data);
    length = data.byteLength;
  }
  return mapSource({ kind: 'memory', data: sab, length }, options);
}
export { mapObject, type S3MapOptions } from './api/map-object.js';
export { formatS3Url, parseS3Url, type S3Location } from './s3/url.js';
