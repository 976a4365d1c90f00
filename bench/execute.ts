// Running the planned cells: for each, a fresh FUSE mount where the system is
// one, the server's page cache put in the state asked for, the measurement in
// a fresh cold process (bench/cell.ts, or the C ceiling), and its phases
// checked against the expected checksums. Orchestrator process, main thread:
// mounting and cache dropping block it, while the proxy serves on its own thread.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { CellOutput } from './cell.js';
import { prepareServerCache, warmPath, type ServerCache } from './cache.js';
import { runCeiling } from './ceiling.js';
import type { FuseSystem, Mounted } from './mounts.js';
import type { NetworkName } from '../lib/dev/s3-harness/network.js';
import type { Cell } from './plan.js';
import type { Measurement } from './report.js';
import { BUCKET, WARMUP_KEY } from './seed.js';
import type { CellSpec, S3Target } from './systems/types.js';

export interface ExecuteContext {
  /** Where every system talks to S3 (the proxy), without a key. */
  s3: Omit<S3Target, 'key'>;
  controlUrl: string;
  /** Lays a profile over the proxy's traffic from the next request on. */
  setNetwork(name: NetworkName, seed: number): Promise<void>;
  minioDataDir: string;
  workDir: string;
  cellJs: string;
  ceilingBin?: string;
  fuse: Map<string, FuseSystem>;
  /** Grows when a mount fails: that system's later cells are skipped. */
  unavailable: Map<string, string>;
  expected: Map<string, number>;
  serverCache: ServerCache;
  seed: number;
  cellTimeoutS: number;
  log(s: string): void;
}

export interface Executed {
  measurements: Measurement[];
  /** Failures of s3mmap or a ceiling, and checksum mismatches of anyone. */
  fatal: number;
  /** Why the page cache could not be dropped, the first time it could not. */
  dropError?: string;
}

function runNodeCell(cellJs: string, spec: CellSpec, timeoutMs: number): Promise<CellOutput> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cellJs, '--spec', JSON.stringify(spec)], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      if (err.length > 20_000) err = err.slice(-10_000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('CELL-RESULT '));
      if (line) {
        resolve(JSON.parse(line.slice('CELL-RESULT '.length)) as CellOutput);
        return;
      }
      const why = timedOut ? `timed out after ${timeoutMs / 1000} s` : `exited with ${signal ?? code} and no result`;
      resolve({ ok: false, error: `${why}: ${err.trim().split('\n').slice(-4).join(' | ')}`, phases: [], peakRssBytes: 0 });
    });
  });
}

/** One cell from mount to unmount; undefined when its mount failed (the system is then unavailable). */
async function runOne(c: Cell, index: number, ctx: ExecuteContext, noteDrop: (e: string) => void): Promise<{ out: CellOutput; daemonRss?: number } | undefined> {
  const spec: CellSpec = {
    system: c.def.id, workload: c.workload, warm: c.warm, s3: { ...ctx.s3, key: c.key }, size: c.size, seed: ctx.seed, ks: c.ks,
    path: undefined, localPath: c.localPath, chunkSize: c.def.chunkSize, noReadahead: c.def.noReadahead, mapOptions: c.def.mapOptions,
    seconds: c.seconds, reads: c.reads, controlUrl: ctx.controlUrl, warmupKey: WARMUP_KEY,
  };
  let mounted: Mounted | undefined;
  // The same first-byte draws for every system of a repetition: none meets a luckier network.
  await ctx.setNetwork(c.network, c.rep * 7919 + ctx.seed);
  try {
    if (c.def.kind === 'fuse') {
      const { endpoint, region, bucket, credentials } = ctx.s3;
      try {
        // Ready when the warm-up object is visible: the measured object's metadata stays uncached.
        mounted = await ctx.fuse.get(c.def.id)!.mount({ endpoint, region, bucket, credentials, workDir: ctx.workDir }, `${c.def.id}-${index}`, WARMUP_KEY);
      } catch (e) {
        ctx.unavailable.set(c.def.id, `mount failed: ${(e as Error).message}`);
        return undefined;
      }
      spec.path = join(mounted.dir, c.key);
      spec.warmupPath = join(mounted.dir, WARMUP_KEY);
      spec.daemonPid = mounted.pid;
    }
    // On an S3 profile the drawn first byte stands for S3's own server time:
    // MinIO reading this VM's disk on top of it would make the network slower
    // than the profile says, so the object stays in MinIO's page cache there.
    const mode = c.network !== 'loopback' && ctx.serverCache === 'drop' ? 'warm' : ctx.serverCache;
    const dropped = prepareServerCache(mode, join(ctx.minioDataDir, BUCKET, c.key));
    if (dropped) noteDrop(dropped);
    if (c.workload === 'fault-service' && c.localPath) warmPath(c.localPath);
    const out = c.def.kind === 'c'
      ? await runCeiling(ctx.ceilingBin!, c.size, c.def.chunkSize!, ctx.seed, ctx.cellTimeoutS * 1000)
      : await runNodeCell(ctx.cellJs, spec, ctx.cellTimeoutS * 1000);
    return { out, daemonRss: mounted?.daemonPeakRss() };
  } finally {
    await mounted?.unmount();
  }
}

