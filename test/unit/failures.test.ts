// Unit tests of lib/s3/failures.ts: how an SDK or system error is named
// (failureOf), which failures are retried (isRetryable), the code and the one
// line each is reported with (describeFailure, failureError), and what of a
// cause is kept (sanitizedCause). Vitest 'unit' project, test-file thread.
import { describe, expect, it } from 'vitest';
import { S3MmapError } from '../../lib/shared/errors.js';
import {
  describeFailure, failureError, failureOf, isRetryable, sanitizedCause, seconds,
  type Failure, type FailureContext,
} from '../../lib/s3/failures.js';

const ctx: FailureContext = {
  what: 'HEAD s3://b/k', target: 's3://b/k', bucket: 'b', key: 'k', endpoint: 'http://127.0.0.1:9000',
  accessKeyId: 'AKID', region: 'eu-west-3', permission: 's3:GetObject', connectTimeoutMs: 3000,
  requestTimeoutMs: 10_000, again: 'map again',
};
const f = (code: string, extra: Partial<Failure> = {}): Failure => ({ code, detail: 'the detail', cause: undefined, ...extra });
const sdkError = (name: string, status: number, props: object = {}) =>
  Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status }, ...props });

describe('failureOf: the name of a failure', () => {
  it("the S3 code first ('Code' as the SDK sets it), then the system code", () => {
    expect(failureOf(sdkError('NoSuchKey', 404, { Code: 'NoSuchKey' }))).toMatchObject({ code: 'NoSuchKey', status: 404 });
    expect(failureOf(Object.assign(new Error('x'), { Code: 'SlowDown', code: 'ECONNRESET' })).code).toBe('SlowDown');
    expect(failureOf(Object.assign(new Error('x'), { Code: '', code: 'ECONNRESET' })).code).toBe('ECONNRESET');
    expect(failureOf(Object.assign(new Error('x'), { code: 42 })).code).toBe('Unknown');
    // A Code that is not a string is not a name.
    expect(failureOf(Object.assign(new Error('x'), { Code: 503, code: 'ECONNRESET' })).code).toBe('ECONNRESET');
  });

  it("a connect's AggregateError is named by its first part", () => {
    const agg = new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'EHOSTUNREACH' })], 'connect');
    expect(failureOf(agg).code).toBe('ECONNREFUSED');
    expect(failureOf(new AggregateError([new Error('no code')], 'x')).code).toBe('AggregateError');
    expect(failureOf(new AggregateError([], 'nothing inside')).code).toBe('AggregateError');
  });

  it('timeouts and aborts by their names; a bare status as a string; another name as itself', () => {
    expect(failureOf(Object.assign(new Error('t'), { name: 'TimeoutError' })).code).toBe('ETIMEDOUT');
    expect(failureOf(Object.assign(new Error('a'), { name: 'AbortError' })).code).toBe('AbortError');
    // An abort is an abort even when a status came first.
    expect(failureOf(Object.assign(new Error('a'), { name: 'AbortError', $metadata: { httpStatusCode: 200 } })).code).toBe('AbortError');
    expect(failureOf(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 503 } }))).toMatchObject({ code: '503', status: 503 });
    expect(failureOf(sdkError('Forbidden', 403)).code).toBe('403');
    expect(failureOf(Object.assign(new Error('x'), { name: 'TypeError' })).code).toBe('TypeError');
    expect(failureOf(new Error('plain')).code).toBe('Unknown');
    expect(failureOf(undefined)).toMatchObject({ code: 'Unknown', status: undefined });
    expect(failureOf(null).code).toBe('Unknown');
    expect(failureOf('a string').detail).toBe('a string');
  });

  it('the detail is one line of at most 300 characters without a final period; the cause is the error itself', () => {
    const err = new Error('  first line.\n\tsecond   line...  ');
    expect(failureOf(err)).toMatchObject({ detail: 'first line. second line', cause: err });
    expect(failureOf(new Error('x'.repeat(400))).detail).toHaveLength(300);
    expect(failureOf(new Error(`${'y'.repeat(299)}.`)).detail).toBe('y'.repeat(299));
  });
});

