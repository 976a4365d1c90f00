// What a caller may say about reaching S3 and retrying: serializable options
// that travel in a SourceSpec from the caller's thread to the fault worker.
// Types only; their defaults are in lib/shared/defaults.ts.

export interface S3ClientOptions {
  /** e.g. http://127.0.0.1:9000; default from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
  endpoint?: string;
  region?: string;
  profile?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style addressing (MinIO). Defaults to true when an endpoint is set. */
  forcePathStyle?: boolean;
  /** PEM file of the CAs to trust for an https endpoint, instead of Node's
   *  built-in roots (as AWS_CA_BUNDLE does for the AWS CLI); default
   *  $AWS_CA_BUNDLE. NODE_EXTRA_CA_CERTS, which adds to the roots, works too. */
  caBundle?: string;
}

export interface RetryOptions {
  /** Attempts per read, including the first. Defaults: DEFAULTS.retry. */
  attempts?: number;
  /** First backoff in ms; doubles with full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-request timeout (headers and body), ms. */
  requestTimeoutMs?: number;
  /** Total time one read may take across retries, ms. */
  deadlineMs?: number;
  /** TCP/TLS connect timeout per request, ms. */
  connectTimeoutMs?: number;
  /** Total time open() may take: credentials, DNS, HEAD and its retries, ms. */
  openTimeoutMs?: number;
}
