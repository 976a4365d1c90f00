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

/** `prefix`: a command that runs node, e.g. ['prlimit', '--as=N'] (node and its arguments follow). */
export function runChild(
  source: string,
  opts: { args?: string[]; timeoutMs?: number; env?: NodeJS.ProcessEnv; prefix?: string[] } = {},
): Promise<ChildResult> {
  const dir = mkdtempSync(join(tmpdir(), 's3mmap-child-'));
  const file = join(dir, 'child.mjs');
  writeFileSync(file, source.replaceAll('S3MMAP_LIB', JSON.stringify(distLib)));
  const started = Date.now();
  return new Promise((resolvePromise) => {
    const argv = [process.execPath, ...(opts.args ?? []), file];
    const [cmd, ...rest] = [...(opts.prefix ?? []), ...argv];
    const child = spawn(cmd, rest, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    // 'close', not 'exit': at 'exit' the child's last output may still be in the pipes.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
