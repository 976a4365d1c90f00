// Builds the native addon with node-gyp on `npm install`. Runs in the npm
// install process. Points node-gyp at the headers of the running Node when they
// are installed locally, so the build never downloads them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = resolve(dirname(process.execPath), '..');
const args = ['rebuild'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
else if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');

const local = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const [cmd, cmdArgs] = existsSync(local) ? [process.execPath, [local, ...args]] : ['node-gyp', args];
const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
if (r.error) {
  console.error(`s3mmap: could not run node-gyp (${r.error.message}); install it with \`npm install -g node-gyp\``);
  process.exit(1);
}
process.exit(r.status ?? 1);
