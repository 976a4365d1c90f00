// Host name → addresses for the S3 endpoint, filled by dns.lookup at connect
// time (getaddrinfo: /etc/hosts, nsswitch) while the libuv pool is free, and by
// c-ares afterwards, which does not use the pool: once frozen, no request of
// the fault path waits on a pool thread (rule 3). Addresses are kept for the
// life of the connection. Runs where connectS3() runs.
import dns from 'node:dns';
import net from 'node:net';
import { S3MmapError } from '../shared/errors.js';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

export class HostCache {
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
