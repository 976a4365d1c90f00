// `s3mmap mount`: the object as memory for a script or a person. Maps it,
// then runs a module's default export with the Buffer and the mapping
// (--exec), or opens a REPL with `buf` and `mapping` bound; on the way out it
// says what was fetched against the object's size. An object longer than one
// Buffer (over 4 GiB on Node 20) has no whole `buf`: it is null, and windows
// come from mapping.view(). Main thread: the script and the REPL read the
// Buffer here and block in faults the fault worker serves.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import repl from 'node:repl';
import { pathToFileURL } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { S3MmapError } from '../../lib/shared/errors.js';
import { mapObject } from '../../lib/api/map.js';
import type { Mapping } from '../../lib/api/mapping.js';
import { parseS3Url } from '../../lib/s3/url.js';
import { UsageError } from '../errors.js';
import { mapOptions, type GlobalArgs } from '../options.js';
import { err, fetchSummary, formatBytes, json, statsJson } from '../output.js';

export const usage = 's3mmap mount s3://bucket/key [--exec script.mjs [-- args...]]';

interface MountArgs extends GlobalArgs {
  url: string;
  exec?: string;
  args?: (string | number)[];
  '--'?: (string | number)[];
}

type ScriptMain = (buf: Buffer | null, mapping: Mapping, args: string[]) => unknown;

export const mountCommand: CommandModule<GlobalArgs, MountArgs> = {
  command: 'mount <url> [args..]',
  describe: 'Map an object as memory and run a script on it, or open a REPL',
  builder: (y: Argv<GlobalArgs>) =>
    y
      // Words after `--` reach the script as typed, options included.
      .parserConfiguration({ 'populate--': true })
      .usage(`Usage: ${usage}\n\nMap an object as memory. With --exec, run the module's default export,\n\n  export default async function (buf, mapping, args) { ... }\n\nwithout it, open a Node REPL with \`buf\` (the object's Buffer) and \`mapping\` bound. For an object longer than one Buffer (over 4 GiB on Node 20) \`buf\` is null: mapping.view(offset, length) gives a Buffer over any window. On exit, print to stderr what was fetched (GETs, bytes, faults, fault latency) against the object's size.`)
      .positional('url', { type: 'string', describe: 'The object, s3://bucket/key', demandOption: true })
      .positional('args', { type: 'string', array: true, describe: "Arguments for the script (after '--')" })
      .option('exec', { type: 'string', alias: 'e', requiresArg: true, describe: 'An ES module whose default export gets (buf, mapping, args)' })
      // Named so it is listed before the global options.
      .group(['exec'], 'Options:')
      .example('$0 mount s3://data/shard-0001.tdb', 'A REPL: try buf.length, buf.readUInt32LE(1 << 30), mapping.stats()')
      .example('$0 mount s3://data/index.bin --exec lookup.mjs -- user-42', 'Run lookup.mjs with args ["user-42"]')
      .example("echo 'buf.subarray(0, 4).toString()' | $0 mount s3://data/archive.zip", 'A REPL fed from a pipe: prints the magic bytes') as unknown as Argv<MountArgs>,
  handler: async (argv) => {
    const loc = parseS3Url(argv.url);
    const script = argv.exec === undefined ? undefined : resolve(argv.exec);
    if (script !== undefined && !existsSync(script)) throw new UsageError(`--exec: no such file '${argv.exec}'`);
    const args = [...(argv.args ?? []), ...(argv['--'] ?? [])].map(String);
    // Loaded before mapping: a script that does not compile costs no request.
    const main = script === undefined ? undefined : await loadScript(script);
    const mapping = await mapObject(loc, mapOptions(argv));
    const buf = wholeBuffer(mapping, argv.url);
    let failure: unknown;
    try {
      if (main) await runScript(main, script!, buf, mapping, args);
      else await runRepl(argv.url, buf, mapping);
    } catch (e) {
      failure = e;
    }
    // Stats are read after close(): its round trip to the fault worker lets
    // the worker finish the bookkeeping (fault latency) of the last faults it
    // served, which a script that ends right after a fault would miss.
    await mapping.close();
    // What was fetched is worth seeing most when the script failed half way.
    const stats = mapping.stats();
    if (argv.json) json({ url: argv.url, size: mapping.size, etag: mapping.version, mode: mapping.mode, stats: statsJson(stats) }, 'stderr');
    else err(`s3mmap: ${argv.url}: ${fetchSummary(stats)}`);
    if (failure !== undefined) throw failure;
  },
};

/** The whole object's Buffer, or null (said once on stderr) where one Buffer cannot hold it. */
function wholeBuffer(mapping: Mapping, url: string): Buffer | null {
  try {
    return mapping.buffer;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE') throw e;
    err(`s3mmap: ${url} is ${formatBytes(mapping.size)}, more than one Buffer holds in Node.js ${process.version}: \`buf\` is null; mapping.view(offset, length) gives a Buffer over any window (Node.js 22 or later holds it whole)`);
    return null;
  }
}

function shown(path: string): string {
  return path.startsWith(process.cwd() + '/') ? path.slice(process.cwd().length + 1) : path;
}

async function loadScript(path: string): Promise<ScriptMain> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (e) {
    throw new S3MmapError('ScriptError', `s3mmap: cannot load ${shown(path)}: ${(e as Error).message}`, { cause: e });
  }
  if (typeof mod.default !== 'function') {
    throw new S3MmapError('ScriptError', `s3mmap: ${shown(path)} has no default export function; write \`export default async function (buf, mapping, args) { ... }\``);
  }
  return mod.default as ScriptMain;
}

async function runScript(main: ScriptMain, path: string, buf: Buffer | null, mapping: Mapping, args: string[]): Promise<void> {
  try {
    await main(buf, mapping, args);
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/^s3mmap: /, '') : String(e);
    throw new S3MmapError((e as { code?: string })?.code ?? 'ScriptError', `s3mmap: ${shown(path)} failed: ${msg}`, { cause: e });
  }
}

async function runRepl(url: string, buf: Buffer | null, mapping: Mapping): Promise<void> {
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  err(`s3mmap: ${url} (${formatBytes(mapping.size)}, ETag ${mapping.version}) is mapped: ${buf ? '`buf` is its Buffer' : '`buf` is null, `mapping.view(offset, length)` gives windows'}, \`mapping\` the Mapping; .stats shows what was fetched, .exit or Ctrl-D leaves`);
  // No preview: it evaluates as you type, and `buf.toString()` half typed
  // would fault in the whole object before you press Enter.
  const server = repl.start({ prompt: 's3mmap> ', terminal, useColors: terminal, preview: false });
  // Bound read-only: a reassigned `buf` would be a confusing way to lose the mapping.
  for (const [name, value] of [['buf', buf], ['mapping', mapping]] as const) {
    Object.defineProperty(server.context, name, { value, writable: false, enumerable: true, configurable: true });
  }
  server.defineCommand('stats', {
    help: 'Show what was fetched so far',
    action() {
      this.output.write(fetchSummary(mapping.stats()) + '\n');
      this.displayPrompt();
    },
  });
  if (terminal) server.setupHistory(join(homedir(), '.s3mmap_repl_history'), () => {});
  await new Promise<void>((done) => server.once('exit', done));
}
