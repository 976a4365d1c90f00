// What userfaultfd this process can have, and the one-line remedy when it can
// have none. Main thread, before a mapping is made; the fault worker opens the
// real uffds.
import { readFileSync } from 'node:fs';
import { S3MmapError } from '../shared/errors.js';
import { native, UffdFeature, UffdOpenMode } from '../shared/native.js';

export type UffdMode = 'full' | 'user-only';

export interface UffdInfo {
  available: boolean;
  /** full: kernel-mode touches (fs.write from the Buffer) are served too. */
  mode?: UffdMode;
  /** How the uffd was obtained. */
  via?: 'userfaultfd(2)' | '/dev/userfaultfd' | 'UFFD_USER_MODE_ONLY';
  features: string[];
  pageSize: number;
  /** Why it is unavailable, with the remedy. */
  reason?: string;
  code?: string;
}

const VIA = {
  [UffdOpenMode.syscall]: 'userfaultfd(2)',
  [UffdOpenMode.device]: '/dev/userfaultfd',
  [UffdOpenMode.userOnly]: 'UFFD_USER_MODE_ONLY',
} as const;

export function modeName(mode: UffdOpenMode): UffdMode {
  return mode === UffdOpenMode.userOnly ? 'user-only' : 'full';
}

function featureNames(bits: number): string[] {
  return Object.entries(UffdFeature).filter(([, bit]) => Math.floor(bits / bit) % 2 === 1).map(([name]) => name);
}

function sysctl(): string {
  try {
    return readFileSync('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').trim();
  } catch {
    return '?';
  }
}

function remedy(code: string): string {
  if (process.platform !== 'linux') return `s3mmap needs Linux (userfaultfd); this is ${process.platform}`;
  if (code === 'ENOSYS') {
    return 's3mmap: userfaultfd is not available (ENOSYS): the kernel lacks CONFIG_USERFAULTFD (needs Linux >= 5.11), or a seccomp filter blocks it; under Docker run with --security-opt seccomp=unconfined or a profile that allows userfaultfd';
  }
  if ((code === 'EPERM' || code === 'EACCES') && (process.getuid?.() === 0 || sysctl() === '1')) {
    // Root (or an open sysctl) is refused only by a filter: say that, not "run as root".
    const who = process.getuid?.() === 0 ? 'even for root' : 'although vm.unprivileged_userfaultfd=1';
    return `s3mmap: userfaultfd is not permitted (${code}) ${who}, so a seccomp filter or a security module blocks it: under Docker run with --security-opt seccomp=unconfined or a profile that allows userfaultfd (without such a filter, root, \`sysctl vm.unprivileged_userfaultfd=1\` or access to /dev/userfaultfd is enough)`;
  }
  if (code === 'EPERM' || code === 'EACCES') {
    return `s3mmap: userfaultfd is not permitted (${code}): run as root, or set \`sysctl vm.unprivileged_userfaultfd=1\` (now ${sysctl()}), or give this user access to /dev/userfaultfd; under Docker the default seccomp profile blocks it (--security-opt seccomp=unconfined)`;
  }
  return `s3mmap: cannot open a userfaultfd (${code}); needs Linux >= 5.11 with userfaultfd enabled`;
}

export function uffdInfo(userModeOnly = false): UffdInfo {
  const simulated = process.env.S3MMAP_SIMULATE_UFFD_ERROR;
  const p = native.probe(userModeOnly);
  const code = simulated || (p.ok ? undefined : p.code ?? 'EUNKNOWN');
  if (process.platform !== 'linux' || code) {
    return { available: false, features: [], pageSize: native.pageSize, code: code ?? 'ENOSYS', reason: remedy(code ?? 'ENOSYS') };
  }
  const mode = p.mode ?? UffdOpenMode.syscall;
  return { available: true, mode: modeName(mode), via: VIA[mode], features: featureNames(p.features ?? 0), pageSize: native.pageSize };
}

/** Throws the remedy when no userfaultfd can be had. */
export function requireUffd(userModeOnly: boolean): UffdInfo {
  const info = uffdInfo(userModeOnly);
  if (!info.available) throw new S3MmapError(info.code ?? 'ENOSYS', info.reason!);
  return info;
}
