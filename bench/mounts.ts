// FUSE peers (s3fs-fuse, rclone mount, mountpoint-s3, geesefs/goofys): availability, version,
// and one fresh mount per cell pointed at the counting proxy, unmounted after.
// Orchestrator process, main thread; each daemon is a child process run in
// the foreground so its pid (and peak RSS) is known.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface MountContext {
  /** The counting proxy's URL. */
  endpoint: string;
  region: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A folder this run owns (bench/tmp/run-*): mount points, caches, password files. */
  workDir: string;
}

export interface Mounted {
  dir: string;
  pid: number;
  /** VmHWM of the daemon now, bytes (0 when unreadable). */
  daemonPeakRss(): number;
  unmount(): Promise<void>;
}

export interface FuseSystem {
  name: 's3fs' | 'rclone' | 'mountpoint' | 'geesefs' | 'goofys';
  /** undefined when usable, else why not. */
  unavailable(): string | undefined;
  version(): string;
  mount(ctx: MountContext, cell: string, waitFor: string): Promise<Mounted>;
}

function which(name: string, extra: string[] = []): string | undefined {
  for (const d of [...(process.env.PATH ?? '').split(':'), ...extra]) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return undefined;
}

const fusermount = () => which('fusermount3') ?? which('fusermount');

function fuseMissing(): string | undefined {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing';
  if (!fusermount()) return 'fusermount is missing (apt-get install fuse3)';
  return undefined;
}

function firstLine(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000, env });
  return ((r.stdout || r.stderr || '').split('\n').find((l) => l.trim()) ?? '').trim();
}

function peakRssOf(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function isMounted(dir: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir);
}

// Mount points left by a run that dies are unmounted on exit, synchronously.
const live = new Set<{ dir: string; child: ChildProcess }>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', unmountAllSync);
}

/** Lazily unmounts every live mount and kills its daemon (exit paths). */
export function unmountAllSync(): void {
  for (const m of live) {
    spawnSync(fusermount() ?? 'fusermount', ['-uz', m.dir], { stdio: 'ignore' });
    try { m.child.kill('SIGKILL'); } catch { /* gone */ }
  }
  live.clear();
}

/** Removes a folder of mount points, unless something is still mounted under
 *  it: a recursive delete through a live mount would delete the bucket's objects. */
export function removeMountRoot(root: string): boolean {
  const busy = readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => (l.split(' ')[1] ?? '').startsWith(root + '/'));
  if (!busy) rmSync(root, { recursive: true, force: true });
  return !busy;
}

/** Starts `cmd` in the foreground, waits until `dir` is a mount and `waitFor`
 *  (a path under it) exists. */