describe('isRetryable', () => {
  const codes = [
    'SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'Throttling',
    'ThrottlingException', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'TruncatedBody', 'ERR_STREAM_PREMATURE_CLOSE', 'ClientDisconnected',
  ];
  it('these codes, whatever the status', () => {
    for (const code of codes) {
      expect(isRetryable(f(code)), code).toBe(true);
      expect(isRetryable(f(code, { status: 400 })), code).toBe(true);
    }
  });

  it('HTTP 429, 499, 500, 502, 503 and 504 whatever the code; no other status', () => {
    for (const status of [429, 499, 500, 502, 503, 504]) expect(isRetryable(f('Whatever', { status })), String(status)).toBe(true);
    for (const status of [200, 206, 301, 400, 401, 403, 404, 409, 412, 416, 498, 501, 505]) expect(isRetryable(f('Whatever', { status })), String(status)).toBe(false);
  });

  it('ECONNREFUSED only while reading (the endpoint answered at open)', () => {
    expect(isRetryable(f('ECONNREFUSED'))).toBe(false);
    expect(isRetryable(f('ECONNREFUSED'), { reading: false })).toBe(false);
    expect(isRetryable(f('ECONNREFUSED'), { reading: true })).toBe(true);
  });

  it('never what a retry cannot change, reading or not', () => {
    for (const code of ['NoSuchKey', 'NoSuchBucket', 'AccessDenied', 'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'ExpiredToken', 'PreconditionFailed', 'ENOTFOUND', 'BadRangeResponse', 'Unknown']) {
      expect(isRetryable(f(code)), code).toBe(false);
      expect(isRetryable(f(code), { reading: true }), code).toBe(false);
    }
    expect(isRetryable(f('AccessDenied', { status: 403 }), { reading: true })).toBe(false);
    expect(isRetryable(f('NoSuchBucket', { status: 404 }), { reading: true })).toBe(false);
  });
});

describe('describeFailure: the code and the one line', () => {
  const said = (code: string, extra: Partial<Failure> = {}, c: Partial<FailureContext> = {}) => describeFailure(f(code, extra), { ...ctx, ...c });

  it('each code with a message of its own', () => {
    const table: Record<string, string> = {
      NoSuchBucket: "s3mmap: no such bucket 'b' at http://127.0.0.1:9000 (NoSuchBucket); check the bucket name (`s3mmap ls` lists them), the endpoint and the region",
      NoSuchKey: "s3mmap: no such key 'k' in bucket 'b' (NoSuchKey); check the key with `s3mmap ls s3://b/`",
      AccessDenied: "s3mmap: access denied to s3://b/k for access key 'AKID' (AccessDenied); check the credentials and that the bucket policy allows s3:GetObject",
      InvalidAccessKeyId: "s3mmap: http://127.0.0.1:9000 does not know access key 'AKID' (InvalidAccessKeyId); check AWS_ACCESS_KEY_ID, the profile (--profile, AWS_PROFILE) or the credentials passed",
      SignatureDoesNotMatch: "s3mmap: http://127.0.0.1:9000 rejected the request signature of access key 'AKID' (SignatureDoesNotMatch); the secret key does not belong to that access key, or the region is wrong",
      ExpiredToken: "s3mmap: the session token of access key 'AKID' has expired (ExpiredToken); refresh the credentials (e.g. `aws sso login`) and map again",
      ECONNREFUSED: 's3mmap: connection refused by http://127.0.0.1:9000 (ECONNREFUSED); start the S3 server there or fix the endpoint (AWS_ENDPOINT_URL, --endpoint)',
      ENOTFOUND: 's3mmap: cannot resolve the S3 endpoint host of http://127.0.0.1:9000 (ENOTFOUND); check the endpoint URL, the region and DNS',
      ETIMEDOUT: 's3mmap: no response from http://127.0.0.1:9000 within 10 s (ETIMEDOUT); check the endpoint and its load, or raise retry.requestTimeoutMs',
      PermanentRedirect: "s3mmap: bucket 'b' is not in region 'eu-west-3' (PermanentRedirect); set the bucket's region (AWS_REGION, --region)",
    };
    for (const [code, message] of Object.entries(table)) expect(said(code), code).toEqual({ code, message });
  });

  it('ETIMEDOUT while connecting names the connect timeout', () => {
    expect(said('ETIMEDOUT', { detail: 'could not establish a connection in time' }).message).toBe(
      's3mmap: no connection to http://127.0.0.1:9000 within 3 s (ETIMEDOUT); check the endpoint, the network and any firewall');
  });

  it("a TLS trust failure names the CAs used, Node's or a bundle's", () => {
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']) {
      expect(said(code, { detail: 'bad cert' }), code).toEqual({
        code,
        message: `s3mmap: the TLS certificate of http://127.0.0.1:9000 is not trusted by Node's built-in CAs (${code}: bad cert); for a private CA set AWS_CA_BUNDLE or the caBundle option to its PEM file, or add it with NODE_EXTRA_CA_CERTS`,
      });
    }
    expect(said('CERT_HAS_EXPIRED', { detail: 'expired' }, { caBundle: '/etc/ca.pem', caBundleFrom: 'AWS_CA_BUNDLE' }).message).toBe(
      "s3mmap: the TLS certificate of http://127.0.0.1:9000 is not trusted by the CA bundle '/etc/ca.pem' (AWS_CA_BUNDLE) (CERT_HAS_EXPIRED: expired); for a private CA set AWS_CA_BUNDLE or the caBundle option to its PEM file, or add it with NODE_EXTRA_CA_CERTS");
    expect(said('ERR_TLS_CERT_ALTNAME_INVALID', { detail: "Host: x. is not in the cert's altnames" }).message).toBe(
      "s3mmap: the TLS certificate of http://127.0.0.1:9000 is not for that host (ERR_TLS_CERT_ALTNAME_INVALID: Host: x. is not in the cert's altnames); use the host name the certificate names");
  });

  it('a bare 403 or 404 (HEAD answers have no body) is named, and the message says no S3 code came', () => {
    const suffix = '; http://127.0.0.1:9000 sent no S3 error code, so check that it is an S3 endpoint';
    expect(said('403', { status: 403 })).toEqual({ code: 'AccessDenied', message: said('AccessDenied').message + suffix });
    expect(said('Forbidden', { status: 403 })).toEqual({ code: 'AccessDenied', message: said('AccessDenied').message + suffix });
    expect(said('404', { status: 404 })).toEqual({ code: 'NoSuchKey', message: said('NoSuchKey').message + suffix });
    expect(said('NotFound', { status: 404 })).toEqual({ code: 'NoSuchKey', message: said('NoSuchKey').message + suffix });
    // Listing a bucket: no key, so a 404 is the bucket.
    const bucketOnly = { key: undefined, what: 'listing s3://b/' };
    expect(said('404', { status: 404 }, bucketOnly)).toEqual({ code: 'NoSuchBucket', message: said('NoSuchBucket', {}, bucketOnly).message + suffix });
    // Listing the buckets: nothing can be missing, so the 404 stays a status.
    expect(said('404', { status: 404 }, { key: undefined, bucket: undefined, what: 'listing the buckets' })).toEqual({
      code: '404', message: 's3mmap: listing the buckets at http://127.0.0.1:9000 failed: 404 (HTTP 404): the detail; check the endpoint, the credentials and the bucket',
    });
  });

  it('any other code: what failed, the code, the status and the detail', () => {
    expect(said('InternalError', { status: 500, detail: 'We encountered an internal error' })).toEqual({
      code: 'InternalError',
      message: 's3mmap: HEAD s3://b/k at http://127.0.0.1:9000 failed: InternalError (HTTP 500): We encountered an internal error; check the endpoint, the credentials and the object',
    });
    expect(said('EPROTO', {}, { key: undefined }).message).toBe(
      's3mmap: HEAD s3://b/k at http://127.0.0.1:9000 failed: EPROTO: the detail; check the endpoint, the credentials and the bucket');
  });

  it('seconds: tenths of a second, no trailing zero', () => {
    expect([1500, 15_000, 3000, 1234, 1250, 60_000, 99, 0].map(seconds)).toEqual(['1.5 s', '15 s', '3 s', '1.2 s', '1.3 s', '60 s', '0.1 s', '0 s']);
  });
});

