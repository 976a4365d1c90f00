// How a mapping and its process end, each case in a child process: the exit
// guard's grace timed from a timestamp the child prints just before
// process.exit(); an uncaught exception; the main thread finishing while a
// worker waits in a fault; attach() views served after close(); the
// userfaultfd closed once the GC has collected every view; [Symbol.dispose];
// the UFFDIO_COPY EAGAIN retry, forced by the copyEagain test hook and
// counted in stats().copyRetries; a worker terminated while it is inside
// the addon; the fault worker dying (process.exit(), an uncaught error), and
// a worker thread with mappings of its own ending.
//
// Runs in a vitest fork; every mapping lives in a child (test/helpers/child.ts).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { byteAt } from './fixtures/content.mjs';
import { runChild, type ChildResult } from './helpers/child.js';
import { PINNED } from './helpers/pins.js';

const chunk = 64 * 1024;
const sizedSource = fileURLToPath(new URL('./fixtures/sized-source.mjs', import.meta.url));
const failingSource = fileURLToPath(new URL('./fixtures/failing-source.mjs', import.meta.url));
const dyingSource = fileURLToPath(new URL('./fixtures/dying-source.mjs', import.meta.url));
const contentModule = new URL('./fixtures/content.mjs', import.meta.url).href;

/** Child preamble: a mapping whose every read takes `delayMs`, and `n` worker
 *  threads parked in faults on it, a chunk apart: faults on neighbouring
 *  chunks that arrive together share one GET, and the wait below counts GETs. */
const parked = (delayMs: number, n: number) => `
  import { Worker } from 'node:worker_threads';
  import { mapSource } from S3MMAP_LIB;
  const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${16 * chunk}, seed: 51, delayMs: ${delayMs} } }, { readahead: 0 });
  for (let i = 0; i < ${n}; i++) new Worker(\`
    import { workerData } from 'node:worker_threads';
    const { attach } = await import(workerData.lib);
    console.log('never', attach(workerData.handle)[workerData.off]);
  \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB, handle: m.share(), off: i * ${2 * chunk} } });
  while (m.stats().inflight < ${n}) await new Promise((r) => setTimeout(r, 10));
`;

/** ms from the timestamp the child printed ("at <ms>") to the end of the child. */
async function sinceMark(r: Promise<ChildResult>): Promise<number> {
  const result = await r;
  const ended = Date.now();
  const at = Number(/^at (\d+(?:\.\d+)?)$/m.exec(result.stdout)?.[1]);
  expect(at, `the child printed no mark: ${JSON.stringify(result)}`).toBeGreaterThan(0);
  return ended - at;
}

describe('exit while threads wait in faults', () => {
  const grace = PINNED.exitGraceMs;

  it(`process.exit(): the process ends with its code once the ${grace} ms grace is over, not later`, async () => {
    let result: Awaited<ReturnType<typeof runChild>> | undefined;
    const ms = await sinceMark(runChild(`${parked(60_000, 3)}
      console.log('at', performance.timeOrigin + performance.now());
      process.exit(7);
    `, { timeoutMs: 30_000 }).then((r) => (result = r)));
    expect(result!.stdout).not.toContain('never');
    expect(result!).toMatchObject({ code: 7, signal: null });
    // The guard waits the grace (exit handlers may still be running), then ends it.
    expect(ms).toBeGreaterThanOrEqual(grace);
    expect(ms).toBeLessThan(grace + 1250);
  });

  it('an uncaught exception: exit status 1, the exception on stderr, within the same grace', async () => {
    let result: Awaited<ReturnType<typeof runChild>> | undefined;
    const ms = await sinceMark(runChild(`${parked(60_000, 2)}
      console.log('at', performance.timeOrigin + performance.now());
      throw new Error('uncaught-for-the-test');
    `, { timeoutMs: 30_000 }).then((r) => (result = r)));
    expect(result!).toMatchObject({ code: 1, signal: null });
    expect(result!.stderr).toContain('Error: uncaught-for-the-test');
    expect(result!.stdout).not.toContain('never');
    expect(ms).toBeLessThan(grace + 1250);
  });
});

