// The rule that decides whether an object version's pages are shared, given
// the resolved options and the object: used where the choice is made (the
// fault worker at map time, lib/worker/backing.ts) and where it is shown
// before mapping (`s3mmap stat`). Both threads; plain values only.
import type { ServeOptions } from './protocol.js';
import { formatBytes } from './sizes.js';

/** Why the region must be private, or null when it may be shared. `length`: the object in whole pages. */
export function whyPrivate(serve: Pick<ServeOptions, 'shared' | 'sharedNote' | 'residentBudget'>, versioned: boolean, size: number, length: number): string | null {
  const opts = serve.shared;
  if (!opts) return serve.sharedNote ?? 'off';
  if (!versioned) return 'not shared (the source names no object version)';
  // residentBudget caps this mapping's own memory, which a shared page is not.
  if (serve.residentBudget > 0) return "not shared (residentBudget caps one mapping's memory: a private region)";
  if (length > opts.cap) return `not shared (the object, ${formatBytes(size)}, is larger than the shared memory cap, ${formatBytes(opts.cap)} in ${opts.dir})`;
  return null;
}
