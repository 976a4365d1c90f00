// What the cell process (bench/cell.ts, main thread) needs from a system: open
// the object, read it through a Reader, report the system's own figures, close.
import type { Reader, Workload } from '../workloads.js';

export interface S3Target {
  /** The counting proxy's URL: every system talks to MinIO through it. */
  endpoint: string;
  region: string;
  bucket: string;
  key: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** Everything a cell needs, passed from the orchestrator as one JSON argument. */
export interface CellSpec {
  system: string;
  workload: Exclude<Workload, 'warm'>;
  /** crossover: record counts to read, one phase each (a downloader reads them all after one download; s3mmap gets one). */
  ks?: number[];
  /** sequential only: re-read the same plan afterwards and report it as 'warm'. */
  warm: boolean;
  s3: S3Target;
  size: number;
  seed: number;
  /** FUSE systems: the object's path under the mount. */
  path?: string;
  /** s3mmap variants: a local copy of the object (file source). */
  localPath?: string;
  /** s3mmap variants: install unit. */
  chunkSize?: number;
  /** s3mmap variants: readahead off. */
  noReadahead?: boolean;
  /** s3mmap variants: more mapObject() options (fill, shared); a build that lacks one ignores it. */
  mapOptions?: Record<string, unknown>;
  /** FUSE systems: the mount daemon's pid (procs4 reads its memory). */
  daemonPid?: number;
  /** budget: seconds the threads read for. */
  seconds?: number;
  /** procs4-random: the random reads each process makes. */
  reads?: number;
  /** The orchestrator's control server (proxy counters). */
  controlUrl: string;
  /** A small object each system opens once before the clock starts, so that
   *  loading code (cold after the page cache drop) and first-use setup are
   *  not timed; FUSE systems find it at warmupPath. */
  warmupKey: string;
  warmupPath?: string;
}

export interface Opened {
  reader: Reader;
  /** Figures of the system itself, read now (s3mmap: mapping.stats()). */
  stats?(): Record<string, number>;
  /** The system's own figures that are not numbers (s3mmap: stats().fill), for the record. */
  detail?(): Record<string, unknown>;
  close(): Promise<void>;
}

export type OpenSystem = (spec: CellSpec) => Promise<Opened>;

/** Everything a system module exports: open, and an untimed warm-up run first. */
export interface SystemModule {
  open: OpenSystem;
  warmup?(spec: CellSpec): Promise<void>;
  /** Systems whose opened object other threads can read (s3mmap: mapping.share()); a
   *  structured-clonable handle. Without it, each reader thread opens the object itself. */
  share?(opened: Opened): unknown;
  /** In a reader thread: a Reader over the shared handle. */
  attach?(handle: unknown): Opened;
}

/** A Reader over bytes in memory (downloaded, mapped or generated): reads are views. */
export function bufferReader(buf: Uint8Array, size = buf.length): Reader {
  return { size, buffer: buf.subarray(0, size), read: (offset, length) => buf.subarray(offset, offset + length) };
}
