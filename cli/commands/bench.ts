// `s3mmap bench`: a thin door to the benchmark, which lives in bench/ and is
// built separately. Main thread. Loaded at run time, not imported, so the
// CLI builds and runs whether or not the benchmark exists; its arguments are
// passed through untouched (the benchmark parses its own options).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { S3MmapError } from '../../lib/shared/errors.js';
import { SilentExit } from '../errors.js';
import type { GlobalArgs } from '../options.js';

export const usage = 's3mmap bench [benchmark options...]';

// dist/cli/commands/bench.js → dist/bench/run.js. S3MMAP_BENCH_MODULE points
// elsewhere (the CLI's tests use it to stand in for a missing or a fake benchmark).
function benchModule(): string {
  const override = process.env.S3MMAP_BENCH_MODULE;
  return override ? pathToFileURL(override).href : new URL('../../bench/run.js', import.meta.url).href;
}

// bench/run.ts's main returns its exit status.
type BenchMain = (args: string[]) => unknown;

export const benchCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'bench',
  describe: 'Run the benchmark against a local MinIO and its peers',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .usage(`Usage: ${usage}\n\nRun the benchmark (bench/run.ts). Everything after 'bench' is passed to it; \`s3mmap bench -- --help\` lists the benchmark's own options.`)
      .strict(false)
      .parserConfiguration({ 'unknown-options-as-args': true })
      .example('$0 bench', 'The default benchmark')
      .example('$0 bench -- --help', "The benchmark's options") as unknown as Argv<GlobalArgs>,
  handler: async () => {
    const url = benchModule();
    if (!existsSync(fileURLToPath(url))) {
      throw new S3MmapError('ENOBENCH', 's3mmap: the benchmark is not built here (an installed package does not carry it); in a checkout of s3mmap run `npm run build:ts`, or `npm run bench`');
    }
    const mod = (await import(url)) as { main?: BenchMain; runBench?: BenchMain };
    const run = mod.main ?? mod.runBench;
    if (typeof run !== 'function') throw new S3MmapError('ENOBENCH', 's3mmap: the benchmark is not built (bench/run.js exports no main function)');
    const code = await run(rawArgs());
    if (typeof code === 'number' && code !== 0) throw new SilentExit(code);
  },
};

/** The words after `bench` as typed: yargs would have coerced and camel-cased
 *  them. A leading `--` only shields them from the CLI (`bench -- --help`). */
function rawArgs(): string[] {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('bench');
  const rest = at < 0 ? [] : argv.slice(at + 1);
  return rest[0] === '--' ? rest.slice(1) : rest;
}
