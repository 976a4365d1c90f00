// The reader threads of the random4 and budget workloads: worker threads of
// the cell process reading at the same time as each other. random4: THREADS
// threads, each its share of the random plan. budget: BUDGET_THREADS threads,
// each random 8-byte reads of its own seeded sequence until the time is up.
// A thread blocks in its reads (a mapping's page fault, a FUSE read), which is
// the point: the main thread of the cell only starts them and collects. This
// file is both the cell's handle (startReaders) and the threads' entry.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadSystem } from './systems/index.js';
import type { CellSpec, Opened } from './systems/types.js';
import { foldBytes, objectBuffer } from './content.js';
import {
  BUDGET_CHECKED, BUDGET_READ, BUDGET_THREADS, budgetOffsets, plan, runPlan, THREADS, type ReadResult, type Reader,
} from './workloads.js';

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
  const count = spec.workload === 'budget' ? BUDGET_THREADS : THREADS;
  const workers = Array.from({ length: count }, (_, t) => new Worker(new URL(import.meta.url), { workerData: { readerThread: t, spec } satisfies Init }));
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

/** budget: reads until spec.seconds have passed (and at least the checked ones). The first
 *  BUDGET_CHECKED fold into the checksum the orchestrator expects; every read is compared
 *  with `truth`, the object generated in this thread before the clock. */
async function readForAWhile(reader: Reader, spec: CellSpec, t: number, truth: Uint8Array): Promise<ReadResult> {
  const next = budgetOffsets(spec.size, t);
  const end = performance.now() + (spec.seconds ?? 1) * 1000;
  let h = 0;
  let ops = 0;
  for (;;) {
    const offset = next();
    const r = reader.read(offset, BUDGET_READ);
    const bytes = r instanceof Uint8Array ? r : await r;
    for (let i = 0; i < BUDGET_READ; i++) {
      if (bytes[i] !== truth[offset + i]) throw new Error(`budget: wrong byte at ${offset + i}: ${bytes[i]}, expected ${truth[offset + i]}`);
    }
    if (ops < BUDGET_CHECKED) h = foldBytes(h, bytes);
    ops++;
    if (ops >= BUDGET_CHECKED && performance.now() >= end) break;
  }
  return { bytesRead: ops * BUDGET_READ, checksum: h >>> 0, ops };
}

if (!isMainThread && parentPort && typeof (workerData as Init | undefined)?.readerThread === 'number') {
  const port = parentPort;
  const { readerThread: t, spec } = workerData as Init;
  try {
    const mod = await loadSystem(spec.system);
    if (!mod.attach) await mod.warmup?.(spec);
    // budget: the bytes every read is checked against, generated before the clock.
    const truth = spec.workload === 'budget' ? objectBuffer(spec.seed, spec.size) : undefined;
    port.once('message', async ({ handle }: { handle: unknown }) => {
      let opened: Opened | undefined;
      try {
        opened = handle !== undefined && mod.attach ? mod.attach(handle) : await mod.open(spec);
        const result = spec.workload === 'budget' ? await readForAWhile(opened.reader, spec, t, truth!) : await runPlan(opened.reader, plan('random4', spec.size, t));
        port.postMessage({ result });
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
