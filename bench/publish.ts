// Writing the run's results: OUT/latest.{md,svg,png,json}, the crossover chart
// (crossover.{svg,png}) and, for a full run into bench/results, the results
// section of docs/benchmark.md between its markers.
// Orchestrator process, main thread, after every cell has run.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
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
  if (o.readme) updateDocs(o.root, o.out, o.md, o.log);
  const names = Object.keys(charts).filter((n) => n !== 'latest');
  return `${relative(o.root, o.out)}/latest.{md,json,svg${pngError ? '' : ',png'}}${names.map((n) => `, ${n}.svg`).join('')}`;
}

/** The page that shows the latest full run, between these markers. */
export const BENCH_PAGE = 'docs/benchmark.md';
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

/** The run's report as the page shows it: its title dropped, headings one
 *  level under the page's "The latest full run", links to the charts made
 *  relative to the page. `results`: the results folder, relative to the page. */
export function benchSection(md: string, results: string): string {
  return md
    .replace(/^# .*\n/, '')
    .replace(/^(#+) /gm, '$1# ')
    .replace('](latest.svg)', `](${results}/latest.svg)`)
    .replace('](crossover.svg)', `](${results}/crossover.svg)`);
}

/** The text between the markers of a page, or undefined when it has none. */
export function markedSection(page: string): string | undefined {
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start < 0 || end < start) return undefined;
  return page.slice(start + START.length, end);
}

/** Replaces docs/benchmark.md's text between the markers, when both are there. */
function updateDocs(root: string, out: string, md: string, log: (s: string) => void): void {
  const path = join(root, BENCH_PAGE);
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  if (markedSection(text) === undefined) return;
  const body = benchSection(md, relative(dirname(path), out));
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  writeFileSync(path, `${text.slice(0, start)}${START}\n${body}\n${text.slice(end)}`);
  log(`updated ${BENCH_PAGE} between the bench markers`);
}
