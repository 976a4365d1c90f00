// The crossover: time to read k scattered 64 KiB records through a mapping
// against downloading the whole object first (the best of the parallel
// downloads at each k), as a table, the k where a mapping stops paying, and a
// chart (crossover.svg, log-log). Pure functions; orchestrator process, main thread.
import { formatBytes } from '../lib/shared/sizes.js';
import { sizeLabel } from './catalog.js';
import { esc, tick, wrap } from './chart.js';
import { fmtMs, fmtRatio } from './format.js';
import type { NetworkName } from '../lib/dev/s3-harness/network.js';
import type { Group, Row } from './report.js';
import { RECORD } from './workloads.js';

interface Point {
  k: number;
  self?: Row;
  /** A ranged GET per record: the other plain choice. */
  ranged?: Row;
  /** The fastest download at this k, and every download measured. */
  best?: Row;
  downloads: Row[];
}

export interface Crossover {
  network: NetworkName;
  objectSize: number;
  points: Point[];
  /** Interpolated (log-log) k at which the mapping's time meets the best download's; undefined if it never does. */
  breakEven?: number;
}

const ms = (r?: Row) => r?.wallMs?.median;

export function crossovers(groups: Group[], rows: Row[]): Crossover[] {
  const out: Crossover[] = [];
  for (const network of new Set(groups.filter((g) => g.workload === 'crossover').map((g) => g.network))) {
    const gs = groups.filter((g) => g.workload === 'crossover' && g.network === network).sort((a, b) => a.k! - b.k!);
    const points = gs.map((g): Point => {
      const ok = rows.filter((r) => r.group === g.key && r.status === 'ok');
      const downloads = ok.filter((r) => r.role === 'peer' && r.system !== 'ranged').sort((a, b) => ms(a)! - ms(b)!);
      return { k: g.k!, self: ok.find((r) => r.system === 's3mmap'), ranged: ok.find((r) => r.system === 'ranged'), best: downloads[0], downloads };
    });
    let breakEven: number | undefined;
    for (let i = 0; i < points.length && breakEven === undefined; i++) {
      const p = points[i];
      if (!p.self || !p.best || ms(p.self)! < ms(p.best)!) continue;
      const q = points[i - 1];
      if (!q?.self || !q.best) { breakEven = p.k; continue; }
      // Where log(self / best) crosses 0 between q.k and p.k.
      const a = Math.log(ms(q.self)! / ms(q.best)!);
      const b = Math.log(ms(p.self)! / ms(p.best)!);
      breakEven = Math.exp(Math.log(q.k) + ((Math.log(p.k) - Math.log(q.k)) * -a) / (b - a));
    }
    out.push({ network, objectSize: gs[0].objectSize, points, breakEven });
  }
  return out;
}

export function crossoverSection(cs: Crossover[]): string {
  if (!cs.length) return '';
  const lines = ['## Crossover: k scattered 64 KiB records, mapping against downloading', '',
    'Each k is read one record after another. s3mmap: a fresh cold process per k, clock from mapObject(); downloads: one cold process per lane count (8, 16, 32 parts of 8 MiB in flight) that downloads once, then reads the records; each k costs the download plus its first k records. The best download at each k is the one compared. A ranged GET per record: one cold process, each k the HEAD plus its first k GETs. Chart: [crossover.svg](crossover.svg).', ''];
  for (const c of cs) {
    const be = c.breakEven === undefined
      ? `the mapping stayed ahead at every k measured (up to ${c.points.at(-1)?.k})`
      : `a mapping stops paying at about k ≈ ${Math.round(c.breakEven).toLocaleString('en-US')} records (${formatBytes(c.breakEven * RECORD)} of the ${sizeLabel(c.objectSize)} object); beyond it the download is faster`;
    lines.push(`**${c.network}**, ${sizeLabel(c.objectSize)} object: ${be}.`, '');
    lines.push('| k | s3mmap | best download | download / s3mmap | ranged GETs | ranged / s3mmap | s3mmap fetched | s3mmap GETs | s3mmap fill |', '|---|---|---|---|---|---|---|---|---|');
    for (const p of c.points) {
      const mine = ms(p.self);
      const best = ms(p.best);
      const ranged = ms(p.ranged);
      const fill = p.self?.fillStarted ? `${p.self.fillStarted.started ? 'started' : 'none'} (${p.self.fillStarted.started} of ${p.self.fillStarted.of})` : '—';
      lines.push(`| ${p.k.toLocaleString('en-US')} | ${mine === undefined ? '—' : fmtMs(mine)} | ${best === undefined ? '—' : `${fmtMs(best)} ${p.best!.label.replace('parallel download ', '')}`} | ` +
        `${mine && best ? fmtRatio(best / mine) : '—'} | ${ranged === undefined ? '—' : fmtMs(ranged)} | ${mine && ranged ? fmtRatio(ranged / mine) : '—'} | ` +
        `${p.self?.bytesFetched === undefined ? '—' : formatBytes(p.self.bytesFetched)} | ${p.self?.gets === undefined ? '—' : Math.round(p.self.gets)} | ${fill} |`);
    }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}

const W = 900;
const PANEL_H = 300;
const M = { left: 70, right: 190, top: 40, bottom: 46 };

/** Short names for the legend: s3mmap, then the downloads by lanes. */
function shortLabel(r: Row): string {
  const lanes = /× (\d+)\)/.exec(r.label)?.[1];
  return r.role === 'self' ? 's3mmap' : r.system === 'ranged' ? 'ranged GET per record' : lanes ? `download, ${lanes} lanes` : r.label;
}

