// The counting, fault-injecting proxy run on its own worker thread, for tests
// whose main thread touches mapped pages: a proxy on the main thread could not
// forward the GET that the blocked main thread waits for (DESIGN.md rule 1).
// Runs in the test-file process; the proxy runs on the worker.
//
// A rule is a function and cannot cross to the worker, so rules are named
// presets built there from serializable arguments (see RulePreset).
import { Worker } from 'node:worker_threads';
import type { NetworkProfile } from '../../dist/lib/dev/s3-harness/network.js';
import type { Fault, FaultMode, ProxyLogEntry, ProxyStats } from '../../dist/lib/dev/s3-harness/s3-proxy.js';
import { testS3 } from './s3.js';

const proxyModule = new URL('../../dist/lib/dev/s3-harness/s3-proxy.js', import.meta.url).href;

/** Rules the worker can build. GET-only unless said otherwise; HEADs pass. */
export type RulePreset =
  /** Every GET gets this fault. */
  | { preset: 'always'; fault: FaultMode | Fault }
  /** Every nth GET (n, 2n, ...) gets the next fault of `faults`, in turn. */
  | { preset: 'everyNth'; n: number; faults: (FaultMode | Fault)[] }
  /** GETs whose Range overlaps [from, to) get the fault; others pass. */
  | { preset: 'window'; from: number; to: number; fault: FaultMode | Fault }
  /** No rule: everything passes (the queue still applies). */
  | { preset: 'none' };

const workerSource = `
  import { parentPort, workerData } from 'node:worker_threads';
  const { startS3Proxy } = await import(workerData.module);
  const proxy = await startS3Proxy({ upstream: workerData.upstream, credentials: workerData.credentials });
  const overlaps = (range, from, to) => {
    const m = /^bytes=(\\d+)-(\\d+)$/.exec(range ?? '');
    return !!m && Number(m[1]) < to && Number(m[2]) >= from;
  };
  const build = (p) => {
    switch (p.preset) {
      case 'always': return (r) => (r.method === 'GET' ? p.fault : undefined);
      case 'everyNth': {
        let gets = 0;
        let turn = 0;
        return (r) => {
          if (r.method !== 'GET') return undefined;
          gets++;
          return gets % p.n === 0 ? p.faults[turn++ % p.faults.length] : undefined;
        };
      }
      case 'window': return (r) => (r.method === 'GET' && overlaps(r.range, p.from, p.to) ? p.fault : undefined);
      case 'none': return undefined;
      default: throw new Error('unknown preset ' + p.preset);
    }
  };
  parentPort.on('message', async ({ id, op, args }) => {
    const value = op === 'preset' ? proxy.setRule(build(args[0])) : await proxy[op](...args);
    parentPort.postMessage({ id, value });
  });
  parentPort.postMessage({ id: 0, value: proxy.endpoint });
`;

export interface ThreadProxy {
  endpoint: string;
  stats(): Promise<ProxyStats>;
  log(): Promise<ProxyLogEntry[]>;
  /** Zero counters and log, drop the queue and the rule. */
  reset(): Promise<void>;
  enqueue(...faults: (FaultMode | Fault)[]): Promise<void>;
  /** Replace the rule with a preset (reset() drops it again). */
  setRule(rule: RulePreset): Promise<void>;
  /** Lay a network profile over the requests from now on (reset() keeps it). */
  setNetwork(profile: NetworkProfile, seed?: number): Promise<void>;
  close(): Promise<void>;
}

export interface ThreadProxyOptions {
  /** Default: the run's S3 endpoint and credentials. */
  upstream?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export async function startThreadProxy(opts: ThreadProxyOptions = {}): Promise<ThreadProxy> {
  const s3 = opts.upstream ? undefined : testS3();
  const worker = new Worker(workerSource, {
    eval: true,
    type: 'module',
    workerData: { module: proxyModule, upstream: opts.upstream ?? s3!.endpoint, credentials: opts.credentials ?? s3?.credentials },
  } as ConstructorParameters<typeof Worker>[1]);
  let next = 1;
  const waiting = new Map<number, (v: unknown) => void>();
  worker.on('message', ({ id, value }) => {
    waiting.get(id)?.(value);
    waiting.delete(id);
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    waiting.set(0, resolve as (v: unknown) => void);
    worker.once('error', reject);
  });
  const call = <T>(op: string, ...args: unknown[]) =>
    new Promise<T>((resolve) => {
      const id = next++;
      waiting.set(id, resolve as (v: unknown) => void);
      worker.postMessage({ id, op, args });
    });
  return {
    endpoint,
    stats: () => call('stats'),
    log: () => call('log'),
    reset: () => call('reset'),
    enqueue: (...faults) => call('enqueue', ...faults),
    setRule: (rule) => call('preset', rule),
    setNetwork: (profile, seed) => call('setNetwork', profile, seed),
    close: async () => {
      await call('close');
      await worker.terminate();
    },
  };
}
