// An HTTP proxy on loopback in front of an S3 endpoint: counts what the server
// side sees (requests, ranged GETs, body bytes), injects faults per request,
// and can lay a network profile over every response (network.ts: a
// first-byte delay per request, a bandwidth per response). Used by the tests
// and the benchmark; runs on the thread that starts it (a vitest test file's
// main thread, the bench's proxy thread), never in the fault worker.
//
// Clients are pointed at the proxy and sign for the proxy's host:port; the proxy
// forwards requests with their headers untouched (Host included) and MinIO
// checks the signature against that Host. The one fault that has to change a
// signed header (fullObject drops Range) re-signs, so it needs the credentials.
import http from 'node:http';
import type net from 'node:net';
import { firstByteDraws, PROFILES, type NetworkProfile } from './network.js';
import { handle } from './proxy-forward.js';
import type { Fault, FaultMode, ProxyLogEntry, RequestLine } from './proxy-types.js';
import type { Credentials } from './sigv4.js';

export type { Fault, FaultMode, ProxyLogEntry } from './proxy-types.js';

export interface ProxyRequest extends RequestLine {
  headers: http.IncomingHttpHeaders;
}

export type FaultRule = (req: ProxyRequest) => FaultMode | Fault | undefined | void;

export interface ProxyStats {
  /** TCP connections accepted from clients: with keep-alive, far fewer than requests. */
  connections: number;
  requests: number;
  byMethod: Record<string, number>;
  rangedGets: number;
  plainGets: number;
  /** Response body bytes sent to clients, over all requests. */
  bytesSent: number;
  faults: Partial<Record<FaultMode, number>>;
  /** Most requests in flight at once (arrived, response not yet ended). */
  peakInflight: number;
}

export interface S3ProxyOptions {
  /** e.g. http://127.0.0.1:9000 */
  upstream: string;
  rule?: FaultRule;
  /** Needed only by fullObject, to re-sign a request without its Range header. */
  credentials?: Credentials;
  port?: number;
  /** Default: loopback (nothing added). */
  network?: NetworkProfile;
}

export interface S3Proxy {
  /** http://127.0.0.1:PORT: point the S3 client here. */
  endpoint: string;
  port: number;
  stats(): ProxyStats;
  log(): ProxyLogEntry[];
  /** Zero the counters and the log, drop the queue and the rule. */
  reset(): void;
  /** Decides each request's fault when the queue has nothing for it. */
  setRule(rule?: FaultRule): void;
  /** Faults for the next matching requests, in order, one per request. */
  enqueue(...faults: (FaultMode | Fault)[]): void;
  /** Lays a profile over the requests that arrive from now on (reset() keeps it). */
  setNetwork(profile: NetworkProfile, seed?: number): void;
  /** Draws the profile's first-byte delays from the start of its seed's sequence again. */
  restartDraws(): void;
  network(): NetworkProfile;
  close(): Promise<void>;
}

function emptyStats(): ProxyStats {
  return { connections: 0, requests: 0, byMethod: {}, rangedGets: 0, plainGets: 0, bytesSent: 0, faults: {}, peakInflight: 0 };
}

export async function startS3Proxy(opts: S3ProxyOptions): Promise<S3Proxy> {
  const upstream = new URL(opts.upstream);
  if (upstream.protocol !== 'http:') throw new Error(`s3-proxy: upstream must be http://, got ${opts.upstream}`);
  const agent = new http.Agent({ keepAlive: true });
  let stats = emptyStats();
  let log: ProxyLogEntry[] = [];
  let queue: Fault[] = [];
  let rule = opts.rule;
  let seq = 0;
  // Requests in flight in the current generation (reset() starts a new one).
  let inflight = 0;
  let generation = 0;
  let network = opts.network ?? PROFILES.loopback;
  let drawSeed: number | undefined;
  let draw = firstByteDraws(network);

  // The queue's head waits for a request of its method, so a HEAD before a GET does not eat a GET's fault.
  const choose = (r: ProxyRequest): Fault => {
    const want = queue[0]?.method ?? 'GET';
    if (queue.length && (want === '*' || want === r.method)) return queue.shift()!;
    return pick(rule?.(r));
  };

  const server = http.createServer((req, res) => {
    // A client giving up mid-transfer is an expected event here, not a crash.
    req.on('error', () => {});
    res.on('error', () => {});
    const arrived = performance.now();
    const [path] = (req.url ?? '/').split('?');
    const range = req.headers.range;
    const info: ProxyRequest = { seq: ++seq, method: req.method ?? 'GET', path, range, headers: req.headers };
    const fault = choose(info);
    const entry: ProxyLogEntry = { seq: info.seq, method: info.method, path, range, fault: fault.mode, bytes: 0, at: now() };
    const net = { firstByteAt: arrived, bps: network.bandwidthBps };
    if (network.firstByteMedianMs || network.bandwidthBps) {
      entry.firstByteMs = draw();
      net.firstByteAt += entry.firstByteMs;
    }
    // Counters belong to the generation current at arrival: reset() between tests must not see stragglers.
    const s = stats;
    const gen = generation;
    inflight++;
    if (inflight > s.peakInflight) s.peakInflight = inflight;
    res.on('close', () => {
      entry.doneAt = now();
      if (gen === generation) inflight--;
    });
    log.push(entry);
    s.requests++;
    s.byMethod[info.method] = (s.byMethod[info.method] ?? 0) + 1;
    if (info.method === 'GET') range ? s.rangedGets++ : s.plainGets++;
    s.faults[fault.mode] = (s.faults[fault.mode] ?? 0) + 1;
    const sent = (n: number) => { entry.bytes += n; s.bytesSent += n; };

    const act = () => handle(req, res, fault, entry, sent, upstream, agent, opts.credentials, net);
    if (fault.delayMs) setTimeout(act, fault.delayMs);
    else act();
  });
  server.on('connection', () => { stats.connections++; });
  // Longer than the SDK's idle sockets live, so the client never reuses one we just closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stats: () => structuredClone(stats),
    log: () => log.map((e) => ({ ...e })),
    reset: () => { stats = emptyStats(); log = []; queue = []; rule = undefined; inflight = 0; generation++; },
    setRule: (r) => { rule = r; },
    enqueue: (...faults) => { queue.push(...faults.map(pick)); },
    setNetwork: (p, seed) => { network = p; drawSeed = seed; draw = firstByteDraws(p, seed); },
    restartDraws: () => { draw = firstByteDraws(network, drawSeed); },
    network: () => network,
    close: async () => {
      const closed = new Promise((r) => server.close(r));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

/** Wall-clock ms with the monotonic clock's resolution. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function pick(f: FaultMode | Fault | undefined | void): Fault {
  if (!f) return { mode: 'pass' };
  return typeof f === 'string' ? { mode: f } : f;
}
