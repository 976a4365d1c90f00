// The benchmark orchestrator: `npm run bench` (node dist/bench/run.js) and
// `s3mmap bench` (which imports this module and calls main). Starts MinIO and
// the counting proxy, seeds the objects, runs every system on every workload
// in fresh cold processes (bench/cell.ts, bench/uffd-ceiling.c), checks every
// checksum, and writes latest.{json,md,svg,png}. Runs on the main thread of
// the orchestrator process, which may block (mounts, drop_caches); the proxy
// and the control server run on a worker thread (bench/proxy-thread.ts); the
// cells run as child processes.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBytes, uffdInfo } from '../lib/index.js';
import { createBucket, findOrBuildMinio, projectRoot, startMinio } from '../lib/dev/minio-server.js';
import type { CellOutput } from './cell.js';
import { sizeLabel, systemDef, type SystemDef } from './catalog.js';
import { buildCeiling, runCeiling } from './ceiling.js';
import { chartSvg, ensureRsvg, svgToPng } from './chart.js';
import { CONTENT_VERSION, objectBytes } from './content.js';
import { machineInfo, machineLine, shortMinioVersion } from './machine.js';
import { isMain } from './main-guard.js';
import { fuseSystems, removeMountRoot, unmountAllSync, type FuseSystem, type Mounted } from './mounts.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { parquetQueryFile, writeParquet, ROW_GROUPS, QUERY_COLUMN } from './parquet.js';
import { markdown, ratios, summarize, type Group, type Measurement } from './report.js';
import { startProxyThread } from './proxy-thread.js';
import { uploadFile, uploadGenerated, writeGenerated } from './seed.js';
import { getRange, peerClient } from './systems/sdk.js';
import type { CellSpec, S3Target } from './systems/types.js';
import { expectedChecksum, plan, WORKLOAD_TITLES, type Workload } from './workloads.js';

const BUCKET = 'bench';
const REGION = 'us-east-1';
/** Opened by every cell before its clock starts (see CellSpec.warmupKey). */
const WARMUP_KEY = 'warmup.bin';
/** Systems whose time to map is a whole download. */
const DOWNLOADERS = new Set(['get-object', 'parallel']);

interface Cell {
  workload: Exclude<Workload, 'warm'>;
  /** Result groups this cell's phases land in, by phase workload. */
  groups: Partial<Record<string, string>>;
  size: number;
  key: string;
  rep: number;
  def: SystemDef;
  warm: boolean;
  localPath?: string;
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

function sizeTag(n: number): string {
  return sizeLabel(n).replace(' ', '');
}

/** The whole page cache (and dentries, inodes): `sync; echo 3 > /proc/sys/vm/drop_caches`. */
function dropAllCaches(): string | undefined {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((e) => filesUnder(join(path, e)));
}

/** Evicts the files under `path` from the page cache (posix_fadvise DONTNEED,
 *  through `dd iflag=nocache count=0`): MinIO reads that object cold from disk
 *  while code and everything else stays cached. */
function evictPath(path: string): string | undefined {
  for (const f of filesUnder(path)) {
    const r = spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
    if (r.status !== 0) return `dd iflag=nocache failed on ${f}: ${(r.stderr || r.error?.message || '').trim()}`;
  }
  return undefined;
}

/** Reads every file under `path` once, so it sits in the page cache. */
function warmPath(path: string): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) {
    for (const e of readdirSync(path)) warmPath(join(path, e));
    return;
  }
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
  const fd = openSync(path, 'r');
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0) { /* reading is the point */ }
  } finally {
    closeSync(fd);
  }
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

