// The benchmark orchestrator: `npm run bench` (node dist/bench/run.js) and
// `s3mmap bench` (which imports this module and calls main). Its phases, each
// in its own module: what can run (availability), MinIO and the counting
// proxy, seeding (seed), which cells (plan), running them in cold processes
// (execute), and the report (report, notes, publish). Runs on the main thread
// of the orchestrator process, which may block (mounts, drop_caches); the
// proxy and the control server run on a worker thread (bench/proxy-thread.ts);
// the cells run as child processes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBucket, findOrBuildMinio, projectRoot, startMinio } from '../lib/dev/minio-server.js';
import { probeSystems } from './availability.js';
import { calibrateProxy, checkProfile, profileNotes, type ProfileCheck, type ProxyCost } from './calibrate.js';
import { systemDef } from './catalog.js';
import { crossovers, crossoverSection, crossoverSvg } from './crossover.js';
import { runCells, type Executed } from './execute.js';
import { machineInfo, machineLine, shortMinioVersion } from './machine.js';
import { isMain } from './main-guard.js';
import { removeMountRoot, unmountAllSync } from './mounts.js';
import { methodNotes, runLine } from './notes.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { planCells, type Planned } from './plan.js';
import { startProxyThread } from './proxy-thread.js';
import { publish } from './publish.js';
import { procsSection } from './procs-report.js';
import { publishedSection } from './published.js';
import { markdown, ratios, summarize } from './report.js';
import { BUCKET, seedObjects } from './seed.js';
import { computeTargets, targetsSection } from './targets.js';

const REGION = 'us-east-1';

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

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
  const defs = opts.systems.map((id) => systemDef(id)!);

  const avail = probeSystems(defs, root, tmp);
  const minioBin = await findOrBuildMinio();
  avail.tools.minio = shortMinioVersion(minioBin.version);
  const machine = machineInfo(root, avail.tools);
  log(machineLine(machine));

  // MinIO's data folder is kept across runs (fixed loopback-only credentials), so
  // the seeded objects are uploaded once; the page cache drop keeps cells cold.
  const dataDir = join(tmp, 'minio-data');
  if (opts.freshServer) rmSync(dataDir, { recursive: true, force: true });
  const minio = await startMinio({
    bin: minioBin.path, dataDir, keepData: true, accessKeyId: 's3mmap-bench', secretAccessKey: 's3mmap-bench-loopback-only',
  });
  const credentials = { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey };
  const proxy = await startProxyThread({ upstream: minio.endpoint, credentials });
  let planned: Planned;
  let executed: Executed;
  let proxyCost: ProxyCost;
  const checks: ProfileCheck[] = [];
  const networks = opts.networks.map((n) => n.network);
  const notes: string[] = [];
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
    const t0 = Date.now();
    const seeded = await seedObjects(admin, opts, defs, root, objectsDir, log);
    notes.push(...seeded.notes);
    planned = planCells(opts, defs, seeded);
    spawnSync('sync'); // nothing of the seeding stays dirty: eviction must be able to drop it
    proxyCost = await calibrateProxy(minio.endpoint, proxy.endpoint, REGION, credentials);
    log(`64 KiB GET p50: ${proxyCost.direct.toFixed(2)} ms to MinIO, ${proxyCost.proxied.toFixed(2)} ms through the counting proxy`);
    for (const n of networks.filter((x) => x !== 'loopback')) {
      const c = await checkProfile(n, proxy.setNetwork, proxy.endpoint, REGION, credentials);
      checks.push(c);
      log(`${n}: 64 KiB GET p50 ${c.smallP50Ms.toFixed(1)} ms (profile ${c.smallProfileMs.toFixed(1)}), 8 MiB GET ${c.largeMs.toFixed(0)} ms (profile ${c.largeProfileMs.toFixed(0)})`);
    }
    log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    executed = await runCells(planned.cells, {
      s3: { endpoint: proxy.endpoint, region: REGION, bucket: BUCKET, credentials }, controlUrl: proxy.controlUrl, setNetwork: proxy.setNetwork,
      minioDataDir: minio.dataDir, workDir, cellJs: join(fileURLToPath(new URL('.', import.meta.url)), 'cell.js'),
      ceilingBin: avail.ceilingBin, fuse: avail.fuse, unavailable: avail.unavailable, expected: planned.expected,
      serverCache: opts.serverCache, seed: opts.seed, cellTimeoutS: opts.cellTimeoutS, log,
    });
    if (executed.dropError) notes.push(`The page cache could not be dropped (${executed.dropError}): some cells were not cold.`);
  } finally {
    await proxy.close();
    await minio.stop();
    if (!removeMountRoot(workDir)) log(`left ${workDir}: something is still mounted under it`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const { groups } = planned;
  const rows = summarize(groups, opts.systems, executed.measurements, avail.unavailable);
  const ratioLines = ratios(groups, rows);
  const durationS = (Date.now() - started) / 1000;
  const line = runLine(opts, { started, durationS, loadStart, cores: machine.cores, args });
  notes.unshift(...methodNotes(proxyCost));
  const cross = crossovers(groups, rows);
  const targets = computeTargets(rows, groups, avail.unavailable, cross);
  const sections = [
    ['## Network profiles', '', 'Laid over every system\'s traffic at the counting proxy, so every system meets the same network; HEADs, LISTs and errors get the first-byte delay too.', '',
      ...profileNotes(networks, checks).map((n) => `- ${n}`)].join('\n'),
    targetsSection(targets), procsSection(groups, rows), crossoverSection(cross), publishedSection(rows, avail.unavailable),
  ].filter(Boolean);
  const title = opts.quick ? 's3mmap benchmark (quick mode: small objects, one repetition)' : 's3mmap benchmark';
  const md = markdown({ title, machine: machineLine(machine), runLine: line, groups, rows, ratios: ratioLines, notes, unavailable: avail.unavailable, chart: 'latest.svg', sections });
  const subtitle = `${machineLine(machine)} — ${line}`.replace(/`/g, '');
  const written = publish({
    root, out: opts.out, md, groups, rows, readme: opts.readme, log, chartSubtitle: subtitle,
    charts: cross.length ? { crossover: crossoverSvg(cross, line.replace(/`/g, '')) } : {},
    json: {
      machine, options: { ...opts, out: relative(root, opts.out) }, startedAt: new Date(started).toISOString(), durationS, proxyCostMs: proxyCost,
      profileChecks: checks, groups, unavailable: Object.fromEntries(avail.unavailable), rows, ratios: ratioLines.map((r) => r.text),
      targets, crossovers: cross.map((c) => ({ network: c.network, breakEven: c.breakEven })), notes, measurements: executed.measurements,
    },
  });
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${written} in ${(durationS / 60).toFixed(1)} min`);
  if (executed.fatal) log(`${executed.fatal} failure(s) of s3mmap or a ceiling, or checksum mismatches: see above`);
  return executed.fatal ? 1 : 0;
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
