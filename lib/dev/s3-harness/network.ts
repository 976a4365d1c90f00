// S3-like network profiles and their emulation, applied by the counting proxy
// (s3-proxy.ts) to every response, so that every system meets the same
// network: each request's first byte is held back by a drawn delay, and each
// response body is paced to a per-connection bandwidth. Runs wherever the
// proxy runs (the bench's proxy thread, a test's process); pure but for timers.
import type { Writable } from 'node:stream';
import { rng } from './rng.js';

export const NETWORKS = ['loopback', 's3-standard', 's3-express'] as const;
export type NetworkName = (typeof NETWORKS)[number];

export interface NetworkProfile {
  name: string;
  /** Median time to first byte per request, ms (0: none added). */
  firstByteMedianMs: number;
  /** σ of the first byte's lognormal around that median (0: always the median). */
  firstByteSigma: number;
  /** No draw exceeds this many medians: a tail, not a stall. */
  firstByteCapX: number;
  /** Response body pacing per response (HTTP/1.1: per connection), bytes/s; 0: unpaced. */
  bandwidthBps: number;
  /** Where the figures come from, for the report. */
  source: string;
}

/** 85 MB/s, the low end of AWS's "about 85–90 MB/s per connection". */
const S3_CONNECTION_BPS = 85e6;
/** σ 0.5: p90 ≈ 1.9× and p99 ≈ 3.2× the median, the "tens of milliseconds" with a tail of
 *  AWS's guidance for small requests; the tail's shape is this bench's model, not a published figure. */
const TAIL_SIGMA = 0.5;

export const PROFILES: Record<NetworkName, NetworkProfile> = {
  loopback: {
    name: 'loopback', firstByteMedianMs: 0, firstByteSigma: 0, firstByteCapX: 1, bandwidthBps: 0,
    source: 'MinIO on 127.0.0.1 as it is: no delay or pacing added',
  },
  's3-standard': {
    name: 's3-standard', firstByteMedianMs: 16, firstByteSigma: TAIL_SIGMA, firstByteCapX: 10, bandwidthBps: S3_CONNECTION_BPS,
    source: 'first byte: mountpoint-s3\'s published CI runs measure 15.9 ms on S3 Standard; bandwidth: AWS\'s performance guidelines, ' +
      'about 85–90 MB/s per connection (8–16 MB ranged GETs, one request per 85–90 MB/s wanted)',
  },
  's3-express': {
    name: 's3-express', firstByteMedianMs: 1.3, firstByteSigma: TAIL_SIGMA, firstByteCapX: 10, bandwidthBps: S3_CONNECTION_BPS,
    source: 'first byte: mountpoint-s3\'s published CI runs measure 1.32 ms on S3 Express One Zone; bandwidth as S3 Standard',
  },
};

export function isNetworkName(s: string): s is NetworkName {
  return (NETWORKS as readonly string[]).includes(s);
}

/** "16 ms first byte (lognormal, σ 0.5, capped at 10×), 85 MB/s per connection". */
export function describeProfile(p: NetworkProfile): string {
  if (!p.firstByteMedianMs && !p.bandwidthBps) return 'no delay or pacing added';
  const fb = p.firstByteSigma
    ? `${p.firstByteMedianMs} ms median first byte (lognormal, σ ${p.firstByteSigma}, capped at ${p.firstByteCapX}× the median)`
    : `${p.firstByteMedianMs} ms first byte`;
  return `${fb}, ${p.bandwidthBps / 1e6} MB/s per connection`;
}

/** Draws first-byte delays of a profile: seeded, so a run's sequence of draws repeats. */
export function firstByteDraws(p: NetworkProfile, seed = 1): () => number {
  if (!p.firstByteMedianMs) return () => 0;
  const next = rng(seed);
  return () => {
    // Box–Muller; 1 - u keeps the logarithm finite.
    const z = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    return Math.min(p.firstByteMedianMs * Math.exp(p.firstByteSigma * z), p.firstByteMedianMs * p.firstByteCapX);
  };
}

/** Timers fire no finer than 1 ms (later on a busy machine): each wake-up sends what the
 *  absolute schedule allows by then, so a late timer costs a burst, never bandwidth. */
const MIN_WAIT_MS = 1;
/** Upstream is paused past this much queued, resumed below a quarter of it. */
const HIGH_WATER = 1024 * 1024;

/**
 * Writes a response body to `res` no faster than `bps` bytes per second from the moment
 * it is created (the first byte), in slices on a timer. write() mirrors Writable.write:
 * false asks the caller to pause its source until `onDrain`.
 */
export class Pacer {
  private readonly queue: Array<{ buf: Buffer; cb?: () => void }> = [];
  private queued = 0;
  private sent = 0;
  private readonly start = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private ending = false;
  private blocked = false;
  private closed = false;

  constructor(private readonly res: Writable, private readonly bps: number, private readonly onDrain: () => void) {
    res.once('close', () => {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
    });
  }

  write(buf: Buffer, cb?: () => void): boolean {
    this.queue.push({ buf, cb });
    this.queued += buf.length;
    this.pump();
    return this.queued < HIGH_WATER;
  }

  end(): void {
    this.ending = true;
    this.pump();
  }

  private pump(): void {
    if (this.closed || this.timer || this.blocked) return;
    const elapsed = performance.now() - this.start;
    let allowed = Math.floor((this.bps * elapsed) / 1000) - this.sent;
    while (allowed > 0 && this.queue.length) {
      const head = this.queue[0];
      const n = Math.min(allowed, head.buf.length);
      const last = n === head.buf.length;
      const slice = last ? head.buf : head.buf.subarray(0, n);
      if (last) this.queue.shift();
      else head.buf = head.buf.subarray(n);
      this.queued -= n;
      this.sent += n;
      allowed -= n;
      const ok = this.res.write(slice, last ? head.cb : undefined);
      if (!ok) {
        this.blocked = true;
        this.res.once('drain', () => {
          this.blocked = false;
          this.pump();
        });
        break;
      }
    }
    if (this.queued < HIGH_WATER / 4) this.onDrain();
    if (this.blocked) return;
    if (this.queue.length) {
      // When the next slice (up to a millisecond's worth) is due on the absolute schedule.
      const want = Math.min(this.queue[0].buf.length, Math.ceil(this.bps / 1000));
      const due = ((this.sent + want) * 1000) / this.bps - elapsed;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, Math.max(MIN_WAIT_MS, due));
    } else if (this.ending) {
      this.ending = false;
      this.res.end();
    }
  }
}
