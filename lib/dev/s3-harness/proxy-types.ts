// The shapes that the counting proxy (s3-proxy.ts) and the handler of one
// request (proxy-forward.ts) share: the fault kinds a request can draw, the
// request line, and the log entry it leaves. Types only, so that the two
// modules do not import each other. Runs wherever the proxy runs.

export type FaultMode =
  | 'pass'
  | 'error500' // 500 InternalError (S3 XML body)
  | 'slowDown' // 503 SlowDown (S3 XML body)
  | 'reset' // upstream headers and part of the body, then a TCP RST
  | 'stall' // never answer; the client has to give up
  | 'truncate' // part of the body, fewer bytes than Content-Length, then FIN
  | 'wrongRange' // Content-Range shifted by one byte, body untouched
  | 'fullObject' // Range removed upstream: 200 with the whole object
  | 'error429' // 429 TooManyRequests (S3 XML body), as S3-compatible servers throttle
  | 'error502' // 502 with an HTML body and no S3 code, as a load balancer answers
  | 'error504' // 504 with an HTML body and no S3 code
  | 'gone499' // 499 ClientDisconnected (S3 XML body), as MinIO answers requests it drops while shutting down
  | 'denied403'; // 403 AccessDenied (S3 XML body): access revoked after the object was mapped

export interface Fault {
  mode: FaultMode;
  /** Queue only: the method this entry waits for (default 'GET'; '*' for any). */
  method?: string;
  /** reset/truncate: body bytes sent before the cut (default half the body). */
  afterBytes?: number;
  /** Wait before acting, ms. */
  delayMs?: number;
}

/** A request as the proxy numbers it: what the rules see and the log keeps. */
export interface RequestLine {
  seq: number;
  method: string;
  path: string;
  range?: string;
}

export interface ProxyLogEntry extends RequestLine {
  fault: FaultMode;
  /** Status sent to the client; undefined while stalled or if none was sent. */
  status?: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  /** The first-byte delay drawn for this request, ms; only under a network profile. */
  firstByteMs?: number;
  /** When the request arrived and when its response ended or its socket
   *  closed (ms since the epoch, sub-millisecond): tests derive retry delays
   *  and overlap from these. */
  at: number;
  doneAt?: number;
}
