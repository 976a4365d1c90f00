// The one S3 failure vocabulary: how an SDK or system error is named (its S3
// code, else the system code, else the HTTP status), which failures are worth
// another try, and the one-line message that says what to do. Used by the S3
// source in the fault worker (the open, ranged GETs) and by the CLI on the main
// thread (LIST). Messages carry no secret: only codes, statuses and scrubbed
// server text go into them, and causes are copied without request or response.
import { redactSecrets, S3MmapError } from '../shared/errors.js';

export interface Failure {
  code: string;
  status?: number;
  /** The server's or the system's own words, for codes we have no message for. */
  detail: string;
  cause: unknown;
}

// S3 error codes and statuses worth another try. 412, 403, 404 never are.
// ClientDisconnected (499) is what MinIO answers the requests it drops while
// it shuts down: a restart, as a refused connection is.
const RETRYABLE_CODES = new Set([
  'SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'Throttling',
  'ThrottlingException', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'TruncatedBody', 'ERR_STREAM_PREMATURE_CLOSE', 'ClientDisconnected',
]);
const RETRYABLE_STATUS = new Set([429, 499, 500, 502, 503, 504]);
// Retried by reads only: the endpoint answered at open, so a refusal now is a
// restart or a failover, and giving up poisons pages. Opening fails fast on it.
const RETRYABLE_IN_READ = new Set(['ECONNREFUSED']);
// OpenSSL verification failures as Node names them: the endpoint's certificate chain is not trusted.
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
]);

/** Name the failure the way S3 would: its XML error code when there was one,
 *  else the Node error code, else the HTTP status as a string. */
