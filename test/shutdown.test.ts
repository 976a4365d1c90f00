// Ending: close() detaches, process exit with faults in flight is prompt, a
// collected Buffer is unmapped. Process-level behaviour runs in child processes.
import { afterAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { mapFile } from '../dist/lib/index.js';
import { runChild } from './helpers/child.js';
import { tempDir, writeRandomFile } from './helpers/content.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const failingSource = fileURLToPath(new URL('./fixtures/failing-source.mjs', import.meta.url));

describe('shutdown', () => {
  it('close() detaches the Buffer (length 0) and later calls say the mapping is closed', async () => {
    const src = writeRandomFile(tmp.dir, 'close', 1024 * 1024);
    const m = await mapFile(src);
    const b = m.buffer;
    expect(b[10]).toBeTypeOf('number');
    await m.close();
    expect(m.buffer.length).toBe(0);
    expect(b.length).toBe(0);
    expect(b.buffer.byteLength).toBe(0);
    expect(m.closed).toBe(true);
    await expect(m.load(0, 1)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await m.close(); // idempotent
  });

  it('a thread blocked in a fault when close() is called gets its bytes, then close() resolves', async () => {
    const src = writeRandomFile(tmp.dir, 'drain', 1024 * 1024);
    const { mapSource } = await import('../dist/lib/index.js');
    const { Worker } = await import('node:worker_threads');
    const { readFileSync } = await import('node:fs');
    const m = await mapSource({ kind: 'module', path: failingSource, options: { path: src, delayMs: 1000 } }, { readahead: 0 });
    const reader = new Worker(
      `import { parentPort, workerData } from 'node:worker_threads';
       const { attach } = await import(workerData.lib);
       const b = attach(workerData.handle);
       parentPort.postMessage(b[777777]);`,
      { eval: true, type: 'module', workerData: { lib: new URL('../dist/lib/index.js', import.meta.url).href, handle: m.share() } } as never,
    );
    const got = new Promise((resolve) => reader.once('message', resolve));
    // Wait until the reader is parked in the fault (its fetch is in flight).
    for (let i = 0; i < 200 && m.stats().inflight === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(m.stats().inflight).toBe(1);
    expect(m.stats().faults).toBe(1);
    await m.close();
    expect(await got).toBe(readFileSync(src)[777777]);
    expect(m.buffer.length).toBe(0);
    await reader.terminate();
  });

  it('a process that exits with live mappings and faults in flight exits promptly with its exit code', async () => {
    const src = writeRandomFile(tmp.dir, 'exit', 4 * 1024 * 1024);
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      import { mapSource } from S3MMAP_LIB;
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(failingSource)}, options: { path: ${JSON.stringify(src)}, delayMs: 60000 } });
      // A worker thread parks in a fault that will not be served for a minute.
      const reader = new Worker(\`
        import { workerData } from 'node:worker_threads';
        const { attach } = await import(workerData.lib);
        const b = attach(workerData.handle);
        console.log('never', b[123]);
      \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB, handle: m.share() } });
      setTimeout(() => { console.log('exiting'); process.exit(7); }, 500);
    `, { timeoutMs: 20_000 });
    expect(r.stdout).toContain('exiting');
    expect(r.stdout).not.toContain('never');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(7);
    expect(r.ms).toBeLessThan(2000 + 1500); // process start and module load on a slow machine
  });

  it('a mapping whose Buffer is garbage-collected is unmapped and its memory returns', async () => {
    const src = writeRandomFile(tmp.dir, 'gc', 64 * 1024 * 1024);
    const r = await runChild(`
      import { readFileSync } from 'node:fs';
      import { mapFile } from S3MMAP_LIB;
      const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      const regions = () => readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => / r--p 00000000 00:00 0/.test(l) && (() => { const [a, b] = l.split(' ')[0].split('-').map((h) => parseInt(h, 16)); return b - a === 64 * 1024 * 1024; })()).length;
      let m = await mapFile(${JSON.stringify(src)}, { cacheSize: 0 });
      let s = 0; for (let i = 0; i < m.size; i += 4096) s += m.buffer[i];
      const loaded = rss();
      const mapped = regions();
      m = null;
      for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
      console.log(JSON.stringify({ loaded, after: rss(), mapped, left: regions() }));
    `, { args: ['--expose-gc'] });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.mapped).toBe(1);
    expect(out.left).toBe(0);
    expect(out.loaded - out.after).toBeGreaterThan(48 * 1024 * 1024);
  });
});