describe('the main thread finishing while a worker waits in a fault', () => {
  it('Node waits for the worker as for any worker: its fault is served, it prints the exact byte, exit status 0', async () => {
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      import { mapSource } from S3MMAP_LIB;
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${16 * chunk}, seed: 52, delayMs: 800 } }, { readahead: 0 });
      new Worker(\`
        import { workerData } from 'node:worker_threads';
        const { attach } = await import(workerData.lib);
        console.log('byte', attach(workerData.handle)[${5 * chunk + 3}]);
      \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB, handle: m.share() } });
      while (m.stats().inflight === 0) await new Promise((r) => setTimeout(r, 10));
      console.log('main done');
      // Nothing keeps the main thread's loop alive from here on.
    `, { timeoutMs: 30_000 });
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stdout).toBe(`main done\nbyte ${byteAt(5 * chunk + 3, 52)}\n`);
  });

  it('a fault that cannot be served ends the process with SIGBUS after one line naming the error', async () => {
    const r = await runChild(`
      import { writeFileSync } from 'node:fs';
      import { Worker } from 'node:worker_threads';
      import { mapSource } from S3MMAP_LIB;
      const path = ${JSON.stringify('/tmp/s3mmap-main-done-')} + process.pid;
      writeFileSync(path, Buffer.alloc(${16 * chunk}, 7));
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(failingSource)}, options: { path, failFrom: 0, failTo: ${16 * chunk}, code: 'InjectedFailure', delayMs: 500 } }, { readahead: 0 });
      new Worker(\`
        import { workerData } from 'node:worker_threads';
        const { attach } = await import(workerData.lib);
        console.log('never', attach(workerData.handle)[100]);
      \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB, handle: m.share() } });
      while (m.stats().inflight === 0) await new Promise((r) => setTimeout(r, 10));
      console.log('main done');
    `, { timeoutMs: 30_000 });
    expect(r.signal).toBe('SIGBUS');
    expect(r.stdout).toBe('main done\n');
    expect(r.stderr).toMatch(/^s3mmap: bytes 0-65535 of .*failing-source\.mjs could not be read \(InjectedFailure\); touching them raises SIGBUS/m);
  });
});

