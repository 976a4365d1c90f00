// A model of one endpoint's network: first-byte time and one connection's
// bandwidth, as moving averages of the GETs seen, seeded from POLICY.network.
// Every size of the fetch policy derives from it: the hole worth fetching
// rather than paying another first byte (first byte x bandwidth, as Apache
// Arrow's read coalescing), the efficient GET (9x that), and what a fetch
// costs by connection. It learns only from GETs that had a connection's
// bandwidth to themselves: one that shared the link with a crowd (a fill's
// fifteen GETs) measures the crowd, not the network, and taught a first byte
// of 180 ms that then priced every later mapping's faults. Pure arithmetic
// and bookkeeping, so the caller's thread (`s3mmap stat`, the plan) and the
// fault worker (which feeds it) share it.
import { POLICY } from './defaults.js';

const { firstByteMs, bytesPerSec, smoothing, pieceFirstBytes, aggregateBytesPerSec } = POLICY.network;

export interface NetworkFigures {
  firstByteMs: number;
  /** One connection's bandwidth. */
  bytesPerSec: number;
  /** GETs the figures were learned from (0: the seeds). */
  samples: number;
}

/** A GET under way, from begin() to end(). */
export interface GetTiming {
  readonly startMs: number;
  /** The most GETs of this model in flight at once while it was. */
  crowd: number;
}

export class NetworkModel implements NetworkFigures {
  firstByteMs: number = firstByteMs;
  bytesPerSec: number = bytesPerSec;
  samples = 0;
  /** Samples each figure was learned from. */
  private firstByteSamples = 0;
  private bandwidthSamples = 0;
  private readonly live = new Set<GetTiming>();

  /** A GET starts. */
  begin(now = performance.now()): GetTiming {
    const g: GetTiming = { startMs: now, crowd: 0 };
    this.live.add(g);
    for (const other of this.live) other.crowd = Math.max(other.crowd, this.live.size);
    return g;
  }

  /** The GET ended with `bytes` (0: it failed, nothing to learn). It teaches
   *  the model only if the GETs beside it could all have had a connection's
   *  bandwidth (together at most the aggregate). */
  end(g: GetTiming, bytes: number, now = performance.now()): void {
    this.live.delete(g);
    if (g.crowd <= this.soloCrowd) this.observe(bytes, now - g.startMs);
  }

  /** GETs that fit in the aggregate at one connection's bandwidth each (at
   *  least 1). Derived from the learned bandwidth: on a link slower than the
   *  aggregate constant it grows, and crowded GETs teach again. */
  get soloCrowd(): number {
    return Math.max(1, Math.floor(aggregateBytesPerSec / this.bytesPerSec));
  }

  /** GETs that together carry the aggregate (6 at the seeds): more at once
   *  each carry less and pay the same first byte. */
  get saturatingGets(): number {
    return Math.max(1, Math.ceil(aggregateBytesPerSec / this.bytesPerSec));
  }

  /** A GET of `bytes` took `ms`, first byte to last. A short GET is mostly
   *  first byte, a long one mostly transfer: each teaches the figure it
   *  says most about, with the other figure taken as known. A figure's first
   *  sample replaces its seed (as TCP's first RTT sample sets SRTT, RFC
   *  6298), then it is the mean of its samples until that weighs each less
   *  than the smoothing: the seed is a guess about some other endpoint, and
   *  on loopback (3-5 ms GETs) its 16 ms still counted a fifth after four
   *  GETs, so 10 scattered records priced 86 ms and started a fill. */
  observe(bytes: number, ms: number): void {
    if (!(ms > 0) || bytes <= 0) return;
    const transferMs = (bytes / this.bytesPerSec) * 1000;
    if (transferMs < this.firstByteMs) {
      const fb = Math.max(0.01, ms - transferMs);
      this.firstByteMs += weight(++this.firstByteSamples) * (fb - this.firstByteMs);
    } else {
      const bps = (bytes * 1000) / Math.max(ms - this.firstByteMs, ms / 10);
      this.bytesPerSec += weight(++this.bandwidthSamples) * (bps - this.bytesPerSec);
    }
    this.samples++;
  }

  /** One GET of `bytes`, in ms. */
  getMs(bytes: number): number {
    return this.firstByteMs + (bytes / this.bytesPerSec) * 1000;
  }

  /** Bytes one connection carries in a first-byte time: a hole up to this
   *  size costs less to fetch than a GET of its own. */
  get gapBytes(): number {
    return (this.firstByteMs / 1000) * this.bytesPerSec;
  }

  /** The GET that spends about 90% of its time carrying bytes. */
  get pieceBytes(): number {
    return pieceFirstBytes * this.gapBytes;
  }

  /** Wall time to fetch `bytes` with `connections` GETs at once, each at
   *  most `maxPiece` bytes, and all of them together at most the machine's
   *  aggregate (POLICY.network.aggregateBytesPerSec). */
  parallelMs(bytes: number, connections: number, maxPiece: number): number {
    if (bytes <= 0) return 0;
    const pieces = Math.ceil(bytes / maxPiece);
    const rounds = Math.ceil(pieces / connections);
    const bps = Math.min(Math.min(connections, pieces) * this.bytesPerSec, aggregateBytesPerSec);
    return rounds * this.firstByteMs + (bytes / bps) * 1000;
  }

  figures(): NetworkFigures {
    return { firstByteMs: this.firstByteMs, bytesPerSec: this.bytesPerSec, samples: this.samples };
  }
}

/** The weight of a figure's nth sample: the mean of the samples so far, then the smoothing. */
function weight(n: number): number {
  return Math.max(smoothing, 1 / n);
}
