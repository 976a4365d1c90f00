// The machine line of the report: cores, memory, kernel and the versions of
// everything measured. Orchestrator process, main thread.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';

export interface MachineInfo {
  cores: number;
  cpu: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  versions: Record<string, string>;
}

function packageVersion(root: string, name: string): string {
  try {
    const require = createRequire(join(root, 'package.json'));
    let dir = require.resolve(name);
    // Walk up to the package's own package.json.
    for (let i = 0; i < 6; i++) {
      dir = join(dir, '..');
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? '?';
      } catch { /* keep walking */ }
    }
  } catch { /* not installed */ }
  return 'not installed';
}

export function machineInfo(root: string, tools: Record<string, string>): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: (cpus[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    versions: {
      s3mmap: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
      '@aws-sdk/client-s3': packageVersion(root, '@aws-sdk/client-s3'),
      hyparquet: packageVersion(root, 'hyparquet'),
      'hyparquet-writer': packageVersion(root, 'hyparquet-writer'),
      ...tools,
    },
  };
}

/** `minio --version` of a `go install` build carries its module version; that is the useful part. */
export function shortMinioVersion(v: string): string {
  const mod = / module (\S+)/.exec(v);
  if (mod) return mod[1];
  return v.replace(/^minio version\s*/i, '');
}

export function machineLine(m: MachineInfo): string {
  const v = Object.entries(m.versions).map(([k, x]) => `${k} ${x.replace(new RegExp(`^${k}\\s+`, 'i'), '')}`).join(', ');
  return `${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}; ${v}`;
}
