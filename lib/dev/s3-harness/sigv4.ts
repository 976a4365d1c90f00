// SigV4 re-signing for the counting proxy's one fault that must change a signed
// header (fullObject drops Range). Runs wherever the proxy runs.
import { createHash, createHmac } from 'node:crypto';
import type http from 'node:http';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** SigV4-sign the request again without one header, keeping its date and scope.
 *  Returns an error message when it cannot. */
export function resignWithout(
  req: http.IncomingMessage, headers: http.OutgoingHttpHeaders, drop: string,
  credentials: Credentials | undefined,
): string | undefined {
  const auth = req.headers.authorization;
  if (!auth) return undefined; // anonymous: nothing signed
  const m = auth.match(/^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=[0-9a-f]+$/);
  if (!m) return 's3-proxy: cannot parse the Authorization header to re-sign';
  const [, akid, date, region, service, signedList] = m;
  if (!credentials || credentials.accessKeyId !== akid) {
    return `s3-proxy: fullObject needs the credentials of ${akid} to re-sign without ${drop}`;
  }
  const signed = signedList.split(';').filter((h) => h !== drop);
  const [rawPath, rawQuery = ''] = (req.url ?? '/').split('?');
  const query = rawQuery.split('&').filter(Boolean)
    .map((kv) => (kv.includes('=') ? kv : kv + '='))
    .sort((a, b) => {
      const [ka, va] = a.split('='); const [kb, vb] = b.split('=');
      return ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0;
    })
    .join('&');
  const canonicalHeaders = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payload = String(req.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
  const canonical = [req.method, rawPath, query, canonicalHeaders, signed.join(';'), payload].join('\n');
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s).digest();
  let key = hmac('AWS4' + credentials.secretAccessKey, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${akid}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return undefined;
}
