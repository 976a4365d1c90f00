// mountpoint-s3's published figures, set beside this run's s3mmap figures and
// labelled as published: on CI machines mountpoint-s3 is usually not
// available (its binary crate is not on crates.io), and even where it is
// measured here, its figures on real S3 are what users know it by. Pure
// functions; orchestrator process, main thread.
import { fmtRate } from './format.js';
import { groupKey } from './plan.js';
import type { Row } from './report.js';

/** From mountpoint-s3's published CI benchmark runs (fio jobs on EC2 against real S3). */
const PUBLISHED: Array<{ what: string; mibps: number; ours?: { group: string; network: 's3-standard' | 's3-express'; note: string } }> = [
  { what: 'sequential read, one reader, S3 Standard', mibps: 1553, ours: { group: 'sequential', network: 's3-standard', note: 'cold sequential scan' } },
  { what: 'sequential read, four readers, S3 Standard', mibps: 5089 },
  { what: 'random read, one thread, S3 Standard', mibps: 2.5, ours: { group: 'random', network: 's3-standard', note: '1,000 dependent 4 KiB reads' } },
  { what: 'random read, one thread, S3 Express One Zone', mibps: 24.2, ours: { group: 'random', network: 's3-express', note: '1,000 dependent 4 KiB reads' } },
  { what: 'random read, one thread, with its local disk cache', mibps: 214 },
];

export function publishedSection(rows: Row[], unavailable: Map<string, string>): string {
  const measured = rows.some((r) => r.system === 'mountpoint' && r.status === 'ok');
  const why = unavailable.get('mountpoint')?.split('\n')[0];
  const lines = [
    '## mountpoint-s3: its published figures beside s3mmap\'s', '',
    (measured
      ? 'mountpoint-s3 was also measured in this run (see its rows in the tables); the figures below are its own published ones, for scale.'
      : `mountpoint-s3 was not measured in this run${why ? ` (${why})` : ''}; these are its published figures, not measured here.`) +
      ' They come from its CI on EC2 against real S3 with its own fio jobs (block and file sizes differ from this bench\'s workloads), while s3mmap\'s figures here are measured against MinIO on this machine through the emulated network: orders of magnitude to set side by side, not a like-for-like comparison.', '',
    '| figure | mountpoint-s3, published | s3mmap, measured here |', '|---|---|---|',
  ];
  for (const p of PUBLISHED) {
    const r = p.ours && rows.find((x) => x.group === groupKey(p.ours!.group, p.ours!.network) && x.system === 's3mmap' && x.status === 'ok');
    const ours = !p.ours ? '—' : r ? `${fmtRate(r.throughputBps!)} (${p.ours.note}, emulated ${p.ours.network})` : `not measured in this run (${p.ours.network})`;
    lines.push(`| ${p.what} | ${p.mibps.toLocaleString('en-US')} MiB/s | ${ours} |`);
  }
  return lines.join('\n');
}
