// S3MmapError, the one error class the whole library throws, and the helpers
// that carry errors across postMessage. Runs on every thread (main, fault
// worker, CLI): no Node-only APIs beyond what all of them share.
//
// Structured clone keeps an Error's name, message and stack but drops own
// properties such as `code`, so an error crossing from the fault worker to the
// main thread must be serialized explicitly or the caller loses the one field
// it can branch on.

/** Codes the S3 source produces. Other modules may add their own strings. */
export type S3MmapErrorCode =
  | 'NoSuchBucket'
  | 'NoSuchKey'
  | 'AccessDenied'
  | 'InvalidAccessKeyId'
  | 'SignatureDoesNotMatch'
  | 'ExpiredToken'
  | 'NoCredentials'
  | 'ECONNREFUSED'
  | 'ENOTFOUND'
  | 'ETIMEDOUT'
  | 'ECONNRESET'
  | 'InvalidURL'
  | 'InvalidRange'
  | 'BadRangeResponse'
  | 'TruncatedBody'
  | 'NoETag'
  | 'ObjectChanged'
  | 'SlowDown'
  | 'InternalError'
  | 'AbortError'
  | 'ERR_CLOSED'
  | 'ERR_OUT_OF_RANGE'
  | 'NotOpen'
  | (string & {});

export interface S3MmapErrorOptions {
  /** True when trying the same request again may succeed. */
  retryable?: boolean;
  /** HTTP status, when the error came from a response. */
  status?: number;
  cause?: unknown;
}

const PREFIX = 's3mmap: ';

export class S3MmapError extends Error {
  readonly code: S3MmapErrorCode;
  readonly retryable: boolean;
  readonly status?: number;

  /** `message` should say what went wrong and what to do, in one line; the
   *  "s3mmap: " prefix is added when missing and line breaks are flattened so
   *  the message stays one line in logs and CLI output. */
  constructor(code: S3MmapErrorCode, message: string, options: S3MmapErrorOptions = {}) {
    const line = oneLine(message);
    super(line.startsWith(PREFIX) ? line : PREFIX + line, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'S3MmapError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.status !== undefined) this.status = options.status;
  }
}

export function isS3MmapError(err: unknown): err is S3MmapError {
  return err instanceof S3MmapError;
}

/** The plain-object form of an error: survives postMessage and JSON. */
export interface SerializedError {
  /** Marks the object so a receiver can tell it from arbitrary data. */
  $error: true;
  /** 'S3MmapError' rebuilds an S3MmapError; anything else a plain Error. */
  name: string;
  message: string;
  stack?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  status?: number;
  retryable?: boolean;
  cause?: SerializedError;
}

const MAX_CAUSE_DEPTH = 4;

/** Turn any thrown value into a SerializedError. Keeps the fields callers
 *  branch on (code, errno, syscall from native errors; status, retryable from
 *  S3MmapError) and nothing else, so no request object or header rides along. */
export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) {
    return { $error: true, name: 'Error', message: String(err) };
  }
  const e = err as Error & { code?: unknown; errno?: unknown; syscall?: unknown; status?: unknown; retryable?: unknown };
  const out: SerializedError = { $error: true, name: e.name, message: e.message };
  if (e.stack !== undefined) out.stack = e.stack;
  if (typeof e.code === 'string') out.code = e.code;
  if (typeof e.errno === 'number') out.errno = e.errno;
  if (typeof e.syscall === 'string') out.syscall = e.syscall;
  if (typeof e.status === 'number') out.status = e.status;
  if (typeof e.retryable === 'boolean') out.retryable = e.retryable;
  if (e.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

export function isSerializedError(value: unknown): value is SerializedError {
  return typeof value === 'object' && value !== null && (value as { $error?: unknown }).$error === true;
}

/** Rebuild an Error from serializeError's output, with the sender's stack. */
export function deserializeError(s: SerializedError): Error {
  const cause = s.cause ? deserializeError(s.cause) : undefined;
  let err: Error;
  if (s.name === 'S3MmapError') {
    err = new S3MmapError(s.code ?? 'Unknown', s.message, { retryable: s.retryable, status: s.status, cause });
  } else {
    err = new Error(s.message, cause === undefined ? undefined : { cause });
    err.name = s.name;
    const extra = err as Error & { code?: string; errno?: number; syscall?: string; status?: number };
    if (s.code !== undefined) extra.code = s.code;
    if (s.errno !== undefined) extra.errno = s.errno;
    if (s.syscall !== undefined) extra.syscall = s.syscall;
    if (s.status !== undefined) extra.status = s.status;
  }
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}

// SigV4 material that may appear in text the SDK or a proxy hands back.
const SIGNATURE_PATTERNS: RegExp[] = [
  /(authorization\s*[:=]\s*)[^\r\n,;]+/gi,
  /((?:x-amz-)?signature=)[0-9a-f]+/gi,
  /(x-amz-security-token=)[^&\s]+/gi,
  /(x-amz-credential=)[^&\s]+/gi,
];

/** Remove known secrets and signature material from text that is about to
 *  become an error message. `secrets` are literal values (secret key,
 *  session token); empty strings are ignored. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  for (const re of SIGNATURE_PATTERNS) out = out.replace(re, '$1[redacted]');
  return out;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