export async function runCells(cells: Cell[], ctx: ExecuteContext): Promise<Executed> {
  const done: Executed = { measurements: [], fatal: 0 };
  const runnable = cells.filter((c) => !ctx.unavailable.has(c.def.id));
  for (let i = 0; i < runnable.length; i++) {
    const c = runnable[i];
    const tag = `[${i + 1}/${runnable.length}] ${Object.values(c.groups).join('+')} ${c.def.id} rep ${c.rep}`;
    // A phase's slot in c.groups: its workload, 'warm', or a crossover's `k=N`.
    if (ctx.unavailable.has(c.def.id)) continue; // a mount failed earlier in this run
    const tc = Date.now();
    const ran = await runOne(c, i, ctx, (e) => (done.dropError ??= e));
    if (!ran) {
      ctx.log(`${tag}: ${c.def.id} unavailable: ${ctx.unavailable.get(c.def.id)}`);
      continue;
    }
    const { out, daemonRss } = ran;
    const secs = ((Date.now() - tc) / 1000).toFixed(1);
    if (!out.ok) {
      ctx.log(`${tag}: FAILED (${secs} s): ${(out.error ?? '').split('\n')[0]}`);
      for (const group of Object.values(c.groups)) {
        done.measurements.push({ group: group!, workload: c.workload, system: c.def.id, rep: c.rep, ok: false, error: out.error });
      }
      if (c.def.role !== 'peer') done.fatal++;
      continue;
    }
    const parts: string[] = [];
    for (const ph of out.phases) {
      const group = c.groups[ph.workload === 'warm' ? 'warm' : ph.k !== undefined ? `k=${ph.k}` : c.workload];
      if (!group) continue;
      const exp = ctx.expected.get(group);
      const good = exp === ph.checksum;
      if (!good) done.fatal++;
      done.measurements.push({
        group, workload: ph.workload === 'warm' ? 'warm' : c.workload, system: c.def.id, rep: c.rep, ok: good,
        error: good ? undefined : `checksum mismatch: got ${ph.checksum}, expected ${exp}`,
        wallMs: ph.wallMs, firstByteMs: ph.firstByteMs, readP50Us: ph.readP50Us, bytesRead: ph.bytesRead, checksum: ph.checksum, expected: exp,
        ops: ph.ops, memory: ph.memory, detail: ph.detail,
        traffic: ph.traffic, stats: ph.system, peakRssBytes: out.peakRssBytes, daemonPeakRssBytes: daemonRss,
      });
      parts.push(`${group} ${(ph.wallMs / 1000).toFixed(3)} s${good ? '' : ' CHECKSUM MISMATCH'}`);
    }
    ctx.log(`${tag}: ${parts.join(', ')} (${secs} s)`);
  }
  return done;
}