/** One log-log panel per network: s3mmap, each download, the break-even mark. */
export function crossoverSvg(cs: Crossover[], subtitle: string): string {
  const body: string[] = [];
  const foot = wrap(subtitle, 150);
  const H = cs.length * PANEL_H + 30 + foot.length * 14;
  cs.forEach((c, i) => {
    const y0 = 30 + i * PANEL_H;
    const ks = c.points.map((p) => p.k);
    const series = new Map<string, Array<[number, number]>>();
    for (const p of c.points) {
      for (const r of [p.self, p.ranged, ...p.downloads]) if (r && ms(r)) series.set(shortLabel(r), [...(series.get(shortLabel(r)) ?? []), [p.k, ms(r)!]]);
    }
    const all = [...series.values()].flat().map(([, t]) => t);
    if (!all.length) return;
    const [kLo, kHi] = [Math.log10(Math.min(...ks)), Math.log10(Math.max(...ks)) || 1];
    const [tLo, tHi] = [Math.floor(Math.log10(Math.min(...all))), Math.ceil(Math.log10(Math.max(...all)))];
    const px = (k: number) => M.left + ((Math.log10(k) - kLo) / Math.max(1e-9, kHi - kLo)) * (W - M.left - M.right);
    const py = (t: number) => y0 + M.top + (1 - (Math.log10(t) - tLo) / Math.max(1e-9, tHi - tLo)) * (PANEL_H - M.top - M.bottom);
    body.push(`<text x="${M.left}" y="${y0 + 24}" class="g">${esc(`${c.network}, ${sizeLabel(c.objectSize)} object`)}</text>`);
    for (let d = tLo; d <= tHi; d++) {
      body.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(10 ** d)}" y2="${py(10 ** d)}" class="grid"/>`, `<text x="${M.left - 6}" y="${py(10 ** d) + 4}" class="t" text-anchor="end">${esc(tick(10 ** d))}</text>`);
    }
    for (const k of ks) body.push(`<text x="${px(k)}" y="${y0 + PANEL_H - M.bottom + 16}" class="t" text-anchor="middle">${k}</text>`);
    body.push(`<text x="${(M.left + W - M.right) / 2}" y="${y0 + PANEL_H - 10}" class="t" text-anchor="middle">records read (k, log scale)</text>`);
    let n = 0;
    const labels: Array<{ y: number; text: string; color: string }> = [];
    for (const [label, pts] of series) {
      const self = label === 's3mmap';
      const color = self ? '#d9480f' : ['#364fc7', '#5c7cfa', '#91a7ff'][n++ % 3];
      body.push(`<path d="${pts.map(([k, t], j) => `${j ? 'L' : 'M'}${px(k).toFixed(1)} ${py(t).toFixed(1)}`).join('')}" fill="none" stroke="${color}" stroke-width="${self ? 2.5 : 1.5}"/>`);
      for (const [k, t] of pts) body.push(`<circle cx="${px(k).toFixed(1)}" cy="${py(t).toFixed(1)}" r="3" fill="${color}"/>`);
      labels.push({ y: py(pts[pts.length - 1][1]) + 4, text: label, color });
    }
    // Lines that end close together (the downloads) get their labels pushed apart.
    labels.sort((a, b) => a.y - b.y);
    for (let j = 1; j < labels.length; j++) labels[j].y = Math.max(labels[j].y, labels[j - 1].y + 13);
    for (const l of labels) body.push(`<text x="${W - M.right + 10}" y="${l.y.toFixed(1)}" class="l" style="fill:${l.color}">${esc(l.text)}</text>`);
    if (c.breakEven !== undefined) {
      const bx = px(c.breakEven).toFixed(1);
      body.push(`<line x1="${bx}" x2="${bx}" y1="${y0 + M.top}" y2="${y0 + PANEL_H - M.bottom}" stroke="#868e96" stroke-dasharray="4 3"/>`,
        `<text x="${bx}" y="${y0 + M.top - 4}" class="t" text-anchor="middle">break-even k ≈ ${Math.round(c.breakEven)}</text>`);
    }
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    '<style>text{font-family:"DejaVu Sans",Verdana,Arial,sans-serif;fill:#212529}.g{font-size:13px;font-weight:bold}.l{font-size:11px}.t{font-size:10px;fill:#868e96}.grid{stroke:#e9ecef}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="20" style="font-size:15px;font-weight:bold">k scattered 64 KiB records: mapping vs downloading the object (log-log; lower is better)</text>`,
    ...body,
    ...foot.map((line, j) => `<text x="12" y="${cs.length * PANEL_H + 30 + j * 14}" class="t">${esc(line)}</text>`),
    '</svg>', '',
  ].join('\n');
}
