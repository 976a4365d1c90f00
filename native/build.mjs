// Builds the native addon from source with node-gyp: by hand, by CI under
// each Node, and in a checkout on `npm ci` (the install script). Runs in its
// own Node process. Points node-gyp at the headers of the running Node when
// they are installed locally, so the build never downloads them.
// As the install script of an installed package (`--install`), it first
// loads the prebuilt addon for this platform (native/prebuild.mjs made it,
// `npm pack` ships it) and builds only when none loads: installed with
// --ignore-scripts, or with the script unapproved, the prebuild serves alone.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The folder whose include/node holds the running Node's headers, if any is installed. */
export function nodeDir() {
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  const configured = process.env.npm_config_nodedir;
  if (configured && existsSync(join(configured, 'include', 'node', 'node_api.h'))) return configured;
  if (existsSync('/usr/include/node/node_api.h')) return '/usr';
  return undefined;
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, cmd)));
}

/** True when a prebuilt addon for this platform loads in this process. */
function prebuildLoads() {
  try {
    createRequire(join(root, 'package.json'))('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

function build(installed) {
  const tools = [process.env.CXX ?? 'g++', 'make', 'python3'].filter((t) => !onPath(t));
  if (tools.length > 0) {
    const why = installed ? `no prebuilt addon loads on ${process.platform}-${process.arch}, and` : 'the addon is built from source, and';
    const then = installed ? '`npm rebuild s3mmap`' : '`node native/build.mjs`';
    console.error(`s3mmap: ${why} ${tools.join(', ')} ${tools.length > 1 ? 'are' : 'is'} missing; install g++, make and python3, then run ${then}`);
    return 1;
  }
  const args = ['rebuild'];
  // The running Node's own headers first. Under npm, node-gyp prefers the
  // config's nodedir (npm_config_nodedir, set for the machine's Node) to
  // --nodedir, so the choice goes into the environment too: an official build
  // run from a cache folder would otherwise be built against another Node.
  const env = { ...process.env };
  const dir = nodeDir();
  if (dir) {
    args.push(`--nodedir=${dir}`);
    env.npm_config_nodedir = dir;
  }
  const local = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const [cmd, cmdArgs] = existsSync(local) ? [process.execPath, [local, ...args]] : ['node-gyp', args];
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env });
  if (r.error) {
    console.error(`s3mmap: could not run node-gyp (${r.error.message}); install it with \`npm install -g node-gyp\``);
    return 1;
  }
  return r.status ?? 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // A checkout (not under node_modules) always builds, so that the tests run
  // what its native/ says; `npm install --build-from-source` asks for that too.
  const installed = root.split(sep).includes('node_modules');
  const fromSource = process.env.npm_config_build_from_source === 'true';
  if (process.argv.includes('--install') && installed && !fromSource && prebuildLoads()) process.exit(0);
  process.exit(build(installed));
}
