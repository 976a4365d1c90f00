// CI's package check, run once per Node version by .ci/run with that Node
// first on PATH. The packed tarball goes into a fresh project on a PATH that
// holds only node, npm, npx and sh (no g++, make or python3, as in a slim Node
// image), with --ignore-scripts: the prebuilt addon for this machine serves,
// and the library maps an S3 object in a local MinIO byte-exact through the
// import and through the `s3mmap` command. Then, on the same PATH, the install
// script (`npm rebuild`) builds nothing since the prebuild loads; with the
// prebuilds removed (another CPU, say) the import and the script each fail
// with one line saying what to do; and with a compiler on PATH `npm rebuild`
// builds the addon from source against this Node's headers, and it maps exact.
// A broken package (no dist/, a missing file or prebuild) fails here.
// With --arm64 NODE (an arm64 Node binary), the tarball is installed for arm64
// and the library runs under that Node in qemu-user (QEMU, default
// qemu-aarch64, with the sysroot in QEMU_LD_PREFIX, default
// /usr/aarch64-linux-gnu): the arm64 prebuild is the one picked, loads and
// reports its userfaultfd features, and maps exact when the emulator gives it
// a userfaultfd (qemu-user 7.2 answers ENOSYS, and then that is said).
// Usage: node .ci/package-smoke.mjs TARBALL [--arm64 NODE]
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';

const tarball = resolve(process.argv[2] ?? '');
if (!existsSync(tarball)) throw new Error(`package-smoke: no tarball at '${process.argv[2]}'`);
const repo = resolve(import.meta.dirname, '..');
const armNode = process.argv[3] === '--arm64' ? resolve(process.argv[4] ?? '') : undefined;
if (armNode && !existsSync(armNode)) throw new Error(`package-smoke: no arm64 node at '${process.argv[4]}'`);
const arch = armNode ? 'arm64' : process.arch;
// The emulator by its path: the Node under test runs on the bare PATH below.
const emulator = armNode ? [which(process.env.QEMU ?? 'qemu-aarch64', process.env.PATH) ?? 'qemu-aarch64', '-L', process.env.QEMU_LD_PREFIX ?? '/usr/aarch64-linux-gnu', armNode] : [process.execPath];
const say = (line) => console.log(`package (node ${process.version}${armNode ? ', arm64 under qemu-user' : ''}): ${line}`);
/** Runs the Node under test (under the emulator for --arm64). */
const runNode = (args, options) => spawnSync(emulator[0], [...emulator.slice(1), ...args], { encoding: 'utf8', timeout: armNode ? 600_000 : 60_000, ...options });
const fail = (line) => { throw new Error(`package-smoke: ${line}`); };

const { startMinio, createBucket, putObject } = await import(join(repo, 'dist/lib/dev/minio-server.js'));
const { S3Client } = createRequire(join(repo, 'package.json'))('@aws-sdk/client-s3');

