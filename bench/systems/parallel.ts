// Peer 3: parallel ranged download (8 MiB parts, 8 in flight; `parallel-16`
// and `parallel-32` keep 16 or 32 in flight) into one Buffer, the fastest way
// to get a whole object; then the reads are views of it. Cell process, main thread.
import { headSize, getRange, peerClient, sdkWarmup } from './sdk.js';
import { bufferReader, type CellSpec, type OpenSystem } from './types.js';
import { inParts } from '../parts.js';

export const PART = 8 * 1024 * 1024;
export const IN_FLIGHT = 8;

/** Parts in flight for a system id: parallel → 8, parallel-32 → 32. */
export function lanesOf(system: string): number {
  return Number(/^parallel-(\d+)$/.exec(system)?.[1] ?? IN_FLIGHT);
}

export const warmup = (spec: CellSpec) => sdkWarmup(spec.s3, spec.warmupKey);

export const open: OpenSystem = async (spec) => {
  const lanes = lanesOf(spec.system);
  const client = peerClient(spec.s3, lanes);
  const { size, etag } = await headSize(client, spec.s3);
  const buf = Buffer.allocUnsafe(size);
  await inParts(size, PART, lanes, (offset, length) => getRange(client, spec.s3, buf, offset, offset, length, etag));
  client.destroy();
  return { reader: bufferReader(buf), close: async () => {} };
};
