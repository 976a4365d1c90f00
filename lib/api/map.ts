// The map functions: an S3 object, a file, bytes in memory or any source
// becomes a Mapping. Caller's thread (normally the main thread): options are
// validated here, before anything is sent to the fault worker, which builds
// the source itself from the serializable spec (rule 12 in DESIGN.md).
import { resolve } from 'node:path';
import { formatS3Url, parseS3Url, type S3Location } from '../s3/url.js';
import type { MapReply, ServeOptions } from '../shared/protocol.js';
import type { RetryOptions, S3ClientOptions, SourceSpec } from '../sources/source.js';
import { Mapping } from './mapping.js';
import { DEFAULTS } from '../shared/defaults.js';
import { prepareCacheDir } from './cache-dir.js';
import { resolveOptions, type MapOptions } from './options.js';
import { resolveShared } from './shm-dir.js';
import { requireUffd } from './uffd-info.js';
import { faultWorker } from './worker-client.js';

export interface S3MapOptions extends MapOptions, S3ClientOptions {
  retry?: RetryOptions;
}

/** Maps s3://bucket/key (or { bucket, key }). One ranged GET of the first chunk pins size and ETag (a HEAD only where its answer lacks them); the rest is fetched on first touch. */
export async function mapObject(target: string | S3Location, options: S3MapOptions = {}): Promise<Mapping> {
  const loc = parseS3Url(target);
  const { endpoint, region, profile, credentials, forcePathStyle, caBundle, retry, ...mapOptions } = options;
  return mapSource(
    {
      kind: 's3',
      bucket: loc.bucket,
      key: loc.key,
      client: { endpoint, region, profile, credentials, forcePathStyle, caBundle },
      retry,
      // Filled in by mapSource from the validated options.
      concurrency: DEFAULTS.concurrency,
    },
    mapOptions,
    formatS3Url(loc),
  );
}

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

/** Maps any source. The source is built in the fault worker from `spec`. */
export async function mapSource(spec: SourceSpec, options: MapOptions = {}, label = describe(spec)): Promise<Mapping> {
  const opts = resolveOptions(options, label, endpointOf(spec));
  requireUffd(opts.userModeOnly);
  const { userModeOnly, ...resolved } = opts;
  // The S3 client's sockets follow the mapping's validated concurrency.
  if (spec.kind === 's3') spec = { ...spec, concurrency: resolved.concurrency };
  // Files and bytes in memory are local already: no disk cache for them.
  const versioned = spec.kind === 's3' || spec.kind === 'module';
  // Only bytes with a version can be shared; the fault worker makes the choice (lib/worker/backing.ts).
  const shared = versioned ? resolveShared(options) : { shared: null, note: `not shared (${spec.kind === 'file' ? 'a local file is in the page cache already' : 'bytes in memory'})` };
  const serve: ServeOptions = {
    ...resolved,
    diskCache: resolved.diskCache && versioned ? prepareCacheDir(resolved.diskCache) : null,
    shared: shared.shared,
    sharedNote: shared.note,
  };
  const reply = await faultWorker.request<MapReply>({ type: 'map', spec, serve, userModeOnly });
  return new Mapping(reply, serve.chunkSize, label, serve.plan);
}

/** Whose network a source's GETs cross: mappings of one endpoint share a model. */
export function endpointOf(spec: SourceSpec): string {
  switch (spec.kind) {
    case 's3':
      return `s3:${spec.client?.endpoint ?? spec.client?.region ?? 'aws'}`;
    case 'module':
      return `module:${spec.path}`;
    default:
      return spec.kind;
  }
}

function describe(spec: SourceSpec): string {
  switch (spec.kind) {
    case 'file':
      return spec.path;
    case 's3':
      return `s3://${spec.bucket}/${spec.key}`;
    case 'module':
      return spec.path;
    default:
      return 'memory';
  }
}
