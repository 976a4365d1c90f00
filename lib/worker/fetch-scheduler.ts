// Which chunk fetches start when, for one mapping: three queues (faults
// first, then readahead and prefetch, then the fill), at most `concurrency`
// runs in flight (the fill one fewer, so a fault always finds a connection), and
// queued neighbours coalesced into one run of up to `maxRunChunks`. Pure
// scheduling: the caller's `startRun` does the read and the install. Fault
// worker thread.

export interface FetchSchedule {
  /** Runs in flight at once. */
  concurrency: number;
  /** Most chunks one run (one GET) carries. */
  maxRunChunks: number;
}

/** Reads and installs chunks [first, first+count); resolves when they are installed. */
export type StartRun = (first: number, count: number, urgent: boolean, fill: boolean) => Promise<void>;

interface Entry {
  chunk: number;
  urgent: boolean;
  /** Part of a background fill of the object. */
  fill: boolean;
  /** Most chunks the run this entry starts may carry. */
  maxRun: number;
  /** Started (alone or in a run): skipped wherever else it is still queued. */
  taken: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** FIFO with O(1) take from the front; entries taken elsewhere are skipped. */
class Queue {
  private items: Entry[] = [];
  private head = 0;

  push(e: Entry): void {
    this.items.push(e);
  }

  shift(): Entry | undefined {
    while (this.head < this.items.length) {
      const e = this.items[this.head++];
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (!e.taken) return e;
    }
    this.clear();
    return undefined;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class FetchScheduler {
  private readonly urgent = new Queue();
  private readonly background = new Queue();
  private readonly filling = new Queue();
  private fillRunning = 0;
  /** Fill entries queued and not yet started. */
  private fillQueued = 0;
  private readonly queued = new Map<number, Entry>();
  private running = 0;
  /** While > 0, queued fetches wait so that neighbours can join one run. */
  private holds = 0;
  /** Set by stop(): what every later request is rejected with. */
  private stopped: Error | null = null;

  constructor(
    private readonly schedule: FetchSchedule,
    private readonly startRun: StartRun,
  ) {}

  /** Runs in flight now. */
  get active(): number {
    return this.running;
  }

  /** Runs the fill may have in flight: one fewer than all, so a fault always finds a connection. */
  get fillLanes(): number {
    return Math.max(1, this.schedule.concurrency - 1);
  }

  /** Chunks the fill has queued that no run has started yet. */
  get fillWaiting(): number {
    return this.fillQueued;
  }

  /** Queues a chunk; resolves once the run that carries it is installed. A
   *  run started by this chunk carries at most `maxRun` chunks (readahead
   *  pieces); never more than the schedule's maxRunChunks. */
  request(chunk: number, urgent: boolean, maxRun = this.schedule.maxRunChunks, fill = false): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped);
    const queued = this.queued.get(chunk);
    if (queued) {
      // Asked again while queued: one entry settles both, else stop() would
      // reject only the one the map still names.
      if (urgent) this.promote(chunk);
      return new Promise<void>((resolve, reject) => {
        const [res, rej] = [queued.resolve, queued.reject];
        queued.resolve = () => (res(), resolve());
        queued.reject = (err) => (rej(err), reject(err));
      });
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = { chunk, urgent, fill: fill && !urgent, maxRun: Math.max(1, Math.min(maxRun, this.schedule.maxRunChunks)), taken: false, resolve, reject };
      this.queued.set(chunk, entry);
      if (entry.fill) this.fillQueued++;
      (urgent ? this.urgent : entry.fill ? this.filling : this.background).push(entry);
      this.pump();
    });
  }

  /** A fault on a chunk queued in the background: it goes to the front. */
  promote(chunk: number): void {
    const entry = this.queued.get(chunk);
    if (!entry || entry.urgent) return;
    if (entry.fill) this.fillQueued--;
    entry.urgent = true;
    entry.fill = false;
    this.urgent.push(entry);
  }

  /** Queue a batch without starting anything, so neighbours share a run:
   *  hold(), request() each chunk, release(). */
  hold(): void {
    this.holds++;
  }

  release(): void {
    if (--this.holds === 0) this.pump();
  }

  /** Rejects every queued request with `err`; runs in flight finish on their own. */
  stop(err: Error): void {
    this.stopped = err;
    this.urgent.clear();
    this.background.clear();
    this.filling.clear();
    this.fillQueued = 0;
    for (const e of this.queued.values()) e.reject(err);
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && this.holds === 0 && this.running < this.schedule.concurrency) {
      const fillRoom = this.fillRunning < this.fillLanes;
      const first = this.urgent.shift() ?? this.background.shift() ?? (fillRoom ? this.filling.shift() : undefined);
      if (!first) return;
      const run = [this.take(first)];
      // Queued neighbours of the same urgency ride along: a fault's own GET
      // never waits for background chunks, and a stream's GETs stay large.
      for (let c = first.chunk + 1; run.length < first.maxRun; c++) {
        const next = this.queued.get(c);
        if (!next || next.urgent !== first.urgent || next.fill !== first.fill) break;
        run.push(this.take(next));
      }
      this.start(run);
    }
  }

  private take(e: Entry): Entry {
    if (e.fill) this.fillQueued--;
    e.taken = true;
    this.queued.delete(e.chunk);
    return e;
  }

  private start(run: Entry[]): void {
    this.running++;
    const fill = run[0].fill;
    if (fill) this.fillRunning++;
    let done: Promise<void>;
    try {
      done = this.startRun(run[0].chunk, run.length, run[0].urgent, fill);
    } catch (err) {
      done = Promise.reject(err);
    }
    done
      .then(
        () => run.forEach((e) => e.resolve()),
        (err) => run.forEach((e) => e.reject(err)),
      )
      .finally(() => {
        this.running--;
        if (fill) this.fillRunning--;
        this.pump();
      });
  }
}
