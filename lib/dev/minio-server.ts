// Runs MinIO (found or built by minio-binary.ts) on loopback as a throwaway S3
// server for the demo, the benchmark and the tests. Runs on the main thread of
// whichever process calls it (vitest's globalSetup process, the bench runner,
// the CLI); MinIO itself is a child process, killed when that process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { findOrBuildMinio, onPath, type FindMinioOptions } from './minio-binary.js';

export { findOrBuildMinio, MINIO_MODULE, projectRoot, type FindMinioOptions, type MinioBinary } from './minio-binary.js';

export interface StartMinioOptions extends FindMinioOptions {
  /** Binary to run; default: findOrBuildMinio(). */
  bin?: string;
  /** Fixed data folder; created if missing. Default: a fresh temp folder. */
  dataDir?: string;
  /** Keep the data folder on stop(). Default: true for a given dataDir, false for a temp one. */
  keepData?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Time to wait for /minio/health/live, ms (default 60000). */
  startTimeoutMs?: number;
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /** Fixed S3 port on 127.0.0.1 (e.g. to restart a server where its clients
   *  expect it). Default: a free port. */
  port?: number;
  /** Serve HTTPS: a folder holding public.crt and private.key (MinIO's
   *  --certs-dir). The endpoint is then https://127.0.0.1:PORT. */
  certsDir?: string;
}

export interface MinioServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: 'us-east-1';
  dataDir: string;
  pid: number;
  stop(): Promise<void>;
  /** A path-style client for this server; `overrides` e.g. `{ maxAttempts: 1 }`. */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function probeLive(port: number, tls = false): Promise<boolean> {
  return new Promise((resolve) => {
    // Liveness only: the certificate is the client's business, not the launcher's.
    const get = tls ? https.get : http.get;
    const req = get({ host: '127.0.0.1', port, path: '/minio/health/live', agent: false, timeout: 2000, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

const TEMP_PREFIX = 's3mmap-minio-';

/** Temp data folders of parents killed by a signal (no exit hook ran): the
 *  folder name carries the owner's pid. */
async function sweepOrphans(): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  await Promise.all(names.map(async (name) => {
    const m = name.startsWith(TEMP_PREFIX) && /^(\d+)-/.exec(name.slice(TEMP_PREFIX.length));
    if (!m || Number(m[1]) === process.pid || existsSync(`/proc/${m[1]}`)) return;
    await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => {});
  }));
}

// A parent that dies without calling stop() must not leave servers or data behind.
const live = new Set<{ child: ChildProcess; dataDir: string; keepData: boolean }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) {
      try { s.child.kill('SIGKILL'); } catch { /* already gone */ }
      if (!s.keepData) try { rmSync(s.dataDir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
  });
}

/** Start MinIO on a free loopback port with fresh credentials and wait until it is live. */
export async function startMinio(opts: StartMinioOptions = {}): Promise<MinioServer> {
  const bin = opts.bin ?? (await findOrBuildMinio(opts)).path;
  if (!opts.dataDir) await sweepOrphans();
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`)));
  const keepData = opts.keepData ?? opts.dataDir !== undefined;
  await mkdir(dataDir, { recursive: true });
  const accessKeyId = opts.accessKeyId ?? 's3mmap' + randomBytes(6).toString('hex');
  // A fixed first letter: MinIO reads a value that starts with "env" as a URL
  // to fetch the real one from (minio/pkg env.LookupEnv), and then finds none.
  const secretAccessKey = opts.secretAccessKey ?? 'k' + randomBytes(24).toString('base64url');
  const timeoutMs = opts.startTimeoutMs ?? 60_000;

  // Another process may grab a probed port before MinIO binds it: try fresh ports a few times.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [free, consolePort] = await freePorts(2);
    const port = opts.port ?? free;
    try {
      const child = await launch(bin, dataDir, port, consolePort, accessKeyId, secretAccessKey, opts.env, timeoutMs, opts.certsDir);
      const entry = { child, dataDir, keepData };
      live.add(entry);
      installExitHook();
      const endpoint = `${opts.certsDir ? 'https' : 'http'}://127.0.0.1:${port}`;
      let stopping: Promise<void> | undefined;
      return {
        endpoint, accessKeyId, secretAccessKey, region: 'us-east-1', dataDir, pid: child.pid!,
        stop: () => (stopping ??= (async () => {
          await kill(child);
          live.delete(entry);
          if (!keepData) await rm(dataDir, { recursive: true, force: true });
        })()),
        client: (overrides = {}) => new S3Client({
          endpoint, region: 'us-east-1', forcePathStyle: true,
          credentials: { accessKeyId, secretAccessKey },
          ...overrides,
        }),
      };
    } catch (e) {
      lastError = e as Error;
      if (!/already in use/i.test(lastError.message)) break; // MinIO: "Specified port is already in use"
    }
  }
  if (!keepData) await rm(dataDir, { recursive: true, force: true });
  throw lastError!;
}

async function launch(
  bin: string, dataDir: string, port: number, consolePort: number,
  user: string, password: string, extraEnv: Record<string, string> | undefined, timeoutMs: number,
  certsDir?: string,
): Promise<ChildProcess> {
  const args = ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'];
  if (certsDir) args.push('--certs-dir', certsDir);
  // The exit hook does not run when the parent is killed by a signal; PDEATHSIG
  // (kept across setpriv's exec) still ends the server then.
  const setpriv = onPath('setpriv');
  const child = spawn(setpriv ?? bin, setpriv ? ['--pdeathsig', 'KILL', '--', bin, ...args] : args, {
    env: {
      ...process.env,
      MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: password,
      MINIO_BROWSER: 'off', MINIO_UPDATE: 'off',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (b: Buffer) => {
    lines.push(...b.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 30));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const logTail = () => lines.slice(-15).join('\n');

  let exited: string | undefined;
  child.on('exit', (code, signal) => { exited = signal ? `signal ${signal}` : `exit code ${code}`; });
  let spawnError: Error | undefined;
  child.on('error', (e) => { spawnError = e; });

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`s3mmap: cannot run ${bin}: ${spawnError.message}`);
    if (exited) throw new Error(`s3mmap: minio exited during startup (${exited}):\n${logTail()}`);
    if (await probeLive(port, certsDir !== undefined)) break;
    if (Date.now() > deadline) {
      await kill(child);
      throw new Error(`s3mmap: minio not live on 127.0.0.1:${port} after ${timeoutMs} ms:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The server must not keep its parent alive; the exit hook ends it.
  child.unref();
  (child.stdout as net.Socket).unref();
  (child.stderr as net.Socket).unref();
  return child;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(force); resolve(); });
    child.kill('SIGTERM');
  });
}

export async function createBucket(client: S3Client, name: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: name }));
}

/** Upload a Buffer or a file (streamed, not read into memory). */
export async function putObject(client: S3Client, bucket: string, key: string, body: Buffer | string): Promise<{ etag: string }> {
  const out = typeof body === 'string'
    ? await client.send(new PutObjectCommand({
      Bucket: bucket, Key: key, Body: createReadStream(body), ContentLength: (await stat(body)).size,
    }))
    : await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return { etag: out.ETag ?? '' };
}
