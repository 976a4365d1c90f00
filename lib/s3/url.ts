// Parses and formats S3 locations ('s3://bucket/key' or { bucket, key }) and
// checks endpoints. Pure functions, used on the main thread (API, CLI) before anything is sent to the
// fault worker, so a typo fails early with InvalidURL.
//
// The key is taken literally, as the AWS CLI does: no percent-decoding, and
// '?', '#', '+', spaces are part of the key. A WHATWG URL parser would cut the
// key at '?' or '#', so none is used.
import { S3MmapError } from '../shared/errors.js';

export interface S3Location {
  bucket: string;
  key: string;
}

export interface ParseS3UrlOptions {
  /** Accept 's3://bucket' and 's3://bucket/prefix/' (for listing). Default false. */
  allowPrefix?: boolean;
}

const SCHEME = /^s3:\/\//i;
// Current S3 naming rules; MinIO applies the same ones.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const MAX_KEY_BYTES = 1024;

/** Parse 's3://bucket/key' (or check a { bucket, key }). Throws S3MmapError
 *  code 'InvalidURL' with a message that shows the expected form. */
export function parseS3Url(input: string | S3Location, options: ParseS3UrlOptions = {}): S3Location {
  let bucket: string;
  let key: string;
  let shown: string;
  if (typeof input === 'string') {
    shown = input;
    if (!SCHEME.test(input)) {
      throw invalid(shown, "it must start with 's3://'");
    }
    const rest = input.replace(SCHEME, '');
    const slash = rest.indexOf('/');
    bucket = slash < 0 ? rest : rest.slice(0, slash);
    key = slash < 0 ? '' : rest.slice(slash + 1);
  } else if (input && typeof input === 'object' && typeof input.bucket === 'string' && typeof input.key === 'string') {
    ({ bucket, key } = input);
    shown = formatS3Url({ bucket, key });
  } else {
    throw new S3MmapError('InvalidURL', "s3mmap: expected an 's3://bucket/key' string or { bucket, key } with string fields");
  }

  if (bucket === '') throw invalid(shown, 'the bucket name is missing');
  checkBucket(bucket, shown);
  if (key === '' && !options.allowPrefix) throw invalid(shown, 'the object key is missing');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw invalid(shown, `the key is longer than ${MAX_KEY_BYTES} bytes`);
  }
  if (!options.allowPrefix && key.endsWith('/')) {
    throw invalid(shown, "the key ends with '/', which names a folder, not an object");
  }
  return { bucket, key };
}

/** 's3://bucket/key', with the key as is (for messages and the CLI). */
export function formatS3Url(loc: S3Location): string {
  return `s3://${loc.bucket}/${loc.key}`;
}

function checkBucket(bucket: string, shown: string): void {
  if (!BUCKET.test(bucket) || IPV4.test(bucket) || bucket.includes('..')) {
    throw invalid(
      shown,
      `'${bucket}' is not a valid bucket name (3-63 characters: lowercase letters, digits, '.', '-'; starting and ending with a letter or digit)`,
    );
  }
}

function invalid(shown: string, why: string): S3MmapError {
  return new S3MmapError('InvalidURL', `s3mmap: bad S3 URL '${shown}': ${why}; write it as s3://bucket/key`);
}

/** True for an http(s) URL with a host: the only endpoints an S3 client can use. */
export function isHttpEndpoint(endpoint: string): boolean {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    return false;
  }
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
}

/** An endpoint as a message may show it: no user info, which could hold tokens, and short. */
export function shownEndpoint(endpoint: string): string {
  return endpoint.replace(/\/\/[^/@]*@/, '//').slice(0, 80);
}
