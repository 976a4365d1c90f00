// mapObject(): an S3 object as a mapping. Main thread; the S3 source itself is
// built in the fault worker from the serializable spec made here.
import { mapSource, type Mapping } from './mapping.js';
import { DEFAULTS, type MapOptions } from './options.js';
import { formatS3Url, parseS3Url, type S3Location } from '../s3/url.js';
import type { RetryOptions, S3ClientOptions } from '../sources/source.js';

export interface S3MapOptions extends MapOptions, S3ClientOptions {
  retry?: RetryOptions;
}

/** Maps s3://bucket/key (or { bucket, key }). HEAD pins size and ETag; bytes are fetched on first touch. */
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
      concurrency: mapOptions.concurrency ?? DEFAULTS.concurrency,
    },
    mapOptions,
    formatS3Url(loc),
  );
}
