// Builds an S3Client from serializable S3ClientOptions, with everything a
// request needs resolved up front. Runs in the fault worker (the S3 source
// connects there, design rule 12) and on the main thread for the CLI.
//
// Why resolve up front: the libuv threadpool may be full of threads parked in
// page faults that this client must serve (design rule 3). dns.lookup and
// fs reads of ~/.aws files both run on that pool, so after connectS3()
// returns, a request must need neither: credentials are static, the region is
// a string, and the agents' `lookup` answers from a cache filled at connect
// time (a host first seen later goes to c-ares, which does not use the pool).
import dns from 'node:dns';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
// A dependency of @aws-sdk/client-s3 (hoisted); imported for its timeouts and agents.
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { S3MmapError } from '../shared/errors.js';
import type { S3ClientOptions } from '../sources/source.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Set for temporary credentials (STS, SSO, IMDS); they are refreshed before it. */
  expiration?: Date;
}

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

export interface S3Tuning {
  /** Sockets per endpoint (default 8): one per concurrent ranged GET. */
  concurrency?: number;
  /** TCP (and TLS) connect timeout, ms (default 3000). */
  connectionTimeoutMs?: number;
  /** Time to response headers, ms (default 10000). The body is the caller's to time. */
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
  close(): void;
}

export const DEFAULT_REGION = 'us-east-1';
const DEFAULT_CONCURRENCY = 8;
const DEFAULT_CONNECTION_TIMEOUT_MS = 3000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
// Refresh temporary credentials this long before they expire. The SDK starts
// asking its provider again 5 minutes before expiry; ours must be fresh by then.
const REFRESH_BEFORE_EXPIRY_MS = 10 * 60_000;
const MIN_REFRESH_DELAY_MS = 30_000;

/** Apply options, environment and shared config. May read files and call the
 *  network (SSO, IMDS): call it where the libuv pool is free. */
export async function resolveS3Options(options: S3ClientOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedS3Options> {
  const endpoint = options.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
  if (endpoint !== undefined) checkEndpoint(endpoint);
  const profile = options.profile ?? (env.AWS_PROFILE || undefined);
  const region = options.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || (await profileRegion(profile)) || DEFAULT_REGION);
  const credentials = options.credentials ? { ...options.credentials } : await chainCredentials(profile);
  const caBundle = options.caBundle ?? (env.AWS_CA_BUNDLE || undefined);
  const caBundleFrom = options.caBundle !== undefined ? 'caBundle' as const : caBundle ? 'AWS_CA_BUNDLE' as const : undefined;
  return { endpoint, region, forcePathStyle: options.forcePathStyle ?? endpoint !== undefined, profile, credentials, caBundle, caBundleFrom };
}

/** Resolve options, the endpoint's address and the credentials, and build a
 *  client whose requests use none of the libuv pool once freezeDns() ran. */
