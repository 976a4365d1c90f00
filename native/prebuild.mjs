// Cross-builds the prebuilt addons that the npm package ships (run by
// `npm pack` through prepack, or by hand): prebuilds/linux-{x64,arm64}/
// s3mmap.napi.{glibc,musl}.node, the layout node-gyp-build loads at run time.
// Runs in its own Node process on an x64 or arm64 Linux machine.
//
// One toolchain serves all four: zig's clang (PyPI package ziglang, pinned
// below, installed into .cache/zig when missing). It targets a chosen glibc
// version, so the binaries need no newer glibc than the official Node 20-26
// builds do (2.28), whatever this machine's glibc is; it targets musl too;
// and it links its libc++ statically, so nothing but libc is needed at run
// time. N-API is ABI-stable: one binary per CPU and libc serves every Node
// from 20 on. Sources, defines and C++ flags come from binding.gyp, the
// from-source build's file, so both builds compile the same thing.
// Usage: node native/prebuild.mjs [linux-x64-glibc linux-arm64-musl ...]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { nodeDir } from './build.mjs';

const ZIG_VERSION = '0.15.2';
// The official Node builds for Linux need glibc 2.28: a prebuild that needs
// no more loads wherever they run (RHEL 8, Debian 10, Ubuntu 20.04 and later).
const GLIBC = '2.28';
const TARGETS = [
  { name: 'linux-x64-glibc', dir: 'linux-x64', libc: 'glibc', zig: `x86_64-linux-gnu.${GLIBC}` },
  { name: 'linux-arm64-glibc', dir: 'linux-arm64', libc: 'glibc', zig: `aarch64-linux-gnu.${GLIBC}` },
  { name: 'linux-x64-musl', dir: 'linux-x64', libc: 'musl', zig: 'x86_64-linux-musl' },
  { name: 'linux-arm64-musl', dir: 'linux-arm64', libc: 'musl', zig: 'aarch64-linux-musl' },
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// stderr: `npm pack --json` prints its report on stdout.
const say = (line) => console.error(`prebuild: ${line}`);
const fail = (line) => {
  console.error(`prebuild: ${line}`);
  process.exit(1);
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !TARGETS.some((t) => t.name === w));
if (unknown.length) fail(`unknown target ${unknown.join(', ')}; the targets are ${TARGETS.map((t) => t.name).join(', ')}`);
const targets = wanted.length ? TARGETS.filter((t) => wanted.includes(t.name)) : TARGETS;

const zig = findZig();
const headers = nodeDir();
if (!headers) fail('no Node headers (include/node/node_api.h) beside this Node or in /usr/include/node; run it under an official Node build');
const gyp = readGyp();
const cacheDir = join(root, '.cache', 'zig-cache');
const env = { ...process.env, ZIG_GLOBAL_CACHE_DIR: cacheDir, ZIG_LOCAL_CACHE_DIR: cacheDir };
const include = [join(headers, 'include', 'node'), createRequire(join(root, 'package.json'))('node-addon-api').include_dir];
// What node-gyp's common.gypi adds on Linux, plus what keeps the binary small.
const cflags = [
  ...gyp.cflags_cc, '-fPIC', '-fno-exceptions', '-fno-rtti', '-fvisibility=hidden', '-ffunction-sections', '-fdata-sections',
  ...gyp.defines.map((d) => `-D${d}`), '-DBUILDING_NODE_EXTENSION', `-DNODE_GYP_MODULE_NAME=${gyp.target_name}`,
  ...include.map((d) => `-I${resolve(root, d)}`),
];

// Node finds the addon by napi_register_module_v1 (and asks its N-API
// version); everything else, the static libc++ included, stays inside.
const exportsMap = join(root, '.cache', 'prebuild', 'exports.map');
mkdirSync(dirname(exportsMap), { recursive: true });
writeFileSync(exportsMap, '{ global: napi_register_module_v1; node_api_module_get_api_version_v1; local: *; };\n');

if (!wanted.length) rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
for (const t of targets) {
  const started = Date.now();
  // Not under build/: node-gyp rebuild empties that.
  const objDir = join(root, '.cache', 'prebuild', t.name);
  mkdirSync(objDir, { recursive: true });
  const objects = gyp.sources.map((s) => join(objDir, `${basename(s, '.cc')}.o`));
  await runAll(gyp.sources.map((s, i) => [zig, ['c++', '-target', t.zig, ...cflags, '-c', resolve(root, s), '-o', objects[i]]]));
  const out = join(root, 'prebuilds', t.dir, `s3mmap.napi.${t.libc}.node`);
  mkdirSync(dirname(out), { recursive: true });
  await runAll([[zig, ['c++', '-target', t.zig, '-shared', '-s', '-Wl,--gc-sections', `-Wl,--version-script=${exportsMap}`, '-o', out, ...objects]]]);
  say(`${relative(out)}: ${(statSync(out).size / 1024).toFixed(0)} KiB, ${check(out, t)}, in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** What the binary needs of libc, read with objdump; fails when it is not what the target promises. */
function check(file, t) {
  const objdump = ['objdump', 'aarch64-linux-gnu-objdump'].find((c) => spawnSync(c, ['--version']).status === 0);
  if (!objdump) return 'not checked (no objdump)';
  const dyn = spawnSync(objdump, ['-p', '-T', file], { encoding: 'utf8' });
  if (dyn.status !== 0) fail(`objdump could not read ${relative(file)}: ${dyn.stderr.trim()}`);
  const needed = [...dyn.stdout.matchAll(/^\s*NEEDED\s+(\S+)/gm)].map((m) => m[1]);
  const versions = [...new Set([...dyn.stdout.matchAll(/GLIBC_([0-9.]+)/g)].map((m) => m[1]))].sort(compareVersions);
  // The version column ("Base") is there only where the binary has symbol versions (glibc).
  const exported = [...dyn.stdout.matchAll(/^\S+\s+g\s+DF\s+\.text\s+\S+\s+(?:Base\s+)?(\S+)$/gm)].map((m) => m[1]);
  if (!exported.includes('napi_register_module_v1')) fail(`${relative(file)} does not export napi_register_module_v1`);
  if (needed.some((n) => /libstdc\+\+|libc\+\+/.test(n))) fail(`${relative(file)} needs a C++ library at run time: ${needed.join(' ')}`);
  if (t.libc === 'musl') {
    // musl's loader takes a NEEDED libc.so for itself.
    if (versions.length || !needed.length || !needed.every((n) => /^libc\.(so$|musl-)/.test(n))) fail(`${relative(file)} is not linked against musl alone: needs ${needed.join(' ')} ${versions.join(' ')}`);
    return `needs ${needed.join(' ')}`;
  }
  // A libc function newer than the target's stubs links unversioned and
  // fails only when called, on an older glibc: none may be left.
  const unversioned = [...dyn.stdout.matchAll(/\*UND\*\s+\S+\s+Base\s+(\S+)$/gm)].map((m) => m[1]).filter((s) => !/^(napi_|node_api_|uv_)/.test(s));
  if (unversioned.length) fail(`${relative(file)} calls ${unversioned.join(', ')}, which glibc ${GLIBC} lacks`);
  const floor = versions.at(-1);
  if (!floor || compareVersions(floor, GLIBC) > 0) fail(`${relative(file)} needs glibc ${floor}, more than ${GLIBC}`);
  return `needs glibc ${floor} (${needed.join(' ')})`;
}

function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** $ZIG, or the pinned zig in .cache/zig, installed there from PyPI when missing. */
function findZig() {
  if (process.env.ZIG) return process.env.ZIG;
  const target = join(root, '.cache', 'zig');
  const bin = join(target, 'ziglang', 'zig');
  const version = () => spawnSync(bin, ['version'], { encoding: 'utf8' }).stdout?.trim();
  if (existsSync(bin) && version() === ZIG_VERSION) return bin;
  const python = ['python3', 'python'].find((p) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, p))));
  if (!python) fail(`zig ${ZIG_VERSION} is needed and python3 (with pip) to install it; or set ZIG to a zig ${ZIG_VERSION}`);
  say(`installing zig ${ZIG_VERSION} (PyPI package ziglang) into ${relative(target)}`);
  rmSync(target, { recursive: true, force: true });
  const pip = spawnSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', target, `ziglang==${ZIG_VERSION}`], { stdio: 'inherit' });
  if (pip.status !== 0 || version() !== ZIG_VERSION) fail(`could not install ziglang==${ZIG_VERSION} with ${python} -m pip (is pip installed? Debian: apt-get install python3-pip)`);
  return bin;
}

/** binding.gyp's one target: its sources, defines and C++ flags (the file is JSON with # comments). */
function readGyp() {
  const text = readFileSync(join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
  const [target] = JSON.parse(text).targets;
  return target;
}

/** Runs the commands, as many at once as there are CPUs; fails on the first that fails. */
async function runAll(commands) {
  const queue = [...commands];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const [cmd, args] = c;
      const r = await new Promise((done) => {
        const p = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'inherit', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d) => { stderr += d; });
        p.on('error', (e) => done({ code: -1, stderr: e.message }));
        p.on('close', (code) => done({ code, stderr }));
      });
      process.stderr.write(r.stderr);
      if (r.code !== 0) fail(`failed (${r.code}): ${cmd} ${args.join(' ')}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), queue.length) }, worker));
}

function relative(p) {
  return p.startsWith(root + '/') ? p.slice(root.length + 1) : p;
}
