// Builds the native addon with node-gyp on `npm install` (and when run by
// hand, or by CI under each Node). Runs in its own Node process. Points
// node-gyp at the headers of the running Node when they are installed
// locally, so the build never downloads them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = resolve(dirname(process.execPath), '..');
const args = ['rebuild'];
// The running Node's own headers first. Under npm, node-gyp prefers the
// config's nodedir (npm_config_nodedir, set for the machine's Node) to
// --nodedir, so the choice goes into the environment too: an official build
// run from a cache folder would otherwise be built against another Node.
let nodedir;
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) nodedir = prefix;
else if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) nodedir = '/usr';
const env = { ...process.env };
if (nodedir) {
  args.push(`--nodedir=${nodedir}`);
  env.npm_config_nodedir = nodedir;
}

const local = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const [cmd, cmdArgs] = existsSync(local) ? [process.execPath, [local, ...args]] : ['node-gyp', args];
const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env });
if (r.error) {
  console.error(`s3mmap: could not run node-gyp (${r.error.message}); install it with \`npm install -g node-gyp\``);
  process.exit(1);
}
process.exit(r.status ?? 1);