async function startDaemon(
  cmd: string, args: string[], env: NodeJS.ProcessEnv, dir: string, waitFor: string, cleanup: () => void,
): Promise<Mounted> {
  mkdirSync(dir, { recursive: true });
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const keep = (b: Buffer) => {
    log.push(...b.toString().split('\n').filter(Boolean));
    log.splice(0, Math.max(0, log.length - 20));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: string | undefined;
  child.on('exit', (code, sig) => (exited = sig ? `signal ${sig}` : `exit ${code}`));
  child.on('error', (e) => (exited = e.message));
  const entry = { dir, child };
  live.add(entry);
  hookExit();

  const unmount = async () => {
    if (isMounted(dir)) spawnSync(fusermount()!, ['-u', dir], { stdio: 'ignore' });
    const gone = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
    if ((await Promise.race([gone, timer])) === 'timeout') {
      spawnSync(fusermount()!, ['-uz', dir], { stdio: 'ignore' });
      child.kill('SIGKILL');
      await gone;
    }
    live.delete(entry);
    cleanup();
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      live.delete(entry);
      cleanup();
      throw new Error(`${cmd} exited before mounting (${exited}): ${log.slice(-5).join(' | ')}`);
    }
    if (isMounted(dir) && existsSync(join(dir, waitFor))) break;
    if (Date.now() > deadline) {
      await unmount();
      throw new Error(`${cmd}: ${dir} not mounted after 30 s: ${log.slice(-5).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { dir, pid: child.pid!, daemonPeakRss: () => peakRssOf(child.pid!), unmount };
}

/** Environment for the daemons: the machine's CA bundle variables point at
 *  files that some SDKs insist on loading even for plain http; drop them. */
function daemonEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.AWS_CA_BUNDLE;
  return env;
}

export const s3fs: FuseSystem = {
  name: 's3fs',
  unavailable: () => (which('s3fs') ? fuseMissing() : 's3fs is not installed (apt-get install s3fs)'),
  version: () => firstLine('s3fs', ['--version']).replace(/^Amazon Simple Storage Service File System V?/, '').replace(/ \(commit:unknown\)/, ''),
  async mount(ctx, cell, waitFor) {
    const dir = join(ctx.workDir, `mnt-${cell}`);
    const passwd = join(ctx.workDir, `s3fs-${cell}.passwd`);
    writeFileSync(passwd, `${ctx.credentials.accessKeyId}:${ctx.credentials.secretAccessKey}\n`, { mode: 0o600 });
    return startDaemon('s3fs', [
      ctx.bucket, dir, '-f', '-o', `passwd_file=${passwd}`, '-o', `url=${ctx.endpoint}`,
      '-o', 'use_path_request_style', '-o', `endpoint=${ctx.region}`, '-o', 'dbglevel=warn',
    ], daemonEnv({}), dir, waitFor, () => rmSync(passwd, { force: true }));
  },
};

function rcloneEnv(ctx: MountContext): NodeJS.ProcessEnv {
  return daemonEnv({
    RCLONE_CONFIG: '/dev/null',
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Minio',
    RCLONE_CONFIG_BENCH_ENDPOINT: ctx.endpoint,
    RCLONE_CONFIG_BENCH_REGION: ctx.region,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: ctx.credentials.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: ctx.credentials.secretAccessKey,
  });
}

export const rclone: FuseSystem = {
  name: 'rclone',
  unavailable: () => (which('rclone') ? fuseMissing() : 'rclone is not installed (apt-get install rclone)'),
  version: () => firstLine('rclone', ['version']).replace(/^rclone /, ''),
  async mount(ctx, cell, waitFor) {
    const dir = join(ctx.workDir, `mnt-${cell}`);
    const cache = join(ctx.workDir, `rclone-cache-${cell}`);
    rmSync(cache, { recursive: true, force: true });
    return startDaemon('rclone', [
      'mount', `bench:${ctx.bucket}`, dir, '--vfs-cache-mode', 'full', '--cache-dir', cache,
    ], rcloneEnv(ctx), dir, waitFor, () => rmSync(cache, { recursive: true, force: true }));
  },
};

const GO_MODULES = { geesefs: 'github.com/yandex-cloud/geesefs', goofys: 'github.com/kahing/goofys' } as const;

/** geesefs (or goofys) from PATH or bench/tmp/gobin, where `go install` would put it. */
function goFuse(name: 'geesefs' | 'goofys', gobin: string, root: string): FuseSystem {
  const bin = () => which(name, [gobin]);
  return {
    name,
    unavailable: () => (bin() ? fuseMissing() : `no ${name} binary on PATH or in ${relative(root, gobin)}; \`go install ${GO_MODULES[name]}@latest\` was refused by the Go module proxy on this machine`),
    version: () => `${name} ${firstLine(bin()!, ['--version']).replace(/^.*version\s*/i, '')}`,
    async mount(ctx, cell, waitFor) {
      const dir = join(ctx.workDir, `mnt-${cell}`);
      return startDaemon(bin()!, ['-f', '--endpoint', ctx.endpoint, '--region', ctx.region, ctx.bucket, dir], daemonEnv({
        AWS_ACCESS_KEY_ID: ctx.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ctx.credentials.secretAccessKey,
      }), dir, waitFor, () => {});
    },
  };
}

/** mountpoint-s3's `mount-s3`: its binary crate is not on crates.io, so the bench only
 *  finds one that is there: $S3MMAP_BENCH_MOUNTPOINT_BIN, else `mount-s3` on PATH. */
export const mountpoint: FuseSystem = {
  name: 'mountpoint',
  unavailable: () => {
    const bin = mountpointBin();
    if (!bin) return 'no mount-s3 binary: set S3MMAP_BENCH_MOUNTPOINT_BIN or put mount-s3 on PATH (its binary crate is not published on crates.io)';
    if (!existsSync(bin)) return `S3MMAP_BENCH_MOUNTPOINT_BIN names ${bin}, which does not exist`;
    return fuseMissing();
  },
  version: () => firstLine(mountpointBin()!, ['--version']),
  async mount(ctx, cell, waitFor) {
    const dir = join(ctx.workDir, `mnt-${cell}`);
    // A set throughput target keeps it from asking the EC2 instance metadata service for one.
    return startDaemon(mountpointBin()!, [
      ctx.bucket, dir, '--foreground', '--read-only', '--endpoint-url', ctx.endpoint, '--region', ctx.region,
      '--force-path-style', '--maximum-throughput-gbps', '10',
    ], daemonEnv({
      AWS_ACCESS_KEY_ID: ctx.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ctx.credentials.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    }), dir, waitFor, () => {});
  },
};

function mountpointBin(): string | undefined {
  return process.env.S3MMAP_BENCH_MOUNTPOINT_BIN || which('mount-s3');
}

export function fuseSystems(gobin: string, root: string): FuseSystem[] {
  return [s3fs, rclone, mountpoint, goFuse('geesefs', gobin, root), goFuse('goofys', gobin, root)];
}
