// Many threads faulting on one mapping at once: 4 worker threads (each with
// its own view from attach()) and the main thread read random ranges, every
// byte compared with the source file's bytes.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { mapFile } from '../dist/lib/index.js';
import { sha256, sha256File, tempDir, writeRandomFile } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('concurrent readers', () => {
  it('4 workers and the main thread read random ranges of one mapping, all bytes exact', async () => {
    const path = writeRandomFile(tmp.dir, 'shared', 48 * 1024 * 1024 + 4321);
    const m = await mapFile(path, { chunkSize: '64k', concurrency: 4 });
    const handle = m.share();
    const workerUrl = new URL('./fixtures/range-reader.mjs', import.meta.url);
    // The expected bytes, read from the file by the test, shared with the readers.
    const fileBytes = readFileSync(path);
    const expected = new SharedArrayBuffer(fileBytes.length);
    new Uint8Array(expected).set(fileBytes);
    const workers = [1, 2, 3, 4].map(
      (seed) =>
        new Promise<{ bad: number; bytes: number }>((resolve, reject) => {
          const w = new Worker(workerUrl, { workerData: { handle, expected, seed, reads: 400, maxLen: 200_000 } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    );
    // The main thread reads too, while the workers run.
    let x = 99;
    let mainBad = 0;
    for (let i = 0; i < 300; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const off = x % m.size;
      const len = Math.min(m.size - off, 1 + (x % 100_000));
      if (!fileBytes.subarray(off, off + len).equals(m.buffer.subarray(off, off + len))) mainBad++;
    }
    const results = await Promise.all(workers);
    expect(mainBad).toBe(0);
    for (const r of results) {
      expect(r.bad).toBe(0);
      expect(r.bytes).toBeGreaterThan(0);
    }
    expect(sha256(m.buffer)).toBe(sha256File(path));
    expect(m.stats().errors).toBe(0);
    await m.close();
  });
});
