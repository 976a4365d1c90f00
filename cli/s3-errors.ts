// One line for an S3 request the CLI itself sends (ls's LIST): the S3 code or
// system error, and what to do. Main thread. HEAD and GET failures are worded
// by the library's S3 source; this covers the rest with the same vocabulary.
// The SDK's own error text can carry signature material: only the code, the
// status and a scrubbed detail make it into the message.
import { redactSecrets, S3MmapError } from '../lib/shared/errors.js';
import type { S3Connection } from '../lib/s3/client.js';

export function explainS3Error(err: unknown, what: string, bucket: string | undefined, conn: S3Connection): S3MmapError {
  if (err instanceof S3MmapError) return err;
  const e = (err ?? {}) as {
    name?: string; message?: string; code?: unknown; Code?: unknown;
    errors?: { code?: unknown }[]; $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  // Node's happy-eyeballs connect reports an AggregateError; its parts hold the code.
  const sys = typeof e.code === 'string' ? e.code : typeof e.errors?.[0]?.code === 'string' ? (e.errors[0].code as string) : undefined;
  let code = typeof e.Code === 'string' && e.Code ? e.Code : sys ?? (e.name === 'TimeoutError' ? 'ETIMEDOUT' : e.name && e.name !== 'Error' ? e.name : status ? String(status) : 'Unknown');
  if (code === '404' || code === 'NotFound') code = bucket ? 'NoSuchBucket' : code;
  if (code === '403' || code === 'Forbidden') code = 'AccessDenied';
  const ep = conn.endpointLabel;
  const akid = conn.options.credentials.accessKeyId;
  const messages: Record<string, string> = {
    NoSuchBucket: `s3mmap: no such bucket '${bucket}' at ${ep} (NoSuchBucket); check the bucket name (\`s3mmap ls\` lists them), the endpoint and the region`,
    AccessDenied: `s3mmap: access denied to ${what} for access key '${akid}' (AccessDenied); check the credentials and that the policy allows s3:ListBucket`,
    InvalidAccessKeyId: `s3mmap: ${ep} does not know access key '${akid}' (InvalidAccessKeyId); check AWS_ACCESS_KEY_ID or the profile (--profile, AWS_PROFILE)`,
    SignatureDoesNotMatch: `s3mmap: ${ep} rejected the request signature of access key '${akid}' (SignatureDoesNotMatch); the secret key does not belong to that access key, or the region is wrong`,
    ExpiredToken: `s3mmap: the session token of access key '${akid}' has expired (ExpiredToken); refresh the credentials (e.g. \`aws sso login\`) and try again`,
    ECONNREFUSED: `s3mmap: connection refused by ${ep} (ECONNREFUSED); start the S3 server there or fix the endpoint (--endpoint, AWS_ENDPOINT_URL)`,
    ENOTFOUND: `s3mmap: cannot resolve the S3 endpoint host of ${ep} (ENOTFOUND); check the endpoint URL, the region and DNS`,
    ETIMEDOUT: `s3mmap: no answer from ${ep} in time (ETIMEDOUT); check the endpoint, the network and any firewall`,
    PermanentRedirect: `s3mmap: bucket '${bucket}' is not in region '${conn.options.region}' (PermanentRedirect); set its region (--region, AWS_REGION)`,
  };
  const detail = redactSecrets(String(e.message ?? err).replace(/\s+/g, ' ').trim().slice(0, 200), conn.secrets());
  const message = messages[code] ?? `s3mmap: ${what} at ${ep} failed: ${code}${status ? ` (HTTP ${status})` : ''}: ${detail}; check the endpoint, the credentials and the bucket`;
  // For --verbose: the SDK's name and words, without its request or response.
  const cause = Object.assign(new Error(detail), { name: String(e.name ?? 'Error'), code });
  cause.stack = `${cause.name}: ${detail}`;
  return new S3MmapError(code, redactSecrets(message, conn.secrets()), { status, cause });
}
