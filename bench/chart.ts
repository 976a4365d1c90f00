// The chart: wall time per system per workload as horizontal bars on one log
// scale (median, with a min–max whisker), written as SVG text, and a PNG
// beside it converted by rsvg-convert (librsvg2-bin; installed with apt when
// missing and possible). Orchestrator process, main thread.
import { spawnSync } from 'node:child_process';
import type { Group, Row } from './report.js';
import { fmtMs } from './format.js';

const COLORS = { self: '#d9480f', peer: '#4263eb', ceiling: '#2b8a3e' } as const;
const W = 1040;
const LEFT = 300;
const PLOT = 580;
const BAR = 14;
const GAP = 5;
const TITLE = 24;

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function tick(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Math.round(ms / 1000)} s`;
}

export function chartSvg(groups: Group[], rows: Row[], subtitle: string): string {
  const ok = rows.filter((r) => r.status === 'ok');
  const times = ok.flatMap((r) => [r.wallMs!.min, r.wallMs!.max]).filter((t) => t > 0);
  const lo = Math.floor(Math.log10(Math.min(...times, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...times, 10)));
  const x = (ms: number) => LEFT + ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / (hi - lo)) * PLOT;

  const body: string[] = [];
  let y = 78;
  for (const g of groups) {
    const gr = rows.filter((r) => r.group === g.key);
    if (!gr.length) continue;
    body.push(`<text x="12" y="${y + 16}" class="g">${esc(g.key)}</text>`);
    y += TITLE;
    for (const r of gr) {
      const cy = y + BAR / 2;
      body.push(`<text x="${LEFT - 8}" y="${cy + 4}" class="l" text-anchor="end">${esc(r.label)}</text>`);
      if (r.status === 'ok') {
        const w = r.wallMs!;
        const x0 = LEFT;
        const x1 = x(w.median);
        body.push(`<rect x="${x0}" y="${y}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${BAR}" fill="${COLORS[r.role]}" opacity="0.85"/>`);
        if (w.max > w.min) {
          const a = x(w.min).toFixed(1);
          const b = x(w.max).toFixed(1);
          body.push(`<path d="M${a} ${cy}H${b}M${a} ${y + 3}V${y + BAR - 3}M${b} ${y + 3}V${y + BAR - 3}" class="w"/>`);
        }
        body.push(`<text x="${Math.max(x1, x(w.max)) + 6}" y="${cy + 4}" class="v">${esc(fmtMs(w.median))}</text>`);
      } else {
        body.push(`<text x="${LEFT + 4}" y="${cy + 4}" class="na">${esc(r.status)}</text>`);
      }
      y += BAR + GAP;
    }
    y += 8;
  }
  // The machine line, wrapped, under the bottom axis labels.
  const foot = wrap(subtitle, 180);
  const H = y + 30 + foot.length * 14;
  const grid: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d).toFixed(1);
    grid.push(`<line x1="${gx}" y1="70" x2="${gx}" y2="${y}" class="grid"/>`);
    grid.push(`<text x="${gx}" y="66" class="t" text-anchor="middle">${tick(10 ** d)}</text>`);
    grid.push(`<text x="${gx}" y="${y + 16}" class="t" text-anchor="middle">${tick(10 ** d)}</text>`);
  }
  const legend = (Object.entries(COLORS) as Array<[keyof typeof COLORS, string]>).map(([k, c], i) => {
    const lx = LEFT + i * 150;
    const name = { self: 's3mmap', peer: 'peers', ceiling: 'ceilings' }[k];
    return `<rect x="${lx}" y="38" width="12" height="12" fill="${c}"/><text x="${lx + 18}" y="49" class="l">${name}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    '<style>text{font-family:"DejaVu Sans",Verdana,Arial,sans-serif;fill:#212529}.g{font-size:14px;font-weight:bold}',
    '.l{font-size:12px}.v{font-size:11px;fill:#495057}.t{font-size:10px;fill:#868e96}.na{font-size:11px;fill:#adb5bd;font-style:italic}',
    '.grid{stroke:#e9ecef;stroke-width:1}.w{stroke:#212529;stroke-width:1.2;fill:none}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="20" style="font-size:16px;font-weight:bold">s3mmap benchmark: wall time per workload (median, min–max; log scale, shorter is better)</text>`,
    ...foot.map((line, i) => `<text x="12" y="${y + 36 + i * 14}" class="t">${esc(line)}</text>`),
    ...legend,
    ...grid,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Text broken into lines of at most `width` characters, at spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    if (!lines.length || (lines[lines.length - 1] + ' ' + word).length > width) lines.push(word);
    else lines[lines.length - 1] += ' ' + word;
  }
  return lines;
}

/** SVG to PNG with rsvg-convert; returns why not when it cannot. */
export function svgToPng(svgPath: string, pngPath: string): string | undefined {
  const r = spawnSync('rsvg-convert', ['-z', '1.5', '-b', 'white', '-o', pngPath, svgPath], { encoding: 'utf8' });
  if (r.error) return `rsvg-convert not found (apt-get install librsvg2-bin): ${r.error.message}`;
  if (r.status !== 0) return `rsvg-convert failed: ${r.stderr.trim()}`;
  return undefined;
}

/** Installs rsvg-convert with apt when it is missing and we are root. */
export function ensureRsvg(log: (s: string) => void): void {
  if (!spawnSync('rsvg-convert', ['--version']).error) return;
  if (process.getuid?.() !== 0) return;
  log('installing librsvg2-bin for the PNG chart');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'librsvg2-bin'], { env, stdio: 'ignore' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'librsvg2-bin'], { env, stdio: 'ignore' });
  }
}
