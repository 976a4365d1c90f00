// A source that fails: load() rejects with its error, a raw touch of the
// poisoned range raises SIGBUS (child process) with a one-line reason, never
// zeros and never a hang; a later load() retries.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mapSource } from '../dist/lib/index.js';
import { runChild } from './helpers/child.js';
import { sha256, sha256File, tempDir, writeRandomFile } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const failingSource = fileURLToPath(new URL('./fixtures/failing-source.mjs', import.meta.url));
const chunk = 64 * 1024;

describe('a source that throws', () => {
  it('load() rejects with the source error, good ranges still read exactly, and a retry succeeds', async () => {
    const src = writeRandomFile(tmp.dir, 'bad', 16 * chunk);
    const spec = { kind: 'module' as const, path: failingSource, options: { path: src, failFrom: 5 * chunk, failTo: 6 * chunk, code: 'InjectedFailure', failTimes: 1 } };
    const m = await mapSource(spec, { chunkSize: chunk, readahead: 0 });
    await expect(m.load(5 * chunk + 10, 100)).rejects.toMatchObject({ code: 'InjectedFailure' });
    const s = m.stats();
    expect(s.errors).toBe(1);
    expect(m.errors.at(-1)).toMatchObject({ code: 'InjectedFailure' });
    expect(m.isResident(5 * chunk, 1)).toBe(false);
    const bytes = readFileSync(src);
    expect(sha256(m.buffer.subarray(0, 5 * chunk))).toBe(sha256(bytes.subarray(0, 5 * chunk)));
    // The source recovers (failTimes: 1): load() retries the poisoned chunk.
    await m.load(5 * chunk, chunk);
    expect(sha256(m.buffer)).toBe(sha256File(src));
    await m.close();
  });

  it('a raw touch of a range that cannot be read raises SIGBUS with a one-line reason', async () => {
    const src = writeRandomFile(tmp.dir, 'bus', 8 * chunk);
    const r = await runChild(`
      import { mapSource } from S3MMAP_LIB;
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(failingSource)}, options: { path: ${JSON.stringify(src)}, failFrom: ${3 * chunk}, failTo: ${4 * chunk}, code: 'NoSuchKey' } }, { readahead: 0 });
      console.log('good', m.buffer[0]);
      console.log('bad', m.buffer[${3 * chunk + 7}]);
    `);
    expect(r.signal).toBe('SIGBUS');
    expect(r.stdout).toContain(`good ${readFileSync(src)[0]}`);
    expect(r.stdout).not.toContain('bad');
    expect(r.stderr).toMatch(/bytes 196608-262143 of .* could not be read \(NoSuchKey\); touching them raises SIGBUS/);
  });
});

describe('userfaultfd unavailable', () => {
  it('EPERM gives one line with the remedy', async () => {
    const r = await runChild(`
      import { mapBytes } from S3MMAP_LIB;
      try { await mapBytes(new Uint8Array(10)); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    `, { env: { S3MMAP_SIMULATE_UFFD_ERROR: 'EPERM' } });
    const out = JSON.parse(r.stdout);
    expect(out.code).toBe('EPERM');
    expect(out.message).toMatch(/vm\.unprivileged_userfaultfd=1/);
    expect(out.message).not.toContain('\n');
  });

  it('ENOSYS names the kernel option and Docker seccomp', async () => {
    const r = await runChild(`
      import { mapBytes } from S3MMAP_LIB;
      try { await mapBytes(new Uint8Array(10)); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    `, { env: { S3MMAP_SIMULATE_UFFD_ERROR: 'ENOSYS' } });
    const out = JSON.parse(r.stdout);
    expect(out.code).toBe('ENOSYS');
    expect(out.message).toMatch(/seccomp/);
  });

  it('a chunk size that is not a page multiple, or 0, is refused before mapping', async () => {
    const { mapBytes } = await import('../dist/lib/index.js');
    await expect(mapBytes(new Uint8Array(10), { chunkSize: 1000 })).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/multiple of the page size/) });
    await expect(mapBytes(new Uint8Array(10), { chunkSize: 0 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(mapBytes(new Uint8Array(10), { chunkSize: '12q' })).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
