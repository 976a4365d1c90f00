// The public API of s3mmap: re-exports only. The caller's thread (whichever
// thread maps); the fault worker is started behind it on first use.
export { mapBytes, mapFile, mapObject, mapSource, type S3MapOptions } from './api/map.js';
export { attach, Mapping, type Advice, type MappingHandle } from './api/mapping.js';
export type { MapOptions } from './api/options.js';
export { DEFAULTS } from './shared/defaults.js';
export { uffdInfo, type UffdInfo, type UffdMode } from './api/uffd-info.js';
export { formatS3Url, parseS3Url, type S3Location } from './s3/url.js';
export { S3MmapError } from './shared/errors.js';
export { formatBytes, parseSize } from './shared/sizes.js';
export type { MappingStats } from './shared/stats.js';
export type { RetryOptions, S3ClientOptions, Source, SourceInfo, SourceSpec } from './sources/source.js';
