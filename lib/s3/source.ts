// The S3 source: pins an object at open() with its first ranged GET (size,
// ETag and the first bytes; pin.ts) and serves read() with ranged GETs that
// carry If-Match, under our own retries and timeouts. Fault worker thread,
// built there from a serializable spec (rule 12). read() runs while other
// threads are parked in faults it must serve, so it uses nothing from the
// libuv pool (rule 3: see client.ts) and it always ends, with the bytes or an
// error (rule 8).
import { DEFAULTS, type RetryPolicy } from '../shared/defaults.js';
import { redactSecrets, S3MmapError } from '../shared/errors.js';
import type { CacheIdentity, Source, SourceInfo, SourceSpec } from '../sources/source.js';
import { connectS3, type S3Connection } from './client.js';
import { describeReadFailure, failureError, failureOf, isRetryable, sanitizedCause, seconds, type Failure, type FailureContext } from './failures.js';
import { PinFailure, pinObject } from './pin.js';
import { rangedGet } from './ranged-get.js';
import { sleep, withRetries } from './retry.js';
import { formatS3Url, parseS3Url } from './url.js';

export type S3SourceOptions = Omit<Extract<SourceSpec, { kind: 's3' }>, 'kind'> & { kind?: 's3' };

/** Counters of read() since open() (the open's own GET is not counted). `gets`
 *  counts every ranged GET sent, retries included. */
export interface S3SourceStats {
  gets: number;
  retries: number;
  /** Body bytes received, including those of attempts that later failed. */
  bytes: number;
}

export class S3Source implements Source {
  readonly stats: S3SourceStats = { gets: 0, retries: 0, bytes: 0 };
  private readonly bucket: string;
  private readonly key: string;
  private readonly url: string;
  private readonly retry: RetryPolicy;
  private conn: S3Connection | undefined;
  private pinned: SourceInfo | undefined;
  /** The open's first bytes, until takePrefetched() hands them over. */
  private prefetched: Buffer | undefined;
  private opening: Promise<SourceInfo> | undefined;
  private closed = new AbortController();
  // Attempts and backoffs in flight, so close() can end them without a
  // listener per read on one shared signal (which Node warns about past 10).
  private readonly inflight = new Set<AbortController>();

  constructor(private readonly options: S3SourceOptions) {
    ({ bucket: this.bucket, key: this.key } = parseS3Url({ bucket: options.bucket, key: options.key }));
    this.url = formatS3Url(options);
    this.retry = { ...DEFAULTS.retry, ...definedOnly(options.retry ?? {}) };
  }

  /** What open() pinned; undefined before. */
  get info(): SourceInfo | undefined {
    return this.pinned;
  }

