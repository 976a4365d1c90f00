// Byte-exact content of file and memory mappings at awkward sizes, read from
// the main thread, compared with the sha256 of the source file.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { mapBytes, mapFile } from '../dist/lib/index.js';
import { sha256, sha256File, tempDir, writeRandomFile } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const chunk = 64 * 1024;

describe('file mapping content', () => {
  for (const size of [0, 1, 4095, 4096, 4097, chunk - 1, chunk + 1, 64 * 1024 * 1024 + 123]) {
    it(`size ${size}: sha256 of the mapping equals the file's`, async () => {
      const path = writeRandomFile(tmp.dir, `f${size}`, size);
      const m = await mapFile(path, { chunkSize: chunk });
      try {
        expect(m.size).toBe(size);
        expect(m.buffer.length).toBe(size);
        expect(sha256(m.buffer)).toBe(sha256File(path));
      } finally {
        await m.close();
      }
    });
  }

  it('1 MiB chunks and readahead give the same bytes', async () => {
    const path = writeRandomFile(tmp.dir, 'ra', 9 * 1024 * 1024 + 7);
    const m = await mapFile(path, { chunkSize: '1m', readahead: '8m' });
    expect(sha256(m.buffer)).toBe(sha256File(path));
    await m.close();
  });
});

describe('memory mapping content', () => {
  it('maps bytes from a Buffer exactly', async () => {
    const path = writeRandomFile(tmp.dir, 'mem', 3 * chunk + 5);
    const bytes = readFileSync(path);
    const m = await mapBytes(bytes);
    expect(sha256(m.buffer)).toBe(sha256File(path));
    await m.close();
  });
});