export function failureOf(err: unknown): Failure {
  const e = (err ?? {}) as {
    name?: string; message?: string; code?: unknown; Code?: unknown;
    errors?: { code?: unknown }[]; $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  let code: string | undefined;
  if (typeof e.Code === 'string' && e.Code) code = e.Code;
  else if (typeof e.code === 'string' && e.code) code = e.code;
  // Node's happy-eyeballs connect reports an AggregateError; its parts hold the code.
  else if (typeof e.errors?.[0]?.code === 'string') code = e.errors[0].code as string;
  else if (e.name === 'TimeoutError') code = 'ETIMEDOUT';
  else if (e.name === 'AbortError') code = 'AbortError';
  else if (status !== undefined) code = String(status);
  else if (e.name && e.name !== 'Error') code = e.name;
  return { code: code ?? 'Unknown', status, detail: oneLine(e.message ?? String(err)), cause: err };
}

export function isRetryable(f: Failure, { reading = false } = {}): boolean {
  return RETRYABLE_CODES.has(f.code) || (f.status !== undefined && RETRYABLE_STATUS.has(f.status)) || (reading && RETRYABLE_IN_READ.has(f.code));
}

/** What a message needs to say where and for whom a request failed. */
export interface FailureContext {
  /** The request, for codes without a message of their own: 'GET s3://b/k', 'listing s3://b/p'. */
  what: string;
  /** What access was denied to: 's3://b/k', 'listing the buckets'. */
  target: string;
  bucket?: string;
  key?: string;
  /** Origin without user info. */
  endpoint: string;
  accessKeyId: string;
  region: string;
  /** The permission a policy must grant: s3:GetObject, s3:ListBucket. */
  permission: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  caBundle?: string;
  caBundleFrom?: string;
  /** What to do when an S3 code says the request must be made again. */
  again: string;
}

/** The one-line message for a failed request, and the code it is reported
 *  under (a bare 404 or 403 is named NoSuchKey/NoSuchBucket or AccessDenied). */
export function describeFailure(f: Failure, c: FailureContext): { code: string; message: string } {
  const ep = c.endpoint;
  const akid = c.accessKeyId;
  const messages: Record<string, string> = {
    NoSuchBucket: `s3mmap: no such bucket '${c.bucket}' at ${ep} (NoSuchBucket); check the bucket name (\`s3mmap ls\` lists them), the endpoint and the region`,
    NoSuchKey: `s3mmap: no such key '${c.key}' in bucket '${c.bucket}' (NoSuchKey); check the key with \`s3mmap ls s3://${c.bucket}/\``,
    AccessDenied: `s3mmap: access denied to ${c.target} for access key '${akid}' (AccessDenied); check the credentials and that the bucket policy allows ${c.permission}`,
    InvalidAccessKeyId: `s3mmap: ${ep} does not know access key '${akid}' (InvalidAccessKeyId); check AWS_ACCESS_KEY_ID, the profile (--profile, AWS_PROFILE) or the credentials passed`,
    SignatureDoesNotMatch: `s3mmap: ${ep} rejected the request signature of access key '${akid}' (SignatureDoesNotMatch); the secret key does not belong to that access key, or the region is wrong`,
    ExpiredToken: `s3mmap: the session token of access key '${akid}' has expired (ExpiredToken); refresh the credentials (e.g. \`aws sso login\`) and ${c.again}`,
    ECONNREFUSED: `s3mmap: connection refused by ${ep} (ECONNREFUSED); start the S3 server there or fix the endpoint (AWS_ENDPOINT_URL, --endpoint)`,
    ENOTFOUND: `s3mmap: cannot resolve the S3 endpoint host of ${ep} (ENOTFOUND); check the endpoint URL, the region and DNS`,
    ETIMEDOUT: /establish a connection/.test(f.detail)
      ? `s3mmap: no connection to ${ep} within ${seconds(c.connectTimeoutMs)} (ETIMEDOUT); check the endpoint, the network and any firewall`
      : `s3mmap: no response from ${ep} within ${seconds(c.requestTimeoutMs)} (ETIMEDOUT); check the endpoint and its load, or raise retry.requestTimeoutMs`,
    PermanentRedirect: `s3mmap: bucket '${c.bucket}' is not in region '${c.region}' (PermanentRedirect); set the bucket's region (AWS_REGION, --region)`,
  };
  if (TLS_TRUST_CODES.has(f.code)) {
    const using = c.caBundle ? `the CA bundle '${c.caBundle}' (${c.caBundleFrom})` : "Node's built-in CAs";
    messages[f.code] = `s3mmap: the TLS certificate of ${ep} is not trusted by ${using} (${f.code}: ${f.detail}); for a private CA set AWS_CA_BUNDLE or the caBundle option to its PEM file, or add it with NODE_EXTRA_CA_CERTS`;
  }
  if (f.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    messages[f.code] = `s3mmap: the TLS certificate of ${ep} is not for that host (${f.code}: ${f.detail}); use the host name the certificate names`;
  }
  // A bare status: the answer carried no S3 error code (HEAD errors have no body).
  const bare: Record<string, string> = { '403': 'AccessDenied', Forbidden: 'AccessDenied' };
  const missing = c.key !== undefined ? 'NoSuchKey' : c.bucket !== undefined ? 'NoSuchBucket' : undefined;
  if (missing) bare['404'] = bare.NotFound = missing;
  const code = bare[f.code] ?? f.code;
  const message = bare[f.code]
    ? `${messages[code]}; ${ep} sent no S3 error code, so check that it is an S3 endpoint`
    : messages[code] ?? `s3mmap: ${c.what} at ${ep} failed: ${f.code}${f.status ? ` (HTTP ${f.status})` : ''}: ${f.detail}; check the endpoint, the credentials and the ${c.key === undefined ? 'bucket' : 'object'}`;
  return { code, message };
}

/** Where and how a read of a mapped object failed. */
export interface ReadFailureContext {
  url: string;
  /** Origin without user info. */
  endpoint: string;
  offset: number;
  length: number;
  attempts: number;
  elapsedMs: number;
  retryable: boolean;
}

/** The one-line message for a ranged GET that failed for good after the
 *  object was mapped: a retryable failure says how long it was tried, a
 *  final one says what changed since the open. */
export function describeReadFailure(f: Failure, c: ReadFailureContext): string {
  const what = `GET ${c.url} bytes ${c.offset}-${c.offset + c.length - 1}`;
  const http = f.status ? ` (HTTP ${f.status})` : '';
  const tried = `after ${c.attempts} attempt${c.attempts === 1 ? '' : 's'} in ${seconds(c.elapsedMs)}`;
  // Gone after the object was mapped: said as such, not as at open.
  const advice: Record<string, string> = {
    NoSuchKey: `${c.url} was deleted after it was mapped; map it again once it exists`,
    NoSuchBucket: `the bucket was deleted after the object was mapped`,
    AccessDenied: 'the credentials lost access after the object was mapped; check them and map again',
    ExpiredToken: 'the credentials expired; refresh them and map again',
    InvalidRange: `${c.url} is shorter than when it was mapped; map it again`,
  };
  return c.retryable
    ? `s3mmap: ${what} failed ${tried}: ${f.code}${http}: ${f.detail}; the endpoint ${c.endpoint} is failing or overloaded, try again later or raise retry.attempts / retry.deadlineMs`
    : `s3mmap: ${what} failed: ${f.code}${http}; ${advice[f.code] ?? `${f.detail}; check the endpoint and the object`}`;
}

/** An S3MmapError for a failed request, scrubbed of `secrets`, with a copy of the cause. */
export function failureError(f: Failure, c: FailureContext, secrets: string[]): S3MmapError {
  const { code, message } = describeFailure(f, c);
  return new S3MmapError(code, redactSecrets(message, secrets), { status: f.status, retryable: isRetryable(f), cause: sanitizedCause(f.cause, secrets) });
}

/** A copy of an SDK or system error with what helps debugging (name, code,
 *  message, request ids) and nothing else: AWS puts SignatureProvided and
 *  StringToSign on SignatureDoesNotMatch errors, and util.inspect would print them. */
export function sanitizedCause(err: unknown, secrets: string[]): unknown {
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

export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** Server text goes mid-sentence into our messages: one line, short, no final period. */
function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 300).replace(/\.+$/, '');
}