export async function main(args: string[]): Promise<number> {
  const root = projectRoot();
  let opts: BenchOptions;
  try {
    opts = parseOptions(args, root);
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const started = Date.now();
  const loadStart = os.loadavg()[0];
  const tmp = join(root, 'bench', 'tmp');
  const objectsDir = join(tmp, 'objects');
  mkdirSync(objectsDir, { recursive: true });
  const workDir = await mkdtemp(join(tmp, 'run-'));
  const cellJs = join(fileURLToPath(new URL('.', import.meta.url)), 'cell.js');
  const notes: string[] = [];
  const unavailable = new Map<string, string>();
  const defs = opts.systems.map((id) => systemDef(id)!);

  // What can run here at all.
  const uffd = uffdInfo();
  if (!uffd.available) {
    for (const d of defs) if (d.role === 'self') unavailable.set(d.id, `userfaultfd unavailable: ${uffd.reason ?? 'unknown'}`);
  }
  const fuse = new Map<string, FuseSystem>(fuseSystems(join(tmp, 'gobin'), root).map((f) => [f.name, f]));
  const tools: Record<string, string> = {};
  for (const d of defs.filter((x) => x.kind === 'fuse')) {
    const f = fuse.get(d.id)!;
    const why = f.unavailable();
    if (why) unavailable.set(d.id, why);
    else tools[d.id] = f.version();
  }
  let ceilingBin: string | undefined;
  if (defs.some((d) => d.kind === 'c')) {
    const c = buildCeiling(root);
    ceilingBin = c.bin;
    if (c.compiler) tools.cc = c.compiler;
    if (!c.bin) for (const d of defs) if (d.kind === 'c') unavailable.set(d.id, c.reason!);
  }
  const minioBin = await findOrBuildMinio();
  tools.minio = shortMinioVersion(minioBin.version);
  const machine = machineInfo(root, tools);
  log(machineLine(machine));

  // MinIO's data folder is kept across runs (fixed loopback-only credentials), so
  // the seeded objects are uploaded once; the page cache drop keeps cells cold.
  const dataDir = join(tmp, 'minio-data');
  if (opts.freshServer) rmSync(dataDir, { recursive: true, force: true });
  const minio = await startMinio({
    bin: minioBin.path, dataDir, keepData: true, accessKeyId: 's3mmap-bench', secretAccessKey: 's3mmap-bench-loopback-only',
  });
  const proxy = await startProxyThread({
    upstream: minio.endpoint, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
  });
  const credentials = { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey };
  const s3 = { endpoint: proxy.endpoint, region: REGION, bucket: BUCKET, credentials };
  const measurements: Measurement[] = [];
  const groups: Group[] = [];
  let fatal = 0;
  let mounted: Mounted | undefined;
  let proxyCost: { direct: number; proxied: number } | undefined;
  const onSignal = (sig: string) => {
    log(`interrupted by ${sig}`);
    unmountAllSync();
    removeMountRoot(workDir);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const admin = minio.client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    await createBucket(admin, BUCKET).catch((e: Error) => {
      if (e.name !== 'BucketAlreadyOwnedByYou') throw e;
    });
    const want = new Set(opts.workloads);
    const scan = ['sequential', 'warm', 'random', 'strided'].some((w) => want.has(w as Workload));
    const mainKey = `obj-${sizeTag(opts.size)}-s${opts.seed}-${CONTENT_VERSION}.bin`;
    const expected = new Map<string, number>();
    const addGroup = (key: string, workload: Workload, objectSize: number, title = WORKLOAD_TITLES[workload]) => {
      if (!groups.some((g) => g.key === key)) groups.push({ key, workload, title: `${title}, ${sizeLabel(objectSize)} object`, objectSize });
    };

    // Seed the objects and work out the expected answers.
    const t0 = Date.now();
    await uploadGenerated(admin, BUCKET, WARMUP_KEY, 64 * 1024, opts.seed + 1);
    if (scan) {
      log(`seeding ${mainKey} (${formatBytes(opts.size)})`);
      await uploadGenerated(admin, BUCKET, mainKey, opts.size, opts.seed);
      for (const w of ['sequential', 'warm', 'random', 'strided'] as const) {
        if (!want.has(w)) continue;
        addGroup(w, w, opts.size);
        expected.set(w, expectedChecksum(plan(w === 'warm' ? 'sequential' : w, opts.size), opts.seed).checksum);
      }
    }
    let mainLocal: string | undefined;
    if (want.has('fault-service')) {
      addGroup('fault-service', 'fault-service', opts.size);
      expected.set('fault-service', expectedChecksum(plan('sequential', opts.size), opts.seed).checksum);
      if (defs.some((d) => d.id.startsWith('s3mmap-file'))) {
        mainLocal = join(objectsDir, mainKey);
        log(`writing ${relative(root, mainLocal)}`);
        await writeGenerated(mainLocal, opts.size, opts.seed);
      }
    }
    let parquetLocal: string | undefined;
    const parquetKey = `table-${sizeTag(opts.parquetSize)}-s${opts.seed}-${CONTENT_VERSION}.parquet`;
    if (want.has('parquet')) {
      parquetLocal = join(objectsDir, parquetKey);
      log(`writing ${relative(root, parquetLocal)} with hyparquet-writer (cached across runs)`);
      await writeParquet(parquetLocal, opts.parquetSize, opts.seed);
      await uploadFile(admin, BUCKET, parquetKey, parquetLocal);
      const q = await parquetQueryFile(parquetLocal);
      expected.set('parquet', q.checksum);
      const size = statSync(parquetLocal).size;
      addGroup('parquet', 'parquet', size);
      notes.push(`Parquet: ${formatBytes(size)} file, ${ROW_GROUPS} row groups of 4 PLAIN uncompressed columns (INT64, INT64, DOUBLE, INT32); the query decodes column ${QUERY_COLUMN} of row group ${ROW_GROUPS >> 1} (${q.rows} rows, ${formatBytes(q.columnBytes)}).`);
    }
    const mapKeys = new Map<number, string>();
    if (want.has('map')) {
      for (const size of opts.mapSizes) {
        const key = size === opts.size && scan ? mainKey : `map-${sizeTag(size)}-s${opts.seed}-${CONTENT_VERSION}.bin`;
        log(`seeding ${key} (${formatBytes(size)})`);
        await uploadGenerated(admin, BUCKET, key, size, opts.seed);
        mapKeys.set(size, key);
        const g = `map ${sizeLabel(size)}`;
        addGroup(g, 'map', size);
        expected.set(g, objectBytes(opts.seed, 0, 1)[0]);
      }
    }
    spawnSync('sync'); // nothing of the seeding stays dirty: eviction must be able to drop it
    proxyCost = await calibrateProxy(minio.endpoint, proxy.endpoint, credentials);
    log(`64 KiB GET p50: ${proxyCost.direct.toFixed(2)} ms to MinIO, ${proxyCost.proxied.toFixed(2)} ms through the counting proxy`);
    log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // The cells: workload, then repetition, then system, so that drift spreads over all systems.
    const cells: Cell[] = [];
    const order: Array<Exclude<Workload, 'warm'>> = ['sequential', 'random', 'strided', 'parquet', 'map', 'fault-service'];
    for (const w of order) {
      const runsScan = w === 'sequential' && (want.has('sequential') || want.has('warm'));
      if (!runsScan && !want.has(w)) continue;
      const sizes = w === 'map' ? opts.mapSizes : [w === 'parquet' ? statSync(parquetLocal!).size : opts.size];
      for (const size of sizes) {
        for (let rep = 1; rep <= opts.reps; rep++) {
          for (const def of defs) {
            const applies = w === 'sequential'
              ? (want.has('sequential') && def.workloads.includes('sequential')) || (want.has('warm') && def.workloads.includes('warm'))
              : def.workloads.includes(w);
            if (!applies) continue;
            // Downloading an object larger than the scan object only restates the sequential table, slowly.
            if (w === 'map' && DOWNLOADERS.has(def.id) && size > opts.size) continue;
            const groupsOf: Cell['groups'] = {};
            if (w === 'sequential') {
              if (want.has('sequential') && def.workloads.includes('sequential')) groupsOf.sequential = 'sequential';
              if (want.has('warm') && def.workloads.includes('warm')) groupsOf.warm = 'warm';
            } else if (w === 'map') groupsOf.map = `map ${sizeLabel(size)}`;
            else groupsOf[w] = w;
            const key = w === 'parquet' ? parquetKey : w === 'map' ? mapKeys.get(size)! : mainKey;
            cells.push({
              workload: w, groups: groupsOf, size, key, rep, def, warm: groupsOf.warm !== undefined,
              localPath: w === 'parquet' ? parquetLocal : def.id.startsWith('s3mmap-file') ? mainLocal : undefined,
            });
          }
        }
      }
    }

    let dropError: string | undefined;
    const runnable = cells.filter((c) => !unavailable.has(c.def.id));
    for (let i = 0; i < runnable.length; i++) {
      const c = runnable[i];
      const tag = `[${i + 1}/${runnable.length}] ${Object.values(c.groups).join('+')} ${c.def.id} rep ${c.rep}`;
      if (unavailable.has(c.def.id)) continue; // a mount failed earlier in this run
      const spec: CellSpec = {
        system: c.def.id, workload: c.workload, warm: c.warm, s3: { ...s3, key: c.key }, size: c.size, seed: opts.seed,
        path: undefined, localPath: c.localPath, chunkSize: c.def.chunkSize, noReadahead: c.def.noReadahead, controlUrl: proxy.controlUrl, warmupKey: WARMUP_KEY,
      };
      let out: CellOutput;
      let daemonRss: number | undefined;
      const tc = Date.now();
      try {
        if (c.def.kind === 'fuse') {
          try {
            // Ready when the warm-up object is visible: the measured object's metadata stays uncached.
            mounted = await fuse.get(c.def.id)!.mount({ endpoint: proxy.endpoint, region: REGION, bucket: BUCKET, credentials, workDir }, `${c.def.id}-${i}`, WARMUP_KEY);
          } catch (e) {
            unavailable.set(c.def.id, `mount failed: ${(e as Error).message}`);
            log(`${tag}: ${c.def.id} unavailable: mount failed: ${(e as Error).message}`);
            continue;
          }
          spec.path = join(mounted.dir, c.key);
          spec.warmupPath = join(mounted.dir, WARMUP_KEY);
        }
        const objectDir = join(minio.dataDir, BUCKET, c.key);
        const dropped = opts.serverCache === 'drop-all' ? dropAllCaches() : evictPath(objectDir);
        if (dropped) dropError ??= dropped;
        if (opts.serverCache === 'warm') warmPath(objectDir);
        if (c.workload === 'fault-service' && c.localPath) warmPath(c.localPath);
        out = c.def.kind === 'c'
          ? await runCeiling(ceilingBin!, c.size, c.def.chunkSize!, opts.seed, opts.cellTimeoutS * 1000)
          : await runNodeCell(cellJs, spec, opts.cellTimeoutS * 1000);
        daemonRss = mounted?.daemonPeakRss();
      } finally {
        await mounted?.unmount();
        mounted = undefined;
      }
      const secs = ((Date.now() - tc) / 1000).toFixed(1);
      if (!out.ok) {
        log(`${tag}: FAILED (${secs} s): ${(out.error ?? '').split('\n')[0]}`);
        for (const group of Object.values(c.groups)) {
          measurements.push({ group: group!, workload: c.workload, system: c.def.id, rep: c.rep, ok: false, error: out.error });
        }
        if (c.def.role !== 'peer') fatal++;
        continue;
      }
      const parts: string[] = [];
      for (const ph of out.phases) {
        const group = ph.workload === 'warm' ? c.groups.warm : c.groups[c.workload === 'fault-service' ? 'fault-service' : c.workload];
        if (!group) continue;
        const exp = expected.get(group);
        const good = exp === ph.checksum;
        if (!good) fatal++;
        measurements.push({
          group, workload: ph.workload === 'warm' ? 'warm' : c.workload, system: c.def.id, rep: c.rep, ok: good,
          error: good ? undefined : `checksum mismatch: got ${ph.checksum}, expected ${exp}`,
          wallMs: ph.wallMs, firstByteMs: ph.firstByteMs, bytesRead: ph.bytesRead, checksum: ph.checksum, expected: exp,
          traffic: ph.traffic, stats: ph.system, peakRssBytes: out.peakRssBytes, daemonPeakRssBytes: daemonRss,
        });
        parts.push(`${group} ${(ph.wallMs / 1000).toFixed(3)} s${good ? '' : ' CHECKSUM MISMATCH'}`);
      }
      log(`${tag}: ${parts.join(', ')} (${secs} s)`);
    }
    if (dropError) notes.push(`The page cache could not be dropped (${dropError}): some cells were not cold.`);
  } finally {
    await mounted?.unmount();
    await proxy.close();
    await minio.stop();
    if (!removeMountRoot(workDir)) log(`left ${workDir}: something is still mounted under it`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  // Report, in a fixed order of workloads (map groups by size).
  const rank = (g: Group) => ['sequential', 'warm', 'random', 'strided', 'parquet', 'map', 'fault-service'].indexOf(g.workload) * 1e15 + g.objectSize;
  groups.sort((a, b) => rank(a) - rank(b));
  const rows = summarize(groups, opts.systems, measurements, unavailable);
  const ratioLines = ratios(groups, rows);
  const durationS = (Date.now() - started) / 1000;
  const runLine = `Run: ${new Date(started).toISOString().slice(0, 16).replace('T', ' ')} UTC, ${(durationS / 60).toFixed(1)} min` +
    `${opts.quick ? ' (--quick)' : ''}; ${opts.reps} repetition${opts.reps > 1 ? 's' : ''} of every cell, medians with (min–max); ` +
    `${{ drop: 'the object\'s MinIO files evicted from the page cache', 'drop-all': 'the whole page cache dropped', warm: 'the object\'s MinIO files read into the page cache' }[opts.serverCache]} before every cell; ` +
    `load average ${loadStart.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end (${machine.cores} cores; above that, other work shared the machine); ` +
    `\`npm run bench${args.length ? ' -- ' + args.join(' ') : ''}\`.`;
  notes.unshift(
    'Every measurement is a fresh process (bench/cell.ts, or the C program). Before each, the object\'s files in MinIO\'s data folder are evicted from the page cache (`--server-cache drop-all` drops the whole cache instead), so the server reads from disk alike for every system; FUSE peers get a fresh mount (rclone a fresh cache folder), mounted before the clock starts; nothing is cached in any client.',
    'Before its clock starts, each process opens a small warm-up object with the same system (s3mmap maps it, the SDK peers GET it, FUSE peers read it through the mount), so loading code and first-use setup are not timed.',
    'Wall time runs from opening the object (mapObject, GetObject, HEAD, open(2)) to the last byte the workload reads; the in-memory Buffer, the C ceiling and the fault-service cells start the clock after their data is in memory (the local file of the mapFile cells is read into the page cache first).',
    'Bytes fetched and GETs are counted at a proxy in front of MinIO that every system talks through (s3fs and rclone too); they cover the measured phase only.' +
      (proxyCost ? ` The proxy costs time per request: a 64 KiB GET took ${proxyCost.direct.toFixed(1)} ms (p50) straight to MinIO and ${proxyCost.proxied.toFixed(1)} ms through the proxy in this run, so systems that make many small requests pay it most.` : ''),
    'Left out to keep the default run under 15 minutes: the warm re-read for "ranged GET per read" (it keeps no cache, so a re-read costs what the cold read cost); time to map for "GetObject → Buffer" (like the parallel download it must fetch the whole object first, only slower), and for the parallel download on map objects larger than the scan object (its time is the download: see the sequential table).',
    'Checksums: every read byte is folded into a checksum that must equal the one computed from the seeded object; a mismatch fails the bench.',
    'Peak RSS is VmHWM of the measuring process; for FUSE peers the daemon\'s VmHWM is added after "+ daemon". Fault p50 / p99 is s3mmap\'s fault service time (mapping.stats()), or the C handler\'s.',
  );
  const title = opts.quick ? 's3mmap benchmark (quick mode: small objects, one repetition)' : 's3mmap benchmark';
  const md = markdown({ title, machine: machineLine(machine), runLine, groups, rows, ratios: ratioLines, notes, unavailable, chart: 'latest.svg' });
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, 'latest.md'), md);
  const svg = chartSvg(groups, rows, `${machineLine(machine)} — ${runLine}`.replace(/`/g, ''));
  writeFileSync(join(opts.out, 'latest.svg'), svg);
  ensureRsvg(log);
  const pngError = svgToPng(join(opts.out, 'latest.svg'), join(opts.out, 'latest.png'));
  if (pngError) log(`no PNG: ${pngError}`);
  writeFileSync(join(opts.out, 'latest.json'), JSON.stringify({
    machine, options: { ...opts, out: relative(root, opts.out) }, startedAt: new Date(started).toISOString(), durationS, proxyCostMs: proxyCost,
    groups, unavailable: Object.fromEntries(unavailable), rows, ratios: ratioLines.map((r) => r.text), notes, measurements,
  }, null, 1) + '\n');
  if (opts.readme) updateReadme(root, opts.out, md);
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${relative(root, opts.out)}/latest.{md,json,svg${pngError ? '' : ',png'}} in ${(durationS / 60).toFixed(1)} min`);
  if (fatal) log(`${fatal} failure(s) of s3mmap or a ceiling, or checksum mismatches: see above`);
  return fatal ? 1 : 0;
}

/** p50 of 64 KiB GETs of the warm-up object, straight to MinIO and through
 *  the proxy (interleaved, after a few to warm both paths). */
async function calibrateProxy(
  direct: string, proxied: string, credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<{ direct: number; proxied: number }> {
  const times: Record<'direct' | 'proxied', number[]> = { direct: [], proxied: [] };
  const targets = { direct, proxied };
  const clients = Object.fromEntries(Object.entries(targets).map(([k, endpoint]) => {
    const t = { endpoint, region: REGION, bucket: BUCKET, key: WARMUP_KEY, credentials };
    return [k, { t, client: peerClient(t, 1) }];
  })) as Record<'direct' | 'proxied', { t: S3Target; client: ReturnType<typeof peerClient> }>;
  const buf = new Uint8Array(64 * 1024);
  for (let i = 0; i < 45; i++) {
    for (const k of ['direct', 'proxied'] as const) {
      const t0 = performance.now();
      await getRange(clients[k].client, clients[k].t, buf, 0, 0, buf.length);
      if (i >= 5) times[k].push(performance.now() - t0);
    }
  }
  for (const c of Object.values(clients)) c.client.destroy();
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return { direct: p50(times.direct), proxied: p50(times.proxied) };
}

/** Replaces README.md's text between <!-- bench:start --> and <!-- bench:end -->, when both are there. */
function updateReadme(root: string, out: string, md: string): void {
  const path = join(root, 'README.md');
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf('<!-- bench:start -->');
  const end = text.indexOf('<!-- bench:end -->');
  if (start < 0 || end < start) return;
  const rel = relative(root, out);
  const body = md
    .replace(/^# .*\n/, '')
    .replace(/^(#+) /gm, '$1## ')
    .replace('](latest.svg)', `](${rel}/latest.svg)`);
  writeFileSync(path, `${text.slice(0, start)}<!-- bench:start -->\n${body}\n${text.slice(end)}`);
  log('updated README.md between the bench markers');
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
