// Views of a region: mapping.view() windows, release() at close() after the
// waiting faults are served, the native view limit (a clean RangeError where
// V8 cannot hold a view, never an abort), and objects larger than one Buffer
// down to the exact bytes at 5 TiB. Runs in a vitest fork; what needs its own
// view limit, --expose-gc or a 5 TiB address range runs in a child process.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mapSource } from '../dist/lib/index.js';
import { maxBufferLength, native } from '../dist/lib/shared/native.js';
import { runChild } from './helpers/child.js';
import { sha256, tempDir, writeRandomFile } from './helpers/content.js';
import { byteAt, content } from './fixtures/content.mjs';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const sizedSource = fileURLToPath(new URL('./fixtures/sized-source.mjs', import.meta.url));
const failingSource = fileURLToPath(new URL('./fixtures/failing-source.mjs', import.meta.url));
const TiB = 2 ** 40;
const GiB = 2 ** 30;

describe('mapping.view()', () => {
  it('is a zero-copy window of buffer where the object fits one Buffer, and close() detaches it', async () => {
    const m = await mapSource({ kind: 'module', path: sizedSource, options: { size: 3 * 1024 * 1024 + 5, seed: 31 } });
    const v = m.view(1_000_001, 70_000);
    expect(v.buffer).toBe(m.buffer.buffer);
    expect(v.equals(content(1_000_001, 70_000, 31))).toBe(true);
    expect(m.view(m.size - 5).equals(content(m.size - 5, 5, 31))).toBe(true);
    expect(m.view(7, 0).length).toBe(0);
    expect(() => m.view(m.size - 1, 2)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    await m.close();
    expect(v.length).toBe(0);
    expect(() => m.view(0, 1)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });

  it('close() keeps the region until a pool thread parked in a kernel-mode fault (fs.write from cold chunks) has all its bytes', async () => {
    // The faults come from write(2) on a libuv pool thread, through the
    // Mapping's own Buffer: no attach() view holds the region, only close()'s
    // ordering does (detach, drain until no thread faults for a while, then
    // release). Three chunks: the drain starts while the write waits for the
    // first, and the write goes on to fault on the next two.
    const { open } = await import('node:fs/promises');
    const src = writeRandomFile(tmp.dir, 'kwrite', 2 * 1024 * 1024);
    const m = await mapSource({ kind: 'module', path: failingSource, options: { path: src, delayMs: 800 } }, { readahead: 0 });
    const out = join(tmp.dir, 'kwrite.out');
    const fh = await open(out, 'w');
    const from = 22 * 65536 + 100;
    const slice = m.buffer.subarray(from, from + 150_000);
    const writing = fh.write(slice, 0, slice.length, 0);
    for (let i = 0; i < 200 && m.stats().inflight === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(m.stats().inflight).toBeGreaterThan(0);
    const regionsBefore = native.liveRegions();
    await m.close();
    const { bytesWritten } = await writing;
    await fh.close();
    expect(bytesWritten).toBe(150_000);
    const { readFileSync } = await import('node:fs');
    expect(sha256(readFileSync(out))).toBe(sha256(readFileSync(src).subarray(from, from + 150_000)));
    expect(native.liveRegions()).toBe(regionsBefore - 1);
  });

  // Fails today, so marked it.fails: drain() (lib/worker/region-server.ts)
  // caps only its quiet-waits at DRAIN_QUIET_MAX_MS and keeps going while any
  // fault is waiting, so a copy whose every fault takes longer than a
  // quiet-wait (100 ms) is served to its end (close() took 17 s here, every
  // chunk served). Ending the drain once the quiet-waits are spent (one line:
  // `if (quietLeft <= 0) break;` after the do-while) makes it pass (2.1-2.3 s,
  // 22-23 faults, write(2) EFAULT); with that line and a 20 s cap it fails
  // again (12.4 s). Turn it.fails into it with that change.
  it.fails("close()'s drain waits add up to 2 s at most: a long kernel-mode copy faulting chunk after chunk is served that long, then finds its next chunk gone", async () => {
    // 160 cold chunks written from the Mapping's own Buffer on a pool thread,
    // each read taking 100 ms: served to the end, the copy would keep close()
    // waiting 16 s. The drain serves it for 2 s of quiet-waits at most; then
    // the region goes and write(2) ends short at the first chunk not yet in.
    const { open } = await import('node:fs/promises');
    const { readFileSync } = await import('node:fs');
    const chunk = 65536;
    const src = writeRandomFile(tmp.dir, 'longwrite', 160 * chunk);
    const m = await mapSource({ kind: 'module', path: failingSource, options: { path: src, delayMs: 100 } }, { readahead: 0 });
    const out = join(tmp.dir, 'longwrite.out');
    const fh = await open(out, 'w');
    const writing = fh.write(m.buffer, 0, m.size, 0).then((r) => r.bytesWritten, (e: NodeJS.ErrnoException) => e.code);
    for (let i = 0; i < 200 && m.stats().faults < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(m.stats().faults).toBeGreaterThanOrEqual(3);
    const t0 = performance.now();
    await m.close();
    const closeMs = performance.now() - t0;
    const written = await writing;
    await fh.close();
    const served = m.stats().faults;
    console.log(`close() with a long kernel-mode copy under way: ${Math.round(closeMs)} ms; ${served} faults served, write(2) returned ${written}`);
    // 2 s of waits plus the reads in flight at each step; a drain of 20 s would take the copy to its end at 16 s.
    expect(closeMs).toBeLessThan(6_000);
    expect(served).toBeLessThan(100);
    // Short, not wrong: write(2) fails with EFAULT (or returns a short count), and what reached the file is the object's bytes.
    if (typeof written === 'number') expect(written).toBeLessThan(m.size);
    else expect(written).toBe('EFAULT');
    const got = readFileSync(out);
    expect(got.length).toBeLessThan(m.size);
    expect(sha256(got)).toBe(sha256(readFileSync(src).subarray(0, got.length)));
  });
});

describe('native views', () => {
  it('release() detaches, counts once (a second release and the later GC change nothing), and the last one unmaps', async () => {
    const src = writeRandomFile(tmp.dir, 'release', 256 * 1024);
    const r = await runChild(`
      import { readFileSync } from 'node:fs';
      import { mapFile } from S3MMAP_LIB;
      const { native } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
      const m = await mapFile(${JSON.stringify(src)});
      const id = m.share().id;
      let extra = native.view(id, 4096, 8192);
      const first = native.release(extra);
      const second = native.release(extra);
      const detached = extra.byteLength;
      extra = null;
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      // Still mapped: the released view was not counted a second time at GC.
      const byte = m.buffer[200000];
      const live = native.liveRegions();
      let notView = '';
      try { native.release(new ArrayBuffer(8)); } catch (e) { notView = e.name; }
      await m.close();
      console.log(JSON.stringify({ first, second, detached, byte, want: readFileSync(${JSON.stringify(src)})[200000], live, after: native.liveRegions(), notView }));
    `, { args: ['--expose-gc'] });
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout.trim());
    expect(o).toMatchObject({ first: 1, second: -1, detached: 0, live: 1, after: 0, notView: 'TypeError' });
    expect(o.byte).toBe(o.want);
  });

  it('a view longer than the view limit is a RangeError with code EFBIG, before N-API is asked; the process lives on', async () => {
    const r = await runChild(`
      import { mapSource } from S3MMAP_LIB;
      const { native } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: 8 * 1048576, seed: 32 } });
      const id = m.share().id;
      native.setViewLimit(1048576);
      const out = {};
      try { native.view(id, 0, 1048577); } catch (e) { out.tooLong = { name: e.name, code: e.code, message: e.message }; }
      try { native.view(id, 8 * 1048576 - 10, 11); } catch (e) { out.outside = { name: e.name, code: e.code }; }
      const ok = native.view(id, 5, 1048576);
      out.okLength = ok.byteLength;
      out.byte = new Uint8Array(ok)[0];
      native.release(ok);
      await m.close();
      try { native.view(id, 0, 1); } catch (e) { out.closed = e.code; }
      console.log(JSON.stringify(out));
    `);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout.trim());
    expect(o.tooLong).toEqual({ name: 'RangeError', code: 'EFBIG', message: 'a view of 1048577 bytes is more than one ArrayBuffer can hold in this Node.js (1048576 bytes)' });
    expect(o.outside).toEqual({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(o.okLength).toBe(1048576);
    expect(o.byte).toBe(byteAt(5, 32));
    expect(o.closed).toBe('EBADF');
  });
});

describe('objects larger than one Buffer', () => {
  it(`a 5 TiB object maps; view() reads exact bytes at 0, around 2^32, 2^40 and its last byte, fetching only those chunks${maxBufferLength >= 5 * TiB ? '; buffer is the whole object' : ''}`, async () => {
    const size = 5 * TiB;
    const chunk = 1024 * 1024;
    const m = await mapSource({ kind: 'module', path: sizedSource, options: { size, seed: 33 } }, { chunkSize: chunk, readahead: 0, cacheSize: 0 });
    try {
      expect(m.size).toBe(size);
      const at = [0, 2 ** 32 - 3, 2 ** 32 + 1, TiB - 1, 4 * TiB + 12345, size - 7];
      for (const off of at) {
        const len = Math.min(16, size - off);
        expect(m.view(off, len).equals(content(off, len, 33)), `bytes at ${off}`).toBe(true);
      }
      // A window across 2^32 larger than a chunk.
      expect(m.view(2 ** 32 - chunk, 2 * chunk).equals(content(2 ** 32 - chunk, 2 * chunk, 33))).toBe(true);
      if (maxBufferLength >= size) {
        expect(m.buffer.length).toBe(size);
        expect(m.buffer[size - 1]).toBe(byteAt(size - 1, 33));
        expect(m.buffer[2 ** 32]).toBe(byteAt(2 ** 32, 33));
      } else {
        expect(() => m.buffer).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_TOO_LARGE' }));
      }
      // The chunks of each 16-byte read (1 TiB - 1 spans two) and of the window.
      const chunks = new Set([...at.flatMap((o) => [Math.floor(o / chunk), Math.floor((Math.min(size, o + 16) - 1) / chunk)]), 4095, 4096]);
      expect(chunks.size).toBe(7);
      expect(m.stats().chunksFetched).toBe(chunks.size);
      expect(m.isResident(size - 1, 1)).toBe(true);
      expect(m.isResident(2 * TiB, 1)).toBe(false);
    } finally {
      await m.close();
    }
  });

  it('on a Node whose Buffer holds 4 GiB: buffer says to use view() in one line, view() refuses only windows over the limit, attach() takes a window', async () => {
    // Node 20's limit whatever Node runs this (S3MMAP_SIMULATE_BUFFER_LIMIT): the same code paths.
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      import { mapSource } from S3MMAP_LIB;
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${5 * GiB}, seed: 34 } }, { readahead: 0 });
      const { maxBufferLength } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
      const out = { size: m.size, limit: maxBufferLength };
      try { m.buffer; } catch (e) { out.buffer = { code: e.code, message: e.message }; }
      try { m.view(0, ${4 * GiB + 1}); } catch (e) { out.tooLong = e.code; }
      const v = m.view(${4 * GiB - 2}, 4);
      out.view = [...v];
      const w = new Worker(\`
        import { parentPort, workerData } from 'node:worker_threads';
        const { attach } = await import(workerData.lib);
        const b = attach(workerData.handle, ${5 * GiB - 3}, 3);
        let whole = '';
        try { attach(workerData.handle); } catch (e) { whole = e.code; }
        parentPort.postMessage({ tail: [...b], whole });
      \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB, handle: m.share() } });
      out.worker = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
      await w.terminate();
      await m.close();
      out.afterClose = { view: v.length, buffer: m.buffer.length };
      console.log(JSON.stringify(out));
    `, { env: { S3MMAP_SIMULATE_BUFFER_LIMIT: String(4 * GiB) } });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout.trim());
    expect(o.limit).toBe(4 * GiB);
    expect(o.buffer.code).toBe('ERR_BUFFER_TOO_LARGE');
    expect(o.buffer.message).toMatch(/^s3mmap: \S+sized-source\.mjs is 5\.00 GiB \(5368709120 bytes\), more than one Buffer holds in Node\.js v\d+\.\d+\.\d+ \(4\.00 GiB\); read it through mapping\.view\(offset, length\), or run Node\.js 22 or later, where one Buffer holds up to 8 PiB$/);
    expect(o.tooLong).toBe('ERR_BUFFER_TOO_LARGE');
    expect(o.view).toEqual([...content(4 * GiB - 2, 4, 34)]);
    expect(o.worker).toEqual({ tail: [...content(5 * GiB - 3, 3, 34)], whole: 'ERR_BUFFER_TOO_LARGE' });
    expect(o.afterClose).toEqual({ view: 0, buffer: 0 });
  });
});

describe('the fault worker and the parent process options', () => {
  it('a program run as `node --input-type=module -e` maps (the fault worker does not inherit --input-type)', async () => {
    const { spawnSync } = await import('node:child_process');
    const lib = new URL('../dist/lib/index.js', import.meta.url).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
      const { mapBytes } = await import(${JSON.stringify(lib)});
      const m = await mapBytes(Buffer.from('bytes from -e'));
      console.log(m.buffer.toString());
      await m.close();
    `], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('bytes from -e');
  });
});
