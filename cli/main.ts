#!/usr/bin/env node
// The `s3mmap` command: yargs setup, the global options, and the one place
// that turns an outcome into an exit status (0 ok, 1 runtime error, 2 usage
// error) and a message. Main thread. Each command lives in cli/commands/ and
// loads the heavy parts (the AWS SDK, MinIO) only when it runs, so --help is fast.
import './env.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Argv, CommandModule } from 'yargs';
import * as bench from './commands/bench.js';
import * as cache from './commands/cache.js';
import * as cat from './commands/cat.js';
import * as demo from './commands/demo.js';
import * as ls from './commands/ls.js';
import * as mount from './commands/mount.js';
import * as stat from './commands/stat.js';
import { errorDetail, errorLine, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, isUsageError, SilentExit, UsageError } from './errors.js';
import { GLOBAL_GROUP, globalOptions, type GlobalArgs } from './options.js';
import { err } from './output.js';

// yargs' CommonJS build: its help wraps at word boundaries (wrap-ansi); the
// ES module build wraps mid-word.
const require = createRequire(import.meta.url);
const yargs = require('yargs') as typeof import('yargs').default;
const { hideBin } = require('yargs/helpers') as typeof import('yargs/helpers');

const COMMANDS = { cat, stat, mount, ls, cache, bench, demo };
const MAIN_USAGE = 's3mmap <command> [options]';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function parser(args: string[]): Argv<GlobalArgs> {
  let y = yargs(args)
    .scriptName('s3mmap')
    .usage(`Usage: ${MAIN_USAGE}\n\nMap an S3 object into memory: bytes are fetched with ranged GETs on first touch (userfaultfd), so reading a little of a big object costs a little.`);
  for (const [name, opt] of Object.entries(globalOptions)) y = y.option(name, { ...opt, global: true, group: GLOBAL_GROUP });
  return (y as unknown as Argv<GlobalArgs>)
    .command(cat.catCommand as CommandModule<GlobalArgs, never>)
    .command(stat.statCommand as CommandModule<GlobalArgs, never>)
    .command(mount.mountCommand as CommandModule<GlobalArgs, never>)
    .command(ls.lsCommand as CommandModule<GlobalArgs, never>)
    .command(cache.cacheCommand as CommandModule<GlobalArgs, never>)
    .command(bench.benchCommand as CommandModule<GlobalArgs, never>)
    .command(demo.demoCommand as CommandModule<GlobalArgs, never>)
    .demandCommand(1, 'name a command: cat, stat, mount, ls, cache, bench or demo')
    .recommendCommands()
    .strict()
    // yargs' words, in the tool's voice. The only commands with a required
    // positional take an object URL.
    .updateStrings({
      'Not enough non-option arguments: got %s, need at least %s': {
        one: 'missing the object, s3://bucket/key (got %s arguments, need %s)',
        other: 'missing the object, s3://bucket/key (got %s arguments, need %s)',
      },
      'Too many non-option arguments: got %s, maximum of %s': {
        one: 'too many arguments (got %s, at most %s)',
        other: 'too many arguments (got %s, at most %s)',
      },
      'Unknown argument: %s': { one: 'unknown argument: %s', other: 'unknown arguments: %s' },
      'Not enough arguments following: %s': 'option --%s needs a value',
      'Did you mean %s?': 'did you mean %s?',
    } as unknown as Record<string, string>)
    .help('help')
    .alias('help', 'h')
    .version('version', 'Show the version number', version())
    .example('$0 ls s3://data/', 'Find what to map')
    .example('$0 stat s3://data/shard-0001.tdb', 'Size, ETag, the chunk plan, this machine\'s userfaultfd')
    .example('$0 cat s3://data/shard-0001.tdb --range 1m-2m | xxd | head', 'A byte range, fetched through the mapping')
    .example('$0 mount s3://data/shard-0001.tdb --exec query.mjs', 'Run a script on the object as a Buffer')
    .example('$0 mount s3://data/shard-0001.tdb', 'A REPL with `buf` and `mapping`')
    .example('$0 cat s3://data/shard-0001.tdb --cache ~/.cache/s3mmap', 'Keep fetched chunks on disk: the next run reads them from there')
    .example('$0 demo', 'Everything at once against a throwaway local MinIO')
    .epilogue(
      'Credentials, region and endpoint come from the standard AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE) and ~/.aws/config, ~/.aws/credentials.\n\n' +
        'Exit status: 0 success, 1 runtime error, 2 usage error.',
    )
    .wrap(Math.min(100, process.stdout.columns || 100))
    // Failures come back to run() as exceptions, to be worded in one place:
    // yargs' own complaints (a message, no error) are usage errors.
    .fail((msg, e) => {
      if (e) throw e;
      msg = dedupeUnknown(msg);
      // Without a command on the line, the unknown word was meant as one.
      const named = args.some((a) => Object.hasOwn(COMMANDS, a));
      const word = /^unknown argument: (\S+)$/.exec(msg)?.[1] ?? args.find((a) => !a.startsWith('-'));
      if (!named && /^(unknown argument|did you mean)/.test(msg)) {
        msg = `unknown command '${word}'; ${msg.startsWith('did you') ? msg : 'the commands are cat, stat, mount, ls, cache, bench and demo'}`;
      }
      throw new UsageError(msg);
    });
}

/** yargs names an unknown --dashed-option twice, once camel-cased: keep the one the user typed. */
function dedupeUnknown(msg: string): string {
  const m = /^unknown arguments?: (.*)$/.exec(msg);
  if (!m) return msg;
  const names = m[1].split(', ');
  const camel = (n: string) => n.replace(/-+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const kept = names.filter((n) => !names.some((o) => o !== n && camel(o) === n));
  return `unknown argument${kept.length === 1 ? '' : 's'}: ${kept.join(', ')}`;
}

/** The usage line of the command the user was typing, or the main one. */
function usageFor(args: string[]): [string, string] {
  const name = args.find((a) => Object.hasOwn(COMMANDS, a)) as keyof typeof COMMANDS | undefined;
  return name ? [COMMANDS[name].usage, `s3mmap ${name} --help`] : [MAIN_USAGE, 's3mmap --help'];
}

async function run(args: string[]): Promise<number> {
  let verbose = args.some((a) => a === '--verbose' || a === '-v' || a === '--verbose=true');
  try {
    await parser(args)
      .middleware((a) => {
        verbose = a.verbose === true;
      })
      .parseAsync();
    return EXIT_OK;
  } catch (e) {
    if (e instanceof SilentExit) return e.exitCode;
    err(errorLine(e));
    if (isUsageError(e)) {
      const [line, help] = usageFor(args);
      err(`Usage: ${line}`);
      err(`Try '${help}' for more information.`);
    }
    if (verbose) err(errorDetail(e));
    return isUsageError(e) ? EXIT_USAGE : EXIT_RUNTIME;
  }
}

// A reader that goes away early (`s3mmap ls ... | head -1`) is not an error:
// stop quietly, as cat does.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? EXIT_OK : EXIT_RUNTIME));
}

const code = await run(hideBin(process.argv));
// Output written to a pipe may still be queued; exit once it is out.
await Promise.all([process.stdout, process.stderr].map((s) => (s.writableLength ? new Promise((r) => s.once('drain', r)) : undefined)));
process.exit(code);