const scratch = mkdtempSync(join(tmpdir(), 's3mmap-package-'));
const project = join(scratch, 'project');
const server = await startMinio();
try {
  // The bare PATH: node, npm and npx (links to this Node and the npm on PATH),
  // and sh, which npm runs lifecycle scripts with.
  const bare = join(scratch, 'bin');
  mkdirSync(bare);
  for (const tool of ['node', 'npm', 'npx', 'sh']) {
    const found = tool === 'node' ? process.execPath : which(tool, process.env.PATH);
    if (!found) fail(`no ${tool} on PATH`);
    symlinkSync(realpathSync(found), join(bare, tool));
  }
  for (const tool of ['g++', 'c++', 'cc', 'make', 'python3']) if (which(tool, bare)) fail(`${tool} is on the bare PATH`);
  const bareEnv = { ...process.env, PATH: bare };

  // allowScripts: npm runs a dependency's install script only when approved;
  // the later steps run it on purpose.
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({
    name: 's3mmap-package-smoke', private: true, type: 'module',
    allowScripts: { s3mmap: true, [`file:${tarball}`]: true },
  }, null, 2));
  const t0 = Date.now();
  execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', ...(armNode ? ['--cpu', 'arm64'] : []), tarball], { cwd: project, env: bareEnv, stdio: ['ignore', 'inherit', 'inherit'] });
  const root = join(project, 'node_modules', 's3mmap');
  const files = walk(root).filter((f) => !f.startsWith('node_modules/'));
  say(`installed ${relative(process.cwd(), tarball)} with --ignore-scripts on a PATH of node, npm, npx and sh only, in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${files.length} files`);
  const unexpected = files.filter((f) => !/^(dist\/(lib\/.*\.(js|d\.ts)|cli\/.*\.js)|native\/[\w.]+\.(cc|h|mjs)|prebuilds\/linux-(x64|arm64)\/s3mmap\.napi\.(glibc|musl)\.node|binding\.gyp|package\.json|README\.md|LICENSE)$/.test(f));
  if (unexpected.length) fail(`the package ships files a user does not need: ${unexpected.join(', ')}`);
  const prebuilds = ['linux-x64', 'linux-arm64'].flatMap((p) => ['glibc', 'musl'].map((libc) => `prebuilds/${p}/s3mmap.napi.${libc}.node`));
  for (const need of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/worker/main.js', 'dist/cli/main.js', 'binding.gyp', ...prebuilds]) {
    if (!files.includes(need)) fail(`the package lacks ${need}`);
  }
  // What the Node under test loads and what its probe says.
  const probe = runNode(['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    import { uffdInfo } from 's3mmap';
    const root = ${JSON.stringify(root)};
    const file = createRequire(root + '/package.json')('node-gyp-build').resolve(root);
    console.log(JSON.stringify({ arch: process.arch, version: process.version, file: file.slice(root.length + 1), info: uffdInfo() }));
  `], { cwd: project, env: bareEnv });
  if (probe.status !== 0) fail(`the addon does not load (${probe.error?.message ?? probe.status ?? probe.signal}): ${probe.stderr}`);
  const { arch: ran, version, file: chosen, info } = JSON.parse(probe.stdout.trim().split('\n').at(-1));
  if (ran !== arch || chosen !== `prebuilds/linux-${arch}/s3mmap.napi.glibc.node`) fail(`Node on ${ran} loads ${chosen}, not the ${arch} glibc prebuild`);
  if (existsSync(join(root, 'build'))) fail('installing with --ignore-scripts made a build/ folder');
  say(`no build/ folder; Node ${version} on ${ran} loads ${chosen}: userfaultfd ${info.available ? `${info.mode} via ${info.via}, ${info.features.length} features` : `unavailable (${info.code})`}, page size ${info.pageSize}`);

  // An object whose bytes are known: 3 MiB and a bit, seeded.
  const body = Buffer.alloc(3 * 1024 * 1024 + 4321);
  for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761 >>> 24) ^ (i & 0xff);
  const client = new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
  await createBucket(client, 'smoke');
  await putObject(client, 'smoke', 'object.bin', body);
  client.destroy();
  const s3env = {
    AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: server.region, AWS_ENDPOINT_URL: server.endpoint, AWS_EC2_METADATA_DISABLED: 'true',
  };
  const sha = (b) => createHash('sha256').update(b).digest('hex');

  // The library, imported by name as a user would.
  const checkLibrary = (how, env) => {
    const lib = runNode(['--input-type=module', '-e', `
      import { createHash } from 'node:crypto';
      import { mapObject } from 's3mmap';
      const m = await mapObject('s3://smoke/object.bin');
      const tail = createHash('sha256').update(m.buffer.subarray(m.size - 100000)).digest('hex');
      const window = createHash('sha256').update(m.view(1000000, 70000)).digest('hex');
      const s = m.stats();
      await m.close();
      console.log(JSON.stringify({ size: m.size, tail, window, fetches: s.fetches }));
    `], { cwd: project, env: { ...env, ...s3env } });
    if (lib.status !== 0) fail(`import of s3mmap failed (${lib.status ?? lib.signal}): ${lib.stderr}`);
    const got = JSON.parse(lib.stdout.trim());
    const want = { size: body.length, tail: sha(body.subarray(body.length - 100000)), window: sha(body.subarray(1000000, 1070000)) };
    if (got.size !== want.size || got.tail !== want.tail || got.window !== want.window) {
      fail(`mapObject read wrong bytes: ${lib.stdout.trim()} (want ${JSON.stringify(want)})`);
    }
    say(`${how}: import { mapObject } from 's3mmap': ${got.size} bytes mapped, tail and a view() exact, ${got.fetches} GETs`);
  };
  if (!armNode || info.available) checkLibrary('prebuilt addon', bareEnv);
  else say(`mapping not checked under emulation: the emulator gives the addon no userfaultfd (${info.code})`);
  if (!armNode) {
    // The command, from the project's node_modules/.bin (#!/usr/bin/env node finds the bare PATH's node).
    const bin = join(project, 'node_modules', '.bin', 's3mmap');
    const cat = spawnSync(bin, ['cat', 's3://smoke/object.bin', '--range', '12345-2000000'], { cwd: project, env: { ...bareEnv, ...s3env }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    if (cat.status !== 0) fail(`s3mmap cat failed (${cat.status ?? cat.signal}): ${cat.stderr}`);
    if (!cat.stdout.equals(body.subarray(12345, 2000001))) fail(`s3mmap cat wrote ${cat.stdout.length} wrong bytes`);
    if (cat.stderr.length) fail(`s3mmap cat printed to stderr: ${cat.stderr}`);
    say(`prebuilt addon: s3mmap cat --range 12345-2000000: ${cat.stdout.length} bytes exact, nothing on stderr`);

    // The install script, where a prebuild loads, builds nothing and needs no compiler.
    execFileSync('npm', ['rebuild', 's3mmap', '--foreground-scripts'], { cwd: project, env: bareEnv, stdio: ['ignore', 'inherit', 'inherit'] });
    if (existsSync(join(root, 'build'))) fail('the install script built the addon although the prebuild loads');
    say('npm rebuild s3mmap (the install script) on the bare PATH: the prebuild loads, nothing built');

    // Another CPU, as far as the loader can tell: no prebuild matches.
    rmSync(join(root, 'prebuilds'), { recursive: true });
    const none = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import('s3mmap').then(() => console.log('loaded'), (e) => { console.log(e.code + ' ' + e.message); });
    `], { cwd: project, env: bareEnv, encoding: 'utf8', timeout: 60_000 });
    const line = none.stdout.trimEnd();
    if (line.includes('\n') || !line.startsWith('ENOADDON s3mmap: ') || !line.includes(`${process.platform}-${process.arch}`) || !line.includes('npm rebuild s3mmap')) {
      fail(`with no prebuild, the import should fail with one ENOADDON line naming the platform and \`npm rebuild s3mmap\`: ${JSON.stringify(none.stdout + none.stderr)}`);
    }
    say(`no prebuild matches: the import fails with: ${line}`);
    const script = spawnSync('npm', ['rebuild', 's3mmap', '--foreground-scripts'], { cwd: project, env: bareEnv, encoding: 'utf8' });
    const scriptLine = script.stderr.split('\n').find((l) => l.startsWith('s3mmap: '));
    if (script.status === 0 || !scriptLine?.includes('install g++, make and python3')) {
      fail(`with no prebuild and no compiler, the install script should fail with one line saying what to install: ${script.stdout}${script.stderr}`);
    }
    say(`no prebuild matches, no compiler: the install script fails with: ${scriptLine}`);

    // With a compiler on PATH the install script builds from source.
    execFileSync('npm', ['rebuild', 's3mmap', '--foreground-scripts'], { cwd: project, stdio: ['ignore', 'inherit', 'inherit'] });
    if (!existsSync(join(root, 'build', 'Release', 's3mmap_native.node'))) fail('npm rebuild with a compiler did not build the addon');
    const nodedir = /"nodedir": "([^"]*)"/.exec(readFileSync(join(root, 'build', 'config.gypi'), 'utf8'))?.[1];
    const own = resolve(process.execPath, '..', '..');
    if (existsSync(join(own, 'include', 'node', 'node_api.h')) && nodedir !== own) {
      fail(`the addon was built against the headers in ${nodedir}, not this Node's (${own})`);
    }
    say(`npm rebuild s3mmap with g++, make and python3 on PATH built the addon against the headers in ${nodedir}`);
    checkLibrary('addon built from source', process.env);
  }
} finally {
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
}

/** The path of an executable named cmd in the folders of path, if any. */
function which(cmd, path) {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd)) && statSync(join(dir, cmd)).isFile()) return join(dir, cmd);
  }
  return undefined;
}

function walk(dir, base = dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path, base) : [relative(base, path)];
  });
}
