// S3ClientOptions with the environment and the shared config files applied:
// endpoint (checked), region, path style, credentials, CA bundle. Runs where
// connectS3() runs; it may read files and call the network (SSO, IMDS), so it
// is called at connect time only, never on the fault path.
import { readFile } from 'node:fs/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { DEFAULTS } from '../shared/defaults.js';
import { S3MmapError } from '../shared/errors.js';
import { chainCredentials, type S3Credentials } from './credentials.js';
import type { S3ClientOptions } from './options.js';
import { isHttpEndpoint, shownEndpoint } from './url.js';

/** S3ClientOptions with the environment, the shared config files and the
 *  credential chain applied. */
export interface ResolvedS3Options {
  /** Custom endpoint (MinIO, ...); undefined means AWS. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  profile?: string;
  credentials: S3Credentials;
  /** PEM file of trusted CAs (option, else AWS_CA_BUNDLE); undefined: Node's roots. */
  caBundle?: string;
  /** Where caBundle came from, for messages. */
  caBundleFrom?: 'caBundle' | 'AWS_CA_BUNDLE';
}

/** Apply options, environment and shared config. May read files and call the
 *  network (SSO, IMDS): call it where the libuv pool is free. */
export async function resolveS3Options(options: S3ClientOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedS3Options> {
  const endpoint = options.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
  if (endpoint !== undefined) checkEndpoint(endpoint);
  const profile = options.profile ?? (env.AWS_PROFILE || undefined);
  const region = options.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || (await profileRegion(profile)) || DEFAULTS.region);
  const credentials = options.credentials ? { ...options.credentials } : await chainCredentials(profile);
  const caBundle = options.caBundle ?? (env.AWS_CA_BUNDLE || undefined);
  const caBundleFrom = options.caBundle !== undefined ? 'caBundle' as const : caBundle ? 'AWS_CA_BUNDLE' as const : undefined;
  return { endpoint, region, forcePathStyle: options.forcePathStyle ?? endpoint !== undefined, profile, credentials, caBundle, caBundleFrom };
}

/** An origin for messages: scheme, host, port; never user info. */
export function endpointLabel(o: Pick<ResolvedS3Options, 'endpoint' | 'region'>): string {
  if (!o.endpoint) return `https://s3.${o.region}.amazonaws.com`;
  const u = new URL(o.endpoint);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** The PEM text of a CA bundle, read while the libuv pool may still be used (connect time). */
export async function readCaBundle(path: string, from: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new S3MmapError(code, `s3mmap: cannot read the CA bundle '${path}' named by ${from} (${code}); point it at a PEM file of the CAs that signed the endpoint's certificate`, { cause: err });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new S3MmapError('InvalidCABundle', `s3mmap: the CA bundle '${path}' named by ${from} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

function checkEndpoint(endpoint: string): void {
  if (!isHttpEndpoint(endpoint)) {
    throw new S3MmapError('InvalidURL', `s3mmap: bad S3 endpoint '${shownEndpoint(endpoint)}'; write it as http://host:port or https://host`);
  }
}

async function profileRegion(profile: string | undefined): Promise<string | undefined> {
  // The SDK's own region chain reads AWS_REGION (checked already) then the
  // profile's `region` in ~/.aws/config; it throws when it finds none.
  const probe = new S3Client({ profile });
  try {
    return await probe.config.region();
  } catch {
    return undefined;
  } finally {
    probe.destroy();
  }
}
