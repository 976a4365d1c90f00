// Runs the counting proxy (bench/s3-proxy.ts) and the control server
// (bench/control.ts) on a worker thread of the orchestrator, so that the
// orchestrator's main thread may block (spawnSync, sync, stat of a FUSE mount
// whose daemon is waiting on this very proxy) without stalling any request.
// This file is both the worker's entry and the main thread's handle to it.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startControl } from './control.js';
import { startS3Proxy } from './s3-proxy.js';

interface Init {
  upstream: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface ProxyThread {
  /** The proxy's URL: point every system here. */
  endpoint: string;
  /** The control server's URL (GET /proxy: counters). */
  controlUrl: string;
  close(): Promise<void>;
}

/** Main thread: start the worker and wait until both servers listen. */
export function startProxyThread(init: Init): Promise<ProxyThread> {
  const worker = new Worker(new URL(import.meta.url), { workerData: init });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { endpoint: string; controlUrl: string }) => {
      worker.off('error', reject);
      resolve({
        ...m,
        close: () => new Promise<void>((done) => {
          worker.once('message', () => void worker.terminate().then(() => done()));
          worker.postMessage('close');
        }),
      });
    });
  });
}

if (!isMainThread && parentPort && (workerData as Init | undefined)?.upstream) {
  const port = parentPort;
  const init = workerData as Init;
  const proxy = await startS3Proxy({ upstream: init.upstream, credentials: init.credentials });
  const control = await startControl(proxy);
  port.on('message', async () => {
    await control.close();
    await proxy.close();
    port.postMessage('closed');
  });
  port.postMessage({ endpoint: proxy.endpoint, controlUrl: control.url });
}
