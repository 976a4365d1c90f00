// One request through the counting proxy (s3-proxy.ts): forwarded to the
// upstream S3 endpoint with its headers untouched, or answered by the fault it
// drew, and its response held back to the drawn first-byte time and paced to
// the network profile's bandwidth. Runs on the proxy's thread.
import http from 'node:http';
import { Pacer } from './network.js';
import type { Fault, ProxyLogEntry } from './proxy-types.js';
import { resignWithout, type Credentials } from './sigv4.js';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

function s3Error(code: string, message: string, path: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<Resource>${path.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Resource><RequestId>s3-proxy</RequestId></Error>`;
}

export function handle(
  req: http.IncomingMessage, res: http.ServerResponse, fault: Fault, entry: ProxyLogEntry,
  sent: (n: number) => void, upstream: URL, agent: http.Agent,
  credentials: Credentials | undefined, net: { firstByteAt: number; bps: number },
): void {
  if (req.socket.destroyed) return; // gave up during a delay: nothing to forward
  // Headers leave no earlier than the drawn first-byte time after arrival; the
  // upstream request is not held, so MinIO's own time counts within that delay, as S3's does.
  // A timer may fire a fraction of a millisecond early (libuv's clock is in whole ms): re-arm then.
  const atFirstByte = (fn: () => void) => {
    const wait = net.firstByteAt - performance.now();
    if (wait <= 0.25) return fn();
    setTimeout(() => (res.destroyed ? undefined : atFirstByte(fn)), wait);
  };
  const answer = (status: number, code: string, message: string, extra: http.OutgoingHttpHeaders = {}) => {
    req.resume(); // drain an upload so the connection stays usable
    const body = Buffer.from(s3Error(code, message, entry.path));
    atFirstByte(() => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': body.length, ...extra });
      res.end(body);
      sent(body.length);
    });
  };

  const answerHtml = (status: number, text: string) => {
    req.resume();
    const body = Buffer.from(`<html><head><title>${status} ${text}</title></head><body><h1>${status} ${text}</h1></body></html>\n`);
    atFirstByte(() => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'text/html', 'content-length': body.length });
      res.end(body);
      sent(body.length);
    });
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
    case 'gone499':
      return answer(499, 'ClientDisconnected', 'Client disconnected before response was ready');
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
    ures.pause(); // until the first byte is due; the handlers below resume it
    atFirstByte(() => respond(ures));
  });
  const respond = (ures: http.IncomingMessage) => {
    const out: http.OutgoingHttpHeaders = { ...ures.headers };
    for (const h of HOP_BY_HOP) delete out[h];
    if (fault.mode === 'wrongRange' && typeof out['content-range'] === 'string') {
      out['content-range'] = out['content-range'].replace(
        /^bytes (\d+)-(\d+)\//, (_, a, b) => `bytes ${Number(a) + 1}-${Number(b) + 1}/`);
    }
    entry.status = ures.statusCode;
    res.writeHead(ures.statusCode ?? 502, ures.statusMessage, out);
    const pacer = net.bps ? new Pacer(res, net.bps, () => ures.resume()) : undefined;

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
      const done = n >= limit ? finishCut : undefined;
      const ok = pacer ? pacer.write(part, done) : res.write(part, done);
      if (n >= limit) ures.pause();
      else if (!ok) {
        ures.pause();
        if (!pacer) res.once('drain', () => ures.resume()); // the pacer resumes it itself
      }
    });
    ures.on('end', () => {
      if (n < limit || !cut) pacer ? pacer.end() : res.end();
    });
    ures.on('error', () => res.destroy());
    ures.resume();
  };
}
