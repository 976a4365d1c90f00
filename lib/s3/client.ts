// Builds an S3Client from serializable S3ClientOptions with everything a
// request needs resolved up front (config.ts, credentials.ts, host-cache.ts).
// Runs in the fault worker (the S3 source connects there, rule 12) and on the
// main thread for the CLI.
//
// Why up front: the libuv threadpool may be full of threads parked in page
// faults that this client must serve (rule 3). dns.lookup and fs reads of
// ~/.aws files both run on that pool, so after connectS3() returns, a request
// needs neither: credentials are static, the region is a string, and the
// agents' `lookup` answers from a cache filled at connect time.
import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
// A dependency of @aws-sdk/client-s3 (hoisted); imported for its timeouts and agents.
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { DEFAULTS } from '../shared/defaults.js';
import { S3MmapError } from '../shared/errors.js';
import { endpointLabel, readCaBundle, resolveS3Options, type ResolvedS3Options } from './config.js';
import { CredentialRefresher } from './credentials.js';
import { failureError, failureOf } from './failures.js';
import { HostCache } from './host-cache.js';
import type { S3ClientOptions } from './options.js';

export { endpointLabel, resolveS3Options, type ResolvedS3Options };

export interface S3Tuning {
  /** Sockets per endpoint (default DEFAULTS.concurrency): one per concurrent ranged GET. */
  concurrency?: number;
  /** TCP (and TLS) connect timeout, ms (default DEFAULTS.retry). */
  connectTimeoutMs?: number;
  /** Time to response headers, ms (default DEFAULTS.retry). The body is the caller's to time. */
  requestTimeoutMs?: number;
}

export interface S3Connection {
  client: S3Client;
  options: ResolvedS3Options;
  /** Where requests go, for messages: an origin without user info. */
  endpointLabel: string;
  /** Values to scrub from any text that may reach a message or a log. */
  secrets(): string[];
  /** From now on a cache miss in host lookup uses c-ares instead of
   *  dns.lookup, so no request can wait on the libuv pool. */
  freezeDns(): void;
  /** A request's error as one line (the S3 failure vocabulary), for callers
   *  other than the S3 source, e.g. the CLI's LIST. */
  explain(err: unknown, request: S3Request): S3MmapError;
  close(): void;
}

/** What a request was, for its error message. */
export interface S3Request {
  /** 'listing s3://b/p' */
  what: string;
  /** What access was denied to. */
  target: string;
  bucket?: string;
  key?: string;
  /** The permission a policy must grant, e.g. s3:ListBucket. */
  permission: string;
}

/** Resolve options, the endpoint's address and the credentials, and build a
 *  client whose requests use none of the libuv pool once freezeDns() ran. */
export async function connectS3(options: S3ClientOptions = {}, tuning: S3Tuning = {}, signal?: AbortSignal): Promise<S3Connection> {
  const connectTimeoutMs = tuning.connectTimeoutMs ?? DEFAULTS.retry.connectTimeoutMs;
  const requestTimeoutMs = tuning.requestTimeoutMs ?? DEFAULTS.retry.requestTimeoutMs;
  const resolved = await abortable(resolveS3Options(options), signal);
  const cache = new HostCache();
  if (resolved.endpoint) await abortable(cache.prime(new URL(resolved.endpoint).hostname), signal);

  const agentOptions = {
    keepAlive: true,
    maxSockets: tuning.concurrency ?? DEFAULTS.concurrency,
    lookup: cache.lookup,
  };
  // Read only for https (AWS itself, or an https endpoint): a bundle set for the
  // whole machine must not break a plain-http endpoint.
  const tls = !resolved.endpoint || new URL(resolved.endpoint).protocol === 'https:';
  const ca = tls && resolved.caBundle ? await abortable(readCaBundle(resolved.caBundle, resolved.caBundleFrom!), signal) : undefined;
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(ca ? { ...agentOptions, ca } : agentOptions);

  let current = resolved.credentials;
  const refresher = new CredentialRefresher(resolved.profile, options.credentials === undefined, (c) => { current = c; });
  refresher.schedule(current);

  const client = new S3Client({
    endpoint: resolved.endpoint,
    region: resolved.region,
    forcePathStyle: resolved.forcePathStyle,
    // A provider, not the object, so a background refresh reaches later requests.
    credentials: async () => current,
    // Retries belong to the caller: it knows the deadline and what is safe to repeat.
    maxAttempts: 1,
    // Ranged GETs carry no whole-object checksum; validating would buffer or fail.
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      httpAgent,
      httpsAgent,
      connectionTimeout: connectTimeoutMs,
      requestTimeout: requestTimeoutMs,
      throwOnRequestTimeout: true,
    }),
  });

  const label = endpointLabel(resolved);
  const secrets = () => [current.secretAccessKey, current.sessionToken ?? '', resolved.credentials.secretAccessKey, resolved.credentials.sessionToken ?? ''].filter(Boolean);
  return {
    client,
    options: resolved,
    endpointLabel: label,
    secrets,
    explain: (err, request) => err instanceof S3MmapError ? err : failureError(failureOf(err), {
      ...request,
      endpoint: label,
      accessKeyId: current.accessKeyId,
      region: resolved.region,
      connectTimeoutMs,
      requestTimeoutMs,
      caBundle: resolved.caBundle,
      caBundleFrom: resolved.caBundleFrom,
      again: 'try again',
    }, secrets()),
    freezeDns: () => cache.freeze(),
    close: () => {
      refresher.stop();
      client.destroy();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}