  /** Pin the object's size and ETag with one ranged GET of its first
   *  `prefetch` bytes (at least one), kept for takePrefetched(). Concurrent
   *  calls share one attempt; after a failure the next call tries again. */
  open(signal?: AbortSignal, prefetch = 1): Promise<SourceInfo> {
    this.opening ??= this.connectAndPin(signal, prefetch).catch((err) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  /** Bytes [0, n) of the pinned version that open() fetched; once. */
  takePrefetched(): Uint8Array | undefined {
    const first = this.prefetched;
    this.prefetched = undefined;
    return first;
  }

  private async connectAndPin(signal: AbortSignal | undefined, prefetch: number): Promise<SourceInfo> {
    if (this.closed.signal.aborted) throw this.closedError();
    const timeout = AbortSignal.timeout(this.retry.openTimeoutMs);
    const deadline = AbortSignal.any([timeout, this.closed.signal, ...(signal ? [signal] : [])]);
    try {
      this.conn = await connectS3(this.options.client, {
        concurrency: this.options.concurrency,
        connectTimeoutMs: this.retry.connectTimeoutMs,
        requestTimeoutMs: this.retry.requestTimeoutMs,
      }, deadline);
      const { info, first } = await pinObject({
        client: this.conn.client, bucket: this.bucket, key: this.key, retry: this.retry, deadline, firstBytes: prefetch,
        error: (code, message) => this.error(code, message), where: { endpoint: this.endpoint(), url: this.url },
      });
      this.pinned = info;
      this.prefetched = first;
      this.conn.freezeDns();
      return this.pinned;
    } catch (err) {
      // Built before the connection goes: the message names its endpoint and access key.
      const final = this.openError(err, timeout, signal);
      this.conn?.close();
      this.conn = undefined;
      throw final;
    }
  }

  async read(offset: number, length: number, into: Uint8Array, signal: AbortSignal, progress?: (bytes: number) => void): Promise<void> {
    const info = this.pinned;
    if (!info || !this.conn) throw this.closed.signal.aborted ? this.closedError() : new S3MmapError('NotOpen', 's3mmap: read() before open(); open the source first');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > info.size || into.length < length) {
      throw new S3MmapError('ERR_OUT_OF_RANGE', `s3mmap: read of ${length} bytes at ${offset} is outside ${this.url} (${info.size} bytes) or larger than the ${into.length}-byte buffer; this is a bug in the caller`);
    }
    if (length === 0) return;
    const started = Date.now();
    const giveUpAt = started + this.retry.deadlineMs;
    let timeoutMs = this.retry.requestTimeoutMs;
    await withRetries({
      policy: this.retry,
      giveUpAt,
      attempt: () => {
        if (signal.aborted) throw this.abortError(offset, length, signal.reason);
        if (!this.conn) throw this.closedError();
        timeoutMs = Math.max(1, Math.min(this.retry.requestTimeoutMs, giveUpAt - Date.now()));
        return this.readOnce(offset, length, into, signal, timeoutMs, progress);
      },
      // An attempt cut short by the read deadline rather than by
      // requestTimeoutMs says nothing about the server: report what the
      // server said last (500, SlowDown, a broken body), not our own timer.
      rename: (f, previous) => (previous && f.code === 'ETIMEDOUT' && timeoutMs < this.retry.requestTimeoutMs ? previous : f),
      retryable: (f) => isRetryable(f, { reading: true }),
      onRetry: () => { this.stats.retries++; },
      pause: (ms) => this.pause(ms, signal, () => this.abortError(offset, length, signal.reason)),
      giveUp: (f, attempts, retryable) => this.readFailure(f, offset, length, attempts, Date.now() - started, retryable),
    });
  }

  /** The disk cache's name for the pinned version: the endpoint's origin, never a credential. */
  cacheIdentity(): CacheIdentity | undefined {
    if (!this.pinned || !this.conn) return undefined;
    return { endpoint: this.conn.endpointLabel, bucket: this.bucket, key: this.key, version: this.pinned.version };
  }

  close(): void {
    this.closed.abort();
    this.prefetched = undefined;
    for (const attempt of this.inflight) attempt.abort(this.closedError());
    this.conn?.close();
    this.conn = undefined;
  }

  /** One attempt, under its own timeout; the caller's abort and close() end it too. */
  private async readOnce(offset: number, length: number, into: Uint8Array, signal: AbortSignal, timeoutMs: number, progress?: (bytes: number) => void): Promise<void> {
    const attempt = this.track(signal);
    const timedOut = Object.assign(new Error(`no complete response within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
    const timer = setTimeout(() => attempt.controller.abort(timedOut), timeoutMs);
    this.stats.gets++;
    try {
      await rangedGet({
        client: this.conn!.client, bucket: this.bucket, key: this.key, etag: this.pinned!.version, size: this.pinned!.size,
        offset, length, into, signal: attempt.controller.signal,
        onBytes: (n) => { this.stats.bytes += n; },
        placed: progress,
        error: (code, message, opts) => this.error(code, message, opts),
        where: { endpoint: this.endpoint(), url: this.url },
      });
    } catch (err) {
      throw this.settle(err, attempt.controller.signal, signal, offset, length);
    } finally {
      clearTimeout(timer);
      attempt.done();
    }
  }

  /** Wait before a retry; the caller's abort and close() cut it short. */
  private async pause(ms: number, signal: AbortSignal, aborted: () => S3MmapError): Promise<void> {
    const wait = this.track(signal);
    try {
      await sleep(ms, wait.controller.signal);
    } catch {
      throw signal.aborted ? aborted() : this.closedError();
    } finally {
      wait.done();
    }
  }

  /** An AbortController that the caller's signal and close() both abort. */
  private track(signal: AbortSignal): { controller: AbortController; done: () => void } {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(controller);
    return {
      controller,
      done: () => {
        signal.removeEventListener('abort', onAbort);
        this.inflight.delete(controller);
      },
    };
  }

  /** Decide what an attempt's error becomes: the caller's abort and close are
   *  final, our timeout is retryable ETIMEDOUT, 412 is ObjectChanged. */
  private settle(err: unknown, attempt: AbortSignal, caller: AbortSignal, offset: number, length: number): unknown {
    if (err instanceof S3MmapError) return err;
    if (attempt.aborted) {
      if (caller.aborted) return this.abortError(offset, length, caller.reason);
      if (this.closed.signal.aborted) return this.closedError();
      return attempt.reason; // our per-attempt timeout
    }
    const f = failureOf(err);
    if (f.code === 'PreconditionFailed' || f.status === 412) {
      return this.error('ObjectChanged', `s3mmap: ${this.url} changed after it was mapped (ETag ${this.pinned!.version} → now different); remap it to read the new version`, { status: 412, cause: err });
    }
    return err;
  }

  private openError(err: unknown, timeout: AbortSignal, signal: AbortSignal | undefined): S3MmapError {
    if (timeout.aborted) return this.error('ETIMEDOUT', `s3mmap: opening ${this.url} at ${this.endpoint()} took longer than ${seconds(this.retry.openTimeoutMs)} (ETIMEDOUT); check the endpoint and the network, or raise retry.openTimeoutMs`, { cause: err });
    if (this.closed.signal.aborted) return this.closedError();
    if (signal?.aborted) return this.error('AbortError', `s3mmap: opening ${this.url} was aborted (AbortError)`, { cause: err });
    if (err instanceof S3MmapError) return this.scrub(err);
    const request = err instanceof PinFailure ? err.request : 'GET';
    return failureError(failureOf(err instanceof PinFailure ? err.cause : err), this.context(`${request} ${this.url}`), this.secrets());
  }

  private readFailure(f: Failure, offset: number, length: number, attempts: number, elapsedMs: number, retryable: boolean): S3MmapError {
    const message = describeReadFailure(f, { url: this.url, endpoint: this.endpoint(), offset, length, attempts, elapsedMs, retryable });
    return this.error(f.code, message, { status: f.status, retryable, cause: f.cause });
  }

  private context(what: string): FailureContext {
    const o = this.conn?.options;
    return {
      what, target: this.url, bucket: this.bucket, key: this.key, endpoint: this.endpoint(),
      accessKeyId: o?.credentials.accessKeyId ?? '?', region: o?.region ?? '?', permission: 's3:GetObject',
      connectTimeoutMs: this.retry.connectTimeoutMs, requestTimeoutMs: this.retry.requestTimeoutMs,
      caBundle: o?.caBundle, caBundleFrom: o?.caBundleFrom, again: 'map again',
    };
  }

  private abortError(offset: number, length: number, reason: unknown): S3MmapError {
    return this.error('AbortError', `s3mmap: read of ${this.url} bytes ${offset}-${offset + length - 1} was aborted by the caller (AbortError)`, { cause: reason });
  }

  private closedError(): S3MmapError {
    return new S3MmapError('ERR_CLOSED', `s3mmap: the source for ${this.url} is closed; map the object again`);
  }

  private endpoint(): string {
    return this.conn?.endpointLabel ?? this.options.client?.endpoint?.replace(/\/\/[^/@]*@/, '//') ?? 'S3';
  }

  /** Every message and cause goes through here: no secret leaves this class. */
  private error(code: string, message: string, opts: { status?: number; retryable?: boolean; cause?: unknown } = {}): S3MmapError {
    const secrets = this.secrets();
    return new S3MmapError(code, redactSecrets(message, secrets), { ...opts, cause: sanitizedCause(opts.cause, secrets) });
  }

  private scrub(err: S3MmapError): S3MmapError {
    const clean = redactSecrets(err.message, this.secrets());
    return clean === err.message ? err : new S3MmapError(err.code, clean, { status: err.status, retryable: err.retryable, cause: err.cause });
  }

  private secrets(): string[] {
    const given = this.options.client?.credentials;
    return [...(this.conn?.secrets() ?? []), given?.secretAccessKey ?? '', given?.sessionToken ?? ''];
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
