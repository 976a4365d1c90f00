// The S3 source: pins an object at open() (HEAD → size, ETag) and serves
// read() with ranged GETs that carry If-Match, our own retries and timeouts.
// Runs in the fault worker thread, built there from a serializable spec
// (design rule 12). read() runs while other threads are parked in faults it
// must serve, so it uses nothing from the libuv pool (rule 3: see
// s3-client.ts) and it always ends, with the bytes or an error (rule 8).
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandOutput, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { redactSecrets, S3MmapError } from '../shared/errors.js';
import { connectS3, type S3Connection } from './client.js';
import { formatS3Url, parseS3Url } from './url.js';
import type { RetryOptions, Source, SourceInfo, SourceSpec } from '../sources/source.js';

export type S3SourceOptions = Omit<Extract<SourceSpec, { kind: 's3' }>, 'kind'> & { kind?: 's3' };

/** Counters since open(). `gets` counts every ranged GET sent, retries included. */
export interface S3SourceStats {
  gets: number;
  retries: number;
  /** Body bytes received, including those of attempts that later failed. */
  bytes: number;
}

const DEFAULTS: Required<RetryOptions> = {
  attempts: 6,
  baseDelayMs: 100,
  maxDelayMs: 10_000,
  requestTimeoutMs: 10_000,
  deadlineMs: 60_000,
  connectTimeoutMs: 3000,
  openTimeoutMs: 15_000,
};

// S3 error codes and statuses worth another try. 412, 403, 404 never are.
const RETRYABLE_CODES = new Set([
  'SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'Throttling',
  'ThrottlingException', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'TruncatedBody', 'ERR_STREAM_PREMATURE_CLOSE',
]);
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
// Retried by read() only: the endpoint answered at open, so a refusal now is a
// restart or a failover, and giving up poisons pages. open() fails fast on it.
const RETRYABLE_IN_READ = new Set(['ECONNREFUSED']);
// OpenSSL verification failures as Node names them: the endpoint's certificate chain is not trusted.
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
]);

interface Failure {
  code: string;
  status?: number;
  /** The server's or the system's own words, for codes we have no message for. */
  detail: string;
  cause: unknown;
}

export class S3Source implements Source {
  readonly stats: S3SourceStats = { gets: 0, retries: 0, bytes: 0 };
  private readonly bucket: string;
  private readonly key: string;
  private readonly url: string;
  private readonly retry: Required<RetryOptions>;
  private conn: S3Connection | undefined;
  private pinned: SourceInfo | undefined;
  private opening: Promise<SourceInfo> | undefined;
  private closed = new AbortController();
  // Attempts in flight, so close() can end them without a listener per read
  // on one shared signal (which Node warns about past 10).
  private readonly inflight = new Set<AbortController>();

  constructor(private readonly options: S3SourceOptions) {
    ({ bucket: this.bucket, key: this.key } = parseS3Url({ bucket: options.bucket, key: options.key }));
    this.url = formatS3Url(options);
    this.retry = { ...DEFAULTS, ...definedOnly(options.retry ?? {}) };
  }

  /** What open() pinned; undefined before. */
  get info(): SourceInfo | undefined {
    return this.pinned;
  }

