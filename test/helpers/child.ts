// Runs a snippet of ESM in a child Node process (for behaviour that ends a
// process: SIGBUS, exit with faults in flight, GC). Test-file process.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const distLib = fileURLToPath(new URL('../../dist/lib/index.js', import.meta.url));

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runChild(source: string, opts: { args?: string[]; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ChildResult> {
  const dir = mkdtempSync(join(tmpdir(), 's3mmap-child-'));
  const file = join(dir, 'child.mjs');
  writeFileSync(file, source.replaceAll('S3MMAP_LIB', JSON.stringify(distLib)));
  const started = Date.now();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [...(opts.args ?? []), file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