export async function connectS3(options: S3ClientOptions = {}, tuning: S3Tuning = {}, signal?: AbortSignal): Promise<S3Connection> {
  const resolved = await abortable(resolveS3Options(options), signal);
  const cache = new HostCache();
  if (resolved.endpoint) await abortable(cache.prime(new URL(resolved.endpoint).hostname), signal);

  const agentOptions = {
    keepAlive: true,
    maxSockets: tuning.concurrency ?? DEFAULT_CONCURRENCY,
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
      connectionTimeout: tuning.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
      requestTimeout: tuning.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    }),
  });

  return {
    client,
    options: resolved,
    endpointLabel: endpointLabel(resolved),
    secrets: () => [current.secretAccessKey, current.sessionToken ?? '', resolved.credentials.secretAccessKey, resolved.credentials.sessionToken ?? ''].filter(Boolean),
    freezeDns: () => cache.freeze(),
    close: () => {
      refresher.stop();
      client.destroy();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** An origin for messages: scheme, host, port; never user info. */
export function endpointLabel(o: Pick<ResolvedS3Options, 'endpoint' | 'region'>): string {
  if (!o.endpoint) return `https://s3.${o.region}.amazonaws.com`;
  const u = new URL(o.endpoint);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** The PEM text of a CA bundle, read while the libuv pool may still be used (connect time). */
async function readCaBundle(path: string, from: string): Promise<string> {
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
  let u: URL | undefined;
  try {
    u = new URL(endpoint);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) {
    // Shown without anything after the host, which could hold user info or tokens.
    const shown = endpoint.replace(/\/\/[^/@]*@/, '//').slice(0, 80);
    throw new S3MmapError('InvalidURL', `s3mmap: bad S3 endpoint '${shown}'; write it as http://host:port or https://host`);
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

async function chainCredentials(profile: string | undefined): Promise<S3Credentials> {
  // The SDK's default chain: env, shared credentials/config (profile, SSO,
  // process, web identity), ECS/EC2 metadata.
  const probe = new S3Client({ profile });
  try {
    const c = await probe.config.credentials();
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration };
  } catch (err) {
    const where = profile ? `profile '${profile}'` : 'the environment, ~/.aws/credentials, ~/.aws/config or instance metadata';
    throw new S3MmapError(
      'NoCredentials',
      `s3mmap: no AWS credentials found in ${where}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile, or pass credentials`,
      { cause: err },
    );
  } finally {
    probe.destroy();
  }
}

/** Re-runs the credential chain in the background before temporary
 *  credentials expire. Requests never wait for it: until it succeeds they keep
 *  the old credentials, which are still valid for minutes. */
class CredentialRefresher {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  constructor(
    private readonly profile: string | undefined,
    private readonly enabled: boolean,
    private readonly update: (c: S3Credentials) => void,
  ) {}

  schedule(c: S3Credentials): void {
    if (!this.enabled || this.stopped || !c.expiration) return;
    const delay = Math.max(MIN_REFRESH_DELAY_MS, c.expiration.getTime() - Date.now() - REFRESH_BEFORE_EXPIRY_MS);
    this.timer = setTimeout(() => void this.refresh(), delay);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    try {
      const c = await chainCredentials(this.profile);
      if (this.stopped) return;
      this.update(c);
      this.schedule(c);
    } catch {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.refresh(), MIN_REFRESH_DELAY_MS);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** Host → addresses, filled by dns.lookup while the pool may be used and by
 *  c-ares afterwards. Addresses are kept for the life of the connection. */
class HostCache {
  private readonly hosts = new Map<string, dns.LookupAddress[]>();
  private frozen = false;
  private resolver: dns.Resolver | undefined;

  freeze(): void {
    this.frozen = true;
  }

  /** Resolve a host now (getaddrinfo: /etc/hosts, nsswitch), while the pool is free. */
  async prime(hostname: string): Promise<void> {
    const host = unbracket(hostname);
    if (net.isIP(host) || this.hosts.has(host)) return;
    try {
      this.hosts.set(host, await dns.promises.lookup(host, { all: true }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'ENOTFOUND';
      throw new S3MmapError('ENOTFOUND', `s3mmap: cannot resolve the S3 endpoint host '${host}' (${code}); check the endpoint URL and DNS`, { cause: err });
    }
  }

  readonly lookup = (hostname: string, options: dns.LookupOptions | number | LookupCallback, callback?: LookupCallback): void => {
    const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
    const opts: dns.LookupOptions = typeof options === 'object' ? options : typeof options === 'number' ? { family: options } : {};
    const host = unbracket(hostname);
    const cached = this.hosts.get(host);
    if (cached) return answer(cached, opts, cb);
    this.fill(host).then((addrs) => answer(addrs, opts, cb), (err: NodeJS.ErrnoException) => cb(err, ''));
  };

  private async fill(host: string): Promise<dns.LookupAddress[]> {
    if (!this.frozen) {
      const addrs = await dns.promises.lookup(host, { all: true });
      this.hosts.set(host, addrs);
      return addrs;
    }
    const r = (this.resolver ??= new dns.Resolver({ timeout: 3000, tries: 2 }));
    const v4 = await new Promise<string[]>((res) => r.resolve4(host, (e, a) => res(e ? [] : a)));
    const v6 = v4.length ? [] : await new Promise<string[]>((res) => r.resolve6(host, (e, a) => res(e ? [] : a)));
    const addrs = [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
    if (!addrs.length) throw Object.assign(new Error(`queryA ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
    this.hosts.set(host, addrs);
    return addrs;
  }
}

function answer(addrs: dns.LookupAddress[], opts: dns.LookupOptions, cb: LookupCallback): void {
  const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : opts.family;
  const usable = family === 4 || family === 6 ? addrs.filter((a) => a.family === family) : addrs;
  // Answer on a later tick, as dns.lookup does; net relies on that ordering.
  process.nextTick(() => {
    if (!usable.length) return cb(Object.assign(new Error('no address of the requested family'), { code: 'ENOTFOUND' }), '');
    if (opts.all) return cb(null, usable);
    cb(null, usable[0].address, usable[0].family);
  });
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
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
