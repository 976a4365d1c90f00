// The fill beside another mapping of the same shared pages: while another
// mapping (here in the same process, on its own file description, as another
// process's would be) holds the version, a fill that would pay does not
// start (stats().fill.why 'shared'), and the mapping's faults fetch one chunk
// each; once the other closes, the next fault that waits starts it. Real
// MinIO and a real userfaultfd; vitest fork.
import { beforeAll, describe, expect, it } from 'vitest';
import { mapObject } from '../dist/lib/index.js';
import { putObject } from '../dist/lib/dev/minio-server.js';
import { content } from './fixtures/content.mjs';
import { testS3 } from './helpers/s3.js';

const s3 = testS3();
const chunk = 64 * 1024;
const size = 256 * chunk;
const SEED = 61;
let bucket: string;

beforeAll(async () => {
  bucket = await s3.uniqueBucket('sharedfill');
  await putObject(s3.client(), bucket, 'obj', content(0, size, SEED));
});

describe('a fill beside another mapping of the same shared pages', () => {
  it("waits ('shared') while the other is open, and starts at the first waiting fault after it closes", async () => {
    const opts = { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials };
    const a = await mapObject(`s3://${bucket}/obj`, opts);
    const b = await mapObject(`s3://${bucket}/obj`, opts);
    try {
      expect(a.stats().shared).toBe(true);
      // Far-apart chunks, out of order: no stream, no stride; each waits on the network.
      const order = Array.from({ length: 255 }, (_, i) => 1 + ((i * 97) % 255));
      let i = 0;
      for (; i < order.length && a.stats().fill.why !== 'shared'; i++) {
        const o = order[i] * chunk + 11;
        expect(a.buffer[o]).toBe(content(o, 1, SEED)[0]);
      }
      expect(a.stats().fill).toMatchObject({ started: false, why: 'shared' });
      expect(a.stats().fill.rentMs).toBeGreaterThanOrEqual(a.stats().fill.buyMs / 2);
      // Each fault fetched its own chunk and nothing else.
      expect(a.stats().chunksFetched).toBe(i);
      await b.close();
      const o = order[i] * chunk + 11;
      expect(a.buffer[o]).toBe(content(o, 1, SEED)[0]);
      expect(a.stats().fill).toMatchObject({ started: true, why: 'pays' });
    } finally {
      await b.close();
      await a.close();
    }
  });
});
