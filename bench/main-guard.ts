// True when the module at `url` is the script node was started with (so a
// bench entry point runs its main only when executed, not when imported, e.g.
// by the CLI's `s3mmap bench`). Any process, main thread.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export function isMain(url: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === url;
  } catch {
    return false;
  }
}
