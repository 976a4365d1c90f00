// The random4 workload's readers: THREADS worker threads of the cell process,
// each reading its share of the random plan at the same time as the others.
// A thread blocks in its reads (a mapping's page fault, a FUSE read), which is
// the point: the main thread of the cell only starts them and collects. This
// file is both the cell's handle (startReaders) and the threads' entry.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadSystem } from './systems/index.js';
import type { CellSpec, Opened } from './systems/types.js';
import { plan, runPlan, THREADS, type ReadResult } from './workloads.js';

interface Init {
  readerThread: number;
  spec: CellSpec;
}

type FromThread = { ready: true } | { result: ReadResult } | { error: string };

export interface Readers {
  /** Starts every thread's reads: over `handle` where the system shares one, else each opens its own. */
  run(handle: unknown): Promise<ReadResult[]>;
  close(): Promise<void>;
}

/** Starts the threads and waits until each has loaded its system (and warmed it up where it opens its own). */
export async function startReaders(spec: CellSpec): Promise<Readers> {
  const workers = Array.from({ length: THREADS }, (_, t) => new Worker(new URL(import.meta.url), { workerData: { readerThread: t, spec } satisfies Init }));
  const next = (w: Worker) => new Promise<FromThread>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    w.once('error', onError);
    w.once('message', (m: FromThread) => {
      w.off('error', onError);
      if ('error' in m) reject(new Error(`reader thread: ${m.error}`));
      else resolve(m);
    });
  });
  await Promise.all(workers.map(next));
  return {
    async run(handle) {
      const results = workers.map(next);
      for (const w of workers) w.postMessage({ handle });
      return (await Promise.all(results)).map((m) => (m as { result: ReadResult }).result);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

if (!isMainThread && parentPort && typeof (workerData as Init | undefined)?.readerThread === 'number') {
  const port = parentPort;
  const { readerThread: t, spec } = workerData as Init;
  try {
    const mod = await loadSystem(spec.system);
    if (!mod.attach) await mod.warmup?.(spec);
    port.once('message', async ({ handle }: { handle: unknown }) => {
      let opened: Opened | undefined;
      try {
        opened = handle !== undefined && mod.attach ? mod.attach(handle) : await mod.open(spec);
        port.postMessage({ result: await runPlan(opened.reader, plan('random4', spec.size, t)) });
      } catch (e) {
        port.postMessage({ error: (e as Error).stack ?? String(e) });
      } finally {
        await opened?.close().catch(() => {});
      }
    });
    port.postMessage({ ready: true });
  } catch (e) {
    port.postMessage({ error: (e as Error).stack ?? String(e) });
  }
}
