// An HTTP proxy on loopback in front of an S3 endpoint: counts what the server
// side sees (requests, ranged GETs, body bytes) and injects faults per request.
// Used by the tests and the benchmark; runs on the main thread of the process
// that starts it (vitest test file, bench runner), never in the fault worker.
//
// Clients are pointed at the proxy and sign for the proxy's host:port; the proxy
// forwards requests with their headers untouched (Host included) and MinIO
// checks the signature against that Host. The one fault that has to change a
// signed header (fullObject drops Range) re-signs, so it needs the credentials.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';

export type FaultMode =
  | 'pass'
  | 'error500' // 500 InternalError (S3 XML body)
  | 'slowDown' // 503 SlowDown (S3 XML body)
  | 'reset' // upstream headers and part of the body, then a TCP RST
  | 'stall' // never answer; the client has to give up
  | 'truncate' // part of the body, fewer bytes than Content-Length, then FIN
  | 'wrongRange' // Content-Range shifted by one byte, body untouched
  | 'fullObject' // Range removed upstream: 200 with the whole object
  | 'error429' // 429 TooManyRequests (S3 XML body), as S3-compatible servers throttle
  | 'error502' // 502 with an HTML body and no S3 code, as a load balancer answers
  | 'error504' // 504 with an HTML body and no S3 code
  | 'denied403'; // 403 AccessDenied (S3 XML body): access revoked after the object was mapped

export interface Fault {
  mode: FaultMode;
  /** Queue only: the method this entry waits for (default 'GET'; '*' for any). */
  method?: string;
  /** reset/truncate: body bytes sent before the cut (default half the body). */
  afterBytes?: number;
  /** Wait before acting, ms. */
  delayMs?: number;
}

export interface ProxyRequest {
  seq: number;
  method: string;
  path: string;
  range?: string;
  headers: http.IncomingHttpHeaders;
}

export type FaultRule = (req: ProxyRequest) => FaultMode | Fault | undefined | void;

export interface ProxyLogEntry {
  seq: number;
  method: string;
  path: string;
  range?: string;
  fault: FaultMode;
  /** Status sent to the client; undefined while stalled or if none was sent. */
  status?: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  /** When the request arrived and when its response ended or its socket
   *  closed (ms since the epoch, sub-millisecond): tests derive retry delays
   *  and overlap from these. */
  at: number;
  doneAt?: number;
}

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
  credentials?: { accessKeyId: string; secretAccessKey: string };
  port?: number;
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
  close(): Promise<void>;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