describe('failureError and sanitizedCause', () => {
  it('an S3MmapError with the code, the message scrubbed of the secrets, the status and whether a retry may help', () => {
    const cause = sdkError('SlowDown', 503, { Code: 'SlowDown' });
    const err = failureError(failureOf(cause), { ...ctx, accessKeyId: 'AKID-topsecret' }, ['topsecret']);
    expect(err).toBeInstanceOf(S3MmapError);
    expect(err).toMatchObject({ code: 'SlowDown', status: 503, retryable: true });
    expect(err.message).toBe('s3mmap: HEAD s3://b/k at http://127.0.0.1:9000 failed: SlowDown (HTTP 503): SlowDown message; check the endpoint, the credentials and the object');
    const denied = failureError(f('AccessDenied', { status: 403 }), { ...ctx, accessKeyId: 'AKID-topsecret' }, ['topsecret']);
    expect(denied).toMatchObject({ code: 'AccessDenied', status: 403, retryable: false });
    expect(denied.message).toContain("access key 'AKID-[redacted]'");
    expect(denied.message).not.toContain('topsecret');
  });

  it('a cause keeps name, code, message, request ids and stack, scrubbed; nothing else', () => {
    const raw = Object.assign(new Error('bad sig for secretkey1234'), {
      name: 'SignatureDoesNotMatch', Code: 'SignatureDoesNotMatch', code: 'Other',
      SignatureProvided: 'abc', StringToSign: 'AWS4-HMAC-SHA256 secretkey1234',
      $metadata: { httpStatusCode: 403, requestId: 'R1', extendedRequestId: 'X1', attempts: 3, totalRetryDelay: 9 },
      $response: { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=...' } },
    });
    const copy = sanitizedCause(raw, ['secretkey1234']) as Error & Record<string, unknown>;
    expect(copy).not.toBe(raw);
    expect(copy.name).toBe('SignatureDoesNotMatch');
    expect(copy.code).toBe('SignatureDoesNotMatch');
    expect(copy.message).toBe('bad sig for [redacted]');
    expect(copy.$metadata).toEqual({ httpStatusCode: 403, requestId: 'R1', extendedRequestId: 'X1' });
    expect(copy.stack).not.toContain('secretkey1234');
    expect(copy.stack).toContain('bad sig for [redacted]');
    expect(copy.stack).toContain('failures.test.ts'); // the frames are kept
    expect(Object.keys(copy).sort()).toEqual(['$metadata', 'code', 'name']);
    const stackless = Object.assign(new Error('m'), { stack: undefined });
    expect((sanitizedCause(stackless, []) as Error).stack).toBe('');
    const plain = sanitizedCause(Object.assign(new Error('m'), { code: 'ECONNRESET' }), []) as Error & { code?: string; $metadata?: unknown };
    expect(plain.code).toBe('ECONNRESET');
    expect(plain.$metadata).toBeUndefined();
    expect('code' in (sanitizedCause(Object.assign(new Error('m'), { code: 5 }), []) as object)).toBe(false);
  });

  it('undefined and S3MmapErrors pass as they are; anything else becomes an Error with its text scrubbed', () => {
    expect(sanitizedCause(undefined, [])).toBeUndefined();
    const own = new S3MmapError('X', 'mine');
    expect(sanitizedCause(own, [])).toBe(own);
    const fromString = sanitizedCause('token=verysecret9 here', ['verysecret9']) as Error;
    expect(fromString).toBeInstanceOf(Error);
    expect(fromString.message).toBe('token=[redacted] here');
  });
});
