// The s3mmap-disk variant: s3mmap with its disk cache warmed by an earlier
// process. Before the clock starts, a cell process of plain s3mmap runs the
// same workload with a fresh cache directory, then exits; this cell process
// then maps with that directory (S3MMAP_CACHE_DIR), so its memory cache is
// cold and what it reads comes from the disk, as a second run of a job
// would. Cell process, main thread, from warmup() of systems/s3mmap.ts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CellSpec } from './types.js';

export async function prewarm(spec: CellSpec): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 's3mmap-bench-disk-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const cell = fileURLToPath(new URL('../cell.js', import.meta.url));
  const first = { ...spec, system: 's3mmap' };
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [cell, '--spec', JSON.stringify(first)], {
      env: { ...process.env, S3MMAP_CACHE_DIR: dir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`s3mmap-disk: the process warming the disk cache failed (exit ${code})`);
  process.env.S3MMAP_CACHE_DIR = dir;
}
