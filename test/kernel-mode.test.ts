// Kernel-mode access: write(2) from a cold mapping is served in full mode; in
// user-mode-only mode the kernel's copy fails with EFAULT until load().
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mapFile, uffdInfo } from '../dist/lib/index.js';
import { sha256File, tempDir, writeRandomFile } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function writeAll(path: string, data: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
  } finally {
    closeSync(fd);
  }
}

describe('kernel-mode access', () => {
  it('this machine offers full mode (root)', () => {
    expect(uffdInfo().mode).toBe('full');
  });

  it('fs.writeSync(fd, mapping.buffer) from a cold mapping writes the exact bytes', async () => {
    const src = writeRandomFile(tmp.dir, 'src', 5 * 1024 * 1024 + 17);
    const m = await mapFile(src);
    expect(m.mode).toBe('full');
    expect(m.stats().residentBytes).toBe(0);
    const out = join(tmp.dir, 'out');
    writeAll(out, m.buffer);
    expect(sha256File(out)).toBe(sha256File(src));
    await m.close();
  });

  it('user-mode-only: write(2) of cold pages fails with EFAULT, kernelView() names load(), and load() fixes it', async () => {
    const src = writeRandomFile(tmp.dir, 'src2', 3 * 1024 * 1024 + 5);
    const m = await mapFile(src, { userModeOnly: true });
    expect(m.mode).toBe('user-only');
    const out = join(tmp.dir, 'out2');
    expect(() => writeAll(out, m.buffer)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(() => m.kernelView()).toThrow(/await mapping\.load\(0, 3145733\) first/);
    expect(() => m.kernelView()).toThrow(expect.objectContaining({ code: 'ENOTRESIDENT' }));
    await m.load();
    writeAll(out, m.kernelView());
    expect(sha256File(out)).toBe(sha256File(src));
    await m.close();
  });
});
