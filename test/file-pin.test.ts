// mapFile() pins the file as mapObject() pins an object: a change of its
// mtime or size after mapping fails the next read with ObjectChanged, and a
// file replaced under its name (a new inode) keeps being read as the one that
// was mapped. Never a mix of two versions. Runs in a vitest fork, main thread
// (file sources need no proxy).
import { appendFileSync, renameSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mapFile } from '../dist/lib/index.js';
import { pseudoRandom, sha256, tempDir } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const chunk = 64 * 1024;
const v1 = pseudoRandom(8 * chunk, 61);
const v2 = pseudoRandom(8 * chunk, 62);

/** Maps a fresh copy of v1 and reads its first chunk; returns the mapping and the file's path. */
async function mapped(name: string) {
  const path = join(tmp.dir, name);
  writeFileSync(path, v1);
  const m = await mapFile(path, { readahead: 0, cacheSize: 0 });
  expect(m.buffer[5]).toBe(v1[5]);
  return { m, path };
}

async function expectChanged(m: Awaited<ReturnType<typeof mapFile>>) {
  const err = await m.load(4 * chunk, 10).then(() => undefined, (e) => e);
  expect(err).toMatchObject({ code: 'ObjectChanged' });
  expect(err.message).toMatch(/changed after it was mapped|shorter than when it was mapped/);
  expect(m.isResident(4 * chunk, 1)).toBe(false);
  // What was read before is the old version, still.
  expect(sha256(m.buffer.subarray(0, chunk))).toBe(sha256(v1.subarray(0, chunk)));
}

describe('mapFile pins the file', () => {
  it('rewritten in place with the same size (a new mtime): ObjectChanged, no byte of the new content', async () => {
    const { m, path } = await mapped('inplace');
    try {
      writeFileSync(path, v2);
      utimesSync(path, new Date(), new Date(Date.now() + 5000)); // an mtime that surely differs
      await expectChanged(m);
    } finally {
      await m.close();
    }
  });

  it('only its mtime changed (touch): ObjectChanged', async () => {
    const { m, path } = await mapped('touched');
    try {
      utimesSync(path, new Date(), new Date(Date.now() - 86_400_000));
      await expectChanged(m);
    } finally {
      await m.close();
    }
  });

  it('grown (append) or shrunk (truncate): ObjectChanged', async () => {
    const grown = await mapped('grown');
    const shrunk = await mapped('shrunk');
    try {
      appendFileSync(grown.path, 'more');
      await expectChanged(grown.m);
      truncateSync(shrunk.path, 6 * chunk);
      await expectChanged(shrunk.m);
    } finally {
      await grown.m.close();
      await shrunk.m.close();
    }
  });

  it('replaced under its name (rename over it: a new inode): the mapping reads the file it mapped, whole', async () => {
    const { m, path } = await mapped('replaced');
    try {
      const next = join(tmp.dir, 'replaced.next');
      writeFileSync(next, v2);
      renameSync(next, path);
      await m.load();
      expect(sha256(m.buffer)).toBe(sha256(v1));
      expect(m.stats().errors).toBe(0);
    } finally {
      await m.close();
    }
  });
});
