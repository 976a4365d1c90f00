// Design rule 3: four async fs.write calls from cold ranges park all four
// libuv pool threads in faults. Serving them must not need the pool.
import { openSync, closeSync, write } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mapBytes, mapFile, type Mapping } from '../dist/lib/index.js';
import { pseudoRandom, sha256, sha256File, tempDir, writeRandomFile } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const writeAsync = promisify(write);

async function fourWrites(m: Mapping, name: string): Promise<void> {
  const quarter = Math.floor(m.size / 4);
  const paths = [0, 1, 2, 3].map((i) => join(tmp.dir, `${name}-${i}`));
  const fds = paths.map((p) => openSync(p, 'w'));
  // Each write covers a cold quarter: its pool thread blocks in a fault.
  await Promise.all(
    fds.map((fd, i) => writeAsync(fd, m.buffer, i * quarter, i === 3 ? m.size - 3 * quarter : quarter, 0)),
  );
  fds.forEach((fd) => closeSync(fd));
  paths.forEach((p, i) => {
    const end = i === 3 ? m.size : (i + 1) * quarter;
    expect(sha256File(p)).toBe(sha256(m.buffer.subarray(i * quarter, end)));
  });
}

describe('the libuv pool is not on the fault path', () => {
  it('four concurrent async fs.write calls from cold ranges of a file mapping complete', async () => {
    const src = writeRandomFile(tmp.dir, 'src', 16 * 1024 * 1024);
    const m = await mapFile(src, { readahead: 0 });
    await fourWrites(m, 'file');
    expect(sha256(m.buffer)).toBe(sha256File(src));
    await m.close();
  });

  it('the same from a memory mapping', async () => {
    const bytes = pseudoRandom(8 * 1024 * 1024 + 3, 7);
    const m = await mapBytes(bytes);
    await fourWrites(m, 'mem');
    expect(sha256(m.buffer)).toBe(sha256(bytes));
    await m.close();
  });
});
