// The C fault-service ceiling (bench/uffd-ceiling.c): compiled with cc into
// bench/tmp/ when missing or older than its source, and run as a cell of its
// own (a fresh process). Orchestrator process, main thread.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CellOutput } from './cell.js';

export function buildCeiling(root: string): { bin?: string; reason?: string; compiler?: string } {
  const src = join(root, 'bench', 'uffd-ceiling.c');
  const bin = join(root, 'bench', 'tmp', 'uffd-ceiling');
  const cc = process.env.CC ?? 'cc';
  const compiler = spawnSync(cc, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim();
  if (!compiler) return { reason: `no C compiler (${cc})` };
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return { bin, compiler };
  mkdirSync(join(root, 'bench', 'tmp'), { recursive: true });
  const r = spawnSync(cc, ['-O2', '-Wall', '-pthread', '-o', bin, src], { encoding: 'utf8' });
  if (r.status !== 0) return { reason: `cc failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`, compiler };
  return { bin, compiler };
}

export function runCeiling(bin: string, size: number, chunk: number, seed: number, timeoutMs: number): Promise<CellOutput> {
  return new Promise((resolve) => {
    const child = spawn(bin, [String(size), String(chunk), String(seed >>> 0)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}: ${err.trim()}`);
        const r = JSON.parse(out.trim()) as {
          wallMs: number; faults: number; serviceP50Us: number; serviceP99Us: number; checksum: number; peakRssBytes: number;
        };
        resolve({
          ok: true,
          peakRssBytes: r.peakRssBytes,
          phases: [{
            workload: 'sequential', wallMs: r.wallMs, bytesRead: size, checksum: r.checksum,
            traffic: { requests: 0, gets: 0, bytes: 0 },
            system: { faults: r.faults, faultP50Us: r.serviceP50Us, faultP99Us: r.serviceP99Us },
          }],
        });
      } catch (e) {
        resolve({ ok: false, error: `uffd-ceiling: ${(e as Error).message}`, phases: [], peakRssBytes: 0 });
      }
    });
  });
}
