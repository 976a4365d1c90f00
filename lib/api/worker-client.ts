// The main thread's side of the fault worker: starts it on first use, sends
// requests and routes replies and fault errors. The worker is unref'd so it
// never keeps the process alive by itself; it is ref'd only while a request
// (map, load, close) awaits its answer. Runs on whichever thread maps (the
// main thread, normally).
import { isMainThread, SHARE_ENV, Worker } from 'node:worker_threads';
import { deserializeError, S3MmapError, type SerializedError } from '../shared/errors.js';
import { native } from '../shared/native.js';
import type { FromWorker, WorkerRequest } from '../shared/protocol.js';

type FaultErrorHandler = (err: Error, offset: number, length: number) => void;

class FaultWorkerClient {
  private worker: Worker | null = null;
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly faultHandlers = new Map<bigint, FaultErrorHandler>();
  private exitHookArmed = false;

  request<T>(msg: WorkerRequest): Promise<T> {
    const worker = this.start();
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req, { resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...msg, req });
    });
  }

  /** Where the worker reports chunks it had to poison. Holds no mapping. */
  onFaultError(id: bigint, handler: FaultErrorHandler): void {
    this.faultHandlers.set(id, handler);
  }

  forget(id: bigint): void {
    this.faultHandlers.delete(id);
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    if (!this.exitHookArmed && isMainThread) {
      this.exitHookArmed = true;
      // From here on Node may tear the fault worker down before it joins the
      // threads parked in faults; the native exit guard needs to know.
      process.on('exit', (code) => native.setExiting(typeof code === 'number' ? code : 0));
    }
    const worker = new Worker(new URL('../worker/main.js', import.meta.url), { env: SHARE_ENV, stdout: false, stderr: false, execArgv: workerExecArgv() });
    worker.unref();
    worker.on('message', (msg: FromWorker) => this.onMessage(worker, msg));
    worker.on('error', (err) => this.onDeath(worker, err));
    worker.on('exit', (code) => this.onDeath(worker, new S3MmapError('EWORKER', `s3mmap: the fault worker exited (code ${code})`), true));
    this.worker = worker;
    return worker;
  }

  private onMessage(worker: Worker, msg: FromWorker): void {
    if (msg.type === 'fault-error') {
      this.faultHandlers.get(msg.id)?.(deserializeError(msg.error), msg.offset, msg.length);
      return;
    }
    const p = this.pending.get(msg.req);
    if (!p) return;
    this.pending.delete(msg.req);
    if (this.pending.size === 0) worker.unref();
    if (msg.ok) p.resolve(msg.value);
    else p.reject(deserializeError((msg as { error: SerializedError }).error));
  }

  private onDeath(worker: Worker, err: Error, exited = false): void {
    if (this.worker !== worker) return;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    // Nobody serves these regions any more. Once the worker's thread has
    // ended, its teardown hook has fenced them off (a touch is SIGSEGV, not an
    // endless wait) and given them up, so their uffds can be closed here (rule
    // 7: after the mapping is gone). 'error' comes before that: the registry
    // refuses to destroy a region whose worker still runs.
    const ids = [...this.faultHandlers.keys()];
    this.faultHandlers.clear();
    const destroy = () => { for (const id of ids) native.destroyRegion(id); };
    if (exited) destroy();
    else worker.once('exit', destroy);
    process.emitWarning(`s3mmap: ${err.message.replace(/^s3mmap: /, '')}; its mappings were unmapped`);
  }
}

/** The parent's options are inherited, except under --input-type, which a
 *  worker started from a file refuses (ERR_INPUT_TYPE_NOT_ALLOWED), so
 *  `node --input-type=module -e` could not start the fault worker. It runs
 *  only this library's own files and needs none of them then; naming the
 *  rest explicitly would fail on per-process flags such as --expose-gc. */
function workerExecArgv(): string[] | undefined {
  return process.execArgv.some((a) => a === '--input-type' || a.startsWith('--input-type=')) ? [] : undefined;
}

export const faultWorker = new FaultWorkerClient();
