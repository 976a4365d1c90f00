// The orchestrator's control server and its client. The server runs on the
// orchestrator's proxy thread (bench/proxy-thread.ts) beside the counting
// proxy and answers GET /proxy with the proxy's counters; cells (bench/cell.ts,
// main thread) read it before and after each measured phase, so GETs and bytes
// are counted at the proxy, the same way for every system, and setup traffic
// (mounts, warm-ups) stays out of the figures. POST /draws starts the
// profile's first-byte draws over as a phase starts: warm-ups make one to
// three requests depending on the system, and without it each system's
// measured requests met a different part of the sequence.
import http from 'node:http';
import type net from 'node:net';
import type { S3Proxy } from '../lib/dev/s3-harness/s3-proxy.js';

export interface Traffic {
  requests: number;
  gets: number;
  bytes: number;
}

export interface ControlServer {
  url: string;
  close(): Promise<void>;
}

export async function startControl(proxy: S3Proxy): Promise<ControlServer> {
  const server = http.createServer((req, res) => {
    if (req.url === '/draws' && req.method === 'POST') {
      proxy.restartDraws();
      res.writeHead(204).end();
      return;
    }
    if (req.url !== '/proxy') {
      res.writeHead(404).end();
      return;
    }
    const s = proxy.stats();
    const body: Traffic = { requests: s.requests, gets: s.byMethod.GET ?? 0, bytes: s.bytesSent };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** One request to the control server: its body, or an error naming the status. */
function ask(url: string, method: 'GET' | 'POST'): Promise<string> {
  return new Promise((resolve, reject) => {
    http.request(url, { method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode! < 300 ? resolve(text) : reject(new Error(`control: ${method} ${url} answered ${res.statusCode}`))));
    }).on('error', reject).end();
  });
}

/** Cell side: the proxy's counters now. */
export async function readTraffic(url: string): Promise<Traffic> {
  return JSON.parse(await ask(`${url}/proxy`, 'GET')) as Traffic;
}

/** Cell side, as its clock starts: the first-byte draws start over (the same
 *  delays for every system's measured requests), then the counters now. */
export async function startPhase(url: string): Promise<Traffic> {
  await ask(`${url}/draws`, 'POST');
  return readTraffic(url);
}

export function trafficDelta(a: Traffic, b: Traffic): Traffic {
  return { requests: b.requests - a.requests, gets: b.gets - a.gets, bytes: b.bytes - a.bytes };
}
