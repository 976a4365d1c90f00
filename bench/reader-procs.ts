// The procs4 workloads' readers: PROCS processes that read one object at the
// same time, each opening it itself (a mapping each, or the FUSE file), and
// what they hold in memory once all have read, sampled while each still holds
// it. This file is both the cell's handle (startProcs, on the cell process's
// main thread) and the reader processes' entry (their main thread).
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMain } from './main-guard.js';
import { loadSystem } from './systems/index.js';
import type { CellSpec, Opened } from './systems/types.js';
import { plan, PROCS, RANDOM_READS, runPlan, type ReadResult } from './workloads.js';

type FromProc = { ready: true } | { done: ReadResult; stats?: Record<string, number>; detail?: Record<string, unknown> } | { error: string };

export interface ProcsResult {
  results: ReadResult[];
  /** Each process's s3mmap stats (summed by the cell where it reports). */
  stats: Array<Record<string, number> | undefined>;
  details: Array<Record<string, unknown> | undefined>;
  memory: HeldMemory;
}

export interface HeldMemory {
  /** Sum over the processes of the Pss of their userfaultfd-registered ranges (the mappings). */
  pssBytes?: number;
  /** Whether those ranges are MAP_SHARED ('s' in smaps' permissions) in every process. */
  shared?: boolean;
  /** FUSE: the mount daemon's resident memory (VmRSS) then. */
  daemonRssBytes?: number;
}

export interface Procs {
  /** Starts every process's reads; resolves once all have read and their memory was sampled. */
  run(): Promise<ProcsResult>;
  close(): Promise<void>;
}

/** Pss of the userfaultfd-registered ranges of a process (VmFlags um: missing, ui: minor). */
export function uffdPss(pid: number): { pss: number; rss: number; shared: boolean; ranges: number } {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  let pss = 0;
  let rss = 0;
  let ranges = 0;
  let shared = true;
  for (const block of text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const flags = /\nVmFlags:([^\n]*)/.exec(block)?.[1].trim().split(/\s+/) ?? [];
    if (!flags.includes('um') && !flags.includes('ui')) continue;
    ranges++;
    pss += Number(/\nPss:\s+(\d+) kB/.exec(block)?.[1] ?? 0) * 1024;
    rss += Number(/\nRss:\s+(\d+) kB/.exec(block)?.[1] ?? 0) * 1024;
    if (block.split(' ')[1]?.[3] !== 's') shared = false;
  }
  return { pss, rss, shared: ranges > 0 && shared, ranges };
}

function rssOf(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function heldMemory(spec: CellSpec, procs: ChildProcess[]): HeldMemory {
  if (spec.path) {
    // The file's pages in the page cache cannot be sampled from outside: FUSE drops a file's
    // cached pages at every open(2) unless its daemon asks to keep them, so fincore's own open
    // would empty it. The report bounds it by what went through the mount instead.
    return { daemonRssBytes: spec.daemonPid ? rssOf(spec.daemonPid) : undefined };
  }
  const each = procs.map((p) => uffdPss(p.pid!));
  return { pssBytes: each.reduce((a, e) => a + e.pss, 0), shared: each.every((e) => e.shared) };
}

/** Forks the processes and waits until each has loaded its system and warmed it up. */
export async function startProcs(spec: CellSpec): Promise<Procs> {
  const entry = fileURLToPath(import.meta.url);
  const procs = Array.from({ length: PROCS }, (_, p) => fork(entry, ['--proc', String(p), '--spec', JSON.stringify(spec)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  }));
  const next = (c: ChildProcess) => new Promise<FromProc>((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) => reject(new Error(`reader process exited (${signal ?? code}) before it answered`));
    c.once('exit', onExit);
    c.once('message', (m: FromProc) => {
      c.off('exit', onExit);
      if ('error' in m) reject(new Error(`reader process: ${m.error}`));
      else resolve(m);
    });
  });
  try {
    await Promise.all(procs.map(next));
  } catch (e) {
    for (const c of procs) c.kill('SIGKILL');
    throw e;
  }
  return {
    async run() {
      const answers = procs.map(next);
      for (const c of procs) c.send({ go: true });
      const done = (await Promise.all(answers)) as Array<Extract<FromProc, { done: ReadResult }>>;
      // Every process has read and still holds the object: what they hold together, now.
      const memory = heldMemory(spec, procs);
      return { results: done.map((d) => d.done), stats: done.map((d) => d.stats), details: done.map((d) => d.detail), memory };
    },
    async close() {
      await Promise.all(procs.map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        if (c.connected) c.send({ close: true });
        else c.kill('SIGKILL');
      })));
    },
  };
}

if (isMain(import.meta.url) && process.send) {
  const args = process.argv;
  const p = Number(args[args.indexOf('--proc') + 1]);
  const spec = JSON.parse(args[args.indexOf('--spec') + 1]) as CellSpec;
  const send = (m: FromProc) => process.send!(m);
  let opened: Opened | undefined;
  try {
    const mod = await loadSystem(spec.system);
    await mod.warmup?.(spec);
    process.on('message', async (m: { go?: true; close?: true }) => {
      try {
        if (m.go) {
          opened = await mod.open(spec);
          const p4 = spec.workload === 'procs4-scan' ? plan('sequential', spec.size) : plan('procs4-random', spec.size, p, spec.reads ?? RANDOM_READS);
          const done = await runPlan(opened.reader, p4);
          send({ done: { bytesRead: done.bytesRead, checksum: done.checksum }, stats: opened.stats?.(), detail: opened.detail?.() });
        } else if (m.close) {
          await opened?.close();
          process.exit(0);
        }
      } catch (e) {
        send({ error: (e as Error).stack ?? String(e) });
        process.exit(1);
      }
    });
    send({ ready: true });
  } catch (e) {
    send({ error: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
}
