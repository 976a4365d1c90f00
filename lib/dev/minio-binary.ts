// Finds a MinIO binary ($MINIO_BIN, PATH, the project's .cache/bin) or builds
// one with `go install` (MinIO ships source only). Runs on the main thread of
// whichever process needs a server: vitest's globalSetup, the bench runner,
// the CLI's demo.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants as fsc, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MINIO_MODULE = 'github.com/minio/minio@latest';

export interface MinioBinary {
  path: string;
  /** `minio --version` first line; for `go install` builds (which report
   *  DEVELOPMENT.GOGET) the Go module version is appended. */
  version: string;
  origin: 'env' | 'path' | 'cache' | 'built';
}

export interface FindMinioOptions {
  /** Build with `go install` when no binary is found (default true). */
  build?: boolean;
  /** Where a built binary lives (default `<projectRoot>/.cache/bin`). */
  cacheDir?: string;
}

/** The folder holding s3mmap's package.json: the cache lives there whether we
 *  run from dist/lib or from the sources. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('s3mmap: cannot find package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsc.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export function onPath(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (d && isExecutable(join(d, name))) return join(d, name);
  }
  return undefined;
}

function probeVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`s3mmap: ${bin} --version failed: ${(r.stderr || r.error?.message || '').trim()}`);
  let version = r.stdout.split('\n')[0].trim();
  if (version.includes('DEVELOPMENT')) {
    // go install leaves the release ldflags unset; the module version is the only real identity.
    const m = spawnSync('go', ['version', '-m', bin], { encoding: 'utf8', timeout: 30_000 });
    const mod = m.stdout?.match(/^\s*mod\s+github\.com\/minio\/minio\s+(\S+)/m);
    if (mod) version += ` module ${mod[1]}`;
  }
  return version;
}

/** Find MinIO at $MINIO_BIN, on PATH, or in the project cache; else build it there. */
export async function findOrBuildMinio(opts: FindMinioOptions = {}): Promise<MinioBinary> {
  const env = process.env.MINIO_BIN;
  if (env) {
    if (!isExecutable(env)) throw new Error(`s3mmap: MINIO_BIN=${env} is not an executable file`);
    return { path: env, version: probeVersion(env), origin: 'env' };
  }
  const found = onPath('minio');
  if (found) return { path: found, version: probeVersion(found), origin: 'path' };

  const cacheDir = opts.cacheDir ?? join(projectRoot(), '.cache', 'bin');
  const cached = join(cacheDir, 'minio');
  const versionFile = join(cacheDir, 'minio.version');
  if (isExecutable(cached)) {
    let version = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : '';
    if (!version) {
      version = probeVersion(cached);
      writeFileSync(versionFile, version + '\n');
    }
    return { path: cached, version, origin: 'cache' };
  }
  if (opts.build === false) throw new Error('s3mmap: no minio binary found; set MINIO_BIN or put minio on PATH');
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).error) {
    throw new Error('s3mmap: minio not found and go is missing: install Go >= 1.24 or set MINIO_BIN');
  }

  await mkdir(cacheDir, { recursive: true });
  process.stderr.write(`s3mmap: building MinIO (go install ${MINIO_MODULE} into ${cacheDir}); this takes a few minutes\n`);
  const log: string[] = [];
  const rc = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('go', ['install', MINIO_MODULE], {
      env: { ...process.env, GOBIN: cacheDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => {
      log.push(...b.toString().split('\n').filter(Boolean));
      log.splice(0, Math.max(0, log.length - 20));
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (rc !== 0 || !isExecutable(cached)) {
    throw new Error(`s3mmap: go install ${MINIO_MODULE} failed (exit ${rc}):\n${log.join('\n')}`);
  }
  const version = probeVersion(cached);
  writeFileSync(versionFile, version + '\n');
  return { path: cached, version, origin: 'built' };
}

/** Ports are found by binding port 0 and released just before MinIO binds them;
 *  holding both open at once keeps the two from being the same port. */
