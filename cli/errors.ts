// How the CLI fails. Main thread. Two kinds: usage errors (the command line
// itself is wrong: exit 2 with the command's usage line) and runtime errors
// (the object, the credentials, the network: exit 1 with one line). Every
// line goes through scrub() first, so no secret reaches a terminal or a log,
// even from an error text we did not write.
import { redactSecrets, S3MmapError } from '../lib/shared/errors.js';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** The command line is wrong: a bad option value, a malformed argument. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message.startsWith('s3mmap: ') ? message : `s3mmap: ${message}`);
    this.name = 'UsageError';
  }
}

/** Ends the command with `exitCode` and no message: whoever throws it has
 *  said what there was to say (the benchmark prints its own errors). */
export class SilentExit extends Error {
  constructor(readonly exitCode: number, reason = `exit ${exitCode}`) {
    super(reason);
    this.name = 'SilentExit';
  }
}

/** The user stopped the command (Ctrl-C): exit 128 + the signal's number, as a shell expects. */
export class Interrupted extends SilentExit {
  constructor(signal: NodeJS.Signals) {
    super(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1), `interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

// Library codes that mean "what you typed is malformed" (an S3 URL or
// endpoint, a size or chunk size): fixing the command line fixes them.
const USAGE_CODES = new Set(['InvalidURL', 'EINVAL']);

export function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError) return true;
  if (err instanceof S3MmapError) return USAGE_CODES.has(err.code);
  // yargs' own validation failures (unknown option, missing argument).
  return err instanceof Error && err.name === 'YError';
}

const secrets = new Set<string>();

/** Values that must never be printed; the environment's are known already. */
export function addSecrets(values: Iterable<string | undefined>): void {
  for (const v of values) if (v && v.length >= 4) secrets.add(v);
}
addSecrets([process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_SESSION_TOKEN, process.env.AWS_SECURITY_TOKEN]);

export function scrub(text: string): string {
  return redactSecrets(text, [...secrets]);
}

/** One line: what went wrong and what to do. */
export function errorLine(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  let msg = e.message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  // yargs words its messages without our prefix.
  if (!msg.startsWith('s3mmap: ')) msg = `s3mmap: ${msg}`;
  // Errors we did not word ourselves are likely bugs: say where to look.
  if (!(e instanceof S3MmapError) && !(e instanceof UsageError) && e.name !== 'YError' && !hasCode(e)) {
    msg += ` (${e.name}; --verbose shows the stack)`;
  }
  return scrub(msg);
}

/** The stack and the chain of causes, for --verbose. */
export function errorDetail(err: unknown): string {
  const lines: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 5; depth++) {
    const e = cur instanceof Error ? cur : new Error(String(cur));
    const code = hasCode(e) ? ` [${(e as Error & { code: string }).code}]` : '';
    lines.push((depth ? 'Caused by: ' : '') + (e.stack ?? `${e.name}: ${e.message}`) + code);
    cur = e.cause;
  }
  return scrub(lines.join('\n'));
}

function hasCode(e: Error): boolean {
  return typeof (e as { code?: unknown }).code === 'string';
}
