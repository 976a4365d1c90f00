// Writing the run's results: OUT/latest.{md,svg,png,json}, the crossover chart
// (crossover.{svg,png}) and, for a full run into bench/results, README.md's
// benchmark section between its markers.
// Orchestrator process, main thread, after every cell has run.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { chartSvg, ensureRsvg, svgToPng } from './chart.js';
import type { Group, Row } from './report.js';

export interface Outputs {
  root: string;
  out: string;
  md: string;
  groups: Group[];
  rows: Row[];
  chartSubtitle: string;
  /** More charts, by base name (crossover → crossover.svg and .png). */
  charts: Record<string, string>;
  /** Everything else latest.json carries. */
  json: Record<string, unknown>;
  readme: boolean;
  log(s: string): void;
}

/** Writes the files; returns their names as `latest.{md,json,svg,png}`. */
export function publish(o: Outputs): string {
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'latest.md'), o.md);
  // The crossover has its own chart: its k groups would crowd this one. The budget runs for a
  // fixed time: its wall time says nothing (its table gives reads per second).
  const charts = { latest: chartSvg(o.groups.filter((g) => g.workload !== 'crossover' && g.workload !== 'budget'), o.rows, o.chartSubtitle), ...o.charts };
  ensureRsvg(o.log);
  let pngError: string | undefined;
  for (const [name, svg] of Object.entries(charts)) {
    writeFileSync(join(o.out, `${name}.svg`), svg);
    pngError ??= svgToPng(join(o.out, `${name}.svg`), join(o.out, `${name}.png`));
  }
  if (pngError) o.log(`no PNG: ${pngError}`);
  writeFileSync(join(o.out, 'latest.json'), JSON.stringify(o.json, null, 1) + '\n');
  if (o.readme) updateReadme(o.root, o.out, o.md, o.log);
  const names = Object.keys(charts).filter((n) => n !== 'latest');
  return `${relative(o.root, o.out)}/latest.{md,json,svg${pngError ? '' : ',png'}}${names.map((n) => `, ${n}.svg`).join('')}`;
}

/** Replaces README.md's text between <!-- bench:start --> and <!-- bench:end -->, when both are there. */
function updateReadme(root: string, out: string, md: string, log: (s: string) => void): void {
  const path = join(root, 'README.md');
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf('<!-- bench:start -->');
  const end = text.indexOf('<!-- bench:end -->');
  if (start < 0 || end < start) return;
  const rel = relative(root, out);
  const body = md
    .replace(/^# .*\n/, '')
    .replace(/^(#+) /gm, '$1## ')
    .replace('](latest.svg)', `](${rel}/latest.svg)`)
    .replace('](crossover.svg)', `](${rel}/crossover.svg)`);
  writeFileSync(path, `${text.slice(0, start)}<!-- bench:start -->\n${body}\n${text.slice(end)}`);
  log('updated README.md between the bench markers');
}
