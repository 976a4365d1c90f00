// Temporary credentials from MinIO's STS AssumeRole, limited by a session
// policy: valid credentials that lack a permission (AccessDenied). Runs in the
// test-file process, main thread.
import { createHash, createHmac } from 'node:crypto';
import type { TestS3 } from './s3.js';

export interface TempCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export async function assumeRole(s3: TestS3, policy: object): Promise<TempCredentials> {
  const u = new URL(s3.endpoint);
  const body = new URLSearchParams({ Action: 'AssumeRole', Version: '2011-06-15', DurationSeconds: '900', Policy: JSON.stringify(policy) }).toString();
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded', host: u.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate,
  };
  const signed = Object.keys(headers).sort();
  const canonical = ['POST', '/', '', signed.map((h) => `${h}:${headers[h]}\n`).join(''), signed.join(';'), payloadHash].join('\n');
  const scope = `${date}/${s3.region}/sts/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key = createHmac('sha256', 'AWS4' + s3.secretAccessKey).update(date).digest();
  for (const part of [s3.region, 'sts', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const res = await fetch(`${u.origin}/`, {
    method: 'POST', body,
    headers: { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${s3.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}` },
  });
  const xml = await res.text();
  const field = (t: string) => xml.match(new RegExp(`<${t}>([^<]+)</${t}>`))?.[1];
  const out = { accessKeyId: field('AccessKeyId'), secretAccessKey: field('SecretAccessKey'), sessionToken: field('SessionToken') };
  if (res.status !== 200 || !out.accessKeyId || !out.secretAccessKey || !out.sessionToken) throw new Error(`AssumeRole failed: HTTP ${res.status} ${xml.slice(0, 300)}`);
  return out as TempCredentials;
}
