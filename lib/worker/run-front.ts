// How far one run's bytes have come in while its GET is still going, so its
// chunks are installed as they arrive rather than when the last byte does: a
// reader following a fill or a readahead piece of 8 MiB (about 115 ms on S3)
// goes on at the pace of the bytes, and a fault on a chunk whose bytes are in
// is served from the buffer instead of by a GET of its own. Fault worker
// thread; the run's buffer is its own (rule 1).
import { POLICY } from '../shared/defaults.js';
import type { Deliver } from './run-reader.js';

const { earlyBatch } = POLICY.install;
const none = Promise.resolve();

export class RunFront {
  /** Chunks of the run whose bytes are all in the buffer. */
  private arrived = 0;
  /** Chunks handed to deliver() so far. */
  private handed = 0;
  private buf: Buffer | null = null;
  private deliver: Deliver | null = null;
  /** Each handover: the run's chunks [.., to) it installs, and its install. */
  private readonly installs: Array<{ to: number; done: Promise<void> }> = [];

  constructor(
    readonly first: number,
    readonly count: number,
    private readonly chunkSize: number,
    /** True when a fault waits on the chunk now. */
    private readonly waited: (chunk: number) => boolean,
  ) {}

  /** The run's buffer and where its chunks go, once the read starts. */
  start(buf: Buffer, deliver: Deliver): void {
    this.buf = buf;
    this.deliver = deliver;
  }

  /** Bytes [0, bytes) of the run are in its buffer (a retry may report less: the same bytes again). */
  progress(bytes: number): void {
    // The last chunk waits for the end: it may be the object's, with a tail of zeros to add.
    const whole = Math.min(this.count - 1, Math.floor(bytes / this.chunkSize));
    if (whole <= this.arrived) return;
    this.arrived = whole;
    if (this.arrived - this.handed >= earlyBatch || this.anyWaited()) void this.flush();
  }

  /** The chunk's bytes are in, whether or not it is installed yet. */
  has(chunk: number): boolean {
    return chunk >= this.first && chunk - this.first < this.arrived;
  }

  /** Installs every chunk whose bytes are in; resolves once `chunk` (one of them) is installed. */
  flush(chunk = this.first): Promise<void> {
    if (this.handed < this.arrived && this.buf) {
      const cs = this.chunkSize;
      this.hand(this.arrived, this.buf.subarray(this.handed * cs, this.arrived * cs));
    }
    return this.installs.find((i) => chunk - this.first < i.to)?.done ?? none;
  }

  /** The whole run is in `data` (its last chunk in whole pages): the chunks
   *  not handed over yet, then every install; throws the first failure. */
  async finish(data: Buffer): Promise<void> {
    if (this.handed < this.count) this.hand(this.count, data.subarray(this.handed * this.chunkSize));
    await this.settled();
  }

  /** Waits for every install handed over (the buffer is read until then); throws the first failure. */
  async settled(): Promise<void> {
    const all = await Promise.allSettled(this.installs.map((i) => i.done));
    const failed = all.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  private hand(to: number, data: Buffer): void {
    const from = this.handed;
    this.handed = this.arrived = to;
    const done = this.deliver!(this.first + from, to - from, data);
    // Its failure is the run's, thrown by finish() and settled(); never unhandled meanwhile.
    done.catch(() => {});
    this.installs.push({ to, done });
  }

  private anyWaited(): boolean {
    for (let c = this.first + this.handed; c < this.first + this.arrived; c++) if (this.waited(c)) return true;
    return false;
  }
}
