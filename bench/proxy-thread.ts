// Runs the counting proxy (lib/dev/s3-harness/s3-proxy.ts) and the control server
// (bench/control.ts) on a worker thread of the orchestrator, so that the
// orchestrator's main thread may block (spawnSync, sync, stat of a FUSE mount
// whose daemon is waiting on this very proxy) without stalling any request,
// and so that a network profile's timers fire on a loop that nothing else
// holds up. This file is both the worker's entry and the main thread's handle.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startControl } from './control.js';
import { PROFILES, type NetworkName } from '../lib/dev/s3-harness/network.js';
import { startS3Proxy } from '../lib/dev/s3-harness/s3-proxy.js';

interface Init {
  upstream: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  network?: NetworkName;
}

type Message = { op: 'close' } | { op: 'network'; name: NetworkName; seed?: number };

export interface ProxyThread {
  /** The proxy's URL: point every system here. */
  endpoint: string;
  /** The control server's URL (GET /proxy: counters). */
  controlUrl: string;
  /** The profile laid over requests that arrive once this resolves. */
  setNetwork(name: NetworkName, seed?: number): Promise<void>;
  close(): Promise<void>;
}

/** Main thread: start the worker and wait until both servers listen. */
export function startProxyThread(init: Init): Promise<ProxyThread> {
  const worker = new Worker(new URL(import.meta.url), { workerData: init });
  // One request at a time is all the orchestrator makes; each answer settles the oldest.
  const ask = (m: Message) => new Promise<void>((done) => {
    worker.once('message', () => done());
    worker.postMessage(m);
  });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { endpoint: string; controlUrl: string }) => {
      worker.off('error', reject);
      resolve({
        ...m,
        setNetwork: (name, seed) => ask({ op: 'network', name, seed }),
        close: () => ask({ op: 'close' }).then(() => worker.terminate()).then(() => {}),
      });
    });
  });
}

if (!isMainThread && parentPort && (workerData as Init | undefined)?.upstream) {
  const port = parentPort;
  const init = workerData as Init;
  const proxy = await startS3Proxy({ upstream: init.upstream, credentials: init.credentials, network: PROFILES[init.network ?? 'loopback'] });
  const control = await startControl(proxy);
  port.on('message', async (m: Message) => {
    if (m.op === 'network') {
      proxy.setNetwork(PROFILES[m.name], m.seed);
      port.postMessage('ok');
      return;
    }
    await control.close();
    await proxy.close();
    port.postMessage('closed');
  });
  port.postMessage({ endpoint: proxy.endpoint, controlUrl: control.url });
}
