// What can run on this machine before any cell is planned: userfaultfd for
// s3mmap, the FUSE peers' binaries and /dev/fuse, a C compiler for the
// ceiling; and the versions of what will be measured, for the machine line.
// Orchestrator process, main thread (spawnSync of `--version` and cc).
import { join } from 'node:path';
import { uffdInfo } from '../lib/index.js';
import type { SystemDef } from './catalog.js';
import { buildCeiling } from './ceiling.js';
import { fuseSystems, type FuseSystem } from './mounts.js';

export interface Availability {
  /** System id → why it cannot run here. */
  unavailable: Map<string, string>;
  /** Tool name → version, for the machine line. */
  tools: Record<string, string>;
  fuse: Map<string, FuseSystem>;
  ceilingBin?: string;
}

export function probeSystems(defs: SystemDef[], root: string, tmp: string): Availability {
  const unavailable = new Map<string, string>();
  const tools: Record<string, string> = {};
  const uffd = uffdInfo();
  if (!uffd.available) {
    for (const d of defs) if (d.role === 'self') unavailable.set(d.id, `userfaultfd unavailable: ${uffd.reason ?? 'unknown'}`);
  }
  const fuse = new Map<string, FuseSystem>(fuseSystems(join(tmp, 'gobin'), root).map((f) => [f.name, f]));
  for (const d of defs.filter((x) => x.kind === 'fuse')) {
    const f = fuse.get(d.id)!;
    const why = f.unavailable();
    if (why) unavailable.set(d.id, why);
    else tools[d.id] = f.version();
  }
  let ceilingBin: string | undefined;
  if (defs.some((d) => d.kind === 'c')) {
    const c = buildCeiling(root);
    ceilingBin = c.bin;
    if (c.compiler) tools.cc = c.compiler;
    if (!c.bin) for (const d of defs) if (d.kind === 'c') unavailable.set(d.id, c.reason!);
  }
  return { unavailable, tools, fuse, ceilingBin };
}