  /** HEAD the object and pin its size and ETag. Concurrent calls share one
   *  attempt; after a failure the next call tries again. */
  open(signal?: AbortSignal): Promise<SourceInfo> {
    this.opening ??= this.connectAndPin(signal).catch((err) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  private async connectAndPin(signal: AbortSignal | undefined): Promise<SourceInfo> {
    if (this.closed.signal.aborted) throw this.closedError();
    const timeout = AbortSignal.timeout(this.retry.openTimeoutMs);
    const deadline = AbortSignal.any([timeout, this.closed.signal, ...(signal ? [signal] : [])]);
    try {
      this.conn = await connectS3(this.options.client, {
        concurrency: this.options.concurrency,
        connectionTimeoutMs: this.retry.connectTimeoutMs,
        requestTimeoutMs: this.retry.requestTimeoutMs,
      }, deadline);
      const head = await this.head(deadline);
      this.pinned = this.pin(head);
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

  async read(offset: number, length: number, into: Uint8Array, signal: AbortSignal): Promise<void> {
    const info = this.pinned;
    if (!info || !this.conn) throw this.closed.signal.aborted ? this.closedError() : new S3MmapError('NotOpen', 's3mmap: read() before open(); open the source first');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > info.size || into.length < length) {
      throw new S3MmapError('ERR_OUT_OF_RANGE', `s3mmap: read of ${length} bytes at ${offset} is outside ${this.url} (${info.size} bytes) or larger than the ${into.length}-byte buffer; this is a bug in the caller`);
    }
    if (length === 0) return;
    const started = Date.now();
    const giveUpAt = started + this.retry.deadlineMs;
    let previous: Failure | undefined;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw this.abortError(offset, length, signal.reason);
      if (!this.conn) throw this.closedError();
      const timeoutMs = Math.max(1, Math.min(this.retry.requestTimeoutMs, giveUpAt - Date.now()));
      let failure: Failure;
      try {
        await this.readOnce(offset, length, into, signal, timeoutMs);
        return;
      } catch (err) {
        if (err instanceof S3MmapError) throw err; // already final: abort, ObjectChanged, bad range
        failure = failureOf(err);
      }
      // An attempt cut short by the read deadline rather than by
      // requestTimeoutMs says nothing about the server: report what the
      // server said last (500, SlowDown, a broken body), not our own timer.
      if (previous && failure.code === 'ETIMEDOUT' && timeoutMs < this.retry.requestTimeoutMs) failure = previous;
      previous = failure;
      const retryable = isRetryable(failure) || RETRYABLE_IN_READ.has(failure.code);
      const delay = Math.random() * Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
      if (!retryable || attempt >= this.retry.attempts || Date.now() + delay >= giveUpAt) {
        throw this.readFailure(failure, offset, length, attempt, Date.now() - started, retryable);
      }
      this.stats.retries++;
      await this.backoff(delay, signal, offset, length);
    }
  }

  /** Wait before a retry; the caller's abort and close() cut it short. */
  private async backoff(ms: number, signal: AbortSignal, offset: number, length: number): Promise<void> {
    const pause = new AbortController();
    const onAbort = () => pause.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(pause);
    try {
      await sleep(ms, pause.signal);
    } catch {
      throw signal.aborted ? this.abortError(offset, length, signal.reason) : this.closedError();
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.inflight.delete(pause);
    }
  }

  close(): void {
    this.closed.abort();
    for (const attempt of this.inflight) attempt.abort(this.closedError());
    this.conn?.close();
    this.conn = undefined;
  }

  private async head(deadline: AbortSignal): Promise<HeadObjectCommandOutput> {
    const conn = this.conn!;
    for (let attempt = 1; ; attempt++) {
      try {
        return await conn.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key }), { abortSignal: deadline });
      } catch (err) {
        const f = failureOf(err);
        if (deadline.aborted || !isRetryable(f) || f.code === 'ETIMEDOUT' || attempt >= this.retry.attempts) {
          throw await this.explainHeadFailure(err, f, deadline);
        }
        const delay = Math.random() * Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        await sleep(delay, deadline);
      }
    }
  }

  /** HEAD errors have no body, so 404 and 403 carry no S3 code. A one-byte GET
   *  of the same key fails the same way but says why: NoSuchBucket or
   *  NoSuchKey, AccessDenied, InvalidAccessKeyId or SignatureDoesNotMatch. */
  private async explainHeadFailure(err: unknown, f: Failure, deadline: AbortSignal): Promise<unknown> {
    if (f.status === undefined || f.code !== String(f.status) || deadline.aborted) return err;
    try {
      const probe = await this.conn!.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key, Range: 'bytes=0-0' }),
        { abortSignal: deadline },
      );
      (probe.Body as Readable | undefined)?.destroy();
    } catch (probeErr) {
      const p = failureOf(probeErr);
      if (p.status === f.status && p.code !== String(p.status)) return probeErr;
    }
    return err;
  }

  private pin(head: HeadObjectCommandOutput): SourceInfo {
    if (typeof head.ContentLength !== 'number' || !Number.isSafeInteger(head.ContentLength) || head.ContentLength < 0) {
      throw this.error('BadResponse', `s3mmap: HEAD ${this.url} at ${this.endpoint()} returned no usable Content-Length; the endpoint does not behave like S3`);
    }
    if (!head.ETag) {
      throw this.error('NoETag', `s3mmap: HEAD ${this.url} at ${this.endpoint()} returned no ETag, so the object cannot be pinned against changes; use an S3 server that sends ETags`);
    }
    const meta: Record<string, string | number> = {};
    if (head.LastModified) meta.lastModified = head.LastModified.toISOString();
    if (head.ContentType) meta.contentType = head.ContentType;
    return { size: head.ContentLength, version: head.ETag, meta };
  }

  /** One ranged GET into `into`. Throws S3MmapError for final outcomes and
   *  the raw error for anything read() may retry. */
  private async readOnce(offset: number, length: number, into: Uint8Array, signal: AbortSignal, timeoutMs: number): Promise<void> {
    const info = this.pinned!;
    const end = offset + length - 1;
    const attempt = new AbortController();
    const timedOut = Object.assign(new Error(`no complete response within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
    const timer = setTimeout(() => attempt.abort(timedOut), timeoutMs);
    const onAbort = () => attempt.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(attempt);
    let body: Readable | undefined;
    try {
      let out: GetObjectCommandOutput;
      this.stats.gets++;
      try {
        out = await this.conn!.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: this.key, Range: `bytes=${offset}-${end}`, IfMatch: info.version }),
          { abortSignal: attempt.signal },
        );
      } catch (err) {
        throw this.settle(err, attempt.signal, signal, offset, length);
      }
      body = out.Body as Readable | undefined;
      const status = out.$metadata.httpStatusCode;
      const expectedRange = `bytes ${offset}-${end}/${info.size}`;
      if (status !== 206 || out.ContentRange !== expectedRange || out.ContentLength !== length || !body) {
        throw this.error('BadRangeResponse', status === 200
          ? `s3mmap: ${this.endpoint()} answered a ranged GET of ${this.url} bytes ${offset}-${end} with HTTP 200 and the whole object (BadRangeResponse); use an S3 server or proxy that honours Range headers`
          : `s3mmap: ${this.endpoint()} answered a ranged GET of ${this.url} with HTTP ${status}, Content-Range '${out.ContentRange ?? ''}' and Content-Length ${out.ContentLength ?? 'none'} instead of 206 '${expectedRange}' and ${length} (BadRangeResponse); the server or a proxy is mangling ranged responses`,
        { status });
      }
      try {
        await this.copyBody(body, into, length, attempt.signal);
      } catch (err) {
        throw this.settle(err, attempt.signal, signal, offset, length);
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      this.inflight.delete(attempt);
      // A body left unread holds its socket; an ended one goes back to the pool.
      if (body && !body.readableEnded) body.destroy();
    }
  }

  /** Copy each chunk to its place in `into` as it arrives: no whole-body
   *  buffer. Resolves only with exactly `length` bytes. */
  private copyBody(body: Readable, into: Uint8Array, length: number, abort: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let pos = 0;
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onEnd);
        abort.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onData = (chunk: Buffer) => {
        this.stats.bytes += chunk.length;
        if (pos + chunk.length > length) {
          finish(this.error('BadRangeResponse', `s3mmap: ${this.endpoint()} sent more than the ${length} bytes it announced for ${this.url} (BadRangeResponse); the server or a proxy is mangling ranged responses`));
          return;
        }
        into.set(chunk, pos);
        pos += chunk.length;
      };
      const onEnd = () => {
        if (pos === length) finish();
        else finish(Object.assign(new Error(`the body ended after ${pos} of ${length} bytes`), { code: 'TruncatedBody' }));
      };
      const onError = (err: Error) => finish(Object.assign(new Error(`the body broke off after ${pos} of ${length} bytes: ${err.message}`), {
        code: (err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === undefined ? 'TruncatedBody' : (err as NodeJS.ErrnoException).code,
        cause: err,
      }));
      const onAbort = () => finish(abort.reason);
      if (abort.aborted) return onAbort();
      abort.addEventListener('abort', onAbort, { once: true });
      body.on('data', onData).once('end', onEnd).once('error', onError).once('close', onEnd);
    });
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
    return this.openFailure(failureOf(err));
  }

  private openFailure(f: Failure): S3MmapError {
    const ep = this.endpoint();
    const akid = this.conn?.options.credentials.accessKeyId ?? '?';
    const messages: Record<string, string> = {
      NoSuchBucket: `s3mmap: no such bucket '${this.bucket}' at ${ep} (NoSuchBucket); check the bucket name, the endpoint and the region`,
      NoSuchKey: `s3mmap: no such key '${this.key}' in bucket '${this.bucket}' (NoSuchKey); check the key with \`s3mmap ls s3://${this.bucket}/\``,
      AccessDenied: `s3mmap: access denied to ${this.url} for access key '${akid}' (AccessDenied); check the credentials and that the bucket policy allows s3:GetObject`,
      InvalidAccessKeyId: `s3mmap: ${ep} does not know access key '${akid}' (InvalidAccessKeyId); check AWS_ACCESS_KEY_ID, the profile or the credentials passed`,
      SignatureDoesNotMatch: `s3mmap: ${ep} rejected the request signature of access key '${akid}' (SignatureDoesNotMatch); the secret key does not belong to that access key, or the region is wrong`,
      ExpiredToken: `s3mmap: the session token of access key '${akid}' has expired (ExpiredToken); refresh the credentials (e.g. \`aws sso login\`) and map again`,
      ECONNREFUSED: `s3mmap: connection refused by ${ep} (ECONNREFUSED); start the S3 server there or fix the endpoint (AWS_ENDPOINT_URL, --endpoint)`,
      ENOTFOUND: `s3mmap: cannot resolve the S3 endpoint host of ${ep} (ENOTFOUND); check the endpoint URL, the region and DNS`,
      ETIMEDOUT: /establish a connection/.test(f.detail)
        ? `s3mmap: no connection to ${ep} within ${seconds(this.retry.connectTimeoutMs)} (ETIMEDOUT); check the endpoint, the network and any firewall`
        : `s3mmap: no response from ${ep} within ${seconds(this.retry.requestTimeoutMs)} (ETIMEDOUT); check the endpoint and its load, or raise retry.requestTimeoutMs`,
      PermanentRedirect: `s3mmap: bucket '${this.bucket}' is not in region '${this.conn?.options.region}' (PermanentRedirect); set the bucket's region (AWS_REGION, --region)`,
    };
    if (TLS_TRUST_CODES.has(f.code)) {
      const o = this.conn?.options;
      const using = o?.caBundle ? `the CA bundle '${o.caBundle}' (${o.caBundleFrom})` : "Node's built-in CAs";
      messages[f.code] = `s3mmap: the TLS certificate of ${ep} is not trusted by ${using} (${f.code}: ${f.detail}); for a private CA set AWS_CA_BUNDLE or the caBundle option to its PEM file, or add it with NODE_EXTRA_CA_CERTS`;
    }
    if (f.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      messages[f.code] = `s3mmap: the TLS certificate of ${ep} is not for that host (${f.code}: ${f.detail}); use the host name the certificate names`;
    }
    // A bare status: neither HEAD nor the probe GET carried an S3 error code.
    const noS3Code = `; ${ep} sent no S3 error code, so check that it is an S3 endpoint`;
    messages.NotFound = messages.NoSuchKey + noS3Code;
    messages['404'] = messages.NoSuchKey + noS3Code;
    messages['403'] = messages.AccessDenied + noS3Code;
    const code = f.code === '404' || f.code === 'NotFound' ? 'NoSuchKey' : f.code === '403' ? 'AccessDenied' : f.code;
    const message = messages[f.code]
      ?? `s3mmap: HEAD ${this.url} at ${ep} failed: ${f.code}${f.status ? ` (HTTP ${f.status})` : ''}: ${f.detail}; check the endpoint, the credentials and the object`;
    return this.error(code, message, { status: f.status, retryable: isRetryable(f), cause: f.cause });
  }

  private readFailure(f: Failure, offset: number, length: number, attempts: number, elapsedMs: number, retryable: boolean): S3MmapError {
    const what = `GET ${this.url} bytes ${offset}-${offset + length - 1}`;
    const http = f.status ? ` (HTTP ${f.status})` : '';
    const tried = `after ${attempts} attempt${attempts === 1 ? '' : 's'} in ${seconds(elapsedMs)}`;
    const advice: Record<string, string> = {
      NoSuchKey: `${this.url} was deleted after it was mapped; map it again once it exists`,
      NoSuchBucket: `the bucket was deleted after the object was mapped`,
      AccessDenied: 'the credentials lost access after the object was mapped; check them and map again',
      ExpiredToken: 'the credentials expired; refresh them and map again',
      InvalidRange: `${this.url} is shorter than when it was mapped; map it again`,
    };
    const message = retryable
      ? `s3mmap: ${what} failed ${tried}: ${f.code}${http}: ${f.detail}; the endpoint ${this.endpoint()} is failing or overloaded, try again later or raise retry.attempts / retry.deadlineMs`
      : `s3mmap: ${what} failed: ${f.code}${http}; ${advice[f.code] ?? `${f.detail}; check the endpoint and the object`}`;
    return this.error(f.code, message, { status: f.status, retryable, cause: f.cause });
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

/** Name the failure the way S3 would: its XML error code when there was one,
 *  else the Node error code, else the HTTP status as a string. */
function failureOf(err: unknown): Failure {
  const e = (err ?? {}) as {
    name?: string; message?: string; code?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  let code: string | undefined;
  if (typeof e.Code === 'string' && e.Code) code = e.Code;
  else if (typeof e.code === 'string' && e.code) code = e.code;
  else if (e.name === 'TimeoutError') code = 'ETIMEDOUT';
  else if (e.name === 'AbortError') code = 'AbortError';
  else if (status !== undefined) code = String(status);
  else if (e.name && e.name !== 'Error') code = e.name;
  return { code: code ?? 'Unknown', status, detail: oneLine(e.message ?? String(err)), cause: err };
}

/** A copy of an SDK or system error with what helps debugging (name, code,
 *  message, request ids) and nothing else: AWS puts SignatureProvided and
 *  StringToSign on SignatureDoesNotMatch errors, and util.inspect would print them. */
function sanitizedCause(err: unknown, secrets: string[]): unknown {
  if (err === undefined || err instanceof S3MmapError) return err;
  if (!(err instanceof Error)) return new Error(redactSecrets(String(err), secrets));
  const src = err as Error & { code?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string } };
  const copy = new Error(redactSecrets(src.message, secrets)) as Error & { code?: string; $metadata?: object };
  copy.name = src.name;
  const code = typeof src.Code === 'string' ? src.Code : src.code;
  if (typeof code === 'string') copy.code = code;
  if (src.$metadata) {
    const { httpStatusCode, requestId, extendedRequestId } = src.$metadata;
    copy.$metadata = { httpStatusCode, requestId, extendedRequestId };
  }
  copy.stack = redactSecrets(src.stack ?? '', secrets);
  return copy;
}

function isRetryable(f: Failure): boolean {
  return RETRYABLE_CODES.has(f.code) || (f.status !== undefined && RETRYABLE_STATUS.has(f.status));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** Server text goes mid-sentence into our messages: one line, short, no final period. */
function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 300).replace(/\.+$/, '');
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
