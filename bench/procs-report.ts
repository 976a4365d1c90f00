// The report's section on several processes reading one object at once
// (procs4-scan, procs4-random): the memory they held together and the bytes
// they fetched from S3, for s3mmap's default and private regions and the
// FUSE mounts. Pure functions; orchestrator process, main thread.
import { formatBytes } from '../lib/index.js';
import { fmtMs } from './format.js';
import type { Group, Row } from './report.js';
import { PROCS } from './workloads.js';

/** What the processes held together, and how it was measured, for one row of an object of `size` bytes. */
export function heldText(r: Row, size: number): { bytes?: number; how: string; atMost?: boolean } {
  if (r.pssBytes !== undefined) {
    const kind = r.sharedRegion === undefined ? '' : r.sharedRegion ? ', shared regions (MAP_SHARED)' : ', private regions (MAP_PRIVATE)';
    return { bytes: r.pssBytes, how: `sum of the mappings' Pss${kind}` };
  }
  if (r.daemonRssBytes !== undefined) {
    // One copy in the page cache at most, and no more than went through the mount.
    const cache = Math.min(size, r.bytesFetched ?? size);
    return { bytes: r.daemonRssBytes + cache, atMost: true, how: `daemon RSS ${formatBytes(r.daemonRssBytes)} + page cache ≤ ${formatBytes(cache)}` };
  }
  return { how: 'not sampled' };
}

export function procsSection(groups: Group[], rows: Row[]): string {
  const gs = groups.filter((g) => g.workload === 'procs4-scan' || g.workload === 'procs4-random');
  if (!gs.length) return '';
  const lines = [`## ${PROCS} processes reading one object at once`, '',
    `Each process opens the object itself (its own mapping, or the mounted file) and reads it; what they hold is sampled when all ${PROCS} have read and still hold it. ` +
    's3mmap: the sum over the processes of the Pss of their mappings (the userfaultfd-registered ranges in /proc/PID/smaps), so a page shared by all counts once in the sum. ' +
    'FUSE mounts: the readers read into a small buffer of their own (no mapping: their Pss holds none of the object) and the file\'s pages live in the kernel\'s page cache, one copy for all; ' +
    'FUSE drops a file\'s cached pages at each open(2) unless its daemon asks to keep them, so a probe from outside (fincore opens the file) would empty it: the page cache is counted as at most one copy, and no more than the bytes that came through the mount, beside the mount daemon\'s resident memory (VmRSS) sampled at the same moment. ' +
    'S3 bytes are counted at the proxy for all the processes together.', ''];
  for (const g of gs) {
    const inGroup = rows.filter((r) => r.group === g.key && r.status === 'ok');
    if (!inGroup.length) continue;
    lines.push(`**${g.key}**: ${g.title}.`, '');
    lines.push('| system | memory held by the processes | × object | how | S3 bytes | × object | wall |', '|---|---|---|---|---|---|---|');
    for (const r of inGroup) {
      const h = heldText(r, g.objectSize);
      const le = h.atMost ? '≤ ' : '';
      lines.push(`| ${r.label} | ${h.bytes === undefined ? '—' : le + formatBytes(h.bytes)} | ${h.bytes === undefined ? '—' : `${le}${(h.bytes / g.objectSize).toFixed(2)}×`} | ${h.how} | ` +
        `${r.bytesFetched === undefined ? '—' : formatBytes(r.bytesFetched)} | ${r.bytesFetched === undefined ? '—' : `${(r.bytesFetched / g.objectSize).toFixed(2)}×`} | ${fmtMs(r.wallMs!.median)} |`);
    }
    const def = inGroup.find((r) => r.system === 's3mmap');
    if (def && def.sharedRegion === false) {
      lines.push('', 'This build maps every region private (no shared regions): the s3mmap default row is the same as `shared: false`.');
    }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}
