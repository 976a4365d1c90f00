// Peer 4: one ranged GET per read, no cache (what random-access-s3-style
// readers do). HEAD at open for the size. Cell process, main thread.
import { headSize, getRange, peerClient, sdkWarmup } from './sdk.js';
import type { CellSpec, OpenSystem } from './types.js';

export const warmup = (spec: CellSpec) => sdkWarmup(spec.s3, spec.warmupKey);

export const open: OpenSystem = async (spec) => {
  const client = peerClient(spec.s3, 1);
  const { size, etag } = await headSize(client, spec.s3);
  return {
    reader: {
      size,
      read: async (offset, length) => {
        const out = new Uint8Array(length);
        await getRange(client, spec.s3, out, 0, offset, length, etag);
        return out;
      },
    },
    close: async () => client.destroy(),
  };
};
