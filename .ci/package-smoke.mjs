// CI's package check, run once per Node version by .ci/run with that Node
// first on PATH: installs the packed tarball into a fresh project (its install
// script builds the addon against this Node's headers), checks the installed
// file list, then maps an S3 object in a local MinIO through the library
// import and through the `s3mmap` command, byte-exact. A broken package (no
// dist/, a missing file, an addon that does not build) fails here.
// Usage: node .ci/package-smoke.mjs TARBALL
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const tarball = resolve(process.argv[2] ?? '');
if (!existsSync(tarball)) throw new Error(`package-smoke: no tarball at '${process.argv[2]}'`);
const repo = resolve(import.meta.dirname, '..');
const say = (line) => console.log(`package (node ${process.version}): ${line}`);

const { startMinio, createBucket, putObject } = await import(join(repo, 'dist/lib/dev/minio-server.js'));
const { S3Client } = createRequire(join(repo, 'package.json'))('@aws-sdk/client-s3');

const project = mkdtempSync(join(tmpdir(), 's3mmap-package-'));
const server = await startMinio();
try {
  // allowScripts: npm runs a dependency's install script (the addon build) only when approved.
  writeFileSync(join(project, 'package.json'), JSON.stringify({
    name: 's3mmap-package-smoke', private: true, type: 'module',
    allowScripts: { s3mmap: true, [`file:${tarball}`]: true },
  }, null, 2));
  const t0 = Date.now();
  execFileSync('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: project, stdio: ['ignore', 'inherit', 'inherit'] });
  const root = join(project, 'node_modules', 's3mmap');
  const files = walk(root).filter((f) => !f.startsWith('build/') && !f.startsWith('node_modules/'));
  say(`installed ${relative(process.cwd(), tarball)} into a fresh project in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${files.length} files`);
  const unexpected = files.filter((f) => !/^(dist\/(lib\/.*\.(js|d\.ts)|cli\/.*\.js)|native\/[\w.]+\.(cc|h|mjs)|binding\.gyp|package\.json|README\.md|LICENSE)$/.test(f));
  if (unexpected.length) throw new Error(`package-smoke: the package ships files a user does not need: ${unexpected.join(', ')}`);
  for (const need of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/worker/main.js', 'dist/cli/main.js', 'binding.gyp']) {
    if (!files.includes(need)) throw new Error(`package-smoke: the package lacks ${need}`);
  }
  if (!existsSync(join(root, 'build', 'Release', 's3mmap_native.node'))) throw new Error('package-smoke: the install script did not build the addon');
  const nodedir = /"nodedir": "([^"]*)"/.exec(readFileSync(join(root, 'build', 'config.gypi'), 'utf8'))?.[1];
  const own = resolve(process.execPath, '..', '..');
  if (existsSync(join(own, 'include', 'node', 'node_api.h')) && nodedir !== own) {
    throw new Error(`package-smoke: the addon was built against the headers in ${nodedir}, not this Node's (${own})`);
  }
  say(`the install script built the addon against the headers in ${nodedir}`);

  // An object whose bytes are known: 3 MiB and a bit, seeded.
  const body = Buffer.alloc(3 * 1024 * 1024 + 4321);
  for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761 >>> 24) ^ (i & 0xff);
  const client = new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
  await createBucket(client, 'smoke');
  await putObject(client, 'smoke', 'object.bin', body);
  client.destroy();
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: server.region, AWS_ENDPOINT_URL: server.endpoint, AWS_EC2_METADATA_DISABLED: 'true',
  };
  const sha = (b) => createHash('sha256').update(b).digest('hex');

  // The library, imported by name as a user would.
  const lib = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { createHash } from 'node:crypto';
    import { mapObject } from 's3mmap';
    const m = await mapObject('s3://smoke/object.bin');
    const tail = createHash('sha256').update(m.buffer.subarray(m.size - 100000)).digest('hex');
    const window = createHash('sha256').update(m.view(1000000, 70000)).digest('hex');
    const s = m.stats();
    await m.close();
    console.log(JSON.stringify({ size: m.size, tail, window, fetches: s.fetches }));
  `], { cwd: project, env, encoding: 'utf8', timeout: 60_000 });
  if (lib.status !== 0) throw new Error(`package-smoke: import of s3mmap failed (${lib.status ?? lib.signal}): ${lib.stderr}`);
  const got = JSON.parse(lib.stdout.trim());
  const want = { size: body.length, tail: sha(body.subarray(body.length - 100000)), window: sha(body.subarray(1000000, 1070000)) };
  if (got.size !== want.size || got.tail !== want.tail || got.window !== want.window) {
    throw new Error(`package-smoke: mapObject read wrong bytes: ${lib.stdout.trim()} (want ${JSON.stringify(want)})`);
  }
  say(`import { mapObject } from 's3mmap': ${got.size} bytes mapped, tail and a view() exact, ${got.fetches} GETs`);

  // The command, from the project's node_modules/.bin.
  const bin = join(project, 'node_modules', '.bin', 's3mmap');
  const cat = spawnSync(bin, ['cat', 's3://smoke/object.bin', '--range', '12345-2000000'], { cwd: project, env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (cat.status !== 0) throw new Error(`package-smoke: s3mmap cat failed (${cat.status ?? cat.signal}): ${cat.stderr}`);
  if (!cat.stdout.equals(body.subarray(12345, 2000001))) throw new Error(`package-smoke: s3mmap cat wrote ${cat.stdout.length} wrong bytes`);
  if (cat.stderr.length) throw new Error(`package-smoke: s3mmap cat printed to stderr: ${cat.stderr}`);
  say(`s3mmap cat --range 12345-2000000: ${cat.stdout.length} bytes exact, nothing on stderr`);
} finally {
  await server.stop();
  rmSync(project, { recursive: true, force: true });
}

function walk(dir, base = dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path, base) : [relative(base, path)];
  });
}
