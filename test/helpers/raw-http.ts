// One HTTP/1.1 request over a bare TCP socket, reporting exactly how the answer
// ended (FIN, RST, or nothing before a timeout): node:http folds those together.
// Runs in the test-file process, main thread.
import net from 'node:net';

export interface RawResponse {
  status?: number;
  headers: Record<string, string>;
  /** Body bytes received (no chunked decoding: ask for ranges, which MinIO sends with Content-Length). */
  body: Buffer;
  end: 'fin' | 'reset' | 'error' | 'timeout';
  errorCode?: string;
}

export function rawRequest(
  port: number, path: string, opts: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (end: RawResponse['end'], errorCode?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = split < 0 ? '' : all.subarray(0, split).toString('latin1');
      const [statusLine, ...lines] = head ? head.split('\r\n') : [];
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = statusLine ? Number(statusLine.split(' ')[1]) : undefined;
      resolve({ status, headers, body: split < 0 ? Buffer.alloc(0) : all.subarray(split + 4), end, errorCode });
    };
    const timer = setTimeout(() => finish('timeout'), opts.timeoutMs ?? 10_000);
    const headers = { host: `127.0.0.1:${port}`, connection: 'close', ...opts.headers };
    sock.write(`${opts.method ?? 'GET'} ${path} HTTP/1.1\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
    sock.on('data', (b) => chunks.push(b));
    sock.on('end', () => finish('fin'));
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNRESET' ? 'reset' : 'error', e.code));
  });
}
