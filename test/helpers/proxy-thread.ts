// The counting, fault-injecting proxy run on its own worker thread, for tests
// whose main thread touches mapped pages: a proxy on the main thread could not
// forward the GET that the blocked main thread waits for (design rule 1).
// Runs in the test-file process; the proxy runs on the worker.
import { Worker } from 'node:worker_threads';
import type { Fault, FaultMode, ProxyLogEntry, ProxyStats } from '../../dist/bench/s3-proxy.js';
import { testS3 } from './s3.js';

const proxyModule = new URL('../../dist/bench/s3-proxy.js', import.meta.url).href;

const workerSource = `
  import { parentPort, workerData } from 'node:worker_threads';
  const { startS3Proxy } = await import(workerData.module);
  const proxy = await startS3Proxy({ upstream: workerData.upstream, credentials: workerData.credentials });
  parentPort.on('message', async ({ id, op, args }) => {
    const value = await proxy[op](...args);
    parentPort.postMessage({ id, value });
  });
  parentPort.postMessage({ id: 0, value: proxy.endpoint });
`;

export interface ThreadProxy {
  endpoint: string;
  stats(): Promise<ProxyStats>;
  log(): Promise<ProxyLogEntry[]>;
  reset(): Promise<void>;
  enqueue(...faults: (FaultMode | Fault)[]): Promise<void>;
  close(): Promise<void>;
}

export async function startThreadProxy(): Promise<ThreadProxy> {
  const s3 = testS3();
  const worker = new Worker(workerSource, {
    eval: true,
    type: 'module',
    workerData: { module: proxyModule, upstream: s3.endpoint, credentials: s3.credentials },
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
    close: async () => {
      await call('close');
      await worker.terminate();
    },
  };
}