describe('the fault worker dying', () => {
  const stopped = 's3mmap: a fault worker ended (it failed, or the thread that started it exited) with 1 mapping(s) live: they are unmapped, and touching them raises SIGSEGV';
  const causes = {
    exit: undefined,
    throw: 's3mmap: the fault worker failed (uncaughtException): Error: thrown in the fault worker',
    reject: 's3mmap: the fault worker failed (unhandledRejection): Error: rejected in the fault worker',
  };
  for (const [how, cause] of Object.entries(causes)) {
    it(`by ${how} while the main thread waits in its fault: SIGSEGV after one line (and the cause), not an endless wait`, async () => {
      const r = await runChild(`
        import { mapSource } from S3MMAP_LIB;
        const m = await mapSource({ kind: 'module', path: ${JSON.stringify(dyingSource)}, options: { size: ${4 * chunk}, how: '${how}' } }, { readahead: 0 });
        console.log('never', m.buffer[5]);
      `, { timeoutMs: 20_000 });
      expect(r.signal, r.stderr).toBe('SIGSEGV');
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(stopped);
      if (cause) expect(r.stderr).toContain(cause);
    });
  }

  it('with no thread parked: load() rejects with EWORKER, a warning says the mappings were unmapped, their uffds are closed, and the next map starts a new worker', async () => {
    const r = await runChild(`
      import { readdirSync, readlinkSync } from 'node:fs';
      import { mapSource } from S3MMAP_LIB;
      const uffds = () => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[userfaultfd]'; } catch { return false; } }).length;
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.message));
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(dyingSource)}, options: { size: ${4 * chunk}, how: 'exit' } }, { readahead: 0 });
      const mapped = uffds();
      // Rejected by the same handler that closes the uffds, before this resumes.
      const error = await m.load(0, 10).then(() => null, (e) => e.code);
      const after = uffds();
      const next = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${4 * chunk}, seed: 57 } });
      console.log(JSON.stringify({ mapped, error, after, warnings, byte: next.buffer[${chunk + 9}] }));
      await next.close();
    `, { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(stopped);
    expect(JSON.parse(r.stdout)).toEqual({
      mapped: 1,
      error: 'EWORKER',
      after: 0,
      warnings: ['s3mmap: the fault worker exited (code 9); its mappings were unmapped'],
      byte: byteAt(chunk + 9, 57),
    });
  });
});

describe('a Buffer of a mapping whose fault worker died', () => {
  it('never reads another allocation\'s bytes: the range stays reserved, so a touch is SIGSEGV even after 64 MiB of new Buffers', async () => {
    const r = await runChild(`
      import { mapSource } from S3MMAP_LIB;
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(dyingSource)}, options: { size: 16 * ${chunk}, how: 'exit' } }, { readahead: 0 });
      const b = m.buffer;
      console.log('load', await m.load(0, 10).then(() => 'ok', (e) => e.code));
      // Freed address space would be handed out again, to allocations like these.
      const keep = [];
      for (let i = 0; i < 64; i++) keep.push(Buffer.alloc(1 << 20, 0x5a));
      console.log('read', b[5], b[${9 * chunk}]);
    `, { timeoutMs: 20_000 });
    expect(r.signal, r.stdout + r.stderr).toBe('SIGSEGV');
    expect(r.stdout).toBe('load EWORKER\n');
  });
});

describe('a worker thread that mapped an object of its own', () => {
  it('ends with its mapping live: only that mapping goes, after one line; the main thread\'s mapping still serves exact bytes', async () => {
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      import { mapSource } from S3MMAP_LIB;
      const { native } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${16 * chunk}, seed: 58 } }, { readahead: 0 });
      const w = new Worker(\`
        import { parentPort } from 'node:worker_threads';
        const { mapSource } = await import(\${JSON.stringify(S3MMAP_LIB)});
        const n = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${16 * chunk}, seed: 59 } }, { readahead: 0 });
        parentPort.postMessage(n.buffer[${3 * chunk + 1}]);
        // Alive until the main thread has counted the regions; then it ends with its mapping live.
        parentPort.once('message', () => parentPort.close());
      \`, { eval: true, type: 'module' });
      const theirs = await new Promise((r) => w.once('message', r));
      const live = native.liveRegions();
      const exited = new Promise((r) => w.once('exit', r));
      w.postMessage('end');
      await exited;
      console.log(JSON.stringify({ theirs, live, after: native.liveRegions(), ours: m.buffer[${9 * chunk + 5}] }));
      await m.close();
    `, { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe('s3mmap: a fault worker ended (it failed, or the thread that started it exited) with 1 mapping(s) live: they are unmapped, and touching them raises SIGSEGV');
    expect(JSON.parse(r.stdout)).toEqual({ theirs: byteAt(3 * chunk + 1, 59), live: 2, after: 1, ours: byteAt(9 * chunk + 5, 58) });
  });
});

describe('views and their region', () => {
  it('close() with an attach() view alive: the view is still served, cold pages included, with the exact bytes', async () => {
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      import { mapSource } from S3MMAP_LIB;
      import { firstMismatch } from ${JSON.stringify(contentModule)};
      const { native } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${32 * chunk}, seed: 53 } }, { readahead: 0 });
      const w = new Worker(\`
        import { parentPort, workerData } from 'node:worker_threads';
        import { firstMismatch } from ${JSON.stringify(contentModule)};
        const { attach } = await import(workerData.lib);
        const b = attach(workerData.handle);
        parentPort.once('message', () => {
          // Every page cold: the mapping that made them was closed a moment ago.
          parentPort.postMessage({ length: b.length, bad: firstMismatch(Buffer.from(b), 0, 53) });
        });
        parentPort.postMessage('attached');
      \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB, handle: m.share() } });
      await new Promise((r) => w.once('message', r));
      void m.buffer[0];
      await m.close();
      const closed = { length: m.buffer.length, live: native.liveRegions(), faults: m.stats().faults };
      w.postMessage('read now');
      const seen = await new Promise((r) => w.once('message', r));
      const stats = m.stats();
      await w.terminate();
      console.log(JSON.stringify({ closed, seen, faults: stats.faults, errors: stats.errors }));
    `, { timeoutMs: 30_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      closed: { length: 0, live: 1, faults: 1 },
      seen: { length: 32 * chunk, bad: -1 },
      faults: 32, // the 31 cold chunks the view read after close(), plus the first
      errors: 0,
    });
  });

  it('garbage collection of the Mapping and every view unmaps the region and closes its userfaultfd', async () => {
    const r = await runChild(`
      import { readdirSync, readlinkSync } from 'node:fs';
      import { Worker } from 'node:worker_threads';
      import { mapSource } from S3MMAP_LIB;
      const { native } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
      const uffds = () => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[userfaultfd]'; } catch { return false; } }).length;
      const gc = async (until) => { for (let i = 0; i < 40 && !until(); i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); } };
      const before = uffds();
      let m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${8 * chunk}, seed: 54 } });
      const mapped = { uffds: uffds(), live: native.liveRegions() };
      void m.buffer[10];
      const w = new Worker(\`
        import { parentPort, workerData } from 'node:worker_threads';
        const { attach } = await import(workerData.lib);
        let b = attach(workerData.handle);
        parentPort.postMessage(b[${chunk + 1}]);
        parentPort.once('message', () => { b = null; globalThis.gc(); setTimeout(() => parentPort.postMessage('dropped'), 50); });
      \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB, handle: m.share() } });
      const read = await new Promise((r) => w.once('message', r));
      m = null;
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
      const viewAlive = { uffds: uffds(), live: native.liveRegions() };
      w.postMessage('drop');
      await new Promise((r) => w.once('message', r));
      await gc(() => native.liveRegions() === 0 && uffds() === before);
      const after = { uffds: uffds(), live: native.liveRegions() };
      await w.terminate();
      console.log(JSON.stringify({ before, mapped, read, viewAlive, after }));
    `, { args: ['--expose-gc'], timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.mapped).toEqual({ uffds: out.before + 1, live: 1 });
    expect(out.read).toBe(byteAt(chunk + 1, 54));
    // The worker's view alone keeps the region mapped and its uffd open.
    expect(out.viewAlive).toEqual({ uffds: out.before + 1, live: 1 });
    expect(out.after).toEqual({ uffds: out.before, live: 0 });
  });

  it('[Symbol.dispose] (a `using` declaration) closes the mapping: the Buffer is detached and the region goes', async () => {
    const r = await runChild(`
      import { mapSource } from S3MMAP_LIB;
      const { native } = await import(S3MMAP_LIB.replace('index.js', 'shared/native.js'));
      let m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${4 * chunk}, seed: 55 } });
      const b = m.buffer;
      const first = b[7];
      m[Symbol.dispose]();
      const right = { closed: m.closed, length: b.length, bufferLength: m.buffer.length };
      for (let i = 0; i < 100 && native.liveRegions() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      console.log(JSON.stringify({ first, ...right, live: native.liveRegions() }));
    `, { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ first: byteAt(7, 55), closed: true, length: 0, bufferLength: 0, live: 0 });
  });
});