function s3Error(code: string, message: string, path: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<Resource>${path.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Resource><RequestId>s3-proxy</RequestId></Error>`;
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
    const [path] = (req.url ?? '/').split('?');
    const range = req.headers.range;
    const info: ProxyRequest = { seq: ++seq, method: req.method ?? 'GET', path, range, headers: req.headers };
    const fault = choose(info);
    const entry: ProxyLogEntry = { seq: info.seq, method: info.method, path, range, fault: fault.mode, bytes: 0, at: now() };
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

    const act = () => handle(req, res, fault, entry, sent, upstream, agent, opts.credentials);
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

function handle(
  req: http.IncomingMessage, res: http.ServerResponse, fault: Fault, entry: ProxyLogEntry,
  sent: (n: number) => void, upstream: URL, agent: http.Agent,
  credentials: S3ProxyOptions['credentials'],
): void {
  if (req.socket.destroyed) return; // gave up during a delay: nothing to forward
  const answer = (status: number, code: string, message: string, extra: http.OutgoingHttpHeaders = {}) => {
    req.resume(); // drain an upload so the connection stays usable
    const body = Buffer.from(s3Error(code, message, entry.path));
    entry.status = status;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': body.length, ...extra });
    res.end(body);
    sent(body.length);
  };

  const answerHtml = (status: number, text: string) => {
    req.resume();
    const body = Buffer.from(`<html><head><title>${status} ${text}</title></head><body><h1>${status} ${text}</h1></body></html>\n`);
    entry.status = status;
    res.writeHead(status, { 'content-type': 'text/html', 'content-length': body.length });
    res.end(body);
    sent(body.length);
  };

  switch (fault.mode) {
    case 'error500':
      return answer(500, 'InternalError', 'We encountered an internal error. Please try again.');
    case 'slowDown':
      return answer(503, 'SlowDown', 'Please reduce your request rate.', { 'retry-after': '1' });
    case 'error429':
      return answer(429, 'TooManyRequests', 'Please reduce your request rate.', { 'retry-after': '1' });
    case 'error502':
      return answerHtml(502, 'Bad Gateway');
    case 'error504':
      return answerHtml(504, 'Gateway Timeout');
    case 'denied403':
      return answer(403, 'AccessDenied', 'Access Denied.');
    case 'stall':
      return; // the socket stays open until the client, or close(), ends it
  }

  const headers: http.OutgoingHttpHeaders = { ...req.headers };
  for (const h of HOP_BY_HOP) delete headers[h];
  if (fault.mode === 'fullObject' && headers.range !== undefined) {
    delete headers.range;
    const err = resignWithout(req, headers, 'range', credentials);
    if (err) return answer(502, 'ProxyMisconfigured', err);
  }

  const ureq = http.request({
    host: upstream.hostname, port: upstream.port || 80, method: req.method, path: req.url, headers, agent,
  });
  req.pipe(ureq);
  res.on('close', () => { if (!res.writableFinished) ureq.destroy(); });
  ureq.on('error', (e) => {
    if (!res.headersSent) answer(502, 'BadGateway', `upstream: ${e.message}`);
    else res.destroy();
  });
  ureq.on('response', (ures) => {
    const out: http.OutgoingHttpHeaders = { ...ures.headers };
    for (const h of HOP_BY_HOP) delete out[h];
    if (fault.mode === 'wrongRange' && typeof out['content-range'] === 'string') {
      out['content-range'] = out['content-range'].replace(
        /^bytes (\d+)-(\d+)\//, (_, a, b) => `bytes ${Number(a) + 1}-${Number(b) + 1}/`);
    }
    entry.status = ures.statusCode;
    res.writeHead(ures.statusCode ?? 502, ures.statusMessage, out);

    const cut = fault.mode === 'reset' || fault.mode === 'truncate';
    const length = Number(ures.headers['content-length'] ?? NaN);
    const limit = !cut ? Infinity : fault.afterBytes ?? (Number.isFinite(length) ? Math.floor(length / 2) : 0);
    let n = 0;
    const finishCut = () => {
      ures.destroy(); // its socket holds an unread body: never reuse it
      const sock = res.socket;
      if (!sock) return;
      // libuv reports a RST that lands in the same wakeup as the last data as a plain EOF;
      // a pause lets the client read the partial body first, so it sees ECONNRESET.
      if (fault.mode === 'reset') setTimeout(() => sock.resetAndDestroy(), 50);
      else sock.end(); // FIN after what was written: a short body, not an error
    };
    if (cut && limit <= 0) {
      res.flushHeaders();
      res.write('', finishCut);
      return;
    }
    ures.on('data', (chunk: Buffer) => {
      if (n >= limit) return;
      const part = n + chunk.length > limit ? chunk.subarray(0, limit - n) : chunk;
      n += part.length;
      sent(part.length);
      const ok = res.write(part, n >= limit ? finishCut : undefined);
      if (n >= limit) ures.pause();
      else if (!ok) { ures.pause(); res.once('drain', () => ures.resume()); }
    });
    ures.on('end', () => { if (n < limit || !cut) res.end(); });
    ures.on('error', () => res.destroy());
  });
}

/** SigV4-sign the request again without one header, keeping its date and scope.
 *  Returns an error message when it cannot. */
function resignWithout(
  req: http.IncomingMessage, headers: http.OutgoingHttpHeaders, drop: string,
  credentials: S3ProxyOptions['credentials'],
): string | undefined {
  const auth = req.headers.authorization;
  if (!auth) return undefined; // anonymous: nothing signed
  const m = auth.match(/^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=[0-9a-f]+$/);
  if (!m) return 's3-proxy: cannot parse the Authorization header to re-sign';
  const [, akid, date, region, service, signedList] = m;
  if (!credentials || credentials.accessKeyId !== akid) {
    return `s3-proxy: fullObject needs the credentials of ${akid} to re-sign without ${drop}`;
  }
  const signed = signedList.split(';').filter((h) => h !== drop);
  const [rawPath, rawQuery = ''] = (req.url ?? '/').split('?');
  const query = rawQuery.split('&').filter(Boolean)
    .map((kv) => (kv.includes('=') ? kv : kv + '='))
    .sort((a, b) => {
      const [ka, va] = a.split('='); const [kb, vb] = b.split('=');
      return ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0;
    })
    .join('&');
  const canonicalHeaders = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payload = String(req.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
  const canonical = [req.method, rawPath, query, canonicalHeaders, signed.join(';'), payload].join('\n');
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s).digest();
  let key = hmac('AWS4' + credentials.secretAccessKey, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${akid}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return undefined;
}
