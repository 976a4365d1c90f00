// Peer 3: parallel ranged download (8 MiB parts, 8 in flight) into one Buffer,
// the fastest way to get a whole object; then the reads are views of it.
// Cell process, main thread.
import { headSize, getRange, peerClient, sdkWarmup } from './sdk.js';
import { bufferReader, type CellSpec, type OpenSystem } from './types.js';
import { inParts } from '../parts.js';

export const PART = 8 * 1024 * 1024;
export const IN_FLIGHT = 8;

export const warmup = (spec: CellSpec) => sdkWarmup(spec.s3, spec.warmupKey);

export const open: OpenSystem = async (spec) => {
  const client = peerClient(spec.s3, IN_FLIGHT);
  const { size, etag } = await headSize(client, spec.s3);
  const buf = Buffer.allocUnsafe(size);
  await inParts(size, PART, IN_FLIGHT, (offset, length) => getRange(client, spec.s3, buf, offset, offset, length, etag));
  client.destroy();
  return { reader: bufferReader(buf), close: async () => {} };
};
