// Peer 2: one GetObject of the whole object into a Buffer, then the reads are
// views of it. Cell process, main thread.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { peerClient, readBody, sdkWarmup } from './sdk.js';
import { bufferReader, type CellSpec, type OpenSystem } from './types.js';

export const warmup = (spec: CellSpec) => sdkWarmup(spec.s3, spec.warmupKey);

export const open: OpenSystem = async (spec) => {
  const client = peerClient(spec.s3);
  const out = await client.send(new GetObjectCommand({ Bucket: spec.s3.bucket, Key: spec.s3.key }));
  const size = Number(out.ContentLength);
  const buf = Buffer.allocUnsafe(size);
  await readBody(out.Body, buf, 0, size);
  client.destroy();
  return { reader: bufferReader(buf), close: async () => {} };
};