describe('UFFDIO_COPY answered EAGAIN (the address space changing under it, as during fork)', () => {
  it('is retried: every byte exact, each retry counted in stats().copyRetries, and the resident budget holds meanwhile (test hook copyEagain=5)', async () => {
    const r = await runChild(`
      import { mapSource } from S3MMAP_LIB;
      import { firstMismatch } from ${JSON.stringify(contentModule)};
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${16 * chunk + 100}, seed: 56 } }, { readahead: 0, residentBudget: ${4 * chunk}, cacheSize: 0 });
      // Chunk by chunk, so each is read whole before the budget evicts it: one fault per chunk.
      let bad = -1;
      for (let off = 0; off < m.size && bad < 0; off += ${chunk}) {
        const i = firstMismatch(Buffer.from(m.buffer.subarray(off, off + ${chunk})), off, 56);
        if (i >= 0) bad = off + i;
      }
      const s = m.stats();
      console.log(JSON.stringify({ bad, copyRetries: s.copyRetries, errors: s.errors, faults: s.faults, installs: s.installs, residentPeak: s.residentPeak }));
      await m.close();
    `, { env: { S3MMAP_TEST_HOOKS: 'copyEagain=5' }, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ bad: -1, copyRetries: 5, errors: 0, faults: 17, installs: 17, residentPeak: 4 * chunk });
  });

  it('without the hook no copy is retried on a quiet process', async () => {
    const r = await runChild(`
      import { mapSource } from S3MMAP_LIB;
      const m = await mapSource({ kind: 'module', path: ${JSON.stringify(sizedSource)}, options: { size: ${8 * chunk}, seed: 57 } }, { readahead: 0 });
      let s = 0; for (let i = 0; i < m.size; i += 4096) s += m.buffer[i];
      console.log(JSON.stringify({ copyRetries: m.stats().copyRetries, installs: m.stats().installs }));
    `, { env: { S3MMAP_TEST_HOOKS: '' }, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ copyRetries: 0, installs: 8 });
  });
});

describe('a thread torn down while it is inside the addon', () => {
  it('worker.terminate() during calls that build objects, read booleans or throw errno errors: no abort, exit status 0', async () => {
    // Node refuses JS on a thread being torn down; the addon's calls must then
    // return, not abort the process in node-addon-api (FATAL ERROR: Error::New).
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      for (let i = 0; i < 40; i++) {
        const w = new Worker(\`
          import { parentPort, workerData } from 'node:worker_threads';
          const { native } = await import(workerData.lib);
          const src = new Uint8Array(4096);
          parentPort.postMessage('go');
          for (;;) {
            native.probe(false);
            native.copy(-1, 0, src, 0, 4096, true);
            try { native.createRegion(0, false, 0); } catch {}
          }
        \`, { eval: true, type: 'module', workerData: { lib: S3MMAP_LIB.replace('index.js', 'shared/native.js') } });
        await new Promise((resolve) => w.once('message', resolve));
        await new Promise((resolve) => setTimeout(resolve, 2 + (i % 10)));
        await w.terminate();
      }
      console.log('terminated 40');
    `, { timeoutMs: 60_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('terminated 40');
  });
});
