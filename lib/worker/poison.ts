// Chunks of one mapping that could not be read (rule 8): each is poisoned
// with UFFDIO_POISON, so a touch raises SIGBUS instead of reading zeros or
// waiting forever, after one line on stderr that says which bytes and why,
// and the error goes to the caller's thread. A later load() may retry: the
// poison is dropped before the retry's bytes go in. Fault worker thread.
import { writeSync } from 'node:fs';
import { Counter, type StatsWriter } from '../shared/stats.js';
import type { ChunkGeometry } from './chunk-geometry.js';
import type { Installer } from './installer.js';

export class PoisonList {
  private readonly chunks = new Set<number>();

  constructor(
    private readonly geometry: ChunkGeometry,
    private readonly installer: Installer,
    private readonly stats: StatsWriter,
    private readonly label: string,
    /** Called before the poison wakes anyone: settle the chunk's waiting faults. */
    private readonly settle: (chunk: number) => void,
    private readonly report: (err: Error, offset: number, length: number) => void,
  ) {}

  has(chunk: number): boolean {
    return this.chunks.has(chunk);
  }

  fail(chunk: number, err: Error): void {
    const start = this.geometry.start(chunk);
    const length = this.geometry.bytes(chunk);
    this.chunks.add(chunk);
    this.stats.add(Counter.errors);
    // Said before the poison wakes anyone: the SIGBUS that follows may end
    // the process before any other output gets out.
    writeSync(
      2,
      `s3mmap: bytes ${start}-${start + length - 1} of ${this.label} could not be read (${(err as { code?: string }).code ?? err.message}); touching them raises SIGBUS, use mapping.load() to handle the error\n`,
    );
    this.settle(chunk);
    this.installer.poison(start, this.geometry.installBytes(chunk));
    this.report(err, start, length);
  }

  /** Chunks [first, first+count) are about to be installed: their poison markers go first. */
  clear(first: number, count: number): void {
    if (this.chunks.size === 0) return;
    for (let c = first; c < first + count; c++) {
      if (!this.chunks.delete(c)) continue;
      this.installer.drop(this.geometry.start(c), this.geometry.installBytes(c));
    }
  }
}
